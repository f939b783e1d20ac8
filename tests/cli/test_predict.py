"""``hipmonai predict hip|knee``: one command from DICOM files to landmarks, scores, overlays and a summary, built
from a bundles folder alone (tiny random-weight bundles here: plumbing, not accuracy). The bundle configs are the
packaged templates, unchanged; the checkpoints record narrow networks the configs' defaults do not describe, so a run
that succeeds needed no config argument."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch

from hipmonai.cli import main
from hipmonai.networks import save_checkpoint
from hipmonai.paths import bundle_template_dir

TARGETS = ("osteo_fem_sup", "osteo_fem_inf", "osteo_acet_sup", "osteo_acet_inf")
KNEE_SCALE = {"roi_spacing_mm": 4.0, "roi_size_px": [48, 80], "landmark_spacing_mm": 3.0, "crop_mm": 140.0}
#: ``{bundle: [(checkpoint, training configs, overrides)]}``: narrow networks, their settings recorded as training
#: records them (the training configs read sizes from a dataset, replaced here by overrides)
TINY = {
    "hip_landmark_labelaug": [("model.pt", ["configs/train.json"], {
        "image_size_px": 64, "n_landmarks": 28, "channels": [4, 8, 16, 32, 64], "num_res_units": 0})],
    "hip_osteophyte_prior": [("model.pt", ["configs/train.json"], {"image_size_px": 64, "widen_factor": 0.125,
                                                                   "store_settings": {"spacing_mm": 1.4}})],
    "hip_osteophyte_grading": [("model.pt", ["configs/train.json"], {"image_size_px": 64, "widen_factor": 0.125,
                                                                     "store_settings": {"spacing_mm": 1.4}})],
    "knee_landmark_kneel": [
        ("model_roi.pt", ["configs/train.json", "configs/roi.json"], {"width": 4, "depth": 2, "data_settings": {
            **KNEE_SCALE, "stage": "roi", "spacing_mm": 4.0, "input_size_px": [48, 80]}}),
        ("model.pt", ["configs/train.json"], {"width": 4, "depth": 2, "data_settings": {
            **KNEE_SCALE, "stage": "landmarks", "spacing_mm": 3.0, "input_size_px": [47, 47]}}),
    ],
}
#: identifying values written into one input; none may reach an output or a log line
IDENTIFYING = {"PatientName": "Doe^Jane", "PatientID": "JD-4711-X", "InstitutionName": "Saint Nowhere Hospital",
               "PatientBirthDate": "19450203", "StudyDate": "20190417"}


def _bundle(out: Path, name: str) -> Path:
    """Copy the packaged template's configs to ``out/name`` and save its tiny random-weight checkpoints."""
    from hipmonai.experiments.bundle import bundle_parser

    template = bundle_template_dir(name)
    shutil.copytree(template / "configs", out / name / "configs")
    for filename, configs, overrides in TINY[name]:
        parser = bundle_parser(template, configs, overrides)
        save_checkpoint(parser.get_parsed_content("network_def"), out / name / "models" / filename,
                        parser.get_parsed_content("trained_with#settings"))
    return out / name


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> Path:
    """All four bundles, as ``hipmonai demo`` exports them (one folder per bundle name)."""
    out = tmp_path_factory.mktemp("bundles")
    torch.manual_seed(0)
    for name in TINY:
        _bundle(out, name)
    return out


@pytest.fixture(scope="module")
def landmark_bundle_only(bundles, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landmark_bundle_only")
    shutil.copytree(bundles / "hip_landmark_labelaug", out / "hip_landmark_labelaug")
    return out


def _identified_copy(source: Path, target: Path) -> Path:
    ds = pydicom.dcmread(source)
    for keyword, value in IDENTIFYING.items():
        setattr(ds, keyword, value)
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target)
    return target


@pytest.fixture(scope="module")
def hip_inputs(hip_cohort, tmp_path_factory) -> Path:
    """A DICOM folder: two phantom radiographs (one carrying :data:`IDENTIFYING`), a corrupt file and a radiograph
    without any pixel spacing."""
    root = tmp_path_factory.mktemp("hip_inputs")
    sources = sorted((hip_cohort / "dicom").rglob("*.dcm"))[:2]
    shutil.copy(sources[0], root / "first.dcm")
    _identified_copy(sources[1], root / "clinic" / "second.dcm")
    (root / "broken.dcm").write_bytes(b"\x00" * 64 + b"not a DICOM file")
    ds = pydicom.dcmread(sources[0])
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.save_as(root / "no_spacing.dcm")
    return root


@pytest.fixture(scope="module")
def knee_inputs(tmp_path_factory) -> Path:
    """One phantom knee radiograph carrying :data:`IDENTIFYING`, and a corrupt file."""
    from hipmonai.phantoms import generate_knee_cohort

    root = tmp_path_factory.mktemp("knee_inputs")
    generate_knee_cohort(root / "cohort", n_subjects=1, seed=5, workers=1, progress=False)
    source = next((root / "cohort" / "dicom").rglob("*.dcm"))
    _identified_copy(source, root / "dicom" / "S1" / "knee.dcm")
    (root / "dicom" / "broken.dcm").write_bytes(b"garbage")
    return root / "dicom"


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _summary_rows(out: Path) -> dict[str, dict[str, str]]:
    import csv

    with open(out / "summary.csv", newline="", encoding="utf-8") as handle:
        return {row["input"]: row for row in csv.DictReader(handle)}


def _assert_nothing_identifying(out: Path, *texts: str) -> None:
    needles = [v.encode() for v in IDENTIFYING.values()] + [b"Doe", b"Jane"]
    for path in (p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert not [n for n in needles if n in data], path
    for text in texts:
        assert not [n for n in needles if n.decode() in text]


def test_hip_predict_from_the_bundles_folder_alone(bundles, hip_inputs, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    code = main(["predict", "hip", str(hip_inputs), "--out", str(out), "--bundles", str(bundles), "--device", "cpu",
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out.strip())["images_analysed"] == 2
    rows = _summary_rows(out)
    assert set(rows) == {"first.dcm", "clinic/second.dcm", "broken.dcm", "no_spacing.dcm"}
    assert {n: r["status"] for n, r in rows.items()} == {"first.dcm": "analysed", "clinic/second.dcm": "analysed",
                                                         "broken.dcm": "failed", "no_spacing.dcm": "failed"}
    assert "not a readable DICOM" in rows["broken.dcm"]["reason"]
    assert "spacing" in rows["no_spacing.dcm"]["reason"].lower()
    summary = _json(out / "summary.json")
    assert summary["images_failed"] == 2 and {f["input"] for f in summary["failed"]} == {"broken.dcm",
                                                                                        "no_spacing.dcm"}
    for name, stem in (("first.dcm", "first"), ("clinic/second.dcm", "clinic/second")):
        record = _json(out / f"{stem}.json")
        header = pydicom.dcmread(hip_inputs / name, stop_before_pixels=True)
        assert record["input"] == name and record["image_size_wh"] == [header.Columns, header.Rows]
        assert set(record["bundles"]) == {"hip_landmark_labelaug", "hip_osteophyte_prior", "hip_osteophyte_grading"}
        assert record["scores"] is None
        assert [h["side"] for h in record["hips"]] == ["right", "left"]
        for hip in record["hips"]:
            assert set(hip) == {"side", "present", "confidence", "reason", "femoral_head", "osteophyte_probability",
                                "any_osteophyte_probability", "grades"}
            assert 0.0 <= hip["confidence"] <= 1.0
            assert hip["present"] or hip["reason"]  # an absent hip says why (untrained detector: usually absent)
        spacing = np.asarray(record["spacing_xy_mm"])
        for point in record["landmarks"]:
            np.testing.assert_allclose([point["x_mm"], point["y_mm"]], np.asarray([point["x_px"], point["y_px"]])
                                       * spacing)
        assert (out / record["outputs"]["overlay"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{stem}.pts").is_file() == (record["outputs"]["pts"] is not None) == (record["pts"] is None)
    _assert_nothing_identifying(out, captured.out, captured.err, caplog.text)


@pytest.fixture
def hips_found(hip_cohort, peaked_detector, monkeypatch):
    """Every landmark detector "finds" the true landmarks of one phantom radiograph; returns it with its truth."""
    from hipmonai.inference import PelvisLandmarkDetector
    from hipmonai.io import load_landmark_groups, read_pts

    dicom = sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]
    pts = hip_cohort / "landmarks" / dicom.relative_to(hip_cohort / "dicom").with_suffix(".pts")
    peaked, _, _ = peaked_detector(dicom, pts)
    original = PelvisLandmarkDetector.predict_image
    monkeypatch.setattr(PelvisLandmarkDetector, "predict_image", lambda self, image: original(peaked, image))
    return dicom, read_pts(pts)[load_landmark_groups("hip").bilateral_detection_subset]


@pytest.mark.parametrize("with_scores", [True, False], ids=["all_bundles", "landmark_bundle_only"])
def test_found_hips_get_a_pts_circles_and_scores(with_scores, bundles, landmark_bundle_only, hips_found, tmp_path):
    from hipmonai.inference.predict import HipPredictor, predict_files
    from hipmonai.preprocessing.detector import read_hip_pts

    dicom, truth_mm = hips_found
    predictor = HipPredictor.from_bundles(bundles if with_scores else landmark_bundle_only, device="cpu")
    summary = predict_files(predictor, [dicom], tmp_path, progress=False)
    assert summary["images_analysed"] == 1
    stem = dicom.stem
    record = _json(tmp_path / f"{stem}.json")
    assert record["pts"] is None and record["outputs"]["pts"] == f"{stem}.pts"
    # the .pts is the detector file preprocessing reads back: 28 points in mm, right hip first
    written = read_hip_pts(tmp_path / f"{stem}.pts")
    assert np.isfinite(written).sum() == 2 * len(truth_mm)
    from hipmonai.io import read_pts

    spacing = np.asarray(record["spacing_xy_mm"])
    model_px_mm = max(record["image_size_wh"]) / 256 * spacing.max()  # one pixel of the detector's 256 px input
    np.testing.assert_allclose(read_pts(tmp_path / f"{stem}.pts"), truth_mm, atol=1.5 * model_px_mm)
    meta = json.loads((bundle_template_dir("hip_landmark_labelaug") / "configs" / "metadata.json").read_text())
    names = meta["network_data_format"]["outputs"]["pred"]["channel_def"]
    assert [p["name"] for p in record["landmarks"]] == [names[str(i)] for i in range(28)]
    assert [p["side"] for p in record["landmarks"]] == ["right"] * 14 + ["left"] * 14
    for hip in record["hips"]:
        assert hip["present"] and hip["reason"] is None
        head = hip["femoral_head"]
        np.testing.assert_allclose([head["centre_x_px"] * spacing[0], head["centre_y_px"] * spacing[1]],
                                   [head["centre_x_mm"], head["centre_y_mm"]])
        assert 10 <= head["radius_mm"] <= 40 and head["radius_px"] == pytest.approx(head["radius_mm"] / spacing[0])
        if with_scores:
            assert set(hip["osteophyte_probability"]) == set(hip["grades"]) == set(TARGETS)
            assert all(0 <= p <= 1 for p in hip["osteophyte_probability"].values())
            assert all(g in (0, 1, 2, 3) for g in hip["grades"].values())
            assert 0 <= hip["any_osteophyte_probability"] <= 1
        else:
            assert hip["osteophyte_probability"] is None and hip["grades"] is None
    assert (record["scores"] is None) == with_scores
    if not with_scores:
        assert "hip_osteophyte_prior" in record["scores"] and "hip_osteophyte_grading" in record["scores"]
    row = _summary_rows(tmp_path)[dicom.name]
    assert row["right_present"] == row["left_present"] == "True"
    assert ("right_osteo_fem_sup_grade" in row) == with_scores


def test_knee_predict_two_stage(bundles, knee_inputs, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    code = main(["predict", "knee", str(knee_inputs), "--out", str(out), "--bundles", str(bundles), "--device", "cpu",
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = _summary_rows(out)
    assert rows["S1/knee.dcm"]["status"] == "analysed" and rows["S1/knee.dcm"]["n_landmarks"] == "32"
    assert rows["broken.dcm"]["status"] == "failed" and "not a readable DICOM" in rows["broken.dcm"]["reason"]
    record = _json(out / "S1" / "knee.json")
    assert [p["name"] for p in record["landmarks"]] == [f"{s}_{i}" for s in ("right", "left") for i in range(16)]
    assert record["landmarks"][4]["description"] == "tibial centre"
    px = np.array([[p["x_px"], p["y_px"]] for p in record["landmarks"]])
    mm = np.array([[p["x_mm"], p["y_mm"]] for p in record["landmarks"]])
    np.testing.assert_allclose(mm, px * np.asarray(record["spacing_xy_mm"]))
    from hipmonai.io import read_pts

    np.testing.assert_allclose(read_pts(out / "S1" / "knee.pts", n_points=32), mm, atol=1e-3)
    assert [k["side"] for k in record["knees"]] == ["right", "left"]
    assert set(record["bundles"]) == {"knee_landmark_kneel"}
    assert (out / "S1" / "knee.png").read_bytes()[:4] == b"\x89PNG"
    _assert_nothing_identifying(out, captured.out, captured.err, caplog.text)


def test_missing_bundles_is_one_line_naming_the_fix(bundles, landmark_bundle_only, hip_inputs, tmp_path, capsys,
                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --bundles, outputs/demo/bundles, is relative to the working directory
    dicom = str(hip_inputs / "first.dcm")
    cases = [
        (["predict", "hip", dicom, "--out", "out"], "outputs/demo/bundles: bundles folder not found"),
        (["predict", "knee", dicom, "--out", "out", "--bundles", str(landmark_bundle_only)],
         "knee_landmark_kneel: bundle not found"),
    ]
    for argv, expected in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "Traceback" not in err
        assert err.startswith("hipmonai predict: error: ") and expected in err, err
        assert "hipmonai demo" in err and "--bundles" in err
    incomplete = tmp_path / "incomplete"
    shutil.copytree(bundles / "hip_landmark_labelaug", incomplete / "hip_landmark_labelaug")
    (incomplete / "hip_landmark_labelaug" / "models" / "model.pt").unlink()
    assert main(["predict", "hip", dicom, "--out", "out", "--bundles", str(incomplete)]) == 1
    assert "incomplete bundle (no models/model.pt)" in capsys.readouterr().err


def test_no_image_analysed_is_a_failure_with_its_summary(bundles, hip_inputs, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", "hip", str(hip_inputs / "broken.dcm"), str(tmp_path / "missing.dcm"), "--out", str(out),
                 "--bundles", str(bundles), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("hipmonai predict: error: none of the 2 DICOM files could be analysed")
    rows = _summary_rows(out)
    assert {r["status"] for r in rows.values()} == {"failed"}
    assert "not found" in rows[str(tmp_path / "missing.dcm")]["reason"]


def test_the_command_line_default_is_the_demo_export_folder_and_loads_no_torch():
    import subprocess
    import sys

    from hipmonai.cli import predict as predict_cli
    from hipmonai.inference.predict import DEFAULT_BUNDLES_DIR

    assert Path(predict_cli.DEFAULT_BUNDLES_DIR) == DEFAULT_BUNDLES_DIR
    code = ("import argparse, sys; from hipmonai.cli import predict; "
            "predict.add_parser(argparse.ArgumentParser().add_subparsers()); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_output_stems_are_unique_and_never_the_summary():
    from hipmonai.inference.predict import output_stems

    assert output_stems(["a/b.dcm", "a/b.dicom", "summary.dcm", "c", "1.2.840.10008"]) == [
        "a/b", "a/b_2", "summary_2", "c", "1.2.840"]


def test_device_is_checked():
    from hipmonai.errors import InputError
    from hipmonai.inference.predict import resolve_device

    assert resolve_device("cpu") == "cpu"
    with pytest.raises(InputError, match="--device gpu0: not a torch device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda")
