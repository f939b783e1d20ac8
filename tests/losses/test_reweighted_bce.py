"""Dynamic (S - N) / N re-weighted BCE of Suh et al. 2023 (Eq. 1)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hipmonai.losses import DynamicReweightedBCELoss


def test_hand_computed_2x2():
    logits = torch.zeros(1, 1, 2, 2)
    labels = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    # S = 4, N = 1: label weight 3; every pixel costs log 2: (3 log 2 + 3 log 2) / 4
    assert float(DynamicReweightedBCELoss()(logits, labels)) == pytest.approx(6 * math.log(2) / 4)


def test_matches_torch_bce_with_per_channel_pos_weight():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 6, 5)
    labels = (torch.rand(3, 4, 6, 5) > 0.7).float()
    labels[0, 0] = 0  # no label pixel: left out
    loss = DynamicReweightedBCELoss(base_weight=2.0, reduction="none")(logits, labels)
    n = labels.sum(dim=(2, 3))
    for b in range(3):
        for c in range(4):
            if n[b, c] == 0:
                assert math.isnan(float(loss[b, c]))
                continue
            pos_weight = 2.0 * (30 - n[b, c]) / n[b, c]
            ref = F.binary_cross_entropy_with_logits(logits[b, c], labels[b, c], pos_weight=pos_weight)
            assert float(loss[b, c]) == pytest.approx(float(ref), rel=1e-5)


def test_every_stage_keeps_the_same_relative_weight():
    # total label weight w~ * N equals w * (S - N), the background count: a bigger region does not outweigh it
    for n_label in (1, 5, 25):
        labels = torch.zeros(1, 1, 10, 10)
        labels.view(-1)[:n_label] = 1
        logits = torch.zeros_like(labels)
        loss = DynamicReweightedBCELoss()(logits, labels)
        assert float(loss) == pytest.approx(2 * (100 - n_label) * math.log(2) / 100)


def test_invalid_channels_are_excluded_and_gradients_flow():
    logits = torch.zeros(1, 2, 4, 4, requires_grad=True)
    labels = torch.zeros(1, 2, 4, 4)
    labels[0, :, 1, 1] = 1
    full = DynamicReweightedBCELoss()(logits, labels)
    one = DynamicReweightedBCELoss()(logits, labels, valid=torch.tensor([[True, False]]))
    assert float(one) == pytest.approx(float(full))  # both channels identical
    none = DynamicReweightedBCELoss()(logits, labels, valid=torch.tensor([[False, False]]))
    assert float(none) == 0.0
    none.backward()
    assert logits.grad is not None
    logits.grad = None
    full.backward()
    assert logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same"):
        DynamicReweightedBCELoss()(logits, labels[:, :1])
    with pytest.raises(ValueError, match="base_weight"):
        DynamicReweightedBCELoss(base_weight=0)
