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
from hipmonai.losses.reweighted_bce import DynamicReweightedBCELoss
from hipmonai.losses.weak_strong import STRATEGIES, WeakStrongLoss
from hipmonai.losses.wing import WingLoss

__all__ = [
    "check_grades",
    "CramerLoss",
    "DynamicReweightedBCELoss",
    "feature_grid_points_px",
    "KneelMixUp",
    "known_label_mask",
    "LandmarkCAMPriorLoss",
    "log_prob_all_healthy",
    "MaskedBCEWithLogitsLoss",
    "nearest_landmark_distance",
    "NoisyORMILLoss",
    "plateau_gaussian_penalty",
    "STRATEGIES",
    "valid_landmark_groups",
    "WeakStrongLoss",
    "WEIGHT_BY",
    "WingLoss",
]
