"""``hipmonai preprocess`` without BoneFinder: landmarks from the hip_landmark_labelaug model, and
hips the model does not find skipped with its reason."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hipmonai.cli import main
from hipmonai.data import HipStore
from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import load_landmark_groups
from hipmonai.io.pts import read_pts, write_pts
from hipmonai.networks import save_checkpoint
from hipmonai.preprocessing import preprocess_cohort
from hipmonai.preprocessing.detector import (
    DEFAULT_DETECTOR_BUNDLE,
    DetectorSpec,
    build_detector,
    predicted_pts_path,
    read_hip_pts,
)

TINY = {"channels": [4, 8], "strides": [2], "num_res_units": 0, "image_size_px": 32}


def _without_one_pts(hip_cohort: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """A copy of the cohort's landmarks with the first ``.pts`` moved out: ``(landmarks, moved, relative dicom)``."""
    landmarks = tmp_path / "landmarks"
    shutil.copytree(hip_cohort / "landmarks", landmarks)
    removed = sorted(landmarks.rglob("*.pts"))[0]
    relative = removed.relative_to(landmarks).with_suffix(".dcm").as_posix()
    return landmarks, removed.rename(tmp_path / "removed.pts"), relative


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from monai.networks.nets import UNet

    torch.manual_seed(0)
    net = UNet(2, 1, 28, TINY["channels"], TINY["strides"], num_res_units=0)
    path = tmp_path_factory.mktemp("detector") / "model.pt"
    save_checkpoint(net, path, {**TINY, "n_landmarks": 28})
    return path


def _spec(checkpoint: Path, predicted: Path) -> DetectorSpec:
    return DetectorSpec(checkpoint=str(checkpoint), predicted_dir=str(predicted), overrides=dict(TINY))


def test_detector_builds_from_the_bundle_config(tiny_checkpoint, hip_cohort, tmp_path):
    detector = build_detector(_spec(tiny_checkpoint, tmp_path))
    dicom = sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]
    result = detector.predict_file(dicom)
    assert result["landmarks_px"].shape == (28, 2) and result["model_px"].shape == (28, 2)
    np.testing.assert_allclose(result["raw_landmarks_mm"], result["raw_landmarks_px"] * result["spacing_mm"])
    np.testing.assert_allclose(result["landmarks_mm"], result["landmarks_px"] * result["spacing_mm"])
    assert result["model_px"].min() >= 0 and result["model_px"].max() <= 31
    assert result["confidence"].shape == (28,) and ((result["confidence"] > 0) & (result["confidence"] < 1)).all()
    assert set(result["hips"]) == {"right", "left"}
    assert all(set(hip) == {"present", "confidence", "reason"} for hip in result["hips"].values())
    assert detector.min_confidence == 0.5  # configs/inference.json
    spec = _spec(tiny_checkpoint, tmp_path)
    assert build_detector(replace(spec, overrides={**TINY, "min_confidence": 0.3})).min_confidence == 0.3
    with pytest.raises(InputError, match="min_confidence must be in \\(0, 1\\), got 1.5"):
        build_detector(replace(spec, overrides={**TINY, "min_confidence": 1.5}))
    with pytest.raises(InputError, match="detector checkpoint not found"):
        build_detector(_spec(tmp_path / "missing.pt", tmp_path))


def test_radiograph_without_pts_gets_predicted_landmarks_written_as_pts(tiny_checkpoint, hip_cohort, tmp_path,
                                                                         peaked_detector, monkeypatch):
    landmarks, removed, relative = _without_one_pts(hip_cohort, tmp_path)
    detector = peaked_detector(hip_cohort / "dicom" / relative, removed)[0]
    monkeypatch.setattr("hipmonai.preprocessing.runner.build_detector", lambda spec: detector)
    predicted = tmp_path / "predicted"
    summary = preprocess_cohort(hip_cohort / "dicom", landmarks, hip_cohort / "grades.csv", tmp_path / "hip.h5",
                                crop_px=64, workers=1, progress=False, detector=_spec(tiny_checkpoint, predicted))
    written = predicted_pts_path(predicted, relative)
    assert written.is_file() and read_pts(written).shape == (28, 2)
    subset = load_landmark_groups("hip").bilateral_detection_subset
    np.testing.assert_allclose(read_pts(written), read_pts(removed)[subset], atol=2.0)  # mm, 256 px model grid
    assert summary["skipped"] == []
    noted = [n for n in summary["notes"] if n["input"] == relative]
    assert noted and "predicted by the detector, written to" in noted[0]["note"]
    assert summary["hips_written"] == 2 * len(list((hip_cohort / "dicom").rglob("*.dcm")))


def test_a_hip_the_detector_does_not_find_is_skipped_with_its_reason(tiny_checkpoint, hip_cohort, tmp_path,
                                                                      peaked_detector, monkeypatch):
    landmarks, removed, relative = _without_one_pts(hip_cohort, tmp_path)
    detector = peaked_detector(hip_cohort / "dicom" / relative, removed, present=("right",))[0]
    monkeypatch.setattr("hipmonai.preprocessing.runner.build_detector", lambda spec: detector)
    predicted = tmp_path / "predicted"
    out = tmp_path / "hip.h5"
    summary = preprocess_cohort(hip_cohort / "dicom", landmarks, hip_cohort / "grades.csv", out, crop_px=64,
                                workers=1, progress=False, detector=_spec(tiny_checkpoint, predicted))
    reason = "hip not found: confidence 0.00 < 0.50"
    assert summary["skipped"] == [{"input": relative, "side": "left", "reason": reason}]
    assert summary["hips_written"] == 2 * len(list((hip_cohort / "dicom").rglob("*.dcm"))) - 1
    subject, visit = Path(relative).parts[:2]  # the phantom layout: {subject}/{visit}/{name}.dcm
    with HipStore(out) as store:
        keys = set(store.keys())
    assert f"{subject}/{visit}/right" in keys and f"{subject}/{visit}/left" not in keys
    assert not predicted_pts_path(predicted, relative).exists()  # a .pts cannot say "absent"
    noted = [n for n in summary["notes"] if n["input"] == relative]
    assert "no .pts written (a hip is absent)" in noted[0]["note"]


def test_cli_min_confidence_reaches_the_detector(tiny_checkpoint, hip_cohort, tmp_path, capsys):
    landmarks, _, relative = _without_one_pts(hip_cohort, tmp_path)
    args = ["preprocess", "--dicom", str(hip_cohort / "dicom"), "--landmarks", str(landmarks), "--grades",
            str(hip_cohort / "grades.csv"), "--crop", "64", "--workers", "1", "--quiet"]
    bundle = tmp_path / "bundle"  # the CLI takes config files, not overrides: the tiny network as a config file
    shutil.copytree(DEFAULT_DETECTOR_BUNDLE / "configs", bundle / "configs")
    (bundle / "configs" / "tiny.json").write_text(json.dumps(TINY))
    detector = ["--detector-checkpoint", str(tiny_checkpoint), "--detector-bundle", str(bundle), "--detector-config",
                "configs/inference.json", "configs/tiny.json"]
    # an untrained network peaks at about 0.6 everywhere: 0.99 finds no hip
    assert main([*args, "--out", str(tmp_path / "a.h5"), *detector, "--min-confidence", "0.99"]) == 0
    summary = json.loads((tmp_path / "a.summary.json").read_text())
    assert summary["parameters"]["detector"]["overrides"] == {"min_confidence": 0.99}
    skipped = [s for s in summary["skipped"] if s["input"] == relative]
    assert [s["side"] for s in skipped] == ["right", "left"]
    assert all(re.fullmatch(r"hip not found: confidence 0\.\d\d < 0\.99", s["reason"]) for s in skipped), skipped
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*args, "--out", str(tmp_path / "b.h5"), *detector, "--min-confidence", "1.5"])
    assert "expected a number in (0, 1), got 1.5" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "c.h5"), "--min-confidence", "0.3"]) != 0
    assert "--min-confidence applies to --detector-checkpoint" in capsys.readouterr().err


def test_detector_pts_files_are_read_back_with_nan_for_other_points(tmp_path):
    path = write_pts(tmp_path / "a.pts", np.arange(56, dtype=float).reshape(28, 2))
    full = read_hip_pts(path)
    assert full.shape == (160, 2) and np.isnan(full).any(axis=1).sum() == 160 - 28
    write_pts(tmp_path / "b.pts", np.zeros((12, 2)))
    with pytest.raises(InputError, match="expected 160 points .BoneFinder. or 28"):
        read_hip_pts(tmp_path / "b.pts")


def test_cli_needs_landmarks_or_a_detector(hip_cohort, tmp_path, capsys):
    code = main(["preprocess", "--dicom", str(hip_cohort / "dicom"), "--grades", str(hip_cohort / "grades.csv"),
                 "--out", str(tmp_path / "x.h5")])
    assert code != 0
    assert "give --landmarks" in capsys.readouterr().err
