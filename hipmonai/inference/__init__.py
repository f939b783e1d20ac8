"""Inference pipelines that chain bundle models: two-stage KNEEL knee landmarks (Tiulpin et al. 2019), pelvis
landmarks from the label-augmentation U-Net (Suh et al. 2023)."""

from __future__ import annotations

from hipmonai.inference.knee_pipeline import (
    KneeLandmarkPipeline,
    KneePipelineInferer,
    evaluate_pipeline,
    init_from_roi,
    plot_cumulative_errors,
    points_to_original,
)
from hipmonai.inference.pelvis_landmarks import (
    PelvisDetectorInferer,
    PelvisLandmarkDetector,
    fit_head_circles,
    write_detection_pts,
)

__all__ = [
    "KneeLandmarkPipeline",
    "PelvisDetectorInferer",
    "PelvisLandmarkDetector",
    "KneePipelineInferer",
    "evaluate_pipeline",
    "init_from_roi",
    "fit_head_circles",
    "plot_cumulative_errors",
    "points_to_original",
    "write_detection_pts",
]
