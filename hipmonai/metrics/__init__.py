"""Metrics: quadratic weighted kappa (002), Grad-CAM localisation (001), landmark errors, PCK and SDR (003/004)."""

from __future__ import annotations

from hipmonai.metrics.cam_localisation import (
    NORMALISATIONS,
    GradCAMExtractor,
    centre_of_mass_distance,
    energy_inside_mask,
    grad_cam,
    heatmap_centre_of_mass,
    heatmap_peak,
    heatmap_spread,
    localisation_metrics,
    normalise_heatmaps,
    peak_distance,
    pointing_game,
)
from hipmonai.metrics.kappa import QuadraticWeightedKappaMetric, quadratic_weighted_kappa
from hipmonai.metrics.landmark_error import (
    KNEEL_PCK_THRESHOLDS_MM,
    OUTLIER_THRESHOLD_MM,
    SDR_THRESHOLDS,
    STATISTICS,
    LandmarkErrorMetric,
    cumulative_error_distribution,
    fraction_within,
    mean_radial_error,
    outlier_rate,
    pck,
    radial_errors,
    root_mean_square_error,
    sdr,
)

__all__ = [
    "KNEEL_PCK_THRESHOLDS_MM",
    "NORMALISATIONS",
    "OUTLIER_THRESHOLD_MM",
    "SDR_THRESHOLDS",
    "STATISTICS",
    "GradCAMExtractor",
    "LandmarkErrorMetric",
    "QuadraticWeightedKappaMetric",
    "centre_of_mass_distance",
    "cumulative_error_distribution",
    "energy_inside_mask",
    "fraction_within",
    "grad_cam",
    "heatmap_centre_of_mass",
    "heatmap_peak",
    "heatmap_spread",
    "localisation_metrics",
    "mean_radial_error",
    "normalise_heatmaps",
    "outlier_rate",
    "pck",
    "peak_distance",
    "pointing_game",
    "quadratic_weighted_kappa",
    "radial_errors",
    "root_mean_square_error",
    "sdr",
]
