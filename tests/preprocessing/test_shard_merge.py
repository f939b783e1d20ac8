"""``hipmonai preprocess --shard i/N`` and ``hipmonai merge``: shards of a cohort, merged, equal the single run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from hipmonai.cli import main
from hipmonai.errors import InputError
from hipmonai.preprocessing import merge_shards, preprocess_cohort, summary_path
from hipmonai.preprocessing.shards import Shard, shard_of

CROP = 64
#: the phantoms S0001-S0006 all fall in shard 1 of 2; two are renamed into shard 0
RENAMED = {"S0003": "S0009", "S0006": "S0011"}
SECOND_VISITS = ("S0002", "S0009")


@pytest.fixture(scope="module")
def visits_cohort(hip_cohort, tmp_path_factory) -> Path:
    """The phantom cohort with subjects in both shards of 2, a second visit for two subjects, a second radiograph of
    one visit (skipped at discovery), a grade row without an image and a rejected grade row."""
    cohort = Path(shutil.copytree(hip_cohort, tmp_path_factory.mktemp("visits") / "cohort"))
    kinds = (("dicom", ".dcm"), ("landmarks", ".pts"), ("lesions", ".nii.gz"))
    grades = (cohort / "grades.csv").read_text()
    for old, new in RENAMED.items():
        for kind, _ in kinds:
            (cohort / kind / old).rename(cohort / kind / new)
        grades = grades.replace(f"{old},", f"{new},")
    (cohort / "grades.csv").write_text(grades + "S0099,V00,right,1,1,1,1\nS0004,V00,left,9,0,0,0\n")
    for subject in SECOND_VISITS:
        for kind, suffix in kinds:
            source = next((cohort / kind / subject / "V00").glob(f"*{suffix}"))
            target = cohort / kind / subject / "V01" / f"{subject}_V01{suffix}"
            target.parent.mkdir(parents=True)
            shutil.copy(source, target)
    shutil.copy(cohort / "dicom" / "S0001" / "V00" / "S0001_V00.dcm", cohort / "dicom" / "S0001" / "V00" / "zz.dcm")
    return cohort


def _run(cohort: Path, out: Path, **kwargs) -> dict:
    return preprocess_cohort(cohort / "dicom", cohort / "landmarks", cohort / "grades.csv", out,
                             lesions_dir=cohort / "lesions", crop_px=CROP, workers=1, progress=False, **kwargs)


@pytest.fixture(scope="module")
def runs(visits_cohort, tmp_path_factory) -> dict[str, Path]:
    """A single run and the two shards of the same cohort."""
    folder = tmp_path_factory.mktemp("runs")
    paths = {"single": folder / "single" / "hip.h5"}
    _run(visits_cohort, paths["single"])
    for index in range(2):
        paths[f"shard{index}"] = folder / f"hip.shard{index}.h5"
        _run(visits_cohort, paths[f"shard{index}"], shard=Shard(index, 2))
    return paths


def _datasets(path: Path) -> dict[str, tuple]:
    """Every dataset of a store: name -> (values, dtype, compression, chunks, attrs)."""
    found: dict[str, tuple] = {}

    def visit(name, node):
        if isinstance(node, h5py.Dataset):
            found[name] = (node[()], node.dtype, node.compression, node.chunks,
                           {k: np.asarray(v).tolist() for k, v in node.attrs.items()})

    with h5py.File(path, "r") as h5:
        h5.visititems(visit)
    return found


def _root_attrs(path: Path) -> dict:
    with h5py.File(path, "r") as h5:
        return {k: np.asarray(v).tolist() for k, v in h5.attrs.items() if k != "created_utc"}


def test_shard_of_is_a_stable_hash_of_the_subject_id():
    # pinned values: the assignment must not change between Python processes, versions or machines
    assert [shard_of(s, 7) for s in ("S0001", "S0002", "patient-17", "é")] == PINNED
    assert all(0 <= shard_of(f"S{i:04d}", 3) < 3 for i in range(100))


PINNED = [3, 6, 6, 3]


def test_shard_parses_index_over_count():
    assert Shard.parse("3/10") == Shard(3, 10) and str(Shard(3, 10)) == "3/10"
    for text in ("10/10", "-1/4", "a/b", "3", "0/0", "1/2/3"):
        with pytest.raises(InputError, match="INDEX/COUNT"):
            Shard.parse(text)


def test_shards_split_by_subject_with_all_visits_together(runs):
    subjects = []
    for index in range(2):
        with h5py.File(runs[f"shard{index}"], "r") as h5:
            keys = [f"{s}/{v}" for s in h5["scans"] for v in h5["scans"][s]]
            shard_subjects = set(h5["scans"])
        assert all(shard_of(s, 2) == index for s in shard_subjects)
        for subject in SECOND_VISITS:
            if subject in shard_subjects:
                assert {f"{subject}/V00", f"{subject}/V01"} <= set(keys)
        subjects.append(shard_subjects)
    assert subjects[0] and subjects[1] and not subjects[0] & subjects[1]
    summary = json.loads(summary_path(runs["shard1"]).read_text())
    assert summary["shard"]["index"] == 1 and summary["shard"]["count"] == 2


def test_merged_shards_equal_the_single_run(runs, tmp_path, capsys):
    out = tmp_path / "merged" / "hip.h5"
    assert main(["merge", str(runs["shard1"]), str(runs["shard0"]), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["hips_written"] == json.loads(summary_path(runs["single"]).read_text())["hips_written"]
    single, merged = _datasets(runs["single"]), _datasets(out)
    assert sorted(merged) == sorted(single)
    for name, (values, *layout) in single.items():
        np.testing.assert_array_equal(merged[name][0], values, err_msg=name)
        assert merged[name][1:] == tuple(layout), name
    assert _root_attrs(out) == _root_attrs(runs["single"])
    expected = json.loads(summary_path(runs["single"]).read_text())
    got = json.loads(summary_path(out).read_text())
    assert got.pop("merged_from") == ["hip.shard0.h5", "hip.shard1.h5"]
    for summary in (expected, got):
        summary.pop("seconds")
    assert got == expected
    assert expected["skipped"] and expected["grades_without_image"] and expected["grades_rejected"]


def test_merge_refuses_shards_made_with_other_parameters(visits_cohort, runs, tmp_path, capsys):
    other = tmp_path / "hip.shard1.h5"
    preprocess_cohort(visits_cohort / "dicom", visits_cohort / "landmarks", visits_cohort / "grades.csv", other,
                      lesions_dir=visits_cohort / "lesions", crop_px=CROP + 16, workers=1, progress=False,
                      shard=Shard(1, 2))
    code = main(["merge", str(runs["shard0"]), str(other), "--out", str(tmp_path / "hip.h5")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "crop_px" in err and "hip.shard1.h5" in err
    assert not (tmp_path / "hip.h5").exists()


def test_merge_refuses_overlapping_or_missing_shards(runs, tmp_path):
    with pytest.raises(InputError, match="given twice") as info:
        merge_shards([runs["shard0"], runs["shard0"], runs["shard1"]], tmp_path / "a.h5")
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="missing shards 1/2"):
        merge_shards([runs["shard0"]], tmp_path / "b.h5")
    with pytest.raises(InputError, match="not a shard"):
        merge_shards([runs["single"], runs["shard1"]], tmp_path / "c.h5")
    assert not any(tmp_path.iterdir())


def test_merge_refuses_a_subject_in_two_shards(runs, tmp_path):
    # a shard store whose summary claims another shard index: the same subjects in two shards
    copies = []
    for index, name in enumerate(("shard0", "shard0")):
        copy = tmp_path / f"copy{index}.h5"
        shutil.copy(runs[name], copy)
        summary = json.loads(summary_path(runs[name]).read_text())
        summary["shard"]["index"] = index
        summary_path(copy).write_text(json.dumps(summary))
        with h5py.File(copy, "r+") as h5:
            h5.attrs["shard"] = f"{index}/2"
        copies.append(copy)
    with pytest.raises(InputError, match="in both") as info:
        merge_shards(copies, tmp_path / "hip.h5")
    assert "copy0.h5" in str(info.value) and "copy1.h5" in str(info.value)
