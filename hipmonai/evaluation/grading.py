"""Evaluation of the ``hip_osteophyte_grading`` bundle (Ye et al. 2026).

- Ignite metrics the bundle's evaluator logs next to its key metric (the mean quadratic weighted kappa,
  :class:`hipmonai.handlers.QuadraticWeightedKappa`): the validation loss :class:`MeanLossMetric` (the second
  checkpoint criterion, minimum validation loss), the global-head accuracy :class:`GlobalAccuracyMetric`, and
  :func:`quadrant_grades_transform` for one quadrant's kappa;
- :func:`predict_grading` / :func:`grading_metrics`: test-split predictions of a checkpoint, kappa per quadrant
  (labels fixed to 0-3), mean kappa, global accuracy and the per-quadrant confusion matrices;
- :func:`ordinal_head_gradcam` and :func:`plot_head_gradcam`: Grad-CAM of every ordinal head for one hip (Ye et al. 2026
  Figure 2), :func:`plot_confusion_matrices` (Figure 3);
- :func:`sweep_tables`: the weak-to-strong sweep in the layout of Ye et al. 2026 Table 1 and Tables 2-4.

Grades are ``(N, Q)`` integers in :data:`hipmonai.io.TARGETS` order, ``-1`` = unknown (never counted). Images are
``(B, 1, W, H)`` and heatmaps ``(Q, W, H)`` with x first (docs/conventions.md); figures draw them transposed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.metrics import Metric
from ignite.metrics.metric import reinit__is_reduced, sync_all_reduce
from monai.data import MetaTensor

from hipmonai.engines.step import unwrap_network
from hipmonai.io.grades import weak_label_from_grades
from hipmonai.io.landmark_groups import TARGETS
from hipmonai.metrics.kappa import quadratic_weighted_kappa
from hipmonai.networks.multitask_resnet import ordinal_output_index, split_multitask_logits

__all__ = [
    "GRADE_CHOICES",
    "GlobalAccuracyMetric",
    "GradingResult",
    "MeanLossMetric",
    "confusion_matrices",
    "decode_multitask_output",
    "grading_metrics",
    "ordinal_head_gradcam",
    "plot_confusion_matrices",
    "plot_head_gradcam",
    "predict_grading",
    "quadrant_grades_transform",
    "select_gradcam_case",
    "sweep_tables",
]

#: How :func:`ordinal_head_gradcam` picks the grade whose logit each head explains (or an int 0..K-1).
GRADE_CHOICES = ("true", "predicted")
#: Short column titles of the quadrants, the order of Ye et al. 2026 (femur sup/inf, acetabulum sup/inf).
QUADRANT_TITLES = {"osteo_fem_sup": "Femur Sup", "osteo_fem_inf": "Femur Inf", "osteo_acet_sup": "Acet. Sup",
                   "osteo_acet_inf": "Acet. Inf"}


def _plain(value: Any) -> torch.Tensor:
    if isinstance(value, MetaTensor):
        value = value.as_tensor()
    return torch.as_tensor(value)


def _column(output: Any, key: str) -> torch.Tensor:
    """``(B, ...)`` tensor of ``key`` from an engine output dict or MONAI's decollated list of per-sample dicts."""
    if isinstance(output, Mapping):
        return _plain(output[key]).detach().cpu()
    return torch.stack([_plain(item[key]).detach().cpu() for item in output])


# ----------------------------------------------------------------------------------------------------------------
# Ignite metrics and output transforms for the bundle's evaluator


class MeanLossMetric(Metric):
    """The engine's loss averaged over every sample of an epoch (``lower is better``): the validation loss.

    Each iteration's ``"loss"`` (the batch mean of :class:`hipmonai.losses.WeakStrongLoss` that
    :class:`hipmonai.engines.WeakStrongStep` reports, also in eval mode) is weighted by the batch size, so the value
    is the per-sample mean over the split as a Lightning ``val/loss`` logged per epoch. Works on the output dict
    and on the decollated list (where the loss is replicated per sample). ``NaN`` before any sample.

    Args:
        loss_key: output entry holding the loss.
        output_transform: engine output -> itself by default (the metric reads ``loss_key`` and the batch size).
    """

    def __init__(self, loss_key: str = "loss", output_transform: Callable = lambda x: x,
                 device: str | torch.device = "cpu") -> None:
        self.loss_key = loss_key
        self._sum = torch.tensor(0.0, dtype=torch.float64)
        self._count = torch.tensor(0, dtype=torch.int64)
        super().__init__(output_transform=output_transform, device=device)

    @reinit__is_reduced
    def reset(self) -> None:
        self._sum = torch.tensor(0.0, dtype=torch.float64, device=self._device)
        self._count = torch.tensor(0, dtype=torch.int64, device=self._device)

    @reinit__is_reduced
    def update(self, output: Any) -> None:
        if isinstance(output, Mapping):
            loss = float(_plain(output[self.loss_key]).detach().float().mean())
            size = next((int(_plain(v).shape[0]) for k, v in output.items()
                         if k in ("pred", "image") and isinstance(v, torch.Tensor) and v.ndim > 0), 1)
        else:
            if not output:
                return
            loss = float(_plain(output[0][self.loss_key]).detach().float().mean())
            size = len(output)
        if not math.isfinite(loss):
            raise ValueError(f"MeanLossMetric got a non-finite loss {loss}.")
        self._sum += loss * size
        self._count += size

    @sync_all_reduce("_sum", "_count")
    def compute(self) -> float:
        return float(self._sum / self._count) if int(self._count) > 0 else float("nan")


class GlobalAccuracyMetric(Metric):
    """Accuracy of the global head (logit > 0 <=> osteophyte anywhere) against ``any grade > 0``.

    The target of each hip is :func:`hipmonai.io.grades.weak_label_from_grades` of its grades; hips whose
    target is unknown (no positive grade but an unknown one, or a weak training sample whose grades are hidden)
    are left out. ``NaN`` when no hip has a known target.

    Args:
        pred_key, grades_key: output entries: packed logits ``(B, 1 + Q * K)`` and grades ``(B, Q)``.
        num_quadrants: ordinal heads in the packed output.
    """

    def __init__(self, pred_key: str = "pred", grades_key: str = "grades", num_quadrants: int = 4,
                 output_transform: Callable = lambda x: x, device: str | torch.device = "cpu") -> None:
        self.pred_key, self.grades_key, self.num_quadrants = pred_key, grades_key, num_quadrants
        self._correct = torch.tensor(0, dtype=torch.int64)
        self._count = torch.tensor(0, dtype=torch.int64)
        super().__init__(output_transform=output_transform, device=device)

    @reinit__is_reduced
    def reset(self) -> None:
        self._correct = torch.tensor(0, dtype=torch.int64, device=self._device)
        self._count = torch.tensor(0, dtype=torch.int64, device=self._device)

    @reinit__is_reduced
    def update(self, output: Any) -> None:
        if not isinstance(output, Mapping) and not output:
            return
        global_logit, _ = split_multitask_logits(_column(output, self.pred_key).float(), self.num_quadrants)
        target = weak_label_from_grades(_column(output, self.grades_key).long())
        known = target >= 0
        self._correct += int(((global_logit > 0).float() == target)[known].sum())
        self._count += int(known.sum())

    @sync_all_reduce("_correct", "_count")
    def compute(self) -> float:
        return float(self._correct / self._count) if int(self._count) > 0 else float("nan")


def quadrant_grades_transform(
    quadrant: int | str, pred_key: str = "pred_grades", grades_key: str = "grades"
) -> Callable[[Any], tuple[torch.Tensor, torch.Tensor]]:
    """``output_transform`` for :class:`hipmonai.handlers.QuadraticWeightedKappa` giving one quadrant's kappa.

    Args:
        quadrant: column index or target name (:data:`hipmonai.io.TARGETS`).

    Returns:
        engine output -> ``(predicted, true)`` grades, each ``(B, 1)``.
    """
    if isinstance(quadrant, str):
        if quadrant not in TARGETS:
            raise ValueError(f"quadrant must be an index or one of {list(TARGETS)}, got {quadrant!r}.")
        quadrant = TARGETS.index(quadrant)
    if int(quadrant) < 0:
        raise ValueError(f"quadrant index must be >= 0, got {quadrant}.")
    q = int(quadrant)

    def _transform(output: Any) -> tuple[torch.Tensor, torch.Tensor]:
        pred, grades = _column(output, pred_key), _column(output, grades_key)
        if pred.ndim != 2 or q >= pred.shape[1]:
            raise ValueError(f"quadrant {q} is outside the predicted grades of shape {tuple(pred.shape)}.")
        return pred[:, q:q + 1].long(), grades[:, q:q + 1].long()

    return _transform


def decode_multitask_output(pred: torch.Tensor, num_quadrants: int = 4) -> torch.Tensor:
    """One hip's packed logits ``(1 + Q * K,)`` -> ``(1 + Q,)``: global probability, then the argmax grade per head.

    The inference postprocessing of the bundle (one CSV row per hip: probability of an osteophyte anywhere, then
    the four OARSI grades in :data:`hipmonai.io.TARGETS` order).
    """
    pred = _plain(pred)
    if pred.ndim != 1:
        raise ValueError(f"decode_multitask_output takes one hip's logits (1 + Q * K,), got {tuple(pred.shape)}.")
    global_logit, ordinal = split_multitask_logits(pred[None].float(), num_quadrants)
    return torch.cat([torch.sigmoid(global_logit), ordinal.argmax(dim=-1)[0].float()])


# ----------------------------------------------------------------------------------------------------------------
# Test-split evaluation


@dataclass
class GradingResult:
    """Predictions of one checkpoint over one split, hips in loader order.

    Attributes:
        keys: scan keys ``subject/visit/side``.
        quadrant_names: the Q heads' targets.
        grades: ``(N, Q)`` true grades, -1 = unknown.
        pred_grades: ``(N, Q)`` argmax grades.
        grade_probabilities: ``(N, Q, K)`` softmax of each head.
        global_probability: ``(N,)`` sigmoid of the global head.
        seconds: wall time.
    """

    keys: list[str]
    quadrant_names: tuple[str, ...]
    grades: np.ndarray
    pred_grades: np.ndarray
    grade_probabilities: np.ndarray
    global_probability: np.ndarray
    seconds: float = 0.0


def predict_grading(
    network: torch.nn.Module,
    batches: Iterable[Mapping[str, Any]],
    quadrant_names: Sequence[str] = TARGETS,
    device: str | torch.device = "cpu",
    image_key: str = "image",
    grades_key: str = "grades",
    scan_key: str = "key",
) -> GradingResult:
    """Run a trained :class:`hipmonai.networks.MultitaskResNet18` over ``batches`` (eval mode, no augmentation).

    Args:
        network: the trained network (weights loaded); put in eval mode, not otherwise changed.
        batches: e.g. :func:`hipmonai.experiments.split_loader` of the bundle's validation preprocessing.
        quadrant_names: names of the ordinal heads, in output order.
    """
    started = time.perf_counter()
    device = torch.device(device)
    net = unwrap_network(network).to(device).eval()
    q = len(quadrant_names)
    keys: list[str] = []
    grades, probs, global_probs = [], [], []
    with torch.no_grad():
        for batch in batches:
            if image_key not in batch or grades_key not in batch:
                raise KeyError(f"batch lacks {image_key!r} or {grades_key!r}; the grading evaluation needs both.")
            logits = net(_plain(batch[image_key]).to(device, torch.float32))
            global_logit, ordinal = split_multitask_logits(logits, q)
            probs.append(torch.softmax(ordinal.float(), dim=-1).cpu().numpy())
            global_probs.append(torch.sigmoid(global_logit.float()).cpu().numpy())
            grades.append(_plain(batch[grades_key]).long().cpu().numpy().reshape(len(logits), q))
            names = batch.get(scan_key)
            if names is None:
                names = [f"#{len(keys) + i}" for i in range(len(logits))]
            keys.extend(str(k) for k in names)
    if not grades:
        raise ValueError("no batches to evaluate")
    grade_probabilities = np.concatenate(probs)
    return GradingResult(
        keys=keys,
        quadrant_names=tuple(quadrant_names),
        grades=np.concatenate(grades),
        pred_grades=grade_probabilities.argmax(axis=-1),
        grade_probabilities=grade_probabilities,
        global_probability=np.concatenate(global_probs),
        seconds=time.perf_counter() - started,
    )


def confusion_matrices(pred_grades: Any, grades: Any, num_grades: int = 4) -> np.ndarray:
    """Per-quadrant confusion matrices ``(Q, K, K)`` int64: ``[q, true grade, predicted grade]`` counts.

    Unknown true grades (-1) are left out; labels are fixed to ``0..num_grades-1`` (an absent grade gives a zero
    row/column), the same label set the kappa uses.
    """
    pred, true = np.asarray(pred_grades, dtype=np.int64), np.asarray(grades, dtype=np.int64)
    if pred.shape != true.shape or pred.ndim != 2:
        raise ValueError(f"pred_grades and grades must both be (N, Q), got {pred.shape} and {true.shape}.")
    if ((pred < 0) | (pred >= num_grades)).any() or (true >= num_grades).any() or (true < -1).any():
        raise ValueError(f"grades must be in 0..{num_grades - 1} (true grades may be -1 = unknown).")
    out = np.zeros((pred.shape[1], num_grades, num_grades), dtype=np.int64)
    for q in range(pred.shape[1]):
        known = true[:, q] >= 0
        np.add.at(out[q], (true[known, q], pred[known, q]), 1)
    return out


def grading_metrics(result: GradingResult, num_grades: int = 4) -> dict[str, Any]:
    """Kappa per quadrant, mean kappa, global accuracy and confusion matrices of one :class:`GradingResult`.

    Returns:
        ``{"kappa": {name: float}, "mean_kappa": float, "global_accuracy": float, "n_hips": int,
        "n_global_known": int, "confusion": {name: K x K nested list}}``. A kappa is NaN where undefined
        (sklearn's convention); the mean is over the defined ones, as the bundle's key metric.
    """
    kappas = {name: quadratic_weighted_kappa(torch.as_tensor(result.pred_grades[:, q]),
                                             torch.as_tensor(result.grades[:, q]), num_grades)
              for q, name in enumerate(result.quadrant_names)}
    defined = [v for v in kappas.values() if math.isfinite(v)]
    target = np.asarray(weak_label_from_grades(result.grades))
    known = target >= 0
    correct = ((result.global_probability > 0.5).astype(np.float32) == target) & known
    matrices = confusion_matrices(result.pred_grades, result.grades, num_grades)
    return {
        "kappa": kappas,
        "mean_kappa": float(np.mean(defined)) if defined else math.nan,
        "global_accuracy": float(correct.sum() / known.sum()) if known.any() else math.nan,
        "n_hips": int(len(result.keys)),
        "n_global_known": int(known.sum()),
        "confusion": {name: matrices[q].tolist() for q, name in enumerate(result.quadrant_names)},
    }


# ----------------------------------------------------------------------------------------------------------------
# Grad-CAM per ordinal head


def select_gradcam_case(grades: Any) -> int:
    """Row of ``grades`` ``(N, Q)`` for the per-head Grad-CAM figure, chosen as in Ye et al. 2026 Figure 2.

    Preference: one quadrant with an osteophyte and every other quadrant known and 0, highest grade first; then the
    hip with the highest single grade. Ties go to the first row. Raises ``ValueError`` when no hip has a grade > 0.
    """
    g = np.asarray(grades, dtype=np.int64)
    if g.ndim != 2 or len(g) == 0:
        raise ValueError(f"grades must be a non-empty (N, Q) array, got shape {g.shape}.")
    positive = g > 0
    if not positive.any():
        raise ValueError("no hip has an osteophyte (grade > 0); pass the case explicitly.")
    single = (positive.sum(axis=1) == 1) & (g >= 0).all(axis=1)
    best = g.max(axis=1)
    score = best + np.where(single, 100, 0)
    return int(np.argmax(score))


def ordinal_head_gradcam(
    network: torch.nn.Module,
    image: torch.Tensor,
    grades: Sequence[int] | str = "predicted",
    target_layer: str = "layer4",
    num_grades: int = 4,
) -> tuple[np.ndarray, list[int]]:
    """Grad-CAM of every ordinal head for one hip (Ye et al. 2026 section 4.2: last convolutional stage of ResNet-18).

    Head ``q`` is explained at the logit of one grade (:func:`hipmonai.networks.ordinal_output_index`): the grade
    given per quadrant, or ``"predicted"`` (each head's argmax). Paper 002 Figure 2 explains the hip's true grade
    (pass the hip's grades). Maps are upsampled to the input and min-max normalised per map
    (:class:`hipmonai.metrics.GradCAMExtractor`, non-inverting).

    Args:
        network: trained multitask network (a private copy is hooked; the caller's model is untouched).
        image: ``(1, W, H)`` or ``(1, 1, W, H)`` input.
        grades: ``"predicted"`` or Q grades ``0..K-1`` (an unknown ``-1`` falls back to the predicted grade).

    Returns:
        ``(maps, explained)``: ``(Q, W, H)`` float32 heatmaps and the grade explained per head.
    """
    from hipmonai.metrics.cam_localisation import GradCAMExtractor

    x = _plain(image).float()
    x = x[None] if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"image must be (1, W, H) or (1, 1, W, H), got shape {tuple(_plain(image).shape)}.")
    net = unwrap_network(network)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            device = next(net.parameters()).device
            logits = net(x.to(device))
    finally:
        net.train(was_training)
    num_quadrants = (logits.shape[1] - 1) // num_grades
    predicted = split_multitask_logits(logits, num_quadrants)[1].argmax(dim=-1)[0].tolist()
    if isinstance(grades, str):
        if grades != "predicted":
            raise ValueError(f"grades must be 'predicted' or {num_quadrants} grades, got {grades!r}.")
        explained = predicted
    else:
        values = [int(v) for v in grades]
        if len(values) != num_quadrants or any(v >= num_grades or v < -1 for v in values):
            raise ValueError(f"grades must be {num_quadrants} values in -1..{num_grades - 1}, got {list(grades)}.")
        explained = [v if v >= 0 else p for v, p in zip(values, predicted, strict=True)]
    extractor = GradCAMExtractor(net, target_layer=target_layer, normalisation="minmax")
    indices = [ordinal_output_index(q, g, num_grades) for q, g in enumerate(explained)]
    maps = extractor(x.to(device), class_indices=indices)[0]
    return maps.cpu().numpy().astype(np.float32), explained


def plot_head_gradcam(
    image: Any,
    maps: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    quadrant_names: Sequence[str] = TARGETS,
    explained: Mapping[str, Sequence[int]] | None = None,
    grades: Sequence[int] | None = None,
    lesion_mask: Any | None = None,
    title: str = "",
) -> Path:
    """Figure: one row per model, one column per ordinal head, Grad-CAM over the hip crop (Ye et al. 2026 Figure 2).

    Args:
        image: ``(W, H)`` or ``(1, W, H)`` crop.
        maps: model label -> ``(Q, W, H)`` heatmaps (:func:`ordinal_head_gradcam`).
        path: PNG to write (atomically).
        explained: model label -> grade explained per head (shown in the panel titles).
        grades: the hip's true grades (column titles).
        lesion_mask: optional ``(Q, W, H)`` phantom lesion masks, outlined in each head's panel.
        title: figure title (e.g. the scan key).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hipmonai.atomic import atomic_path

    img = np.asarray(_plain(image), dtype=np.float32)
    img = img[0] if img.ndim == 3 else img
    if img.ndim != 2 or not maps:
        raise ValueError(f"need a (W, H) image and at least one model's maps, got image shape {img.shape}.")
    labels = list(maps)
    nq = len(quadrant_names)
    lesion = None if lesion_mask is None else np.asarray(_plain(lesion_mask))
    fig, axes = plt.subplots(len(labels), nq, figsize=(2.6 * nq, 2.7 * len(labels)), squeeze=False)
    for r, label in enumerate(labels):
        heat = np.asarray(maps[label])
        if heat.shape != (nq, *img.shape):
            raise ValueError(f"maps[{label!r}] must be ({nq}, {img.shape[0]}, {img.shape[1]}), got {heat.shape}.")
        for q, name in enumerate(quadrant_names):
            ax = axes[r, q]
            ax.imshow(img.T, cmap="gray")
            ax.imshow(heat[q].T, cmap="jet", alpha=0.45, vmin=0, vmax=1)
            if lesion is not None and lesion[q].any():
                ax.contour(lesion[q].T > 0, levels=[0.5], colors="white", linewidths=0.8)
            head = QUADRANT_TITLES.get(name, name)
            if r == 0 and grades is not None:
                head += f" (true {int(grades[q])})"
            if explained is not None and label in explained:
                head += f"\ngrade {int(explained[label][q])} logit"
            ax.set_title(head, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            if q == 0:
                ax.set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_confusion_matrices(
    matrices: Mapping[str, Any], path: str | os.PathLike, quadrant_names: Sequence[str] = TARGETS
) -> Path:
    """Figure: one row per model, one ``K x K`` confusion matrix (true grade rows, predicted columns) per quadrant.

    Args:
        matrices: model label -> ``(Q, K, K)`` counts (:func:`confusion_matrices`).
        path: PNG to write (atomically).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hipmonai.atomic import atomic_path

    if not matrices:
        raise ValueError("no confusion matrices to plot")
    labels = list(matrices)
    nq = len(quadrant_names)
    fig, axes = plt.subplots(len(labels), nq, figsize=(2.5 * nq, 2.5 * len(labels)), squeeze=False)
    for r, label in enumerate(labels):
        cms = np.asarray(matrices[label])
        if cms.ndim != 3 or cms.shape[0] != nq or cms.shape[1] != cms.shape[2]:
            raise ValueError(f"matrices[{label!r}] must be ({nq}, K, K), got {cms.shape}.")
        for q, name in enumerate(quadrant_names):
            ax = axes[r, q]
            cm = cms[q]
            ax.imshow(cm, cmap="Blues")
            for i in range(cm.shape[0]):
                for j in range(cm.shape[1]):
                    ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7,
                            color="white" if cm[i, j] > cm.max() / 2 else "black")
            ax.set_xticks(range(cm.shape[1]))
            ax.set_yticks(range(cm.shape[0]))
            ax.tick_params(labelsize=7)
            if r == 0:
                ax.set_title(QUADRANT_TITLES.get(name, name), fontsize=8)
            if r == len(labels) - 1:
                ax.set_xlabel("predicted", fontsize=7)
            if q == 0:
                ax.set_ylabel(f"{label}\ntrue", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------------------------
# Sweep tables (Ye et al. 2026 Table 1 and Tables 2-4)

#: Row labels of the strategies, the wording of Ye et al. 2026.
STRATEGY_TITLES = {"oracle": "Oracle", "strong_only": "Strong-only", "masked": "Masked Baseline",
                   "dual_mil": "Dual-Head MIL", "pure_mil": "Pure MIL (No Global)"}
_ORDER = ("oracle", "strong_only", "masked", "dual_mil", "pure_mil")


def _f(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{float(value):.{digits}f}"


def _rho_key(rho: Any) -> float:
    return math.inf if str(rho).lower() == "all" else float(rho)


def _sorted_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    order = {s: i for i, s in enumerate(_ORDER)}
    return sorted(rows, key=lambda r: (order.get(r["strategy"], len(order)), _rho_key(r["rho"])))


def _md(header: Sequence[str], body: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def sweep_tables(rows: Sequence[Mapping[str, Any]], quadrant_names: Sequence[str] = TARGETS) -> dict[str, str]:
    """Markdown tables of a weak-to-strong sweep in the layout of Ye et al. 2026.

    Args:
        rows: one per (strategy, rho), as :func:`hipmonai.experiments.run_sweep` returns them: ``strategy``,
            ``rho``, ``run``, ``n_strong``, ``n_weak``, ``n_weak_positive``, and for each selection ``"kappa"``
            (max validation mean kappa) and ``"loss"`` (min validation loss) the dicts ``val[selection]`` (``step``,
            ``epoch``, ``val_loss``, ``global_accuracy``, ``kappa`` per quadrant, ``mean_kappa``) and
            ``test[selection]`` (:func:`grading_metrics`).

    Returns:
        ``{"table1", "table2", "table3", "table4", "table4_loss", "model_selection"}`` markdown strings: Table 1 (test
        mean kappa per strategy and rho, kappa-selected, the peak of each strategy marked), Table 2 (validation,
        selected by minimum validation loss), Table 3 (validation, selected by maximum validation mean kappa),
        Table 4 (test, kappa-selected), Table 4 with loss-selected checkpoints, and the model-selection comparison.
    """
    rows = _sorted_rows(rows)
    names = [QUADRANT_TITLES.get(n, n) for n in quadrant_names]
    peaks: dict[str, float] = {}
    for row in rows:
        value = row["test"]["kappa"]["mean_kappa"]
        if math.isfinite(value):
            peaks[row["strategy"]] = max(peaks.get(row["strategy"], -math.inf), value)

    def weak(row: Mapping[str, Any]) -> str:
        return f"{row['rho']} ({row['n_weak']})"

    t1 = []
    for row in rows:
        value = row["test"]["kappa"]["mean_kappa"]
        mark = " (peak)" if math.isfinite(value) and value == peaks.get(row["strategy"]) and sum(
            r["strategy"] == row["strategy"] for r in rows) > 1 else ""
        t1.append([STRATEGY_TITLES.get(row["strategy"], row["strategy"]), weak(row),
                   ("= strong-only" if row.get("alias_of") else ""), _f(value) + mark])
    table1 = _md(["Model", "rho (weak hips)", "note", "Test Mean Kappa"], t1)

    def val_table(selection: str) -> str:
        body = []
        for row in rows:
            v = row["val"][selection]
            body.append([STRATEGY_TITLES.get(row["strategy"], row["strategy"]), weak(row), v["step"],
                         _f(v["val_loss"]), _f(v["global_accuracy"]),
                         *[_f(v["kappa"][n]) for n in quadrant_names], _f(v["mean_kappa"])])
        return _md(["Configuration", "rho (weak hips)", "Best Step", "Val Loss", "Global Acc", *names, "Mean κ"],
                   body)

    def test_table(selection: str) -> str:
        body = []
        for row in rows:
            t = row["test"][selection]
            body.append([STRATEGY_TITLES.get(row["strategy"], row["strategy"]), weak(row),
                         _f(t["global_accuracy"]), *[_f(t["kappa"][n]) for n in quadrant_names],
                         _f(t["mean_kappa"])])
        return _md(["Configuration", "rho (weak hips)", "Global Acc", *names, "Mean κ"], body)

    body = []
    for row in rows:
        vk, vl = row["val"]["kappa"], row["val"]["loss"]
        tk, tl = row["test"]["kappa"]["mean_kappa"], row["test"]["loss"]["mean_kappa"]
        body.append([STRATEGY_TITLES.get(row["strategy"], row["strategy"]), weak(row), vl["step"], vk["step"],
                     _f(vl["mean_kappa"]), _f(vk["mean_kappa"]), _f(tl), _f(tk),
                     _f(tk - tl) if math.isfinite(tk) and math.isfinite(tl) else "n/a"])
    selection = _md(["Configuration", "rho (weak hips)", "step (min loss)", "step (max κ)", "val κ (min loss)",
                     "val κ (max κ)", "test κ (min loss)", "test κ (max κ)", "test gain"], body)
    return {"table1": table1, "table2": val_table("loss"), "table3": val_table("kappa"),
            "table4": test_table("kappa"), "table4_loss": test_table("loss"), "model_selection": selection}
