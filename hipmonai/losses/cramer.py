"""Ordinal Cramér loss between predicted and true grade CDFs (Ye et al. 2026 eqs. (4)-(5))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

__all__ = ["CramerLoss", "check_grades"]


def check_grades(grades: torch.Tensor, num_grades: int, name: str = "grades") -> torch.Tensor:
    """Validate integer grades in ``{-1, 0, ..., num_grades - 1}`` (``-1`` = unknown); returns them as int64.

    Raises:
        ValueError: a non-integer value or one outside that set (the offending values are named).
    """
    if grades.is_floating_point() and not bool(torch.all(grades == torch.round(grades))):
        raise ValueError(f"{name} must be whole numbers, got {grades[grades != torch.round(grades)][:5].tolist()}.")
    grades = grades.long()
    bad = (grades < -1) | (grades >= num_grades)
    if bool(bad.any()):
        raise ValueError(f"{name} must be in -1..{num_grades - 1} (-1 = unknown), got {grades[bad].unique().tolist()}.")
    return grades


class CramerLoss(_Loss):
    """Squared distance between the predicted and the one-hot grade CDFs, averaged over valid samples.

    ``P_c = sum_{k<=c} p_k`` with ``p = softmax(logits)``, ``Y_c = sum_{k<=c} onehot(y)_k`` (eq. 4) and, per entry,
    ``sum_{c=0}^{K-2} (P_c - Y_c)^2`` (eq. 5; the last CDF value is 1 for both). Entries whose grade is ``-1``
    are excluded; ``"mean"`` divides by the number of valid entries, ``N_o`` in eq. (5). Call it once per quadrant
    (``logits (B, K)``, ``grades (B,)``) to get eq. (5)'s per-quadrant ``L_ordinal^(q)``.

    Args:
        reduction: ``"mean"`` over valid entries (0 with a zero gradient when none), ``"sum"`` or ``"none"``
            (per entry, 0 where the grade is unknown).

    Example::

        >>> loss = CramerLoss()
        >>> logits = torch.tensor([[10.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
        >>> round(loss(logits, torch.tensor([3, -1])).item(), 3)  # CDF (1, 1, 1) vs (0, 0, 0)
        2.999
    """

    def __init__(self, reduction: LossReduction | str = LossReduction.MEAN) -> None:
        super().__init__(reduction=LossReduction(reduction).value)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: logits ``(..., K)`` over ``K >= 2`` ordered grades.
            target: integer grades ``(...)`` in ``0..K-1``, ``-1`` = unknown.
        """
        if input.ndim < 1 or input.shape[-1] < 2:
            raise ValueError(f"input must be (..., K) logits with K >= 2 grades, got shape {tuple(input.shape)}.")
        if target.shape != input.shape[:-1]:
            raise ValueError(
                f"target shape {tuple(target.shape)} must be the input shape without K, {tuple(input.shape[:-1])}."
            )
        num_grades = input.shape[-1]
        grades = check_grades(target, num_grades, "target")
        valid = grades >= 0
        cdf_pred = torch.cumsum(torch.softmax(input, dim=-1), dim=-1)[..., :-1]
        onehot = F.one_hot(grades.clamp_min(0), num_grades).to(input.dtype)
        cdf_true = torch.cumsum(onehot, dim=-1)[..., :-1]
        terms = ((cdf_pred - cdf_true) ** 2).sum(dim=-1)
        terms = torch.where(valid, terms, torch.zeros_like(terms))
        if self.reduction == LossReduction.NONE.value:
            return terms
        if self.reduction == LossReduction.SUM.value:
            return terms.sum()
        if self.reduction == LossReduction.MEAN.value:
            return terms.sum() / valid.sum().clamp_min(1).to(terms.dtype)
        raise ValueError(f'Unsupported reduction: {self.reduction}, available options are ["mean", "sum", "none"].')
