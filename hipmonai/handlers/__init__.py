"""Ignite handlers for hipmonai's bundles."""

from __future__ import annotations

from hipmonai.handlers.kappa import QuadraticWeightedKappa
from hipmonai.handlers.landmark_error import LandmarkError

__all__ = ["LandmarkError", "QuadraticWeightedKappa"]
