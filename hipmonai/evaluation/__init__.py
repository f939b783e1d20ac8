"""Evaluation of the ``hip_osteophyte_prior`` bundle (Chen et al.): masked per-target ROC AUC, the Grad-CAM
evaluation loop, paired Wilcoxon tables (Table 1, A1, A2), target co-occurrence (Table 2) and the markdown/PNG report.

The report module (matplotlib) is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from hipmonai.evaluation.classification import (
    MaskedBCEMetric,
    MaskedROCAUCMetric,
    batch_columns,
    known_labels,
    masked_roc_auc,
    masked_roc_curves,
)
from hipmonai.evaluation.gradcam_eval import (
    LESION_METRICS,
    LOCALISATION_METRICS,
    EvaluationResult,
    GradCAMEvaluator,
    LastConvGradCAMNetwork,
)
from hipmonai.evaluation.statistics import (
    BOOTSTRAP_RESAMPLES,
    co_occurrence_matrix,
    format_ci,
    mean_sd,
    paired_wilcoxon,
    paired_wilcoxon_table,
    repeated_runs_table,
    run_means_table,
    subject_bootstrap,
    subject_of,
)

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "LESION_METRICS",
    "LOCALISATION_METRICS",
    "EvaluationResult",
    "GradCAMEvaluator",
    "LastConvGradCAMNetwork",
    "MaskedBCEMetric",
    "MaskedROCAUCMetric",
    "batch_columns",
    "co_occurrence_matrix",
    "format_ci",
    "known_labels",
    "masked_roc_auc",
    "masked_roc_curves",
    "mean_sd",
    "paired_wilcoxon",
    "paired_wilcoxon_table",
    "repeated_runs_table",
    "run_means_table",
    "subject_bootstrap",
    "subject_of",
    "write_prior_report",
    "acceptance_checks",
    "evaluate_detector",
    "head_circle_errors",
    "sweep_tables",
    "plot_confusion_matrices",
]

_LAZY = {
    "write_prior_report": "hipmonai.evaluation.report",
    "acceptance_checks": "hipmonai.evaluation.report",
    "evaluate_detector": "hipmonai.evaluation.landmark_detection",
    "head_circle_errors": "hipmonai.evaluation.landmark_detection",
    "sweep_tables": "hipmonai.evaluation.grading",
    "plot_confusion_matrices": "hipmonai.evaluation.grading",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
