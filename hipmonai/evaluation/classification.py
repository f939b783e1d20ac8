"""Per-target classification metrics with unknown labels excluded (Chen et al. section 3.3, Figure 2).

Scores and labels are ``(N, C)`` arrays: N hips, C targets in :data:`hipmonai.io.TARGETS` order. A label is
*known* where it is ``>= 0`` and, when a mask is given, the mask is ``> 0`` (the ``label_mask`` of
:class:`hipmonai.data.LoadHipScand`); unknown entries never enter a metric. Also the Ignite metrics the bundle
uses for validation: the masked BCE validation loss (the model-selection criterion of Chen et al. section 3.2)
and the per-target / mean ROC AUC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from ignite.metrics import Metric
from ignite.metrics.metric import reinit__is_reduced, sync_all_reduce
from sklearn.metrics import roc_auc_score, roc_curve

from hipmonai.io.landmark_groups import TARGETS

__all__ = [
    "MaskedBCEMetric",
    "batch_columns",
    "MaskedROCAUCMetric",
    "known_labels",
    "masked_roc_auc",
    "masked_roc_curves",
]


def _as_2d(values: Any, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be (N, C), got shape {array.shape}.")
    return array


def known_labels(labels: Any, mask: Any | None = None) -> np.ndarray:
    """``(N, C)`` bool: label ``>= 0`` (``-1`` = unknown), finite, and ``mask > 0`` when a mask is given."""
    y = _as_2d(labels, "labels")
    known = np.isfinite(y) & (y >= 0)
    if mask is not None:
        m = _as_2d(mask, "mask")
        if m.shape != y.shape:
            raise ValueError(f"mask shape {m.shape} differs from labels shape {y.shape}.")
        known &= m > 0
    return known


def _columns(scores: Any, labels: Any, mask: Any | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s, y = _as_2d(scores, "scores"), _as_2d(labels, "labels")
    if s.shape != y.shape:
        raise ValueError(f"scores shape {s.shape} differs from labels shape {y.shape}.")
    known = known_labels(y, mask) & np.isfinite(s)
    return s, y, known


def masked_roc_auc(scores: Any, labels: Any, mask: Any | None = None) -> np.ndarray:
    """ROC AUC of every target on its known labels: ``(C,)`` float64.

    ``sklearn.metrics.roc_auc_score`` on the known subset of each column (labels ``> 0`` are positive);
    ``NaN`` for a target whose known labels are all of one class.

    Args:
        scores: ``(N, C)`` probabilities or logits (any monotone score).
        labels: ``(N, C)`` binary labels, ``-1`` = unknown.
        mask: optional ``(N, C)`` flags, ``> 0`` = known.
    """
    s, y, known = _columns(scores, labels, mask)
    out = np.full(s.shape[1], np.nan)
    for c in range(s.shape[1]):
        yc = y[known[:, c], c] > 0
        if yc.any() and not yc.all():
            out[c] = roc_auc_score(yc, s[known[:, c], c])
    return out


def masked_roc_curves(scores: Any, labels: Any, mask: Any | None = None) -> list[dict[str, Any]]:
    """ROC curve of every target on its known labels (``sklearn.metrics.roc_curve``).

    Returns:
        One dict per target: ``fpr``, ``tpr``, ``thresholds`` (arrays; empty when undefined), ``auc``,
        ``n_pos``, ``n_neg``.
    """
    s, y, known = _columns(scores, labels, mask)
    aucs = masked_roc_auc(s, y, known)
    curves = []
    for c in range(s.shape[1]):
        yc = y[known[:, c], c] > 0
        n_pos, n_neg = int(yc.sum()), int((~yc).sum())
        if n_pos and n_neg:
            fpr, tpr, thresholds = roc_curve(yc, s[known[:, c], c])
        else:
            fpr = tpr = thresholds = np.empty(0)
        curves.append({"fpr": fpr, "tpr": tpr, "thresholds": thresholds, "auc": float(aucs[c]),
                       "n_pos": n_pos, "n_neg": n_neg})
    return curves


def _stack(values: Any) -> torch.Tensor:
    """A batch ``(B, C)`` tensor from a tensor or a decollated list of ``(C,)`` tensors."""
    if isinstance(values, torch.Tensor):
        return values.detach().float().cpu()
    return torch.stack([torch.as_tensor(v).detach().float().cpu() for v in values])


def batch_columns(keys: Sequence[str]) -> Callable[[Any], tuple[torch.Tensor, ...]]:
    """``output_transform`` giving stacked ``(B, C)`` tensors of ``keys`` from an engine output.

    Works on the output dict and on MONAI's decollated list of per-sample dicts. Stacking matters: Ignite treats a
    tuple of *lists* of tensors as per-sample pairs and refuses three of them.
    """
    keys = tuple(keys)

    def _transform(output: Any) -> tuple[torch.Tensor, ...]:
        if isinstance(output, Mapping):
            return tuple(_stack(output[k]) for k in keys)
        return tuple(_stack([item[k] for item in output]) for k in keys)

    return _transform


class MaskedBCEMetric(Metric):
    """Dataset-level masked binary cross-entropy of logits (Chen et al. eq. (1) over a whole split).

    The sum of the BCE terms of every known label divided by their number, so the validation loss does not depend
    on the batch size or on how unknown labels fall into batches (``lower is better``; use
    ``metric_cmp_fn=lambda current, best: current < best`` in the evaluator and ``key_metric_negative_sign=True``
    in ``CheckpointSaver``). ``NaN`` when no label is known.

    Args:
        output_transform: engine output -> ``(logits, labels, mask)``, each ``(B, C)``; ``mask`` may be ``None``.
            Default: :func:`batch_columns` of ``("pred", "label", "label_mask")``.
    """

    def __init__(self, output_transform: Callable | None = None, device: str | torch.device = "cpu") -> None:
        if output_transform is None:
            output_transform = batch_columns(("pred", "label", "label_mask"))
        self._sum = torch.tensor(0.0, dtype=torch.float64)
        self._count = torch.tensor(0, dtype=torch.int64)
        super().__init__(output_transform=output_transform, device=device)

    @reinit__is_reduced
    def reset(self) -> None:
        self._sum = torch.tensor(0.0, dtype=torch.float64, device=self._device)
        self._count = torch.tensor(0, dtype=torch.int64, device=self._device)

    @reinit__is_reduced
    def update(self, output: Sequence[Any]) -> None:
        logits, labels = _stack(output[0]), _stack(output[1])
        mask = None if len(output) < 3 or output[2] is None else _stack(output[2])
        known = torch.as_tensor(known_labels(labels, mask))
        terms = torch.nn.functional.binary_cross_entropy_with_logits(
            logits.double(), torch.where(known, labels.double(), torch.zeros_like(labels.double())), reduction="none"
        )
        self._sum += terms[known].sum().to(self._device)
        self._count += int(known.sum())

    @sync_all_reduce("_sum", "_count")
    def compute(self) -> float:
        return float(self._sum / self._count) if int(self._count) > 0 else float("nan")


class MaskedROCAUCMetric(Metric):
    """Ignite ROC AUC over a split with unknown labels excluded: one target's AUC, or the mean over targets.

    Args:
        target: a target name of ``target_names`` (that target's AUC) or ``None`` (mean over the targets whose AUC
            is defined).
        target_names: the output columns' names (default :data:`hipmonai.io.TARGETS`).
        output_transform: engine output -> ``(scores, labels, mask)``, each ``(B, C)``; default:
            :func:`batch_columns` of ``("pred", "label", "label_mask")`` (logits rank as probabilities do).
    """

    def __init__(
        self,
        target: str | None = None,
        target_names: Sequence[str] = TARGETS,
        output_transform: Callable | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if output_transform is None:
            output_transform = batch_columns(("pred", "label", "label_mask"))
        self.target_names = tuple(target_names)
        if target is not None and target not in self.target_names:
            raise ValueError(f"target must be one of {list(self.target_names)} or None, got {target!r}.")
        self.target = target
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._known: list[torch.Tensor] = []
        super().__init__(output_transform=output_transform, device=device)

    @reinit__is_reduced
    def reset(self) -> None:
        self._scores, self._labels, self._known = [], [], []

    @reinit__is_reduced
    def update(self, output: Sequence[Any]) -> None:
        scores, labels = _stack(output[0]), _stack(output[1])
        mask = None if len(output) < 3 or output[2] is None else _stack(output[2])
        if scores.shape[-1] != len(self.target_names):
            raise ValueError(f"scores have {scores.shape[-1]} columns, expected {len(self.target_names)} targets.")
        self._scores.append(scores)
        self._labels.append(labels)
        self._known.append(torch.as_tensor(known_labels(labels, mask)))

    def compute(self) -> float:
        if not self._scores:
            return float("nan")
        scores, labels = torch.cat(self._scores), torch.cat(self._labels)
        known = torch.cat(self._known)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            from monai.utils import evenly_divisible_all_gather

            scores, labels = evenly_divisible_all_gather(scores), evenly_divisible_all_gather(labels)
            known = evenly_divisible_all_gather(known.to(torch.uint8)).bool()
        aucs = masked_roc_auc(scores.numpy(), labels.numpy(), known.numpy())
        if self.target is not None:
            return float(aucs[self.target_names.index(self.target)])
        return float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
