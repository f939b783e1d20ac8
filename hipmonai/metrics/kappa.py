"""Quadratic weighted Cohen's kappa per quadrant (Ye et al. 2026 section 3.6; Cohen 1968).

``kappa = 1 - sum_ij w_ij O_ij / sum_ij w_ij E_ij`` with ``w_ij = (i - j)^2``, ``O`` the ``K x K`` confusion matrix of
true vs predicted grades and ``E`` the outer product of its marginals divided by the number of samples. The label
set is fixed to ``0..K-1`` (OARSI 0-3), so a quadrant missing a grade still uses the full weight matrix; the
value matches ``sklearn.metrics.cohen_kappa_score(y, y_pred, weights="quadratic", labels=[0, 1, 2, 3])``,
including its undefined cases (no sample, or ``sum w E = 0`` when truth and prediction share one single grade),
which give ``replace_undefined_by`` (NaN by default, as sklearn).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from monai.metrics import CumulativeIterationMetric

__all__ = ["QuadraticWeightedKappaMetric", "quadratic_weighted_kappa"]


def quadratic_weighted_kappa(
    y_pred: torch.Tensor, y: torch.Tensor, num_grades: int = 4, replace_undefined_by: float = math.nan
) -> float:
    """Quadratic weighted kappa of two integer gradings ``(N,)`` with labels ``0..num_grades-1``.

    Entries where ``y`` is ``-1`` (unknown) are dropped first.
    """
    y_pred, y = torch.as_tensor(y_pred).long().reshape(-1), torch.as_tensor(y).long().reshape(-1)
    if y_pred.shape != y.shape:
        raise ValueError(f"y_pred and y must have the same length, got {y_pred.numel()} and {y.numel()}.")
    keep = y >= 0
    y_pred, y = y_pred[keep], y[keep]
    for name, values in (("y_pred", y_pred), ("y", y)):
        bad = (values < 0) | (values >= num_grades)
        if bool(bad.any()):
            raise ValueError(f"{name} grades must be in 0..{num_grades - 1}, got {values[bad].unique().tolist()}.")
    if y.numel() == 0:
        return float(replace_undefined_by)
    confusion = torch.zeros(num_grades, num_grades, dtype=torch.float64)
    confusion.index_put_((y.cpu(), y_pred.cpu()), torch.ones(y.numel(), dtype=torch.float64), accumulate=True)
    expected = torch.outer(confusion.sum(dim=1), confusion.sum(dim=0)) / confusion.sum()
    grades = torch.arange(num_grades, dtype=torch.float64)
    weights = (grades[:, None] - grades[None, :]) ** 2
    denominator = (weights * expected).sum()
    if denominator == 0:
        return float(replace_undefined_by)
    return float(1.0 - (weights * confusion).sum() / denominator)


class QuadraticWeightedKappaMetric(CumulativeIterationMetric):
    """Quadratic weighted kappa of each quadrant over all accumulated samples; mean kappa as the headline value.

    ``y_pred`` is either integer grades ``(B, Q)`` or per-grade scores/logits ``(B, Q, K)`` (argmax taken); ``y``
    is ``(B, Q)`` integer grades, ``-1`` = unknown (dropped per quadrant). Lists of channel-first items (the
    decollated engine output) are accepted as by every MONAI metric.

    Args:
        num_grades: labels ``0..num_grades-1`` (4: OARSI 0-3).
        reduction: ``"mean"``: mean of the defined per-quadrant kappas (NaN if none is defined); ``"none"``:
            ``(Q,)`` per-quadrant kappas.
        replace_undefined_by: value of an undefined kappa (module docstring).

    Example::

        >>> metric = QuadraticWeightedKappaMetric()
        >>> _ = metric(torch.tensor([[0, 1], [2, 3], [1, 1]]), torch.tensor([[0, 1], [2, 2], [1, -1]]))
        >>> round(metric.aggregate().item(), 4)
        0.8333
    """

    def __init__(self, num_grades: int = 4, reduction: str = "mean", replace_undefined_by: float = math.nan) -> None:
        super().__init__()
        if num_grades < 2:
            raise ValueError(f"num_grades must be >= 2, got {num_grades}.")
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
        self.num_grades = num_grades
        self.reduction = reduction
        self.replace_undefined_by = float(replace_undefined_by)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Stack ``(B, 2, Q)`` int64 ``[predicted grade, true grade]`` for the buffer."""
        if y is None:
            raise ValueError("QuadraticWeightedKappaMetric needs ground-truth grades y.")
        if y_pred.ndim == y.ndim + 1:
            if y_pred.shape[-1] != self.num_grades:
                raise ValueError(f"scores y_pred must end in {self.num_grades} grades, got {tuple(y_pred.shape)}.")
            y_pred = y_pred.argmax(dim=-1)
        if y_pred.shape != y.shape or y.ndim != 2:
            raise ValueError(f"y_pred grades and y must be (B, Q), got {tuple(y_pred.shape)} and {tuple(y.shape)}.")
        if y_pred.is_floating_point() and not bool(torch.all(y_pred == torch.round(y_pred))):
            raise ValueError("y_pred must be integer grades (B, Q) or scores (B, Q, K), got fractional values.")
        return torch.stack([y_pred.long(), y.long()], dim=1)

    def aggregate(self, reduction: str | None = None) -> torch.Tensor:
        """Per-quadrant kappas ``(Q,)`` (``"none"``) or their mean (0-dim, ``"mean"``) over the accumulated data."""
        reduction = self.reduction if reduction is None else reduction
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor) or data.ndim != 3:
            raise ValueError("QuadraticWeightedKappaMetric has no accumulated data; call it on a batch first.")
        kappas = torch.tensor(
            [
                quadratic_weighted_kappa(data[:, 0, q], data[:, 1, q], self.num_grades, self.replace_undefined_by)
                for q in range(data.shape[2])
            ],
            dtype=torch.float64,
        )
        if reduction == "none":
            return kappas
        defined = kappas[~torch.isnan(kappas)]
        return defined.mean() if defined.numel() else torch.tensor(math.nan, dtype=torch.float64)
