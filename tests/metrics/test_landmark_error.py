"""Landmark metrics against hand-computed values: radial error, PCK, SDR, outliers, MRE/RMSE, CED, metric + handler."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import torch
from ignite.engine import Engine

import hipmonai.metrics.landmark_error as landmark_error_module
from hipmonai.handlers.landmark_error import LandmarkError
from hipmonai.io import load_landmark_groups
from hipmonai.metrics.landmark_error import (
    LandmarkErrorMetric,
    cumulative_error_distribution,
    fraction_within,
    mean_radial_error,
    outlier_rate,
    pck,
    radial_errors,
    root_mean_square_error,
    sdr,
)
from hipmonai.networks.soft_argmax import pixels_to_normalized

NAN = float("nan")
# 2 cases x 3 landmarks
ERRORS = torch.tensor([[0.5, 1.0, 1.2], [2.0, 0.9, 3.0]], dtype=torch.float64)


def test_radial_errors_px_and_mm():
    pred = torch.tensor([[[0.0, 0.0], [1.0, 1.0]]])
    target = torch.tensor([[[3.0, 4.0], [NAN, NAN]]])
    px = radial_errors(pred, target)
    assert float(px[0, 0]) == 5.0 and math.isnan(float(px[0, 1]))
    mm = radial_errors(pred, target, spacing_mm=(0.5, 0.25))  # (1.5 mm, 1.0 mm)
    assert float(mm[0, 0]) == pytest.approx(math.sqrt(3.25))
    assert float(radial_errors(pred, target, spacing_mm=0.3)[0, 0]) == pytest.approx(1.5)


def test_radial_errors_per_case_spacing():
    pred = torch.zeros(2, 1, 2)
    target = torch.tensor([[[3.0, 4.0]], [[3.0, 4.0]]])
    got = radial_errors(pred, target, spacing_mm=torch.tensor([[1.0, 1.0], [0.1, 0.2]]))
    torch.testing.assert_close(got, torch.tensor([[5.0], [math.sqrt(0.09 + 0.64)]]))


@pytest.mark.parametrize(
    "spacing, message",
    [((0.0, 1.0), "spacing_mm must be positive"), (torch.ones(3, 2), r"\(B, 2\) per case for a batch of 2")],
)
def test_radial_errors_bad_spacing(spacing, message):
    with pytest.raises(ValueError, match=message):
        radial_errors(torch.zeros(2, 1, 2), torch.zeros(2, 1, 2), spacing_mm=spacing)


def test_radial_errors_bad_shapes():
    with pytest.raises(ValueError, match=r"must both be \(B, M, 2\), got \[1, 2, 2\] and \[1, 3, 2\]"):
        radial_errors(torch.zeros(1, 2, 2), torch.zeros(1, 3, 2))


def test_fraction_within_inclusive_and_strict():
    inclusive = fraction_within(ERRORS, [1.0, 2.0], inclusive=True)
    torch.testing.assert_close(inclusive, torch.tensor([[0.5, 1.0, 0.0], [1.0, 1.0, 0.5]], dtype=torch.float64))
    strict = fraction_within(ERRORS, [1.0, 2.0], inclusive=False)
    torch.testing.assert_close(strict, torch.tensor([[0.5, 0.5, 0.0], [0.5, 1.0, 0.5]], dtype=torch.float64))


def test_pck_and_sdr_by_hand():
    torch.testing.assert_close(pck(ERRORS, [1.0, 2.0]), torch.tensor([0.5, 2.5 / 3], dtype=torch.float64))
    torch.testing.assert_close(sdr(ERRORS, [1.0, 2.0]), torch.tensor([1 / 3, 2 / 3], dtype=torch.float64))
    torch.testing.assert_close(pck(ERRORS, [1.0], landmarks=[0, 2]), torch.tensor([0.25], dtype=torch.float64))


def test_pck_on_the_knee_subset_and_missing_landmarks():
    subset = load_landmark_groups("knee").pck_landmarks
    assert subset == [0, 4, 8, 9, 12, 15]
    errors = torch.full((2, 16), 9.0, dtype=torch.float64)
    errors[:, subset] = torch.tensor(
        [[0.5, 1.5, 2.2, 0.1, NAN, 3.0], [1.0, 1.1, 2.4, 0.2, 0.3, 2.6]], dtype=torch.float64
    )
    # per landmark at 1 mm: 1, 0, 0, 1, 1 (one valid case), 0 -> mean 0.5; at 2.5 mm: 1, 1, 1, 1, 1, 0 -> 5/6
    got = pck(errors, [1.0, 2.5], landmarks=subset)
    torch.testing.assert_close(got, torch.tensor([0.5, 5 / 6], dtype=torch.float64))


def test_outlier_rate_per_case_and_per_landmark():
    errors = torch.tensor([[1.0, 12.0], [3.0, 4.0], [NAN, 10.0], [NAN, NAN]], dtype=torch.float64)
    assert float(outlier_rate(errors)) == pytest.approx(2 / 3)  # case 3 has no valid landmark
    assert float(outlier_rate(errors, per="landmark")) == pytest.approx(2 / 5)
    assert float(outlier_rate(errors, threshold_mm=12.5)) == 0.0
    with pytest.raises(ValueError, match="per must be one of .*'image'"):
        outlier_rate(errors, per="image")


def test_mre_and_rmse():
    errors = torch.tensor([[3.0, 4.0], [NAN, 0.0]], dtype=torch.float64)
    assert float(mean_radial_error(errors)) == pytest.approx(7 / 3)
    assert float(root_mean_square_error(errors)) == pytest.approx(math.sqrt(25 / 3))
    assert float(mean_radial_error(errors, landmarks=[1])) == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"landmarks \[2\] must be a non-empty subset of 0..1"):
        mean_radial_error(errors, landmarks=[2])


def test_cumulative_error_distribution():
    x, y = cumulative_error_distribution(ERRORS)
    np.testing.assert_allclose(x, [0.5, 0.9, 1.0, 1.2, 2.0, 3.0])
    np.testing.assert_allclose(y, np.arange(1, 7) / 6)
    x, y = cumulative_error_distribution(ERRORS, thresholds=[0.0, 1.0, 2.5, 10.0], landmarks=[1, 2])
    np.testing.assert_allclose(x, [0.0, 1.0, 2.5, 10.0])
    np.testing.assert_allclose(y, [0.0, 0.5, 0.75, 1.0])


def test_metric_accumulates_batches_and_lists():
    metric = LandmarkErrorMetric("mre", spacing_mm=0.5)
    metric(torch.zeros(1, 2, 2), torch.tensor([[[6.0, 8.0], [0.0, 2.0]]]))  # 10 px, 2 px -> 5 mm, 1 mm
    metric([torch.zeros(2, 2)], [torch.tensor([[0.0, 6.0], [NAN, NAN]])])  # decollated: 6 px -> 3 mm, missing
    assert metric.get_buffer().shape == (2, 2)
    assert float(metric.aggregate()) == pytest.approx(3.0)
    metric.reset()
    metric(torch.zeros(1, 1, 2), torch.tensor([[[0.0, 2.0]]]))
    assert float(metric.aggregate()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "statistic, threshold, expected",
    [
        ("mre", None, (0.5 + 1.0 + 1.2 + 2.0 + 0.9 + 3.0) / 6),
        ("rmse", None, math.sqrt((0.25 + 1.0 + 1.44 + 4.0 + 0.81 + 9.0) / 6)),
        ("pck", 1.0, 0.5),
        ("sdr", 1.0, 1 / 3),
        ("outlier_rate", 2.5, 0.5),
    ],
)
def test_metric_statistics(statistic, threshold, expected):
    metric = LandmarkErrorMetric(statistic, threshold=threshold)
    target = torch.zeros(2, 3, 2, dtype=torch.float64)
    pred = torch.stack([ERRORS, torch.zeros_like(ERRORS)], dim=-1)  # errors along x only
    metric(pred, target)
    assert float(metric.aggregate()) == pytest.approx(expected)


def test_metric_per_case_spacing_list_and_normalised_input():
    metric = LandmarkErrorMetric("mre", input_size=(100, 50))
    pred_px = torch.tensor([[[10.0, 10.0]], [[20.0, 5.0]]])
    true_px = torch.tensor([[[13.0, 14.0]], [[20.0, 5.0]]])
    spacing = [torch.tensor([1.0, 1.0]), torch.tensor([0.3, 0.3])]
    metric(pixels_to_normalized(pred_px, (100, 50)), pixels_to_normalized(true_px, (100, 50)), spacing_mm=spacing)
    torch.testing.assert_close(metric.get_buffer(), torch.tensor([[5.0], [0.0]]), atol=1e-5, rtol=0)


def test_metric_summary_and_landmark_subset():
    metric = LandmarkErrorMetric("pck", threshold=1.0, landmarks=[0, 1])
    errors = torch.tensor([[0.5, 1.0, 12.0], [2.0, 0.9, 3.0]], dtype=torch.float64)
    metric(torch.stack([errors, torch.zeros_like(errors)], dim=-1), torch.zeros(2, 3, 2, dtype=torch.float64))
    assert float(metric.aggregate()) == pytest.approx(0.75)
    summary = metric.summary(pck_thresholds=(1.0, 2.0), sdr_thresholds=(1.0,))
    assert summary["n_cases"] == 2
    assert summary["pck"] == pytest.approx({1.0: 0.75, 2.0: 1.0})
    assert summary["sdr"] == pytest.approx({1.0: 0.5})
    assert summary["mre"] == pytest.approx((0.5 + 1.0 + 2.0 + 0.9) / 4)
    assert summary["outlier_rate_case"] == pytest.approx(0.5)  # outliers use every landmark
    assert summary["outlier_rate_landmark"] == pytest.approx(1 / 6)
    assert summary["per_landmark_mre"] == pytest.approx([1.25, 0.95, 7.5])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"statistic": "mae"}, "statistic must be one of .*'mae'"),
        ({"statistic": "pck"}, "statistic 'pck' needs a threshold"),
        ({"statistic": "sdr", "threshold": -1.0}, "threshold must be positive, got -1.0"),
        ({"outlier_per": "x"}, "outlier_per must be one of"),
        ({"spacing_mm": (0.3, 0.0)}, "spacing_mm must be positive"),
        ({"input_size": (64,)}, "spatial_size must be two positive sizes"),
    ],
)
def test_metric_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LandmarkErrorMetric(**kwargs)


def test_metric_needs_labels():
    with pytest.raises(ValueError, match="needs the true landmarks"):
        LandmarkErrorMetric()(torch.zeros(1, 1, 2))


def _run_engine(batches: list, handlers: dict) -> Engine:
    engine = Engine(lambda engine, batch: batch)
    for name, handler in handlers.items():
        handler.attach(engine, name)
    engine.run(batches, max_epochs=1)
    return engine


def test_ignite_handler_records_statistics_and_details():
    subset = load_landmark_groups("knee").pck_landmarks
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(4, 16, 2, generator=g) * 400
    pred = truth.clone()
    pred[:, :, 0] += torch.tensor([0.0, 3.0, 4.0, 40.0])[:, None]  # 0, 0.9, 1.2, 12 mm at 0.3 mm spacing
    batches = [(pred[:2], truth[:2]), (pred[2:], truth[2:])]
    engine = _run_engine(
        batches,
        {
            "pck_1mm": LandmarkError("pck", threshold=1.0, spacing_mm=0.3, landmarks=subset),
            "outliers": LandmarkError("outlier_rate", spacing_mm=0.3),
            "mre_px": LandmarkError("mre"),
        },
    )
    assert engine.state.metrics["pck_1mm"] == pytest.approx(0.5)
    assert engine.state.metrics["outliers"] == pytest.approx(0.25)
    assert engine.state.metrics["mre_px"] == pytest.approx((0 + 3 + 4 + 40) / 4, rel=1e-5)
    assert engine.state.metric_details["pck_1mm"].shape == (4, 16)


def test_ignite_handler_takes_per_case_spacing():
    spacing = torch.tensor([[1.0, 1.0], [2.0, 2.0]])
    batches = [(torch.zeros(2, 1, 2), torch.tensor([[[3.0, 4.0]], [[3.0, 4.0]]]), spacing)]
    engine = _run_engine(batches, {"sdr_mm": LandmarkError("sdr", threshold=6.0)})
    assert engine.state.metrics["sdr_mm"] == pytest.approx(0.5)  # 5 mm passes, 10 mm does not
    with pytest.raises(ValueError, match="output must be \\(y_pred, y\\) or \\(y_pred, y, spacing_mm\\), got 1 items"):
        _run_engine([(torch.zeros(1, 1, 2),)], {"x": LandmarkError()})


def test_docstring_examples():
    assert doctest.testmod(landmark_error_module).failed == 0
