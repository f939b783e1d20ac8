"""``hipmonai preprocess`` as a run: resume checks over every input, a summary for every run, arguments and DICOM
headers checked before the work, one writer per store, and a full disk."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pydicom
import pytest
import torch

from hipmonai.cli import main
from hipmonai.data import HipStore
from hipmonai.errors import HipmonaiError, InputError
from hipmonai.io.pts import read_pts, write_pts
from hipmonai.networks import save_checkpoint
from hipmonai.preprocessing import parts_dir, preprocess_cohort, runner, summary_path
from hipmonai.preprocessing.detector import DetectorSpec

CROP = 64
TINY = {"channels": [4, 8], "strides": [2], "num_res_units": 0, "image_size_px": 32}


@pytest.fixture
def cohort(hip_cohort, tmp_path) -> Path:
    """A writable copy of the session's phantom cohort."""
    return Path(shutil.copytree(hip_cohort, tmp_path / "cohort"))


def _run(cohort: Path, out: Path, landmarks: Path | None = None, grades: Path | None = None, **kwargs):
    kwargs.setdefault("workers", 1)
    return preprocess_cohort(
        cohort / "dicom", landmarks or cohort / "landmarks", grades or cohort / "grades.csv", out,
        lesions_dir=cohort / "lesions", crop_px=CROP, progress=False, **kwargs,
    )


def _interrupt_after(monkeypatch, images: int) -> None:
    """Make the in-process run stop (as Ctrl-C does) when it starts image ``images + 1``."""
    real = runner.process_image
    calls = []

    def interrupted(task, grades):
        calls.append(task.relative)
        if len(calls) > images:
            raise KeyboardInterrupt
        return real(task, grades)

    monkeypatch.setattr(runner, "process_image", interrupted)


def _interrupted_run(monkeypatch, cohort: Path, out: Path, images: int = 2, **kwargs) -> None:
    with monkeypatch.context() as patch:
        _interrupt_after(patch, images)
        with pytest.raises(KeyboardInterrupt):
            _run(cohort, out, **kwargs)
    assert not out.exists() and parts_dir(out).is_dir()


def _n_images(cohort: Path) -> int:
    return len(list((cohort / "dicom").rglob("*.dcm")))


def _one_line(message: str) -> str:
    assert "\n" not in message.strip(), message
    return message


# ---- resume covers every input and its contents ----------------------------------------------------------------


def test_resume_refuses_a_grades_csv_with_other_contents(monkeypatch, cohort, tmp_path):
    out = tmp_path / "hip.h5"
    _interrupted_run(monkeypatch, cohort, out)
    lines = (cohort / "grades.csv").read_text().splitlines()
    lines[1] = ",".join(lines[1].split(",")[:3] + ["3", "3", "3", "3"])
    changed = tmp_path / "other_grades.csv"
    changed.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="grades CSV") as info:
        _run(cohort, out, grades=changed)
    message = _one_line(str(info.value))
    assert "other_grades.csv" in message and str(parts_dir(out)) in message
    assert not out.exists()
    # the same contents under another name resume
    same = tmp_path / "copy_of_grades.csv"
    shutil.copy(cohort / "grades.csv", same)
    summary = _run(cohort, out, grades=same)
    assert summary["hips_written"] == 2 * _n_images(cohort)


@pytest.mark.parametrize("companion", ["landmarks", "lesions"])
def test_resume_refuses_changed_companion_files_of_finished_images(monkeypatch, cohort, tmp_path, companion):
    out = tmp_path / "hip.h5"
    _interrupted_run(monkeypatch, cohort, out, images=2)
    finished = sorted((cohort / "dicom").rglob("*.dcm"))[0].relative_to(cohort / "dicom")
    if companion == "landmarks":
        edited = cohort / "landmarks" / finished.with_suffix(".pts")
        write_pts(edited, read_pts(edited) + 1.0)
    else:
        edited = cohort / "lesions" / finished.parent / f"{finished.stem}.nii.gz"
        edited.write_bytes(edited.read_bytes() + b"\0")
    with pytest.raises(InputError, match=companion) as info:
        _run(cohort, out)
    assert edited.name in _one_line(str(info.value))


def test_resume_compares_contents_not_folder_names(monkeypatch, cohort, tmp_path, caplog):
    out = tmp_path / "hip.h5"
    _interrupted_run(monkeypatch, cohort, out, images=2)
    moved = Path(shutil.copytree(cohort / "landmarks", tmp_path / "elsewhere" / "pts"))
    with caplog.at_level(logging.INFO):
        summary = _run(cohort, out, landmarks=moved)
    assert f"resuming: 2 of {_n_images(cohort)}" in caplog.text
    assert summary["hips_written"] == 2 * _n_images(cohort)


def test_resume_refuses_another_detector_checkpoint(monkeypatch, cohort, tmp_path):
    from monai.networks.nets import UNet

    checkpoint = tmp_path / "model.pt"

    def save(seed: int) -> None:
        torch.manual_seed(seed)
        net = UNet(2, 1, 28, TINY["channels"], TINY["strides"], num_res_units=0)
        save_checkpoint(net, checkpoint, {**TINY, "n_landmarks": 28})

    save(0)
    spec = DetectorSpec(checkpoint=str(checkpoint), predicted_dir=str(tmp_path / "predicted"), overrides=dict(TINY))
    out = tmp_path / "hip.h5"
    _interrupted_run(monkeypatch, cohort, out, images=1, detector=spec)
    save(1)  # retrained in place: same path, other weights
    with pytest.raises(InputError, match="detector checkpoint") as info:
        _run(cohort, out, detector=spec)
    assert "model.pt" in _one_line(str(info.value))


# ---- every run writes a summary ----------------------------------------------------------------------------------


def test_run_with_every_input_skipped_writes_a_summary_and_a_corrected_rerun_works(cohort, tmp_path, capsys):
    empty = tmp_path / "no_pts"
    empty.mkdir()
    out = tmp_path / "hip.h5"
    code = main(["preprocess", "--dicom", str(cohort / "dicom"), "--landmarks", str(empty),
                 "--grades", str(cohort / "grades.csv"), "--out", str(out), "--crop", str(CROP), "--workers", "1",
                 "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and _one_line(err).startswith("hipmonai preprocess: error:")
    assert str(summary_path(out)) in err and "skipped" in err
    summary = json.loads(summary_path(out).read_text())
    assert summary["hips_written"] == 0 and summary["store"] is None
    assert len(summary["skipped"]) == _n_images(cohort)
    assert {e["reason"] for e in summary["skipped"]} == {"no matching landmarks (.pts)"}
    assert not out.exists() and not parts_dir(out).exists()
    summary = _run(cohort, out)  # corrected: the real landmarks
    assert summary["hips_written"] == 2 * _n_images(cohort) and out.exists()


def test_an_interrupted_run_that_wrote_nothing_does_not_block_a_run_with_other_settings(monkeypatch, cohort, tmp_path):
    out = tmp_path / "hip.h5"
    _interrupted_run(monkeypatch, cohort, out, images=0)
    summary = _run(cohort, out, spacing_mm=0.5)
    assert summary["hips_written"] == 2 * _n_images(cohort)


# ---- arguments, the detector checkpoint and DICOM headers checked before the work ----------------------------------


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--spacing", "nan"], "nan"),
        (["--spacing", "inf"], "inf"),
        (["--spacing", "0.01"], "0.01"),
        (["--spacing", "6"], "6"),
        (["--crop", "100000"], "100000"),
        (["--crop", "8"], "8"),
        (["--fallback-spacing", "0", "0"], "0"),
        (["--fallback-spacing", "0.4", "nan"], "nan"),
        (["--workers", "-1"], "-1"),
    ],
)
def test_bad_arguments_are_one_line_before_any_work(hip_cohort, tmp_path, capsys, option, fragment):
    out = tmp_path / "hip.h5"
    code = main(["preprocess", "--dicom", str(hip_cohort / "dicom"), "--landmarks", str(hip_cohort / "landmarks"),
                 "--grades", str(hip_cohort / "grades.csv"), "--out", str(out), "--quiet", *option])
    err = capsys.readouterr().err.strip()
    assert code == 1 and _one_line(err).startswith("hipmonai preprocess: error:"), err
    assert option[0] in err and fragment in err.split(option[0], 1)[1], err
    assert not parts_dir(out).exists() and not summary_path(out).exists()


def test_missing_detector_checkpoint_is_one_line_before_workers_start(hip_cohort, tmp_path):
    spec = DetectorSpec(checkpoint=str(tmp_path / "absent.pt"), predicted_dir=str(tmp_path / "predicted"))
    out = tmp_path / "hip.h5"
    with pytest.raises(InputError, match="absent.pt") as info:
        _run(hip_cohort, out, detector=spec, workers=2)
    assert "not found" in _one_line(str(info.value))
    assert not parts_dir(out).exists()


class _Payload:
    """Unpickling this runs ``open(path, "w")``: a stand-in for a malicious checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_malicious_detector_checkpoint_is_refused_unexecuted(hip_cohort, tmp_path):
    proof = tmp_path / "payload_ran"
    checkpoint = tmp_path / "model.pt"
    torch.save({"model": _Payload(proof)}, checkpoint)
    spec = DetectorSpec(checkpoint=str(checkpoint), predicted_dir=str(tmp_path / "predicted"))
    out = tmp_path / "hip.h5"
    with pytest.raises(InputError, match="model.pt") as info:
        _run(hip_cohort, out, detector=spec, workers=2)
    assert "checkpoint" in _one_line(str(info.value))
    assert not proof.exists() and not parts_dir(out).exists()


def test_a_worker_that_cannot_start_reports_why_in_one_line(hip_cohort, tmp_path):
    checkpoint = tmp_path / "model.pt"
    save_checkpoint(torch.nn.Linear(2, 2), checkpoint, {"image_size_px": 32})
    spec = DetectorSpec(checkpoint=str(checkpoint), predicted_dir=str(tmp_path / "predicted"),
                        bundle_dir=str(tmp_path / "no_bundle"))
    with pytest.raises(InputError, match="no_bundle: not a bundle folder") as info:
        _run(hip_cohort, tmp_path / "hip.h5", detector=spec, workers=2)
    _one_line(str(info.value))


def test_implausible_dicom_spacing_is_skipped_with_the_reason(cohort, tmp_path):
    dicoms = sorted((cohort / "dicom").rglob("*.dcm"))
    for path, spacing in zip(dicoms[:2], (50.0, 1e-6), strict=True):
        ds = pydicom.dcmread(path)
        ds.PixelSpacing = [spacing, spacing]
        ds.save_as(path)
    summary = _run(cohort, tmp_path / "hip.h5")
    reasons = {e["input"]: e["reason"] for e in summary["skipped"]}
    for path in dicoms[:2]:
        reason = reasons[path.relative_to(cohort / "dicom").as_posix()]
        assert "implausible pixel spacing" in reason and "PixelSpacing" in reason, reason
        assert str(cohort) not in reason
    assert summary["hips_written"] == 2 * (len(dicoms) - 2)


def test_header_check_refuses_an_oversized_resampled_image(hip_cohort):
    path = sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]
    runner.check_radiograph_header(path, spacing_mm=0.4)  # the phantom itself is fine
    runner.check_radiograph_header(path, spacing_mm=0.4, max_pixels=1_000_000)  # 0.35-0.6 mm phantoms, < 1000 px
    with pytest.raises(InputError, match="coarser --spacing"):
        runner.check_radiograph_header(path, spacing_mm=0.05, max_pixels=1_000_000)
    with pytest.raises(InputError, match="larger than the 1000 px"):
        runner.check_radiograph_header(path, spacing_mm=0.4, max_pixels=1000)


# ---- one writer per store, and a full disk ------------------------------------------------------------------------


def test_a_second_run_on_the_same_out_is_refused_while_the_first_holds_it(monkeypatch, cohort, tmp_path, capsys):
    out = tmp_path / "hip.h5"
    command = ["preprocess", "--dicom", str(cohort / "dicom"), "--landmarks", str(cohort / "landmarks"),
               "--grades", str(cohort / "grades.csv"), "--out", str(out), "--crop", str(CROP), "--workers", "1",
               "--quiet"]
    real = runner.process_image
    second: list[int] = []

    def first_image_starts_a_second_run(task, grades):
        if not second:
            second.append(main(command))
        return real(task, grades)

    monkeypatch.setattr(runner, "process_image", first_image_starts_a_second_run)
    assert main(command) == 0
    err = capsys.readouterr().err.strip()
    assert second == [1]
    assert _one_line(err) == (f"hipmonai preprocess: error: {out} is being written by another hipmonai preprocess "
                              f"(pid {os.getpid()})")
    assert len(HipStore(out)) == 2 * _n_images(cohort)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError("Can't write data (file write failed: time = Mon, filename = 'x', file descriptor = 5, errno = 28, "
                "error message = 'No space left on device', buf = 0x1, total write size = 8, bytes this sub-write "
                "= 8, bytes actually written = 18446744073709551615, offset = 4096)"),
    ],
    ids=["errno", "h5py-message"],
)
def test_full_disk_during_the_store_write_is_one_line_and_resumable(monkeypatch, cohort, tmp_path, caplog, error):
    out = tmp_path / "hip.h5"
    real = h5py.Group.create_dataset
    calls = []

    def fills_the_disk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 5:
            raise error
        return real(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(h5py.Group, "create_dataset", fills_the_disk)
        with pytest.raises(HipmonaiError) as info:
            _run(cohort, out)
    message = _one_line(str(info.value))
    assert "no space left" in message.lower() and "rerun" in message
    assert not out.exists() and parts_dir(out).is_dir()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp store left
    with caplog.at_level(logging.INFO):
        summary = _run(cohort, out)
    n = _n_images(cohort)
    assert f"resuming: {n} of {n}" in caplog.text
    assert summary["hips_written"] == 2 * n and len(HipStore(out)) == 2 * n


def test_full_disk_while_saving_parts_stops_the_run_instead_of_skipping_images(monkeypatch, cohort, tmp_path):
    import hipmonai.data

    out = tmp_path / "hip.h5"
    real = hipmonai.data.save_part
    calls = []

    def fills_the_disk(parts, record):
        calls.append(record.key)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(parts, record)

    with monkeypatch.context() as patch:
        patch.setattr(hipmonai.data, "save_part", fills_the_disk)
        with pytest.raises(HipmonaiError, match="(?i)no space left") as info:
            _run(cohort, out)
    _one_line(str(info.value))
    assert not summary_path(out).exists()
    summary = _run(cohort, out)
    assert summary["skipped"] == [] and summary["hips_written"] == 2 * _n_images(cohort)
    np.testing.assert_array_equal(sorted(HipStore(out).subjects()),
                                  sorted(p.name for p in (cohort / "dicom").iterdir()))


def test_help_and_docs_state_the_bounds_the_code_checks():
    from hipmonai.cli import build_parser

    preprocess = build_parser()._subparsers._group_actions[0].choices["preprocess"]
    text = " ".join(preprocess.format_help().split())
    low, high = runner.SPACING_RANGE_MM
    (crop_low, crop_high), spacing = runner.CROP_RANGE_PX, f"({low}, {high:g}]"
    assert f"{spacing} mm" in text and f"--crop {crop_low}-{crop_high} px" in text
    assert runner.MAX_IMAGE_PIXELS == 2**27 and "2**27 pixels" in text
    docs = (Path(__file__).parents[2] / "docs" / "preprocessing.md").read_text(encoding="utf-8")
    assert f"| `--spacing` | a finite number of mm in {spacing} |" in docs
    assert f"| `--crop` | a whole number of pixels, {crop_low}–{crop_high} |" in docs
    assert "at most 2²⁷ pixels" in docs and "#SBATCH --array=0-9" in docs and "--shard $SLURM_ARRAY_TASK_ID/10" in docs
