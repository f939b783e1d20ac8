"""Inference pipelines that chain bundle models: two-stage KNEEL knee landmarks (paper 004)."""

from __future__ import annotations

from hipmonai.inference.knee_pipeline import (
    KneeLandmarkPipeline,
    KneePipelineInferer,
    evaluate_pipeline,
    init_from_roi,
    load_kneel_weights,
    plot_cumulative_errors,
)

__all__ = [
    "KneeLandmarkPipeline",
    "KneePipelineInferer",
    "evaluate_pipeline",
    "init_from_roi",
    "load_kneel_weights",
    "plot_cumulative_errors",
]
