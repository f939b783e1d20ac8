"""Binary cross-entropy over known labels only (Chen et al. eq. (1); Ye et al. 2026 eq. (3))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

__all__ = ["MaskedBCEWithLogitsLoss", "known_label_mask"]


def known_label_mask(target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Boolean mask of the known entries: ``target >= 0`` (``-1`` = unknown) and, if given, ``mask > 0``.

    Args:
        target: labels, any shape; unknown entries are ``-1`` (or any negative value).
        mask: optional weights/flags of the same shape; entries ``<= 0`` are unknown.
    """
    known = target >= 0
    if mask is not None:
        if mask.shape != target.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} differs from target shape {tuple(target.shape)}.")
        known = known & (mask > 0)
    return known


class MaskedBCEWithLogitsLoss(_Loss):
    """Sigmoid binary cross-entropy averaged over the known labels of a batch.

    ``L_BCE = -(1/N) sum_i [y_i log s(z_i) + (1 - y_i) log(1 - s(z_i))]`` with ``N`` the number of known labels in
    the batch (Chen et al. eq. (1): "unknown labels are excluded from the loss by masking out their corresponding
    loss terms"; the global head of Ye et al. 2026 eq. (3) uses the same loss). An entry is known when its target is
    ``>= 0`` and, if a mask is passed, its mask is ``> 0``; unknown entries may hold any target value.

    Args:
        reduction: ``"mean"`` (over known entries; 0 with a zero gradient when none is known), ``"sum"`` (over
            known entries) or ``"none"`` (elementwise, 0 at unknown entries).
        pos_weight: optional weight of positive examples per class, broadcast over the last dim
            (as in :func:`torch.nn.functional.binary_cross_entropy_with_logits`).

    Example::

        >>> loss = MaskedBCEWithLogitsLoss()
        >>> logits = torch.zeros(2, 4, requires_grad=True)
        >>> target = torch.tensor([[1.0, 0.0, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
        >>> mask = torch.tensor([[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
        >>> round(loss(logits, target, mask).item(), 4)  # 4 known entries, each log(2)
        0.6931
    """

    def __init__(self, reduction: LossReduction | str = LossReduction.MEAN, pos_weight: torch.Tensor | None = None):
        super().__init__(reduction=LossReduction(reduction).value)
        if pos_weight is not None:
            pos_weight = torch.as_tensor(pos_weight, dtype=torch.float32)
            if (pos_weight < 0).any():
                raise ValueError(f"pos_weight must be non-negative, got {pos_weight.tolist()}.")
        self.pos_weight: torch.Tensor | None
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            input: logits, any shape, e.g. ``(B, C)``.
            target: binary labels of the same shape, ``-1`` = unknown.
            mask: optional ``(B, C)``-shaped flags, ``> 0`` = known (e.g. the batch's ``label_mask``).
        """
        if input.shape != target.shape:
            raise ValueError(f"input shape {tuple(input.shape)} differs from target shape {tuple(target.shape)}.")
        known = known_label_mask(target, mask)
        safe_target = torch.where(known, target, torch.zeros_like(target)).to(input.dtype)
        pos_weight = None if self.pos_weight is None else self.pos_weight.to(input)
        terms = F.binary_cross_entropy_with_logits(input, safe_target, reduction="none", pos_weight=pos_weight)
        terms = torch.where(known, terms, torch.zeros_like(terms))
        if self.reduction == LossReduction.NONE.value:
            return terms
        if self.reduction == LossReduction.SUM.value:
            return terms.sum()
        if self.reduction == LossReduction.MEAN.value:
            return terms.sum() / known.sum().clamp_min(1).to(terms.dtype)
        raise ValueError(f'Unsupported reduction: {self.reduction}, available options are ["mean", "sum", "none"].')
