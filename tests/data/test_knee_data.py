"""Knee data preparation (hipmonai.data.knee) and the knee sample chains (hipmonai.transforms.knee) on a 4-subject
phantom knee cohort."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from hipmonai.errors import InputError

TINY_SCALE = {"roi_spacing_mm": 4.0, "roi_size_px": (48, 80), "landmark_spacing_mm": 3.0, "crop_mm": 140.0}


@pytest.fixture(scope="module")
def knee_root(tmp_path_factory) -> Path:
    """A 4-subject knee cohort and its caches prepared at a tiny scale (read-only)."""
    from hipmonai.data.knee import prepare_knee_data
    from hipmonai.phantoms import generate_knee_cohort

    root = tmp_path_factory.mktemp("knee")
    generate_knee_cohort(root / "cohort", n_subjects=4, seed=3, workers=1, progress=False)
    cohort = root / "cohort"
    prepare_knee_data(cohort / "dicom", cohort / "landmarks", root / "data", grades_csv=cohort / "grades.csv", seed=0,
                      **TINY_SCALE)
    return root


@pytest.mark.parametrize("width, side, box", [(10, "right", (0, 5)), (11, "left", (5, 11)), (11, "right", (0, 5))])
def test_knee_half_box(width, side, box):
    from hipmonai.transforms.knee import knee_half_box_px

    assert knee_half_box_px(width, side) == box


def test_knee_half_box_rejects_bad_side_and_width():
    from hipmonai.transforms.knee import knee_half_box_px

    with pytest.raises(InputError, match="'middle'"):
        knee_half_box_px(10, "middle")
    with pytest.raises(InputError, match="at least 2 columns, got 1"):
        knee_half_box_px(1, "left")


def test_crop_size_px():
    from hipmonai.transforms.knee import crop_size_px

    assert crop_size_px(140.0, 0.3) == 467 and crop_size_px(140.0, 1.0) == 140
    with pytest.raises(ValueError, match="-1"):
        crop_size_px(-1.0, 0.3)


@pytest.mark.parametrize("side", ["right", "left"])
def test_chains_move_landmarks_with_the_image(knee_root, side):
    from hipmonai.data.knee import find_knee_images, knee_item
    from hipmonai.transforms import apply_affine_to_points
    from hipmonai.transforms.knee import knee_landmark_transforms, knee_roi_transforms

    item = knee_item(find_knee_images(knee_root / "cohort" / "dicom", knee_root / "cohort" / "landmarks")[0], side)
    roi = knee_roi_transforms(4.0, (48, 80))(dict(item))
    crop = knee_landmark_transforms(3.0, 140.0)(dict(item))
    assert tuple(roi["image"].shape) == (1, 48, 80) and tuple(crop["image"].shape) == (1, 47, 47)
    for sample in (roi, crop):  # the recorded px_affine is exactly how the landmarks moved
        moved = apply_affine_to_points(item["landmarks"], sample["px_affine"])
        np.testing.assert_allclose(moved, sample["landmarks"], atol=1e-3)
    # the crop is centred on the tibial centre (landmark 4) and has the right-knee orientation: lateral (0) left of
    # medial (8) for both knees
    np.testing.assert_allclose(crop["landmarks"][4], [23.0, 23.0], atol=0.6)
    assert crop["landmarks"][0, 0] < crop["landmarks"][8, 0]
    assert crop["flipped"] == (side == "left")
    # the ROI image is the knee's own half: its tibial centre lies inside the ROI
    assert 0 <= roi["landmarks"][4, 0] < 48 and 0 <= roi["landmarks"][4, 1] < 80


def test_map_point_and_pixels_to_mm():
    from hipmonai.transforms.knee import MapPointd, PixelsToMmd

    out = MapPointd("c")({"c": np.array([2.0, 3.0]), "px_affine": np.diag([2.0, 0.5, 1.0])})
    np.testing.assert_allclose(out["c_current"], [4.0, 1.5])
    out = PixelsToMmd("pred")({"pred": torch.ones(3, 2), "spacing_mm": np.array([0.3, 0.4])})
    np.testing.assert_allclose(out["pred_mm"].numpy(), [[0.3, 0.4]] * 3, rtol=1e-6)


def test_prepare_writes_caches_and_subject_level_manifests(knee_root):
    from hipmonai.data.knee import knee_manifest_settings, load_knee_datalist

    data = knee_root / "data"
    summary = json.loads((data / "prepare.json").read_text())
    assert summary["n_images"] == 4 and summary["counts"] == {"training": 4, "validation": 2, "test": 2}
    assert (summary["dicom_dir"], summary["landmarks_dir"], summary["grades_csv"]) == (
        "../cohort/dicom", "../cohort/landmarks", "../cohort/grades.csv")
    subjects = {split: {i["subject_id"] for i in load_knee_datalist(data / "landmarks.json", split)}
                for split in ("training", "validation", "test")}
    assert not (subjects["training"] & subjects["test"]) and not (subjects["validation"] & subjects["test"])
    test_items = load_knee_datalist(data / "roi.json", "test")
    assert {i["side"] for i in test_items} == {"right", "left"} and Path(test_items[0]["dicom"]).is_file()
    with h5py.File(data / "landmarks.h5", "r") as handle:
        group = handle[f"knees/{test_items[0]['key']}"]
        assert group["image"].shape == (47, 47) and group["landmarks"].shape == (16, 2)
        assert group.attrs["pixel_spacing"].tolist() == [3.0, 3.0] and group.attrs["kl"] in range(5)
    with h5py.File(data / "roi.h5", "r") as handle:
        assert handle[f"knees/{test_items[0]['key']}/image"].shape == (80, 48)  # (H, W)
    import pydicom

    header = pydicom.dcmread(test_items[0]["dicom"], stop_before_pixels=True)
    private = [str(header.PatientName).encode(), str(header.PatientID).encode()]
    assert all(private)
    for name in ("roi.h5", "landmarks.h5", "roi.json", "landmarks.json", "prepare.json"):
        blob = (data / name).read_bytes()
        assert not any(value in blob for value in private), name
    assert knee_manifest_settings(data / "roi.json")["input_size_px"] == [48, 80]
    settings = knee_manifest_settings(data / "landmarks.json")
    assert (settings["input_size_px"], settings["spacing_mm"], settings["stage"]) == ([47, 47], 3.0, "landmarks")


def test_prepare_grades_are_optional_but_must_exist(knee_root, tmp_path):
    from hipmonai.data.knee import load_knee_datalist, prepare_knee_data

    cohort = knee_root / "cohort"
    with pytest.raises(InputError, match="grades CSV not found"):
        prepare_knee_data(cohort / "dicom", cohort / "landmarks", tmp_path / "a", grades_csv=cohort / "nope.csv",
                          **TINY_SCALE)
    assert not (tmp_path / "a").exists()
    summary = prepare_knee_data(cohort / "dicom", cohort / "landmarks", tmp_path / "b", **TINY_SCALE)
    assert summary["grades_csv"] is None
    assert {item["kl"] for item in load_knee_datalist(tmp_path / "b" / "roi.json", "training")} == {-1}


def test_loaders_round_trip(knee_root):
    from hipmonai.data.knee import LandmarksToNormalizedd, LoadKneeSampled, load_knee_datalist
    from hipmonai.networks.soft_argmax import normalized_to_pixels

    item = load_knee_datalist(knee_root / "data" / "landmarks.json", "training")[0]
    d = LoadKneeSampled("h5")(item)
    assert d["image"].shape == (1, 47, 47) and d["image"].dtype == np.float32
    d = LandmarksToNormalizedd("landmarks", indices=[4])(d)
    assert tuple(d["label"].shape) == (1, 2)
    np.testing.assert_allclose(normalized_to_pixels(d["label"], (47, 47)).numpy(), d["landmarks"][[4]], atol=1e-4)


def test_radiograph_items_and_loader(knee_root):
    from hipmonai.data.knee import LoadKneeRadiographd, knee_radiograph_items

    items = knee_radiograph_items(knee_root / "data" / "landmarks.json", "test")
    assert len(items) == 1 and items[0]["key"].count("/") == 1
    d = LoadKneeRadiographd("image")(items[0])
    assert d["image"].ndim == 3 and d["label"].shape == (32, 2) and d["spacing_mm"].shape == (2,)
    assert "PatientName" not in json.dumps({k: str(v) for k, v in d["image"].meta.items()})


def test_manifest_errors(tmp_path):
    from hipmonai.data.knee import find_knee_images, knee_manifest_settings, load_knee_datalist

    (tmp_path / "m.json").write_text(json.dumps({"training": []}))
    with pytest.raises(InputError, match="not a knee manifest"):
        load_knee_datalist(tmp_path / "m.json")
    with pytest.raises(InputError, match="not a knee manifest"):
        knee_manifest_settings(tmp_path / "m.json")
    with pytest.raises(InputError, match="split must be one of"):
        load_knee_datalist(tmp_path / "m.json", "train")
    bad = {"format": "hipmonai-knee-datalist", "training": [{"subject_id": "S1"}], "validation": [],
           "test": [{"subject_id": "S1"}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="'S1' is in both 'training' and 'test'"):
        load_knee_datalist(tmp_path / "bad.json")
    with pytest.raises(InputError, match="DICOM folder not found"):
        find_knee_images(tmp_path / "dicom", tmp_path)
    with pytest.raises(InputError, match="landmark folder not found"):
        find_knee_images(tmp_path, tmp_path / "landmarks")
    with pytest.raises(InputError, match="no DICOM files"):
        find_knee_images(tmp_path, tmp_path)


def test_rand_translate_moves_image_and_landmarks_together():
    from hipmonai.transforms.knee import RandTranslate2Dd

    image = torch.zeros(1, 20, 30)
    image[0, 5, 7] = 1.0
    shift = RandTranslate2Dd("image", max_shift_px=4).set_random_state(seed=1)
    out = shift({"image": image, "landmarks": np.array([[5.0, 7.0]])})
    assert shift.shift != (0, 0) and tuple(out["image"].shape) == (1, 20, 30)
    peak = (out["image"][0] == 1).nonzero()[0].tolist()
    np.testing.assert_allclose(out["landmarks"][0], peak)
    still = RandTranslate2Dd("image", max_shift_px=0)({"image": image, "landmarks": np.zeros((1, 2))})
    assert torch.equal(torch.as_tensor(still["image"]), image)
    with pytest.raises(ValueError, match="-1"):
        RandTranslate2Dd("image", max_shift_px=-1)
