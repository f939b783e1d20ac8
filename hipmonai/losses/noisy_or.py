"""Noisy-OR multiple-instance loss over the quadrant heads (Ye et al. 2026 eqs. (6)-(7))."""

from __future__ import annotations

import torch
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

__all__ = ["NoisyORMILLoss", "log_prob_all_healthy"]


def log_prob_all_healthy(ordinal_logits: torch.Tensor) -> torch.Tensor:
    """``S = log prod_q p0^(q) = sum_q log_softmax(z^(q))_0`` from ordinal logits ``(B, Q, K)``: ``(B,)``, ``<= 0``."""
    if ordinal_logits.ndim != 3 or ordinal_logits.shape[-1] < 2:
        raise ValueError(f"ordinal_logits must be (B, Q, K) with K >= 2, got shape {tuple(ordinal_logits.shape)}.")
    return torch.log_softmax(ordinal_logits, dim=-1)[..., 0].sum(dim=-1)


class NoisyORMILLoss(_Loss):
    """Negative log-likelihood of the image label under a Noisy-OR of the quadrant heads.

    ``P(diseased) = 1 - prod_q p0^(q)`` (eq. 6) with ``p0^(q)`` the grade-0 probability of quadrant ``q``. For a
    weak positive (label 1) the loss is eq. (7), ``-log(1 - prod_q p0^(q) + eps)``; for a weak negative (label 0)
    it is the matching ``-log(prod_q p0^(q) + eps)`` (the pure-MIL strategy routes *all* weak labels
    through the Noisy-OR; the paper writes only the positive case). Label ``-1`` = not supervised here.

    Computed in log space: ``S = sum_q log_softmax(z^(q))_0`` and ``1 - prod p0 = -expm1(S)``, so no probability
    is formed by multiplying rounded values; with every quadrant confidently healthy (``S -> 0``) the positive loss
    is ``-log(eps)`` (about 16.1) with finite gradients, never ``inf``/``NaN``.

    Args:
        eps: the ``epsilon`` of eq. (7) (paper: 1e-7), > 0.
        reduction: ``"mean"`` over supervised samples (0 with a zero gradient when none), ``"sum"`` or ``"none"``
            (``(B,)``, 0 where the label is ``-1``).

    Example::

        >>> loss = NoisyORMILLoss()
        >>> healthy = torch.tensor([[[50.0, -50.0, -50.0, -50.0]] * 4])  # (1, 4, 4): all quadrants grade 0
        >>> round(loss(healthy, torch.tensor([1.0])).item(), 2)  # -log(1e-7)
        16.12
    """

    def __init__(self, eps: float = 1e-7, reduction: LossReduction | str = LossReduction.MEAN) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}.")
        self.eps = float(eps)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: ordinal logits ``(B, Q, K)`` (grade 0 first).
            target: image labels ``(B,)``: 1 = osteophyte somewhere, 0 = none, -1 = not supervised.
        """
        log_healthy = log_prob_all_healthy(input)
        if target.shape != log_healthy.shape:
            raise ValueError(f"target must be ({input.shape[0]},), got shape {tuple(target.shape)}.")
        bad = ~((target == 0) | (target == 1) | (target == -1))
        if bool(bad.any()):
            raise ValueError(f"target must be 0, 1 or -1 (unsupervised), got {target[bad].unique().tolist()}.")
        positive = -torch.log(-torch.expm1(log_healthy) + self.eps)  # eq. (7)
        negative = -torch.log(torch.exp(log_healthy) + self.eps)
        terms = torch.where(target == 1, positive, negative)
        valid = target >= 0
        terms = torch.where(valid, terms, torch.zeros_like(terms))
        if self.reduction == LossReduction.NONE.value:
            return terms
        if self.reduction == LossReduction.SUM.value:
            return terms.sum()
        if self.reduction == LossReduction.MEAN.value:
            return terms.sum() / valid.sum().clamp_min(1).to(terms.dtype)
        raise ValueError(f'Unsupported reduction: {self.reduction}, available options are ["mean", "sum", "none"].')
