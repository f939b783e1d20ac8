from __future__ import annotations

import math

import pytest
import torch

from hipmonai.losses.cramer import CramerLoss, check_grades

LOGITS = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.4]] * 3))  # CDF P = (0.1, 0.3, 0.6)


def test_by_hand_per_entry_and_mean_over_valid():
    grades = torch.tensor([2, 0, -1])
    per_entry = CramerLoss(reduction="none")(LOGITS, grades)
    # grade 2: Y = (0, 0, 1) -> 0.1^2 + 0.3^2 + 0.4^2 = 0.26; grade 0: Y = (1, 1, 1) -> 0.81 + 0.49 + 0.16 = 1.46
    torch.testing.assert_close(per_entry, torch.tensor([0.26, 1.46, 0.0]))
    assert CramerLoss()(LOGITS, grades).item() == pytest.approx((0.26 + 1.46) / 2)
    assert CramerLoss(reduction="sum")(LOGITS, grades).item() == pytest.approx(1.72)


def test_distance_grows_with_grade_error():
    confident_zero = torch.tensor([[20.0, 0.0, 0.0, 0.0]]).repeat(4, 1)
    per_entry = CramerLoss(reduction="none")(confident_zero, torch.tensor([0, 1, 2, 3]))
    assert per_entry[0] < 1e-6
    torch.testing.assert_close(per_entry[1:], torch.tensor([1.0, 2.0, 3.0]), atol=1e-5, rtol=0)


def test_multi_dimensional_input_and_float_grades():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 4, requires_grad=True)
    grades = torch.tensor([[0, 1, 2, 3], [-1, -1, 0, 0], [3, 3, -1, 1]]).float()
    loss = CramerLoss()(logits, grades)
    per_entry = CramerLoss(reduction="none")(logits, grades)
    torch.testing.assert_close(loss, per_entry[grades >= 0].mean())
    loss.backward()
    assert torch.all(logits.grad[1, 0] == 0) and logits.grad[0, 0].abs().sum() > 0


def test_no_valid_sample_gives_zero_with_gradient():
    logits = torch.randn(2, 4, requires_grad=True)
    loss = CramerLoss()(logits, torch.tensor([-1, -1]))
    assert loss.item() == 0.0 and loss.requires_grad


def test_matches_sum_of_squared_cdf_differences_reference():
    torch.manual_seed(1)
    logits = torch.randn(6, 5)
    grades = torch.tensor([0, 4, 2, 1, 3, 2])
    probs = torch.softmax(logits.double(), -1).tolist()
    expected = []
    for p, y in zip(probs, grades.tolist(), strict=True):
        expected.append(sum((sum(p[: c + 1]) - (1.0 if y <= c else 0.0)) ** 2 for c in range(4)))
    assert CramerLoss()(logits, grades).item() == pytest.approx(math.fsum(expected) / 6, rel=1e-5)


@pytest.mark.parametrize(
    ("logits", "grades", "message"),
    [
        (torch.zeros(2, 4), torch.tensor([0, 4]), "-1..3"),
        (torch.zeros(2, 4), torch.tensor([0, -2]), "-1..3"),
        (torch.zeros(2, 4), torch.tensor([0.5, 1.0]), "whole numbers"),
        (torch.zeros(2, 4), torch.tensor([[0, 1]]), "target shape"),
        (torch.zeros(2, 1), torch.tensor([0, 0]), "K >= 2"),
    ],
)
def test_bad_inputs_are_rejected(logits, grades, message):
    with pytest.raises(ValueError, match=message):
        CramerLoss()(logits, grades)


def test_check_grades_returns_int64():
    assert check_grades(torch.tensor([0.0, 3.0, -1.0]), 4).dtype == torch.int64
