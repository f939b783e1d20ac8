"""MONAI Label infer tasks on copies of the bundles with tiny random-weight networks (plumbing, not accuracy): the
landmark task returns the 28 named landmarks in pixels and mm with both femoral heads as JSON, the osteophyte task
MONAI Label's classification JSON with the four targets. Skipped where monailabel is not installed.

MONAI Label imports ``torchvision.utils`` at import time; no torchvision wheel fits the CPU torch 2.13.0 this
project installs, so the test puts a stub module in its place whose functions raise if called (nothing here calls
them). See docs/ecosystem.md."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch

from hipmonai.networks import save_checkpoint
from hipmonai.paths import bundle_templates_dir

BUNDLES = bundle_templates_dir()


@pytest.fixture(scope="module", autouse=True)
def torchvision_stub():
    try:
        import torchvision  # noqa: F401

        yield
        return
    except Exception:  # absent, or a CUDA wheel that fails beside the CPU torch
        pass
    saved = {k: sys.modules.get(k) for k in ("torchvision", "torchvision.utils")}
    vision, utils = types.ModuleType("torchvision"), types.ModuleType("torchvision.utils")

    def unavailable(*args, **kwargs):
        raise RuntimeError("torchvision stub of the hipmonai tests")

    utils.make_grid = utils.save_image = unavailable
    vision.utils = utils
    sys.modules.update({"torchvision": vision, "torchvision.utils": utils})
    yield
    for key, module in saved.items():
        if module is None:
            sys.modules.pop(key, None)
        else:
            sys.modules[key] = module


def _bundle_copy(name: str, tmp: Path, extra: dict) -> Path:
    """The bundle's configs and a random-weight ``models/model.pt`` of its network with ``extra`` overrides."""
    from hipmonai.experiments.bundle import bundle_parser

    folder = tmp / name
    shutil.copytree(BUNDLES / name / "configs", folder / "configs")
    (folder / "models").mkdir()
    (folder / "configs" / "tiny.json").write_text(json.dumps(extra))
    torch.manual_seed(0)
    parser = bundle_parser(folder, ["configs/inference.json", "configs/tiny.json"])
    save_checkpoint(parser.get_parsed_content("network_def"), folder / "models" / "model.pt",
                    parser.get_parsed_content("trained_with#settings"))
    return folder


def test_landmark_task_returns_named_points_and_femoral_heads(hip_cohort, tmp_path, monkeypatch):
    pytest.importorskip("monailabel")
    from hipmonai.inference import PelvisLandmarkDetector
    from hipmonai.monailabel import HipLandmarkInferTask

    bundle = _bundle_copy("hip_landmark_labelaug", tmp_path,
                          {"channels": [4, 8, 16, 32, 64], "strides": [2, 2, 2, 2], "num_res_units": 0,
                           "image_size_px": 64, "n_landmarks": 28})
    task = HipLandmarkInferTask(bundle, config_files=["configs/tiny.json"])
    assert task.is_valid()
    dicom = sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]
    # random weights: the detector reports hips absent (implausible circles), and their points are left out
    _, result = task({"image": str(dicom), "device": "cpu"})
    counts = [sum(p["name"].startswith(side) for p in result["landmarks"]) for side in ("right", "left")]
    assert all(n in (0, 14) for n in counts) and len(result["femoral_heads"]) == sum(n == 14 for n in counts)
    json.loads(json.dumps(result, allow_nan=False))
    # the plumbing of all 28 points, with every hip taken as present
    monkeypatch.setattr(PelvisLandmarkDetector, "_absence_reason", lambda *args: None)
    label, result = task({"image": str(dicom), "device": "cpu"})
    assert label is None
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    names = [meta["network_data_format"]["outputs"]["pred"]["channel_def"][str(i)] for i in range(28)]
    assert [p["name"] for p in result["landmarks"]] == names
    header = pydicom.dcmread(dicom, stop_before_pixels=True)
    spacing = [float(s) for s in (header.get("PixelSpacing") or header.ImagerPixelSpacing)][::-1]  # (x, y)
    px = np.array([[p["x_px"], p["y_px"]] for p in result["landmarks"]])
    mm = np.array([[p["x_mm"], p["y_mm"]] for p in result["landmarks"]])
    np.testing.assert_allclose(mm, px * np.asarray(spacing), rtol=1e-4)
    assert np.isfinite(px).all()  # random weights may point into the square padding, outside the image
    assert set(result["femoral_heads"]) == {"right", "left"}  # both hips present: their points are finite
    for circle in result["femoral_heads"].values():
        assert set(circle) == {"centre_x_mm", "centre_y_mm", "radius_mm"}
    json.loads(json.dumps(result, allow_nan=False))


@pytest.fixture(scope="module")
def osteophyte_task(tmp_path_factory):
    pytest.importorskip("monailabel")
    from hipmonai.monailabel import HipOsteophyteInferTask

    bundle = _bundle_copy("hip_osteophyte_prior", tmp_path_factory.mktemp("prior"), {"widen_factor": 0.125})
    return HipOsteophyteInferTask(bundle, config_files=["configs/tiny.json"])


def _crop_input(kind: str, tmp: Path):
    """A ``(1, W, H)`` or ``(W, H)`` 224 px crop as a file path or an in-memory array."""
    crop = np.random.default_rng(0).random((1, 224, 224), dtype=np.float32)
    if kind == "npy_2d":
        np.save(tmp / "crop.npy", crop[0])
        return str(tmp / "crop.npy")
    if kind == "npy_1wh":
        np.save(tmp / "crop.npy", crop)
        return str(tmp / "crop.npy")
    if kind == "nifti_2d":
        import nibabel

        nibabel.save(nibabel.Nifti1Image(crop[0], np.eye(4)), tmp / "crop.nii.gz")
        return str(tmp / "crop.nii.gz")
    return crop if kind == "array_1wh" else torch.from_numpy(crop[0])


@pytest.mark.parametrize("kind", ["npy_2d", "npy_1wh", "nifti_2d", "array_1wh", "tensor_2d"])
def test_osteophyte_task_returns_four_scores(osteophyte_task, kind, tmp_path):
    label, result = osteophyte_task({"image": _crop_input(kind, tmp_path), "device": "cpu"})
    assert label is None
    predictions = result["prediction"]
    assert [p["label"] for p in predictions] == ["osteo_fem_sup", "osteo_fem_inf", "osteo_acet_sup", "osteo_acet_inf"]
    assert [p["idx"] for p in predictions] == [0, 1, 2, 3]
    assert all(0.0 <= p["score"] <= 1.0 for p in predictions)


def test_osteophyte_task_rejects_a_multichannel_crop(osteophyte_task):
    from hipmonai.errors import InputError

    with pytest.raises(InputError, match=r"\(3, 224, 224\)"):
        osteophyte_task({"image": np.zeros((3, 224, 224), np.float32), "device": "cpu"})


def test_missing_extra_config_is_a_clear_error(tmp_path):
    pytest.importorskip("monailabel")
    from hipmonai.errors import InputError
    from hipmonai.monailabel import HipLandmarkInferTask

    with pytest.raises(InputError, match="not found"):
        HipLandmarkInferTask(BUNDLES / "hip_landmark_labelaug", config_files=["configs/nope.json"])
