"""Pelvis landmark cache for the label-augmentation U-Net: whole radiographs fitted to a square, landmarks moved."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from hipmonai.data.landmark_cache import LoadLandmarkSampled, LoadRadiographd
from hipmonai.data.pelvis import (
    check_size_px,
    load_pelvis_datalist,
    pelvis_manifest_settings,
    prepare_pelvis_data,
)
from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import load_landmark_groups
from hipmonai.io.pts import mm_to_px, read_pts
from hipmonai.transforms import apply_affine_to_points
from hipmonai.transforms.pelvis import pelvis_landmark_transforms
from hipmonai.transforms.spatial import ResampleToFitd, fit_spacing_mm

SIZE = 64


@pytest.fixture(scope="module")
def pelvis_data(hip_cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("pelvis")
    summary = prepare_pelvis_data(hip_cohort / "dicom", hip_cohort / "landmarks", out, size_px=SIZE, progress=False)
    return out, summary


def test_fit_spacing_makes_the_longer_side_exactly_size_px():
    assert fit_spacing_mm((101, 51), (0.5, 0.5), 51) == pytest.approx(1.0)
    assert fit_spacing_mm((51, 201), (1.0, 0.25), 51) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="size_px"):
        fit_spacing_mm((10, 10), (1.0, 1.0), 1)
    image = MetaTensor(torch.rand(1, 301, 201), affine=torch.diag(torch.tensor([0.4, 0.4, 1.0, 1.0])))
    out = ResampleToFitd("image", size_px=64)({"image": image, "landmarks": np.array([[300.0, 0.0]])})
    assert tuple(out["image"].shape[1:]) == (64, 43)
    assert out["landmarks"][0, 0] == pytest.approx(63.0, abs=1e-4)
    assert out["pixel_spacing_mm"][0] == pytest.approx(300 * 0.4 / 63)


def test_chain_pads_to_a_square_and_px_affine_maps_points(hip_cohort):
    from hipmonai.readers import load_radiograph

    dicom = sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]
    array_wh, meta = load_radiograph(dicom)
    points = mm_to_px(read_pts(sorted((hip_cohort / "landmarks").rglob("*.pts"))[0]), meta["spacing_xy_mm"])
    image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
    out = pelvis_landmark_transforms(SIZE)({"image": image, "landmarks": points.astype(np.float32)})
    assert tuple(out["image"].shape) == (1, SIZE, SIZE)
    mapped = apply_affine_to_points(points, out["px_affine"], dtype=np.float64)
    np.testing.assert_allclose(out["landmarks"], mapped, atol=1e-3)
    assert np.isfinite(out["landmarks"]).all() and out["landmarks"].min() >= 0 and out["landmarks"].max() <= SIZE - 1


def test_prepare_writes_cache_manifest_and_subject_splits(hip_cohort, pelvis_data):
    out, summary = pelvis_data
    n_images = len(list((hip_cohort / "dicom").rglob("*.dcm")))
    assert summary["n_images"] == n_images and summary["skipped"] == []
    settings = pelvis_manifest_settings(out / "pelvis.json")
    n_landmarks = len(load_landmark_groups("hip").bilateral_detection_subset)
    assert settings["size_px"] == SIZE and settings["n_landmarks"] == n_landmarks == 28
    assert settings["landmark_names"][0] == "right_13" and settings["landmark_names"][14] == "left_13"
    splits = {name: load_pelvis_datalist(out / "pelvis.json", name) for name in ("training", "validation", "test")}
    assert sum(len(v) for v in splits.values()) == n_images
    subjects = [{i["subject_id"] for i in v} for v in splits.values()]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
    item = splits["training"][0]
    d = LoadLandmarkSampled("h5", root="radiographs")(item)
    assert d["image"].shape == (1, SIZE, SIZE) and d["landmarks"].shape == (n_landmarks, 2)
    assert d["pixel_spacing_mm"][0] == d["pixel_spacing_mm"][1] > 0
    loaded = LoadRadiographd("image", n_points=160, point_indices=settings["landmark_indices"])(
        {"image": item["dicom"], "pts": item["pts"]})
    np.testing.assert_allclose(apply_affine_to_points(loaded["label"], d["px_affine"], dtype=np.float64),
                               d["landmarks"], atol=1e-3)
    assert "PatientName" not in json.dumps(json.loads((out / "prepare.json").read_text()))


def test_size_mismatch_and_bad_manifest_are_clear_errors(pelvis_data, tmp_path):
    out, _ = pelvis_data
    check_size_px(out / "pelvis.json", SIZE)
    with pytest.raises(InputError, match="prepared at 64 px but the config asks for 128"):
        check_size_px(out / "pelvis.json", 128)
    (tmp_path / "m.json").write_text(json.dumps({"training": []}))
    with pytest.raises(InputError, match="not a pelvis manifest"):
        load_pelvis_datalist(tmp_path / "m.json")
    with pytest.raises(InputError, match="landmark cache not found"):
        LoadLandmarkSampled("h5")({"h5": str(tmp_path / "none.h5"), "key": "S1/V00"})


def test_radiographs_without_pts_are_skipped_with_a_reason(hip_cohort, tmp_path):
    import shutil

    landmarks = tmp_path / "landmarks"
    shutil.copytree(hip_cohort / "landmarks", landmarks)
    missing = sorted(landmarks.rglob("*.pts"))[0]
    missing.unlink()
    summary = prepare_pelvis_data(hip_cohort / "dicom", landmarks, tmp_path / "out", size_px=32, progress=False)
    assert [s["reason"] for s in summary["skipped"]] == ["no matching landmarks (.pts)"]



def test_swapped_right_and_left_hips_are_skipped_with_a_reason(hip_cohort, tmp_path):
    import shutil

    from hipmonai.io.pts import write_pts

    landmarks = tmp_path / "landmarks"
    shutil.copytree(hip_cohort / "landmarks", landmarks)
    swapped = sorted(landmarks.rglob("*.pts"))[0]
    points = read_pts(swapped)
    half = len(points) // 2
    write_pts(swapped, np.concatenate([points[half:], points[:half]]))
    summary = prepare_pelvis_data(hip_cohort / "dicom", landmarks, tmp_path / "out", size_px=32, progress=False)
    assert len(summary["skipped"]) == 1
    assert "right and left hips look swapped" in summary["skipped"][0]["reason"]

def test_expand_detection_puts_nan_where_the_detector_has_no_point():
    groups = load_landmark_groups("hip")
    subset = groups.bilateral_detection_subset
    points = np.arange(2 * len(subset), dtype=float).reshape(-1, 2)
    full = groups.expand_detection(points)
    assert full.shape == (160, 2)
    np.testing.assert_array_equal(full[subset], points)
    assert np.isnan(np.delete(full, subset, axis=0)).all()
    with pytest.raises(InputError, match="detection-subset points"):
        groups.expand_detection(points[:-1])
