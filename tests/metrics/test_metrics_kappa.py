from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import cohen_kappa_score

from hipmonai.metrics.kappa import QuadraticWeightedKappaMetric, quadratic_weighted_kappa


def _sklearn(y_pred, y) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cohen_kappa_score(np.asarray(y), np.asarray(y_pred), weights="quadratic", labels=[0, 1, 2, 3])


@pytest.mark.parametrize(
    ("y_pred", "y"),
    [
        ([0, 1, 2, 3, 2, 1, 0], [0, 1, 2, 3, 3, 0, 0]),
        ([0, 0, 0, 0], [0, 0, 1, 2]),  # prediction uses one class
        ([0, 0, 0], [0, 0, 0]),  # both raters a single identical class: undefined (NaN)
        ([1, 1, 1], [2, 2, 2]),  # one class each, different: 0
        ([3, 2], [3, 3]),
        ([0, 1, 3, 3, 3], [1, 1, 2, 3, 0]),
    ],
)
def test_matches_sklearn_including_degenerate_cases(y_pred, y):
    ours = quadratic_weighted_kappa(torch.tensor(y_pred), torch.tensor(y))
    expected = _sklearn(y_pred, y)
    if math.isnan(expected):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(expected, abs=1e-12)


def test_random_gradings_match_sklearn_per_quadrant_and_mean():
    rng = np.random.default_rng(0)
    y = rng.integers(-1, 4, size=(50, 4))
    y_pred = np.clip(y + rng.integers(-1, 2, size=y.shape), 0, 3)
    metric = QuadraticWeightedKappaMetric(reduction="none")
    metric(torch.as_tensor(y_pred[:20]), torch.as_tensor(y[:20]))  # two iterations accumulate
    metric(torch.as_tensor(y_pred[20:]), torch.as_tensor(y[20:]))
    per_quadrant = metric.aggregate()
    expected = [_sklearn(y_pred[y[:, q] >= 0, q], y[y[:, q] >= 0, q]) for q in range(4)]
    np.testing.assert_allclose(per_quadrant.numpy(), expected, atol=1e-12)
    assert metric.aggregate("mean").item() == pytest.approx(np.mean(expected))


def test_scores_and_lists_of_items_are_accepted():
    gen = torch.Generator().manual_seed(1)
    scores = torch.randn(6, 4, 4, generator=gen)
    y = torch.randint(0, 4, (6, 4), generator=gen)
    from_scores = QuadraticWeightedKappaMetric()
    from_scores(scores, y)
    from_items = QuadraticWeightedKappaMetric()
    from_items([g for g in scores.argmax(-1)], [t for t in y])  # decollated, channel-first items
    assert from_scores.aggregate().item() == pytest.approx(from_items.aggregate().item())


def test_mean_ignores_undefined_quadrants_and_replace_option():
    y_pred = torch.tensor([[0, 0], [0, 1]])
    y = torch.tensor([[0, 0], [0, 1]])  # quadrant 0 undefined (one class), quadrant 1 perfect
    metric = QuadraticWeightedKappaMetric()
    metric(y_pred, y)
    assert metric.aggregate().item() == 1.0
    assert math.isnan(metric.aggregate("none")[0])
    replaced = QuadraticWeightedKappaMetric(replace_undefined_by=0.0)
    replaced(y_pred, y)
    assert replaced.aggregate().item() == 0.5
    all_unknown = QuadraticWeightedKappaMetric()
    all_unknown(torch.zeros(2, 1), torch.full((2, 1), -1))
    assert math.isnan(all_unknown.aggregate().item())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m(torch.tensor([[4]]), torch.tensor([[0]])), "0..3"),
        (lambda m: m(torch.tensor([[0]]), torch.tensor([[5]])), "0..3"),
        (lambda m: m(torch.zeros(2, 4, 3), torch.zeros(2, 4)), "4 grades"),
        (lambda m: m(torch.zeros(2, 3), torch.zeros(2, 4)), "\\(B, Q\\)"),
        (lambda m: m(torch.tensor([[0.5]]), torch.tensor([[0]])), "fractional"),
        (lambda m: m.aggregate(), "no accumulated data"),
        (lambda m: m.aggregate("sum"), "reduction"),
    ],
)
def test_bad_inputs_are_rejected(call, message):
    metric = QuadraticWeightedKappaMetric()
    with pytest.raises(ValueError, match=message):
        call(metric)
        metric.aggregate()
    with pytest.raises(ValueError, match="num_grades"):
        QuadraticWeightedKappaMetric(num_grades=1)
