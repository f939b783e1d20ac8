"""Landmark localisation metrics: radial error, PCK, outliers, cumulative error distribution,
mean radial error, RMSE and success detection rate.

Definitions, with ``e_{c,l}`` the radial (Euclidean) error of landmark ``l`` in case ``c``, in mm when a pixel spacing
is given and in px otherwise:

* KNEEL (Tiulpin et al. 2019, §4.3, Tables 1-2):
  PCK@r = fraction of errors ``<= r`` ("fall within the neighbourhood of radius
  r"), computed per landmark and averaged over the reported landmarks (0, 4, 8, 9, 12, 15 at test time:
  ``hipmonai.io.load_landmark_groups("knee").pck_landmarks``), r in {1, 1.5, 2, 2.5} mm; outliers = errors
  ``>= 10`` mm over *all* landmarks, reported as the fraction of cases with any outlying landmark (as the authors'
  evaluation code counts them) or, with ``per="landmark"``, of landmarks; cumulative error distributions for plots.
* Label augmentation (Suh et al. 2023 §3, Table 1): mean radial error ``mean(e)``; RMSE ``sqrt(mean(e^2))``; SDR@r =
  fraction of errors ``< r`` (the table's "< 2"), r in {2, 2.5, 3, 4}, in px or mm.

``NaN`` coordinates (missing landmarks) give ``NaN`` errors, which every statistic leaves out. Points are ``(B, M, 2)``
``(x, y)`` pixel coordinates (docs/conventions.md) unless a metric is told they are normalised (``input_size``).

The maths is in plain functions; :class:`LandmarkErrorMetric` (a MONAI ``CumulativeIterationMetric``) and
:class:`LandmarkError` (its Ignite handler, as ``monai.handlers.MeanSquaredError`` wraps ``MSEMetric``) only buffer
per-case errors and call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.metrics import CumulativeIterationMetric

from hipmonai.networks.soft_argmax import normalized_to_pixels

__all__ = [
    "KNEEL_PCK_THRESHOLDS_MM",
    "OUTLIER_THRESHOLD_MM",
    "SDR_THRESHOLDS",
    "STATISTICS",
    "LandmarkErrorMetric",
    "cumulative_error_distribution",
    "fraction_within",
    "mean_radial_error",
    "outlier_rate",
    "pck",
    "radial_errors",
    "root_mean_square_error",
    "sdr",
]

KNEEL_PCK_THRESHOLDS_MM = (1.0, 1.5, 2.0, 2.5)
SDR_THRESHOLDS = (2.0, 2.5, 3.0, 4.0)
OUTLIER_THRESHOLD_MM = 10.0
STATISTICS = ("mre", "rmse", "pck", "sdr", "outlier_rate")
_OUTLIER_PER = ("case", "landmark")


def _plain(x: Any) -> torch.Tensor:
    if isinstance(x, MetaTensor):
        x = x.as_tensor()
    x = torch.as_tensor(x)
    return x if x.is_floating_point() else x.double()


def _spacing_tensor(spacing_mm: Any, reference: torch.Tensor) -> torch.Tensor:
    """Spacing as a tensor broadcastable to ``(B, M, 2)``: scalar, ``(2,)`` ``(x, y)`` or ``(B, 2)`` per case."""
    spacing = _plain(spacing_mm).to(dtype=reference.dtype, device=reference.device)
    if spacing.ndim == 0:
        spacing = spacing.reshape(1, 1, 1)
    elif spacing.shape == (2,):
        spacing = spacing.reshape(1, 1, 2)
    elif spacing.ndim == 2 and spacing.shape[1] == 2 and spacing.shape[0] in (1, reference.shape[0]):
        spacing = spacing[:, None, :]
    else:
        raise ValueError(
            f"spacing_mm must be a number, (x, y) or (B, 2) per case for a batch of {reference.shape[0]}, "
            f"got shape {list(spacing.shape)}."
        )
    if bool((spacing <= 0).any()) or bool(torch.isnan(spacing).any()):
        raise ValueError(f"spacing_mm must be positive, got {spacing.flatten().tolist()}.")
    return spacing


def radial_errors(pred: Any, target: Any, spacing_mm: Any = None) -> torch.Tensor:
    """Euclidean distance between predicted and true landmarks, per case and landmark.

    Args:
        pred: ``(B, M, 2)`` predicted ``(x, y)`` in pixels.
        target: ``(B, M, 2)`` true ``(x, y)`` in pixels; ``NaN`` for a missing landmark.
        spacing_mm: ``None`` (errors in px), a number, ``(x, y)`` column/row spacing in mm, or ``(B, 2)`` per case.

    Returns:
        ``(B, M)`` errors in mm (px without spacing); ``NaN`` where either point is missing.
    """
    pred, target = _plain(pred), _plain(target)
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(
            f"pred and target must both be (B, M, 2), got {list(pred.shape)} and {list(target.shape)}."
        )
    diff = pred.to(target.dtype) - target
    if spacing_mm is not None:
        diff = diff * _spacing_tensor(spacing_mm, diff)
    return torch.sqrt((diff**2).sum(dim=-1))


def _select(errors: Any, landmarks: Sequence[int] | None) -> torch.Tensor:
    errors = _plain(errors)
    if errors.ndim != 2:
        raise ValueError(f"errors must be (cases, landmarks), got shape {list(errors.shape)}.")
    if landmarks is None:
        return errors
    index = [int(i) for i in landmarks]
    bad = [i for i in index if not 0 <= i < errors.shape[1]]
    if bad or not index:
        raise ValueError(f"landmarks {list(landmarks)} must be a non-empty subset of 0..{errors.shape[1] - 1}.")
    return errors[:, index]


def fraction_within(errors: Any, thresholds: Sequence[float], inclusive: bool = True) -> torch.Tensor:
    """Per-landmark fraction of cases whose error is within each threshold.

    Args:
        errors: ``(N, L)`` errors; ``NaN`` entries are left out.
        thresholds: ``T`` radii in the unit of ``errors``.
        inclusive: ``True`` counts ``e <= r`` (PCK), ``False`` counts ``e < r`` (SDR).

    Returns:
        ``(T, L)`` fractions in ``[0, 1]``; ``NaN`` for a landmark without any valid error.
    """
    errors = _plain(errors)
    valid = ~torch.isnan(errors)
    radii = torch.as_tensor([float(t) for t in thresholds], dtype=errors.dtype, device=errors.device)[:, None, None]
    hits = (errors[None] <= radii) if inclusive else (errors[None] < radii)
    return (hits & valid[None]).sum(dim=1).to(errors.dtype) / valid.sum(dim=0).to(errors.dtype)


def pck(
    errors_mm: Any, thresholds_mm: Sequence[float] = KNEEL_PCK_THRESHOLDS_MM, landmarks: Sequence[int] | None = None
) -> torch.Tensor:
    """Percentage of correct keypoints (KNEEL §4.3) as a fraction: ``e <= r`` per landmark, mean over landmarks.

    Args:
        errors_mm: ``(N, M)`` radial errors in mm (or px).
        thresholds_mm: radii ``r`` (paper: 1, 1.5, 2, 2.5 mm).
        landmarks: indices of the landmarks to report (paper, test: 0, 4, 8, 9, 12, 15); ``None``: all.

    Returns:
        ``(T,)`` fractions in ``[0, 1]``.
    """
    return torch.nanmean(fraction_within(_select(errors_mm, landmarks), thresholds_mm, inclusive=True), dim=1)


def sdr(
    errors: Any, thresholds: Sequence[float] = SDR_THRESHOLDS, landmarks: Sequence[int] | None = None
) -> torch.Tensor:
    """Success detection rate (Suh et al. 2023 Table 1) as a fraction: ``e < r`` per landmark, mean over landmarks.

    Args:
        errors: ``(N, M)`` radial errors in px or mm.
        thresholds: radii ``r`` in the unit of ``errors`` (paper: 2, 2.5, 3, 4).
        landmarks: subset of landmark indices; ``None``: all.

    Returns:
        ``(T,)`` fractions in ``[0, 1]``.
    """
    return torch.nanmean(fraction_within(_select(errors, landmarks), thresholds, inclusive=False), dim=1)


def outlier_rate(
    errors_mm: Any,
    threshold_mm: float = OUTLIER_THRESHOLD_MM,
    per: str = "case",
    landmarks: Sequence[int] | None = None,
) -> torch.Tensor:
    """Fraction of outliers, errors ``>= threshold_mm`` (Tiulpin et al. 2019 §4.3: 10 mm, over all landmarks).

    Args:
        errors_mm: ``(N, M)`` radial errors in mm.
        threshold_mm: outlier radius.
        per: ``"case"``: fraction of cases with any outlying landmark (cases without a valid landmark are left out);
            ``"landmark"``: fraction of all valid landmark errors.
        landmarks: subset of landmark indices; ``None``: all (the paper's choice).

    Returns:
        Scalar fraction in ``[0, 1]`` (``NaN`` without any valid error).
    """
    if per not in _OUTLIER_PER:
        raise ValueError(f"per must be one of {_OUTLIER_PER}, got {per!r}.")
    errors = _select(errors_mm, landmarks)
    valid = ~torch.isnan(errors)
    outlying = (errors >= threshold_mm) & valid
    if per == "landmark":
        return outlying.sum().to(errors.dtype) / valid.sum().to(errors.dtype)
    cases = valid.any(dim=1)
    return outlying.any(dim=1)[cases].sum().to(errors.dtype) / cases.sum().to(errors.dtype)


def mean_radial_error(errors: Any, landmarks: Sequence[int] | None = None) -> torch.Tensor:
    """Mean radial error ``mean(e)`` over all valid (case, landmark) pairs (Suh et al. 2023)."""
    return torch.nanmean(_select(errors, landmarks))


def root_mean_square_error(errors: Any, landmarks: Sequence[int] | None = None) -> torch.Tensor:
    """Root mean squared radial error ``sqrt(mean(e^2))`` over all valid (case, landmark) pairs (Suh et al. 2023)."""
    return torch.sqrt(torch.nanmean(_select(errors, landmarks) ** 2))


def cumulative_error_distribution(
    errors: Any, thresholds: Sequence[float] | None = None, landmarks: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative distribution of radial errors for plots (KNEEL Figs. 5-6), pooled over the chosen landmarks.

    Args:
        errors: ``(N, M)`` radial errors.
        thresholds: ``None``: the exact step function — sorted valid errors and the fraction ``k / n`` of errors
            ``<=`` each (plot with ``plt.step(x, y, where="post")``); else the fraction of errors ``<=`` each
            threshold.
        landmarks: subset of landmark indices; ``None``: all.

    Returns:
        ``(x, y)`` float64 numpy arrays of equal length: errors (or thresholds) and cumulative fractions in ``[0, 1]``.
    """
    values = _select(errors, landmarks).flatten()
    values = np.sort(values[~torch.isnan(values)].cpu().double().numpy())
    if thresholds is None:
        return values, np.arange(1, len(values) + 1, dtype=np.float64) / max(len(values), 1)
    x = np.asarray([float(t) for t in thresholds], dtype=np.float64)
    if len(values) == 0:
        return x, np.full(len(x), np.nan)
    return x, np.searchsorted(values, x, side="right") / len(values)


def _as_batch(points: Any, name: str) -> torch.Tensor:
    """A ``(B, M, 2)`` tensor, or a list of ``(M, 2)`` per-case tensors (decollated engine output), as one batch."""
    if isinstance(points, (list, tuple)):
        if not points:
            raise ValueError(f"{name} is an empty list.")
        return torch.stack([_plain(p) for p in points])
    return _plain(points)


class LandmarkErrorMetric(CumulativeIterationMetric):
    """Buffers per-case radial errors and reduces them to one statistic (see the module docstring for definitions).

    Args:
        statistic: ``"mre"`` (mean radial error), ``"rmse"``, ``"pck"`` (``e <= threshold``), ``"sdr"``
            (``e < threshold``) or ``"outlier_rate"`` (``e >= threshold``, default 10).
        threshold: radius for ``"pck"``/``"sdr"`` (required) and ``"outlier_rate"``, in mm with a spacing, else px.
        spacing_mm: fixed pixel spacing (number or ``(x, y)`` mm) for every case; a per-case ``(B, 2)`` spacing can be
            passed to each call instead. ``None`` and no per-call spacing: errors in px.
        landmarks: landmark indices the statistic is computed over (e.g. the knee ``pck_landmarks``); ``None``: all.
        input_size: ``(W, H)`` in px when ``y_pred``/``y`` are normalised coordinates (the network output); they are
            converted with :func:`hipmonai.networks.soft_argmax.normalized_to_pixels`. ``None``: inputs are pixels.
        grid: normalisation grid of the coordinates (must match the network's soft-argmax).
        outlier_per: ``"case"`` or ``"landmark"`` (see :func:`outlier_rate`).

    ``y_pred`` and ``y`` are ``(B, M, 2)`` tensors or lists of ``(M, 2)`` tensors. :meth:`aggregate` returns a
    scalar tensor; :meth:`get_buffer` the ``(N, M)`` errors; :meth:`summary` every statistic at once.

    Example:
        >>> import torch
        >>> metric = LandmarkErrorMetric("pck", threshold=1.0, spacing_mm=0.5)
        >>> _ = metric(torch.tensor([[[0.0, 0.0], [10.0, 0.0]]]), torch.tensor([[[1.0, 0.0], [10.0, 3.0]]]))
        >>> float(metric.aggregate())
        0.5
    """

    def __init__(
        self,
        statistic: str = "mre",
        threshold: float | None = None,
        spacing_mm: float | Sequence[float] | None = None,
        landmarks: Sequence[int] | None = None,
        input_size: Sequence[int] | None = None,
        grid: str = "pixel_centre",
        outlier_per: str = "case",
    ) -> None:
        super().__init__()
        if statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}.")
        if statistic in ("pck", "sdr") and threshold is None:
            raise ValueError(f"statistic {statistic!r} needs a threshold.")
        if statistic == "outlier_rate" and threshold is None:
            threshold = OUTLIER_THRESHOLD_MM
        if threshold is not None and not threshold > 0:
            raise ValueError(f"threshold must be positive, got {threshold}.")
        if outlier_per not in _OUTLIER_PER:
            raise ValueError(f"outlier_per must be one of {_OUTLIER_PER}, got {outlier_per!r}.")
        if spacing_mm is not None:
            _spacing_tensor(spacing_mm, torch.zeros(1, 1, 2))
        if input_size is not None:
            normalized_to_pixels(torch.zeros(1, 2), input_size, grid)
        self.statistic = statistic
        self.threshold = threshold
        self.spacing_mm = spacing_mm
        self.landmarks = None if landmarks is None else [int(i) for i in landmarks]
        self.input_size = None if input_size is None else [int(s) for s in input_size]
        self.grid = grid
        self.outlier_per = outlier_per

    def __call__(self, y_pred: Any, y: Any = None, spacing_mm: Any = None) -> Any:  # type: ignore[override]
        """Add a batch: ``y_pred``, ``y`` as ``(B, M, 2)`` or lists of ``(M, 2)``; optional ``(B, 2)`` spacing."""
        if y is None:
            raise ValueError("LandmarkErrorMetric needs the true landmarks y.")
        if isinstance(spacing_mm, (list, tuple)) and spacing_mm and not isinstance(spacing_mm[0], (int, float)):
            spacing_mm = torch.stack([_plain(s) for s in spacing_mm])
        return super().__call__(_as_batch(y_pred, "y_pred"), _as_batch(y, "y"), spacing_mm=spacing_mm)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor, spacing_mm: Any = None) -> torch.Tensor:  # type: ignore[override]
        if self.input_size is not None:
            y_pred = normalized_to_pixels(y_pred, self.input_size, self.grid)
            y = normalized_to_pixels(y, self.input_size, self.grid)
        return radial_errors(y_pred, y, self.spacing_mm if spacing_mm is None else spacing_mm)

    def _errors(self) -> torch.Tensor:
        buffer = self.get_buffer()
        if not isinstance(buffer, torch.Tensor):
            raise ValueError(f"the buffer must be a (N, M) tensor of errors, got {type(buffer).__name__}.")
        return buffer

    def aggregate(self) -> torch.Tensor:  # type: ignore[override]
        """The configured statistic over everything buffered since the last ``reset``, as a scalar tensor."""
        errors = self._errors()
        if self.statistic == "mre":
            return mean_radial_error(errors, self.landmarks)
        if self.statistic == "rmse":
            return root_mean_square_error(errors, self.landmarks)
        if self.statistic == "pck":
            return pck(errors, [self.threshold], self.landmarks)[0]
        if self.statistic == "sdr":
            return sdr(errors, [self.threshold], self.landmarks)[0]
        return outlier_rate(errors, self.threshold, self.outlier_per, self.landmarks)

    def summary(
        self,
        pck_thresholds: Sequence[float] = KNEEL_PCK_THRESHOLDS_MM,
        sdr_thresholds: Sequence[float] = SDR_THRESHOLDS,
        outlier_threshold: float = OUTLIER_THRESHOLD_MM,
    ) -> dict[str, Any]:
        """Every statistic of the buffered errors as plain Python numbers.

        PCK, SDR, MRE and RMSE use :attr:`landmarks`; the outlier rates use all landmarks, as KNEEL reports them.

        Returns:
            ``{"n_cases", "mre", "rmse", "pck": {r: fraction}, "sdr": {r: fraction}, "outlier_rate_case",
            "outlier_rate_landmark", "per_landmark_mre": [M values]}``.
        """
        errors = self._errors()
        pck_values = pck(errors, pck_thresholds, self.landmarks).tolist()
        sdr_values = sdr(errors, sdr_thresholds, self.landmarks).tolist()
        return {
            "n_cases": int(errors.shape[0]),
            "mre": float(mean_radial_error(errors, self.landmarks)),
            "rmse": float(root_mean_square_error(errors, self.landmarks)),
            "pck": dict(zip(map(float, pck_thresholds), pck_values, strict=True)),
            "sdr": dict(zip(map(float, sdr_thresholds), sdr_values, strict=True)),
            "outlier_rate_case": float(outlier_rate(errors, outlier_threshold, "case")),
            "outlier_rate_landmark": float(outlier_rate(errors, outlier_threshold, "landmark")),
            "per_landmark_mre": torch.nanmean(errors, dim=0).tolist(),
        }
