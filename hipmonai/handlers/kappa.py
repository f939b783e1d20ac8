"""Ignite handler of the quadratic weighted kappa (Ye et al. 2026), the grading bundle's key metric."""

from __future__ import annotations

import math
from collections.abc import Callable

from monai.handlers.ignite_metric import IgniteMetricHandler
from monai.handlers.utils import from_engine

from hipmonai.metrics.kappa import QuadraticWeightedKappaMetric

__all__ = ["QuadraticWeightedKappa"]


class QuadraticWeightedKappa(IgniteMetricHandler):
    """Mean (or per-quadrant) quadratic weighted kappa over an epoch, on the ``IgniteMetricHandler`` pattern.

    ``engine.state.metrics[name]`` gets the mean kappa over quadrants (``reduction="mean"``), the value to use as
    ``key_metric`` for checkpoint selection by maximal validation kappa; ``engine.state.metric_details[name]``
    holds the accumulated ``(N, 2, Q)`` ``[predicted, true]`` grades when ``save_details``.

    Args:
        num_grades: labels ``0..num_grades-1``.
        reduction: ``"mean"`` or ``"none"`` (see :class:`hipmonai.metrics.kappa.QuadraticWeightedKappaMetric`).
        output_transform: ``engine.state.output -> (y_pred, y)``; default reads ``"pred_grades"`` and ``"grades"``,
            the keys :class:`hipmonai.engines.WeakStrongStep` writes.
        save_details: keep the accumulated grades in ``engine.state.metric_details``.
        replace_undefined_by: value of an undefined kappa.

    Example (bundle config)::

        "key_metric": {"val_mean_kappa": {"_target_": "hipmonai.handlers.QuadraticWeightedKappa"}}
    """

    def __init__(
        self,
        num_grades: int = 4,
        reduction: str = "mean",
        output_transform: Callable | None = None,
        save_details: bool = True,
        replace_undefined_by: float = math.nan,
    ) -> None:
        metric_fn = QuadraticWeightedKappaMetric(
            num_grades=num_grades, reduction=reduction, replace_undefined_by=replace_undefined_by
        )
        if output_transform is None:
            output_transform = from_engine(["pred_grades", "grades"])
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
