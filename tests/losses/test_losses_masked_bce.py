from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hipmonai.losses.masked_bce import MaskedBCEWithLogitsLoss, known_label_mask


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 4, generator=gen, requires_grad=True)
    target = (torch.rand(5, 4, generator=gen) > 0.5).float()
    mask = (torch.rand(5, 4, generator=gen) > 0.3).float()
    return logits, target, mask


def test_mean_equals_bce_on_known_subset(batch):
    logits, target, mask = batch
    known = mask > 0
    expected = F.binary_cross_entropy_with_logits(logits[known], target[known])
    torch.testing.assert_close(MaskedBCEWithLogitsLoss()(logits, target, mask), expected)


def test_unknown_label_minus_one_without_mask(batch):
    logits, target, mask = batch
    with_minus_one = torch.where(mask > 0, target, torch.full_like(target, -1.0))
    torch.testing.assert_close(
        MaskedBCEWithLogitsLoss()(logits, with_minus_one), MaskedBCEWithLogitsLoss()(logits, target, mask)
    )


def test_unknown_entries_get_no_gradient_and_any_value(batch):
    logits, target, mask = batch
    garbage = torch.where(mask > 0, target, torch.full_like(target, 7.0))
    loss = MaskedBCEWithLogitsLoss()(logits, garbage, mask)
    loss.backward()
    assert torch.all(logits.grad[mask == 0] == 0) and torch.all(logits.grad[mask > 0] != 0)


def test_sum_and_none_reductions(batch):
    logits, target, mask = batch
    known = mask > 0
    per_entry = MaskedBCEWithLogitsLoss(reduction="none")(logits, target, mask)
    assert per_entry.shape == (5, 4) and torch.all(per_entry[~known] == 0)
    torch.testing.assert_close(
        per_entry[known], F.binary_cross_entropy_with_logits(logits[known], target[known], reduction="none")
    )
    torch.testing.assert_close(MaskedBCEWithLogitsLoss(reduction="sum")(logits, target, mask), per_entry.sum())


def test_no_known_label_gives_zero_with_gradient(batch):
    logits, target, _ = batch
    loss = MaskedBCEWithLogitsLoss()(logits, target, torch.zeros_like(target))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.all(logits.grad == 0)


def test_pos_weight_is_passed_through(batch):
    logits, target, mask = batch
    pos_weight = torch.tensor([1.0, 2.0, 3.0, 4.0])
    known = mask > 0
    expected = F.binary_cross_entropy_with_logits(
        logits, target, pos_weight=pos_weight, reduction="none"
    )[known].mean()
    torch.testing.assert_close(MaskedBCEWithLogitsLoss(pos_weight=pos_weight)(logits, target, mask), expected)


def test_known_label_mask_and_errors():
    target = torch.tensor([1.0, -1.0, 0.0])
    assert known_label_mask(target).tolist() == [True, False, True]
    assert known_label_mask(target, torch.tensor([0.0, 1.0, 1.0])).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="mask shape"):
        known_label_mask(target, torch.ones(2))
    with pytest.raises(ValueError, match="input shape"):
        MaskedBCEWithLogitsLoss()(torch.zeros(2, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="pos_weight"):
        MaskedBCEWithLogitsLoss(pos_weight=torch.tensor([-1.0]))
    with pytest.raises(ValueError, match="not a valid LossReduction"):
        MaskedBCEWithLogitsLoss(reduction="median")
