from __future__ import annotations

import math

import pytest
import torch

from hipmonai.losses.noisy_or import NoisyORMILLoss, log_prob_all_healthy


def _two_quadrants(p0_a: float, p0_b: float) -> torch.Tensor:
    """(1, 2, 2) logits whose grade-0 probabilities are p0_a and p0_b."""
    return torch.log(torch.tensor([[[p0_a, 1 - p0_a], [p0_b, 1 - p0_b]]]))


def test_by_hand_positive_and_negative():
    logits = _two_quadrants(0.5, 0.8).repeat(3, 1, 1)  # prod p0 = 0.4
    per_sample = NoisyORMILLoss(reduction="none")(logits, torch.tensor([1.0, 0.0, -1.0]))
    assert per_sample[0].item() == pytest.approx(-math.log(1 - 0.4 + 1e-7), rel=1e-6)  # eq. (7)
    assert per_sample[1].item() == pytest.approx(-math.log(0.4 + 1e-7), rel=1e-6)
    assert per_sample[2].item() == 0.0
    mean = NoisyORMILLoss()(logits, torch.tensor([1.0, 0.0, -1.0]))
    assert mean.item() == pytest.approx((per_sample[0] + per_sample[1]).item() / 2, rel=1e-6)
    assert log_prob_all_healthy(logits)[0].item() == pytest.approx(math.log(0.4), rel=1e-6)


def test_stable_when_every_quadrant_is_confidently_healthy():
    logits = torch.tensor([[50.0, -50.0, -50.0, -50.0]]).repeat(2, 4, 1).requires_grad_(True)  # (2, 4, 4)
    loss = NoisyORMILLoss()(logits, torch.tensor([1.0, 1.0]))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(-math.log(1e-7), rel=1e-5)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    sick = torch.tensor([[-50.0, 50.0, -50.0, -50.0]]).repeat(2, 4, 1).requires_grad_(True)
    negative = NoisyORMILLoss()(sick, torch.tensor([0.0, 0.0]))
    assert torch.isfinite(negative) and negative.item() == pytest.approx(-math.log(1e-7), rel=1e-5)
    negative.backward()
    assert torch.isfinite(sick.grad).all()


def test_matches_naive_formula_where_finite():
    torch.manual_seed(0)
    logits = torch.randn(8, 4, 4) * 3
    logits[0] = torch.tensor([50.0, -50.0, -50.0, -50.0])
    logits[1] = torch.tensor([-50.0, 50.0, -50.0, -50.0])
    labels = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    p0 = torch.softmax(logits.double(), dim=-1)[..., 0]
    prod = p0.prod(dim=-1)
    naive = torch.where(labels == 1, -torch.log(1 - prod + 1e-7), -torch.log(prod + 1e-7))
    assert torch.isfinite(naive).all()
    ours = NoisyORMILLoss(reduction="none")(logits, labels)
    torch.testing.assert_close(ours.double(), naive, rtol=1e-4, atol=1e-5)


def test_gradient_pushes_a_quadrant_away_from_healthy_for_positives():
    logits = torch.zeros(1, 4, 4, requires_grad=True)
    NoisyORMILLoss()(logits, torch.tensor([1.0])).backward()
    assert torch.all(logits.grad[..., 0] > 0) and torch.all(logits.grad[..., 1:] < 0)


def test_no_supervised_sample_gives_zero_with_gradient():
    logits = torch.randn(2, 4, 4, requires_grad=True)
    loss = NoisyORMILLoss()(logits, torch.tensor([-1.0, -1.0]))
    assert loss.item() == 0.0 and loss.requires_grad


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: NoisyORMILLoss(eps=0), "eps"),
        (lambda: NoisyORMILLoss()(torch.zeros(2, 4), torch.zeros(2)), "ordinal_logits"),
        (lambda: NoisyORMILLoss()(torch.zeros(2, 4, 4), torch.zeros(3)), "target"),
        (lambda: NoisyORMILLoss()(torch.zeros(2, 4, 4), torch.tensor([0.5, 1.0])), "0, 1 or -1"),
    ],
)
def test_bad_inputs_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
