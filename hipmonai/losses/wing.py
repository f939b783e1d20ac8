"""Wing loss for landmark coordinates (Feng et al. 2018; KNEEL, Tiulpin et al. 2019, §3.2, Eq. 4).

Units. Eq. 4 is applied to coordinate differences ``x = y - y_hat``; the paper does not state their unit. The
authors' released code (MIPT-Oulu/KNEEL) feeds the soft-argmax output and targets divided by the image size, i.e.
*normalised* coordinates in ``[0, 1]``, with ``w = 15`` and ``epsilon = 3``: every ``|x| <= 1 < w``, so only the
logarithmic branch is ever used and the loss behaves like ``(w / epsilon) |x| = 5 |x|`` near 0. :class:`WingLoss`
keeps that as its default (``coordinate_scale=1``) and lets a caller rescale the differences first — e.g.
``coordinate_scale=(W, H)`` of the input in pixels, so that ``w`` and ``epsilon`` are in pixels as Feng et al. meant
them and both branches take part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

__all__ = ["WingLoss", "wing"]


def wing(abs_error: torch.Tensor, w: float, epsilon: float) -> torch.Tensor:
    """Element-wise wing function of Eq. 4 on ``|x|``.

    ``w ln(1 + |x| / epsilon)`` if ``|x| < w``, else ``|x| - C`` with ``C = w - w ln(1 + w / epsilon)``, which makes the
    two branches meet at ``|x| = w``.

    Args:
        abs_error: non-negative absolute differences, any shape.
        w: width of the non-linear part, positive (same unit as ``abs_error``).
        epsilon: curvature of the non-linear part, positive (same unit).

    Returns:
        Tensor of the same shape.
    """
    c = w - w * math.log(1.0 + w / epsilon)
    return torch.where(abs_error < w, w * torch.log1p(abs_error / epsilon), abs_error - c)


class WingLoss(_Loss):
    """Wing loss between predicted and target landmark coordinates (Tiulpin et al. 2019 Eq. 4).

    Args:
        w: width ``w`` of the logarithmic part (paper: 15), in the unit of the scaled differences.
        epsilon: curvature ``epsilon`` (paper: 3; the paper's text calls it ``C`` once), same unit.
        coordinate_scale: factor applied to ``input - target`` before Eq. 4: a positive number, or one per
            coordinate (last axis), e.g. ``(W, H)`` to turn normalised ``(x, y)`` differences into pixels. Default 1
            (normalised coordinates, as the authors' code does; see the module docstring).
        reduction: ``"mean"`` (over valid elements), ``"sum"`` or ``"none"`` (:class:`monai.utils.LossReduction`).

    Targets with ``NaN`` (missing landmarks, docs/conventions.md) are ignored: they add 0 to ``"sum"``, are left out of
    the ``"mean"`` denominator, and are 0 in the ``"none"`` output.

    Example:
        >>> import torch
        >>> loss = WingLoss(w=15.0, epsilon=3.0)
        >>> round(float(loss(torch.tensor([[[0.5, 0.5]]]), torch.tensor([[[0.2, 0.5]]]))), 4)
        0.7148
    """

    def __init__(
        self,
        w: float = 15.0,
        epsilon: float = 3.0,
        coordinate_scale: float | Sequence[float] = 1.0,
        reduction: LossReduction | str = LossReduction.MEAN,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        if not w > 0:
            raise ValueError(f"w must be positive, got {w}.")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}.")
        scale = [float(coordinate_scale)] if isinstance(coordinate_scale, (int, float)) else list(coordinate_scale)
        if not scale or any(not s > 0 for s in scale):
            raise ValueError(
                f"coordinate_scale must be positive (one value or one per coordinate), got {coordinate_scale}."
            )
        self.w = float(w)
        self.epsilon = float(epsilon)
        self.coordinate_scale = tuple(float(s) for s in scale)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: predicted coordinates, e.g. ``(B, M, 2)`` normalised ``(x, y)``.
            target: ground truth of the same shape; ``NaN`` marks a missing value.

        Returns:
            Scalar for ``"mean"``/``"sum"``, else a tensor shaped like ``input``.
        """
        if input.shape != target.shape:
            raise ValueError(f"input and target shapes differ: {list(input.shape)} vs {list(target.shape)}.")
        if len(self.coordinate_scale) > 1 and input.shape[-1] != len(self.coordinate_scale):
            raise ValueError(
                f"coordinate_scale has {len(self.coordinate_scale)} values but the last axis of input has "
                f"{input.shape[-1]}."
            )
        valid = ~torch.isnan(target)
        target = torch.where(valid, target, input.detach())
        scale = torch.tensor(self.coordinate_scale, dtype=input.dtype, device=input.device)
        loss = wing(((input - target) * scale).abs(), self.w, self.epsilon)
        loss = torch.where(valid, loss, torch.zeros_like(loss))
        if self.reduction == LossReduction.MEAN.value:
            return loss.sum() / valid.sum().clamp(min=1)
        if self.reduction == LossReduction.SUM.value:
            return loss.sum()
        if self.reduction == LossReduction.NONE.value:
            return loss
        raise ValueError(f'Unsupported reduction: {self.reduction}, available options are ["mean", "sum", "none"].')
