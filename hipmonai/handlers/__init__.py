"""Ignite handlers for hipmonai's bundles."""

from __future__ import annotations

from hipmonai.handlers.kappa import QuadraticWeightedKappa
from hipmonai.handlers.label_curriculum import DilationSchedule, LabelCurriculum
from hipmonai.handlers.landmark_error import LandmarkError, landmark_output_transform

__all__ = [
    "DilationSchedule",
    "LabelCurriculum",
    "LandmarkError",
    "landmark_output_transform",
    "QuadraticWeightedKappa",
]
