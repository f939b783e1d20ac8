"""Losses: masked BCE and landmark CAM prior (001), Cramér and Noisy-OR MIL (002), wing loss and MixUp (004)."""

from __future__ import annotations

from hipmonai.losses.cam_prior import (
    LandmarkCAMPriorLoss,
    feature_grid_points_px,
    nearest_landmark_distance,
    plateau_gaussian_penalty,
    valid_landmark_groups,
)
from hipmonai.losses.cramer import CramerLoss, check_grades
from hipmonai.losses.masked_bce import MaskedBCEWithLogitsLoss, known_label_mask
from hipmonai.losses.mixup import WEIGHT_BY, KneelMixUp
from hipmonai.losses.noisy_or import NoisyORMILLoss, log_prob_all_healthy
from hipmonai.losses.weak_strong import STRATEGIES, WeakStrongLoss
from hipmonai.losses.wing import WingLoss

__all__ = [
    "STRATEGIES",
    "WEIGHT_BY",
    "CramerLoss",
    "KneelMixUp",
    "LandmarkCAMPriorLoss",
    "MaskedBCEWithLogitsLoss",
    "NoisyORMILLoss",
    "WeakStrongLoss",
    "WingLoss",
    "check_grades",
    "feature_grid_points_px",
    "known_label_mask",
    "log_prob_all_healthy",
    "nearest_landmark_distance",
    "plateau_gaussian_penalty",
    "valid_landmark_groups",
]
