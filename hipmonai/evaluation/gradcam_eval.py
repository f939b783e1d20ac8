"""Grad-CAM evaluation of a trained classifier over a split (Chen et al. sections 3.3 and 4.2-4.5).

For every batch the classifier's backbone runs *once*; :class:`monai.visualize.GradCAM` then explains every target
on the output of the last convolutional stage (``layer4``) through :class:`LastConvGradCAMNetwork`, which makes that
output a leaf of the graph so each target's backward pass stops at the last convolutional layer instead of running
through the whole backbone. The maps are exactly Grad-CAM of ``layer4`` (the gradient of a class score with respect
to ``layer4``'s output does not depend on what lies before it), upsampled bilinearly to the input size and normalised
per map without inverting it (:class:`hipmonai.metrics.GradCAMExtractor`).

Axes follow docs/conventions.md: images ``(B, 1, W, H)``, heatmaps ``(B, C, W, H)`` with x before y, landmarks
``(x, y)`` input pixels.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from monai.data import MetaTensor

from hipmonai.engines.step import unwrap_network
from hipmonai.metrics.cam_localisation import GradCAMExtractor, localisation_metrics

__all__ = ["LESION_METRICS", "LOCALISATION_METRICS", "EvaluationResult", "GradCAMEvaluator", "LastConvGradCAMNetwork"]

#: Localisation metrics of Chen et al. Table 1, in its order (distances and spread in input pixels).
LOCALISATION_METRICS = ("com_distance_px", "peak_distance_px", "spread_px")
#: True-lesion metrics, phantoms only (lesion masks).
LESION_METRICS = ("pointing_game", "energy_inside")


class LastConvGradCAMNetwork(nn.Module):
    """A ``ResNet18CAM``-like classifier split at its last convolutional stage for cheap Grad-CAM.

    ``forward(x)`` returns the logits ``(B, C)``. The backbone (``network.forward_features``) runs without
    gradients and is cached for the last input tensor (compared by identity and version, the reference is held so
    it cannot be reused), so explaining C targets of one batch costs one backbone pass plus C passes through the
    ``last_conv`` identity, global average pooling and ``fc``. Hook Grad-CAM on ``"last_conv"``.

    Args:
        network: classifier with ``forward_features(x) -> (B, K, w, h)``, ``pool_features`` and ``fc`` (e.g.
            :class:`hipmonai.networks.ResNet18CAM`); ``DataParallel`` wrappers are removed.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        net = unwrap_network(network)
        for name in ("forward_features", "pool_features", "fc"):
            if not hasattr(net, name):
                raise TypeError(f"network must offer {name!r} (e.g. ResNet18CAM), got {type(net).__name__}.")
        self.net = net
        self.last_conv = nn.Identity()
        self._cache: tuple[torch.Tensor, int, torch.Tensor] | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last convolutional feature map ``(B, K, w, h)`` of ``x`` (cached for the last input)."""
        cache = self._cache
        if cache is None or cache[0] is not x or cache[1] != x._version or self.training:
            with torch.no_grad():
                features = self.net.forward_features(x)
            self._cache = cache = (x, x._version, features)
        return cache[2]

    def clear(self) -> None:
        """Drop the cached input and features."""
        self._cache = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        leaf = self.features(x).detach().requires_grad_(True)
        return self.net.fc(self.net.pool_features(self.last_conv(leaf)))


@dataclass
class EvaluationResult:
    """What :meth:`GradCAMEvaluator.evaluate` collects over one split, hips in loader order.

    Attributes:
        keys: scan keys ``subject/visit/side``.
        target_names: the C output names.
        probabilities: ``(N, C)`` sigmoid outputs.
        labels: ``(N, C)`` binary labels (value at unknown entries meaningless).
        label_mask: ``(N, C)`` 1 where the label is known.
        metrics: metric name -> ``(N, C)`` float64, ``NaN`` where undefined (every hip and target, positive or not).
        target_landmarks: ``(N, C, P, 2)`` ``(x, y)`` px, ``NaN``-padded.
        mean_heatmaps: ``(C, W, H)`` mean Grad-CAM over the known-positive hips of each target (Figure 4).
        mean_landmarks: ``(C, P, 2)`` mean target landmarks over the same hips (``NaN`` where never valid).
        n_positive: ``(C,)`` hips averaged per target.
        image_size: ``(W, H)``.
        seconds: wall time of the evaluation; ``n_batches``: batches seen.
    """

    keys: list[str]
    target_names: tuple[str, ...]
    probabilities: np.ndarray
    labels: np.ndarray
    label_mask: np.ndarray
    metrics: dict[str, np.ndarray]
    target_landmarks: np.ndarray
    mean_heatmaps: np.ndarray
    mean_landmarks: np.ndarray
    n_positive: np.ndarray
    image_size: tuple[int, int]
    seconds: float = 0.0
    n_batches: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def positives(self) -> np.ndarray:
        """``(N, C)`` bool: known and positive."""
        return (self.label_mask > 0) & (self.labels > 0)


def _tensor(value: Any) -> torch.Tensor:
    if isinstance(value, MetaTensor):
        value = value.as_tensor()
    return torch.as_tensor(value)


class GradCAMEvaluator:
    """Probabilities, Grad-CAM heatmaps and their localisation metrics for a trained classifier.

    Args:
        network: trained classifier (weights loaded; a private copy is taken, the caller's model is untouched).
        target_names: output names, in column order.
        normalisation: per-map Grad-CAM normalisation (see :data:`hipmonai.metrics.NORMALISATIONS`), ``"minmax"``
            as in the usual Grad-CAM display.
        device: where to run.
        image_key, label_key, mask_key, landmarks_key, lesion_key, scan_key: batch keys (lesion masks optional).

    Example::

        >>> evaluator = GradCAMEvaluator(net, TARGETS)
        >>> result = evaluator.evaluate(test_loader)
        >>> result.metrics["com_distance_px"].shape  # (N, 4)
    """

    def __init__(
        self,
        network: nn.Module,
        target_names: Sequence[str],
        normalisation: str = "minmax",
        device: str | torch.device = "cpu",
        image_key: str = "image",
        label_key: str = "label",
        mask_key: str = "label_mask",
        landmarks_key: str = "target_landmarks",
        lesion_key: str = "lesion_mask",
        scan_key: str = "key",
    ) -> None:
        self.device = torch.device(device)
        self.target_names = tuple(target_names)
        self.model = LastConvGradCAMNetwork(copy.deepcopy(unwrap_network(network))).to(self.device).eval()
        self.extractor = GradCAMExtractor(self.model, target_layer="last_conv", normalisation=normalisation,
                                          copy_network=False)
        self.keys = {"image": image_key, "label": label_key, "mask": mask_key, "landmarks": landmarks_key,
                     "lesion": lesion_key, "scan": scan_key}

    def explain(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities ``(B, C)`` and normalised Grad-CAM heatmaps ``(B, C, W, H)`` of one batch."""
        images = _tensor(images).to(self.device, torch.float32)
        self.model.eval()
        try:
            with torch.no_grad():
                logits = self.model(images)
            if logits.shape[1] != len(self.target_names):
                raise ValueError(f"network gives {logits.shape[1]} outputs for {len(self.target_names)} targets.")
            heatmaps = self.extractor(images, class_indices=range(len(self.target_names)))
        finally:
            self.model.clear()
        return torch.sigmoid(logits).float().cpu(), heatmaps.cpu()

    def evaluate(self, batches: Iterable[Mapping[str, Any]]) -> EvaluationResult:
        """Run over every batch (e.g. a ``DataLoader`` of the bundle's validation preprocessing on the test split)."""
        started = time.perf_counter()
        k = self.keys
        keys: list[str] = []
        probs, labels, masks, landmarks = [], [], [], []
        metrics: dict[str, list[np.ndarray]] = {}
        heat_sum: torch.Tensor | None = None
        land_sum: np.ndarray | None = None
        land_count: np.ndarray | None = None
        n_pos = np.zeros(len(self.target_names), dtype=np.int64)
        n_batches = 0
        for batch in batches:
            missing = [key for key in (k["image"], k["label"], k["mask"], k["landmarks"]) if key not in batch]
            if missing:
                raise KeyError(f"batch lacks {missing}; the evaluation needs image, labels, mask and target landmarks")
            p, heatmaps = self.explain(batch[k["image"]])
            label = _tensor(batch[k["label"]]).float().cpu()
            mask = _tensor(batch[k["mask"]]).float().cpu()
            points = _tensor(batch[k["landmarks"]]).float().cpu()
            lesion = batch.get(k["lesion"])
            lesion = None if lesion is None else _tensor(lesion).cpu()
            values = localisation_metrics(heatmaps, points, lesion)
            for name, value in values.items():
                metrics.setdefault(name, []).append(value.numpy())
            positive = (mask > 0) & (label > 0)  # (B, C)
            weights = positive.float()[..., None, None]
            batch_heat = (heatmaps * weights).sum(dim=0)
            heat_sum = batch_heat if heat_sum is None else heat_sum + batch_heat
            pts = points.numpy().astype(np.float64)
            valid = positive.numpy()[..., None] & np.isfinite(pts).all(axis=-1)  # (B, C, P)
            contrib = np.where(valid[..., None], np.nan_to_num(pts), 0.0).sum(axis=0)
            land_sum = contrib if land_sum is None else land_sum + contrib
            land_count = valid.sum(axis=0) if land_count is None else land_count + valid.sum(axis=0)
            n_pos += positive.sum(dim=0).numpy().astype(np.int64)
            scan_keys = batch.get(k["scan"])
            if scan_keys is None:
                scan_keys = [f"#{len(keys) + i}" for i in range(len(p))]
            keys.extend(str(s) for s in scan_keys)
            probs.append(p.numpy())
            labels.append(label.numpy())
            masks.append(mask.numpy())
            landmarks.append(pts)
            n_batches += 1
        if heat_sum is None or land_sum is None or land_count is None:
            raise ValueError("no batches to evaluate")
        denominator = np.maximum(n_pos, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_landmarks = np.where(land_count[..., None] > 0, land_sum / land_count[..., None], np.nan)
        return EvaluationResult(
            keys=keys,
            target_names=self.target_names,
            probabilities=np.concatenate(probs),
            labels=np.concatenate(labels),
            label_mask=np.concatenate(masks),
            metrics={name: np.concatenate(parts).astype(np.float64) for name, parts in metrics.items()},
            target_landmarks=np.concatenate(landmarks),
            mean_heatmaps=(heat_sum.numpy() / denominator[:, None, None]).astype(np.float32),
            mean_landmarks=mean_landmarks,
            n_positive=n_pos,
            image_size=tuple(int(s) for s in heat_sum.shape[-2:]),
            seconds=time.perf_counter() - started,
            n_batches=n_batches,
        )
