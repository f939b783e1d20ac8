"""Wing loss (Tiulpin et al. 2019 Eq. 4) against hand-computed values on both branches."""

from __future__ import annotations

import doctest
import math

import pytest
import torch

import hipmonai.losses.wing as wing_module
from hipmonai.losses.wing import WingLoss, wing

# w = 15, epsilon = 3: C = 15 - 15 ln(6) = -11.876392...
C_15_3 = 15.0 - 15.0 * math.log(6.0)


@pytest.mark.parametrize(
    "abs_error, expected",
    [
        (0.0, 0.0),
        (3.0, 15.0 * math.log(2.0)),  # log branch: 10.397208
        (0.3, 15.0 * math.log(1.1)),  # log branch: 1.429653
        (20.0, 20.0 - C_15_3),  # linear branch: 31.876392
        (100.0, 100.0 - C_15_3),
    ],
)
def test_formula_on_both_branches(abs_error, expected):
    assert float(wing(torch.tensor(abs_error, dtype=torch.float64), 15.0, 3.0)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "abs_error, hand_value", [(3.0, 10.3972077), (0.3, 1.4296530), (20.0, 31.8763920), (15.0, 26.8763920)]
)
def test_hand_computed_numbers(abs_error, hand_value):
    # 15 ln 2; 15 ln 1.1; 20 - (15 - 15 ln 6); 15 ln 6 at the junction |x| = w
    assert float(wing(torch.tensor(abs_error, dtype=torch.float64), 15.0, 3.0)) == pytest.approx(hand_value, abs=1e-6)


def test_continuous_at_w():
    at_w = float(wing(torch.tensor(15.0, dtype=torch.float64), 15.0, 3.0))
    below = float(wing(torch.tensor(15.0 - 1e-9, dtype=torch.float64), 15.0, 3.0))
    assert at_w == pytest.approx(15.0 * math.log(6.0), rel=1e-12)
    assert below == pytest.approx(at_w, abs=1e-8)


def test_sign_symmetric_and_reductions():
    pred = torch.tensor([[[0.0, 3.0], [20.0, 0.0]]], dtype=torch.float64)
    target = torch.tensor([[[3.0, 0.0], [0.0, 0.0]]], dtype=torch.float64)
    values = [15 * math.log(2.0), 15 * math.log(2.0), 20.0 - C_15_3, 0.0]
    none = WingLoss(reduction="none")(pred, target)
    torch.testing.assert_close(none, torch.tensor(values, dtype=torch.float64).reshape(1, 2, 2))
    assert float(WingLoss(reduction="sum")(pred, target)) == pytest.approx(sum(values))
    assert float(WingLoss()(pred, target)) == pytest.approx(sum(values) / 4)


def test_coordinate_scale_per_axis_turns_normalised_into_pixels():
    pred = torch.tensor([[[0.5, 0.5]]], dtype=torch.float64)
    target = torch.tensor([[[0.4, 0.25]]], dtype=torch.float64)
    # (0.1 * 100, 0.25 * 80) = (10 px, 20 px): one error on each branch.
    loss = WingLoss(coordinate_scale=(100.0, 80.0), reduction="none")(pred, target)
    torch.testing.assert_close(
        loss, torch.tensor([[[15 * math.log(1 + 10 / 3), 20.0 - C_15_3]]], dtype=torch.float64)
    )
    scaled = WingLoss(coordinate_scale=2.0, reduction="sum")(pred, target)
    assert float(scaled) == pytest.approx(15 * math.log(1 + 0.2 / 3) + 15 * math.log(1 + 0.5 / 3))


def test_w_and_epsilon_are_used():
    pred, target = torch.tensor([[4.0]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64)
    assert float(WingLoss(w=10.0, epsilon=2.0)(pred, target)) == pytest.approx(10 * math.log(3.0))
    assert float(WingLoss(w=2.0, epsilon=1.0)(pred, target)) == pytest.approx(4.0 - (2.0 - 2.0 * math.log(3.0)))


def test_missing_targets_are_ignored():
    pred = torch.tensor([[[0.2, 0.2], [0.9, 0.1]]], requires_grad=True)
    target = torch.tensor([[[0.5, 0.2], [float("nan"), float("nan")]]])
    loss = WingLoss()(pred, target)
    assert float(loss) == pytest.approx(15 * math.log(1 + 0.3 / 3) / 2, rel=1e-5)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and float(pred.grad[0, 1].abs().sum()) == 0.0
    none = WingLoss(reduction="none")(pred, target)
    assert float(none[0, 1].abs().sum()) == 0.0
    all_missing = WingLoss()(pred, torch.full_like(target, float("nan")))
    assert float(all_missing) == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"w": 0.0}, "w must be positive, got 0.0"),
        ({"epsilon": -1.0}, "epsilon must be positive, got -1.0"),
        ({"coordinate_scale": 0.0}, "coordinate_scale must be positive"),
        ({"coordinate_scale": (1.0, -2.0)}, r"coordinate_scale must be positive.*\(1.0, -2.0\)"),
        ({"reduction": "median"}, "median"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WingLoss(**kwargs)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"shapes differ: \[1, 2, 2\] vs \[1, 3, 2\]"):
        WingLoss()(torch.zeros(1, 2, 2), torch.zeros(1, 3, 2))
    with pytest.raises(ValueError, match="coordinate_scale has 2 values but the last axis of input has 3"):
        WingLoss(coordinate_scale=(2.0, 3.0))(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3))


def test_docstring_examples():
    assert doctest.testmod(wing_module).failed == 0
