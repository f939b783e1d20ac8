"""Two-stage KNEEL inference (hipmonai.inference.knee_pipeline): weight loading, the geometry back to original pixels
and mm, evaluation outputs, and the MONAI inferer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hipmonai.errors import InputError
from hipmonai.networks import KneelHourglassNet

SCALE = {"roi_spacing_mm": 4.0, "roi_size_px": (48, 80), "landmark_spacing_mm": 3.0, "crop_mm": 140.0}


@pytest.fixture(scope="module")
def knee_root(tmp_path_factory) -> Path:
    from hipmonai.data.knee import prepare_knee_data
    from hipmonai.phantoms import generate_knee_cohort

    root = tmp_path_factory.mktemp("knee_pipeline")
    generate_knee_cohort(root / "cohort", n_subjects=4, seed=3, workers=1, progress=False)
    cohort = root / "cohort"
    prepare_knee_data(cohort / "dicom", cohort / "landmarks", root / "data", grades_csv=cohort / "grades.csv", seed=0,
                      **SCALE)
    return root


class ConstantPoints(torch.nn.Module):
    """A stand-in network that always predicts the given normalised points (B, M, 2)."""

    def __init__(self, points):
        super().__init__()
        self.points = torch.as_tensor(points, dtype=torch.float32)
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.points.expand(x.shape[0], *self.points.shape).clone()


def test_init_from_roi_copies_everything_but_the_output_layer(tmp_path):
    from hipmonai.inference import init_from_roi
    from hipmonai.networks import load_checkpoint

    torch.manual_seed(0)
    roi = KneelHourglassNet(1, 1, width=4, depth=2)
    torch.save({"model": roi.state_dict()}, tmp_path / "roi.pt")
    landmarks = init_from_roi(KneelHourglassNet(1, 16, width=4, depth=2), tmp_path / "roi.pt")
    for key, value in roi.state_dict().items():
        if key.startswith("out_block."):
            assert landmarks.state_dict()[key].shape[0] == 16
        else:
            torch.testing.assert_close(landmarks.state_dict()[key], value)
    with pytest.raises(InputError, match="same network settings"):
        init_from_roi(KneelHourglassNet(1, 16, width=8, depth=2), tmp_path / "roi.pt")
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(roi, tmp_path / "missing.pt")
    exact = load_checkpoint(KneelHourglassNet(1, 1, width=4, depth=2), tmp_path / "roi.pt")
    torch.testing.assert_close(exact.out_block.weight, roi.out_block.weight)


def test_predictions_map_back_to_original_pixels_and_mm(knee_root):
    """With networks that always predict the sample centre, the landmark prediction must land on the ROI
    prediction (the crop is centred there), and mm = px x spacing."""
    from hipmonai.data.knee import load_knee_datalist
    from hipmonai.inference import KneeLandmarkPipeline

    pipe = KneeLandmarkPipeline(ConstantPoints([[0.5, 0.5]]), ConstantPoints([[0.5, 0.5]] * 16),
                                second_pass=True, **SCALE)
    item = load_knee_datalist(knee_root / "data" / "landmarks.json", "test")[0]
    out = pipe.predict_file(item["dicom"])
    assert out["landmarks_px"].shape == (32, 2) and out["roi_center_px"].shape == (2, 2)
    np.testing.assert_allclose(out["landmarks_mm"], out["landmarks_px"] * out["spacing_xy_mm"])
    crop_px_in_original = 3.0 / out["spacing_xy_mm"]  # half a crop pixel of rounding at most
    for side in range(2):
        knee = out["landmarks_px"][16 * side : 16 * (side + 1)]
        assert np.abs(knee - out["roi_center_px"][side]).max() <= 0.5 * crop_px_in_original.max() + 1e-6
    assert out["roi_center_px"][0, 0] < out["roi_center_px"][1, 0]  # the right knee is on the image's left
    assert set(out) >= {"source_uid_hash", "seconds"} and "PatientName" not in out


def test_evaluate_pipeline_writes_report(knee_root, tmp_path):
    from hipmonai.data.knee import load_knee_datalist
    from hipmonai.inference import KneeLandmarkPipeline, evaluate_pipeline

    torch.manual_seed(0)
    pipe = KneeLandmarkPipeline(KneelHourglassNet(1, 1, 4, 2), KneelHourglassNet(1, 16, 4, 2), **SCALE)
    results = evaluate_pipeline(pipe, load_knee_datalist(knee_root / "data" / "landmarks.json", "test"), tmp_path)
    assert results["n_knees"] == 2 and results["n_images"] == 1
    assert set(results["pck"]) == {"1.0", "1.5", "2.0", "2.5"} and results["pck_landmarks"] == [0, 4, 8, 9, 12, 15]
    assert 0 <= results["outliers_pct_knees"] <= 100 and results["roi_error_mm"]["max"] >= 0
    for name in ("results.json", "errors.csv", "predictions.csv", "cumulative_errors.png"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "results.json").read_text())["n_knees"] == 2
    assert len((tmp_path / "predictions.csv").read_text().splitlines()) == 1 + 32
    with pytest.raises(InputError, match="empty split"):
        evaluate_pipeline(pipe, [], tmp_path)


def test_inferer_returns_original_pixels_for_a_batch(knee_root):
    from monai.data import DataLoader, Dataset

    from hipmonai.data.knee import LoadKneeRadiographd, knee_radiograph_items
    from hipmonai.inference import KneeLandmarkPipeline, KneePipelineInferer

    pipe = KneeLandmarkPipeline(ConstantPoints([[0.5, 0.5]]), ConstantPoints([[0.5, 0.5]] * 16), **SCALE)
    items = knee_radiograph_items(knee_root / "data" / "landmarks.json", "training")
    batch = next(iter(DataLoader(Dataset(items, LoadKneeRadiographd("image")), batch_size=1)))
    pred = KneePipelineInferer(pipe)(batch["image"], ConstantPoints([[0.5, 0.5]] * 16))
    assert tuple(pred.shape) == (1, 32, 2)
    single = pipe.predict_image(batch["image"][0])["landmarks_px"]
    np.testing.assert_allclose(pred[0].numpy(), single, atol=1e-4)
    with pytest.raises(InputError, match="MetaTensor"):
        KneePipelineInferer(pipe)(torch.zeros(1, 1, 64, 64), ConstantPoints([[0.5, 0.5]] * 16))
