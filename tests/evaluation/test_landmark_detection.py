"""Evaluation of the pelvis landmark detector and the ``hipmonai labelaug`` commands on a tiny phantom cohort."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hipmonai.cli import main
from hipmonai.errors import InputError
from hipmonai.evaluation.landmark_detection import (
    evaluate_detector,
    head_circle_errors,
    read_truth_circles,
    summarize_errors,
)
from hipmonai.inference import PelvisLandmarkDetector, fit_head_circles
from hipmonai.io.landmark_groups import load_landmark_groups
from hipmonai.networks import save_checkpoint

SIZE = 32
TINY = ["channels=[4, 8]", "strides=[2]", "num_res_units=0", f"image_size_px={SIZE}"]


@pytest.fixture(scope="module")
def prepared(hip_cohort, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labelaug_cli")
    assert main(["labelaug", "prepare", "--dicom", str(hip_cohort / "dicom"), "--landmarks",
                 str(hip_cohort / "landmarks"), "--out", str(out / "data"), "--size", str(SIZE), "--quiet"]) == 0
    from monai.networks.nets import UNet

    torch.manual_seed(0)
    save_checkpoint(UNet(2, 1, 28, (4, 8), (2,)), out / "model.pt",
                    {"image_size_px": SIZE, "n_landmarks": 28, "channels": [4, 8], "strides": [2], "num_res_units": 0})
    return out


def test_summaries_and_circle_errors_by_hand():
    s = summarize_errors(np.array([[1.0, 3.0], [np.nan, 5.0]]))
    assert s["n"] == 3 and s["mre"] == pytest.approx(3.0) and s["rmse"] == pytest.approx(np.sqrt(35 / 3))
    assert s["sdr"] == {"2": pytest.approx(1 / 3), "2.5": pytest.approx(1 / 3), "3": pytest.approx(1 / 3),
                        "4": pytest.approx(2 / 3)}
    groups = load_landmark_groups("hip")
    head = groups.curves["femoral_head"]
    angles = np.linspace(0.2, 2.5, len(head))
    points = np.full((160, 2), np.nan)
    for side, offset in (("right", 0), ("left", 80)):
        cx = 50.0 if side == "right" else 250.0
        points[[offset + i for i in head]] = np.c_[cx + 20 * np.cos(angles), 100 + 20 * np.sin(angles)]
    true = fit_head_circles(points)
    shifted = fit_head_circles(points + np.array([1.0, 0.0]))
    errors = head_circle_errors(shifted, true)
    assert errors["right"] == pytest.approx((1.0, 0.0), abs=1e-9) and errors["left"] == pytest.approx((1.0, 0.0))
    assert true["right"] == pytest.approx((50.0, 100.0, 20.0))


def test_evaluate_writes_every_output_and_no_identifying_value(prepared, hip_cohort, tmp_path):
    from monai.networks.nets import UNet

    from hipmonai.data.pelvis import load_pelvis_datalist

    net = UNet(2, 1, 28, (4, 8), (2,))
    net.load_state_dict(torch.load(prepared / "model.pt", weights_only=True)["model"])
    detector = PelvisLandmarkDetector(net, SIZE)
    items = load_pelvis_datalist(prepared / "data" / "pelvis.json", "training")[:2]
    results = evaluate_detector(detector, items, tmp_path, truth_csv=hip_cohort / "truth.csv", gallery=2,
                                progress=False)
    for name in ("results.json", "errors.csv", "head_circles.csv", "cumulative_errors.png", "gallery.png"):
        assert (tmp_path / name).is_file(), name
    # errors use the raw points of every labelled hip, whether the detector reports it present or not
    assert results["n_images"] == 2 and results["model_px"]["n"] == 56 and np.isfinite(results["mm"]["mre"])
    with open(tmp_path / "head_circles.csv", newline="") as handle:
        circles = list(csv.DictReader(handle))
    present = {(r["key"], r["side"]): r["present"] == "True" for r in circles}
    assert results["min_confidence"] == 0.5 and results["hips_reported_present"]["of"] == 4
    assert results["hips_reported_present"]["n"] == sum(present.values())
    assert all((r["reason"] == "") == present[r["key"], r["side"]] and 0 < float(r["confidence"]) < 1 for r in circles)
    both = {key for key, _ in present if present[key, "right"] and present[key, "left"]}
    assert len(list((tmp_path / "predicted_pts").rglob("*.pts"))) == len(both)  # .pts only when both hips are there
    assert results["pts_head_centre_error_vs_truth_mm"]["median"] < 0.05  # phantom points lie on the true circle
    import pydicom

    values = set()
    for item in items:
        ds = pydicom.dcmread(item["dicom"], stop_before_pixels=True)
        values |= {str(ds.PatientName), str(ds.PatientID), str(ds.PatientBirthDate), str(ds.AccessionNumber)}
    values.discard("")
    blobs = [p.read_bytes() for p in [*tmp_path.rglob("*"), *(prepared / "data").rglob("*")] if p.is_file()]
    for value in values:
        assert not any(value.encode() in blob for blob in blobs), value
    with pytest.raises(InputError, match="no images"):
        evaluate_detector(detector, [], tmp_path)
    with pytest.raises(InputError, match="cannot read the truth file"):
        read_truth_circles(tmp_path / "none.csv")


def test_evaluate_and_ablation_commands(prepared, hip_cohort, tmp_path):
    settings = [*TINY, f"dataset_dir={json.dumps(str(prepared / 'data'))}"]
    assert main(["labelaug", "evaluate", "--config", "configs/inference.json", "--checkpoint",
                 str(prepared / "model.pt"), "--split", "training", "--out", str(tmp_path / "eval"),
                 "--set", *settings]) == 0
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["size_px"] == SIZE
    code = main(["labelaug", "ablation", "--arms", "plain", "--reuse", f"plain={prepared / 'model.pt'}",
                 "--split", "training", "--truth", str(hip_cohort / "truth.csv"), "--out", str(tmp_path / "abl"),
                 "--set", *settings, "num_workers=0"])
    assert code == 0
    table = (tmp_path / "abl" / "ablation.md").read_text()
    assert "| U-Net |" in table and "SDR 2 px" in table
    assert main(["labelaug", "ablation", "--arms", "nonsense", "--out", str(tmp_path / "x")]) != 0


def test_hips_outside_the_image_are_not_scored_and_should_be_absent(prepared, tmp_path):
    from monai.networks.nets import UNet

    from hipmonai.data.pelvis import load_pelvis_datalist
    from hipmonai.phantoms import generate_hip_cohort

    cohort = tmp_path / "single"
    generate_hip_cohort(cohort, n_subjects=2, workers=1, progress=False, spacing_mm=1.0, single_hip_fraction=1.0)
    assert main(["labelaug", "prepare", "--dicom", str(cohort / "dicom"), "--landmarks", str(cohort / "landmarks"),
                 "--out", str(tmp_path / "data"), "--size", str(SIZE), "--quiet"]) == 0
    net = UNet(2, 1, 28, (4, 8), (2,))
    net.load_state_dict(torch.load(prepared / "model.pt", weights_only=True)["model"])
    items = [i for split in ("training", "validation", "test")
             for i in load_pelvis_datalist(tmp_path / "data" / "pelvis.json", split)]
    results = evaluate_detector(PelvisLandmarkDetector(net, SIZE), items, tmp_path / "eval",
                                truth_csv=cohort / "truth.csv", gallery=0, progress=False)
    assert results["model_px"]["n"] == 14 * len(items)  # one hip per image is in view
    assert results["hips_in_view_reported_present"]["of"] == len(items)
    assert results["hips_out_of_view_reported_absent"]["of"] == len(items)
    with open(tmp_path / "eval" / "head_circles.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(r["centre_err_vs_truth_mm"] == "nan" for r in rows if r["in_view"] == "False")


def test_collapsed_or_out_of_view_predictions_give_no_circle():
    from hipmonai.evaluation.landmark_detection import _fit_in_view

    head = load_landmark_groups("hip").curves["femoral_head"]
    points = np.full((160, 2), np.nan)
    angles = np.linspace(0.2, 2.5, len(head))
    points[head] = np.c_[50 + 20 * np.cos(angles), 100 + 20 * np.sin(angles)]
    points[[80 + i for i in head]] = np.c_[np.linspace(0, 9, len(head)), np.zeros(len(head))]  # collinear
    assert set(_fit_in_view(points, {"right": True, "left": True})) == {"right"}
    assert _fit_in_view(points, {"right": False, "left": True}) == {}
