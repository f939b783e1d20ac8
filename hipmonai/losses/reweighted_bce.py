"""Binary cross-entropy with the dynamic label re-weighting of Suh et al. 2023 (Eq. 1).

For landmark channel ``l`` of sample ``b`` with ``S = W·H`` pixels of which ``N`` are label pixels (the landmark
and its dilation), the label pixels are weighted by ``w̃ = w · (S − N) / N`` and the background pixels by 1::

    loss_{b,l} = (1 / S) Σ_xy [ w̃ · y · softplus(−z) + (1 − y) · softplus(z) ]

(``softplus(−z) = −log σ(z)``), so the total weight of the label pixels, ``w̃·N = w·(S − N)``, equals ``w`` times
the background count at every stage of the curriculum: each stage keeps the same relative weight. Channels of
missing landmarks (``valid`` False) or with no label pixel are left out of the mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.utils import LossReduction

__all__ = ["DynamicReweightedBCELoss"]


class DynamicReweightedBCELoss(torch.nn.modules.loss._Loss):
    """Per-pixel BCE on logits with label pixels re-weighted by ``w·(S − N)/N`` per channel (module docstring).

    Args:
        base_weight: ``w``, the label weight before re-weighting (paper: the weight one would use without label
            augmentation; 1 by default).
        reduction: ``"mean"`` over valid channels (default), ``"sum"``, or ``"none"`` (``(B, L)`` with ``NaN`` for
            excluded channels).

    Example:
        >>> loss = DynamicReweightedBCELoss()
        >>> logits, labels = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
        >>> round(float(loss(logits, labels)), 4)  # (3·log 2 + 3·log 2) / 4
        1.0397
    """

    def __init__(self, base_weight: float = 1.0, reduction: LossReduction | str = LossReduction.MEAN) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        if not base_weight > 0:
            raise ValueError(f"base_weight must be positive, got {base_weight}.")
        self.base_weight = float(base_weight)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            logits: ``(B, L, W, H)``.
            labels: ``(B, L, W, H)`` in {0, 1}.
            valid: optional ``(B, L)`` bool, False for a missing landmark.
        """
        if logits.shape != labels.shape or logits.ndim < 3:
            raise ValueError(f"logits and labels must have the same (B, L, *spatial) shape, got "
                             f"{list(logits.shape)} and {list(labels.shape)}.")
        labels = labels.to(logits.dtype)
        spatial = tuple(range(2, logits.ndim))
        pixels = float(torch.tensor(logits.shape[2:]).prod())
        n_label = labels.sum(dim=spatial)  # (B, L)
        keep = n_label > 0
        if valid is not None:
            if tuple(valid.shape) != tuple(logits.shape[:2]):
                raise ValueError(f"valid must be (B, L) = {list(logits.shape[:2])}, got {list(valid.shape)}.")
            keep = keep & valid.to(torch.bool)
        weight = self.base_weight * (pixels - n_label) / n_label.clamp_min(1.0)
        extra = [None] * len(spatial)
        per_pixel = weight[(..., *extra)] * labels * F.softplus(-logits) + (1 - labels) * F.softplus(logits)
        per_channel = per_pixel.mean(dim=spatial)  # (B, L)
        if self.reduction == LossReduction.NONE.value:
            return torch.where(keep, per_channel, torch.full_like(per_channel, float("nan")))
        if not keep.any():
            return logits.sum() * 0.0
        if self.reduction == LossReduction.MEAN.value:
            return per_channel[keep].mean()
        if self.reduction == LossReduction.SUM.value:
            return per_channel[keep].sum()
        raise ValueError(f'Unsupported reduction: {self.reduction}, available options are ["mean", "sum", "none"].')
