"""Ignite handler of :class:`hipmonai.metrics.LandmarkErrorMetric` (radial error, PCK, SDR, outliers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from monai.handlers.ignite_metric import IgniteMetricHandler
from monai.utils import IgniteInfo, min_version, optional_import

from hipmonai.metrics.landmark_error import LandmarkErrorMetric

reinit__is_reduced, _ = optional_import(
    "ignite.metrics.metric", IgniteInfo.OPT_IMPORT_VERSION, min_version, "reinit__is_reduced", as_type="decorator"
)


def landmark_output_transform(
    pred_key: str = "pred", label_key: str = "label", spacing_key: str | None = None
) -> Callable[[Any], tuple[Any, ...]]:
    """``output_transform`` giving ``(y_pred, y)`` lists, or ``(y_pred, y, spacing)`` with a stacked ``(B, 2)``
    spacing — stacked because Ignite splits only two same-length lists per item and would reject a third list.

    Args:
        pred_key, label_key: keys of the points in the (decollated) engine output.
        spacing_key: key of each item's ``(2,)`` pixel spacing in mm (``None``: errors in px).
    """
    import torch
    from monai.handlers import from_engine

    def _transform(output: Any) -> tuple[Any, ...]:
        if spacing_key is None:
            return tuple(from_engine([pred_key, label_key])(output))
        pred, label, spacing = from_engine([pred_key, label_key, spacing_key])(output)
        return pred, label, torch.stack([torch.as_tensor(s, dtype=torch.float64).reshape(2) for s in spacing])

    return _transform


class LandmarkError(IgniteMetricHandler):
    """Ignite handler of :class:`LandmarkErrorMetric`; ``engine.state.metrics[name]`` is the configured statistic.

    ``output_transform`` returns ``(y_pred, y)`` or ``(y_pred, y, spacing_mm)`` with a per-case ``(B, 2)`` spacing
    (or a list of ``(2,)``), e.g. ``from_engine(["pred", "label"])``.

    Args:
        statistic, threshold, spacing_mm, landmarks, input_size, grid, outlier_per: see :class:`LandmarkErrorMetric`.
        output_transform: maps ``engine.state.output`` to the tuple above.
        save_details: keep the ``(N, M)`` errors in ``engine.state.metric_details[name]``.
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
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        metric_fn = LandmarkErrorMetric(
            statistic=statistic,
            threshold=threshold,
            spacing_mm=spacing_mm,
            landmarks=landmarks,
            input_size=input_size,
            grid=grid,
            outlier_per=outlier_per,
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)

    @reinit__is_reduced
    def update(self, output: Sequence[Any]) -> None:
        """Add ``(y_pred, y)`` or ``(y_pred, y, spacing_mm)``."""
        if len(output) not in (2, 3):
            raise ValueError(f"output must be (y_pred, y) or (y_pred, y, spacing_mm), got {len(output)} items.")
        self.metric_fn(*output)
