"""``hipmonai preprocess`` without BoneFinder: landmarks from the hip_landmark_labelaug model (issue #6 item 4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hipmonai.cli import main
from hipmonai.errors import InputError
from hipmonai.io.pts import read_pts, write_pts
from hipmonai.preprocessing import preprocess_cohort
from hipmonai.preprocessing.detector import DetectorSpec, build_detector, predicted_pts_path, read_hip_pts

TINY = {"channels": [4, 8], "strides": [2], "num_res_units": 0, "image_size_px": 32}


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from monai.networks.nets import UNet

    torch.manual_seed(0)
    net = UNet(2, 1, 28, TINY["channels"], TINY["strides"], num_res_units=0)
    path = tmp_path_factory.mktemp("detector") / "model.pt"
    torch.save({"model": net.state_dict()}, path)
    return path


def _spec(checkpoint: Path, predicted: Path) -> DetectorSpec:
    return DetectorSpec(checkpoint=str(checkpoint), predicted_dir=str(predicted), overrides=dict(TINY))


def test_detector_builds_from_the_bundle_config(tiny_checkpoint, hip_cohort, tmp_path):
    detector = build_detector(_spec(tiny_checkpoint, tmp_path))
    dicom = sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]
    result = detector.predict_file(dicom)
    assert result["landmarks_px"].shape == (28, 2) and result["model_px"].shape == (28, 2)
    np.testing.assert_allclose(result["landmarks_mm"], result["landmarks_px"] * result["spacing_mm"])
    assert result["model_px"].min() >= 0 and result["model_px"].max() <= 31
    with pytest.raises(InputError, match="detector checkpoint not found"):
        build_detector(_spec(tmp_path / "missing.pt", tmp_path))


def test_radiograph_without_pts_gets_predicted_landmarks_written_as_pts(tiny_checkpoint, hip_cohort, tmp_path):
    landmarks = tmp_path / "landmarks"
    shutil.copytree(hip_cohort / "landmarks", landmarks)
    removed = sorted(landmarks.rglob("*.pts"))[0]
    relative = removed.relative_to(landmarks).with_suffix(".dcm").as_posix()
    removed.unlink()
    predicted = tmp_path / "predicted"
    summary = preprocess_cohort(hip_cohort / "dicom", landmarks, hip_cohort / "grades.csv", tmp_path / "hip.h5",
                                crop_px=64, workers=1, progress=False, detector=_spec(tiny_checkpoint, predicted))
    written = predicted_pts_path(predicted, relative)
    assert written.is_file() and read_pts(written).shape == (28, 2)
    assert "no matching landmarks" not in json.dumps(summary["skipped"])
    noted = [n for n in summary["notes"] if n["input"] == relative]
    skipped = [s for s in summary["skipped"] if s["input"] == relative]
    # an untrained detector places points anywhere: the image is either preprocessed (noted) or skipped by the
    # femoral head sanity check, never silently
    assert noted and "predicted by the detector" in noted[0]["note"] or skipped
    n_images = len(list((hip_cohort / "dicom").rglob("*.dcm")))
    assert summary["hips_written"] + len(skipped) >= 2 * (n_images - 1)


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
