"""Iteration functions (``iteration_update``) for MONAI's Ignite trainers and evaluators."""

from __future__ import annotations

from hipmonai.engines.cam_prior_step import CAMPriorStep
from hipmonai.engines.label_augmentation_step import LabelAugmentationStep
from hipmonai.engines.mixup_step import MixUpStep
from hipmonai.engines.step import EngineStep, loss_terms_transform, unwrap_network
from hipmonai.engines.weak_strong_step import WeakStrongStep

__all__ = [
    "CAMPriorStep",
    "EngineStep",
    "LabelAugmentationStep",
    "loss_terms_transform",
    "MixUpStep",
    "unwrap_network",
    "WeakStrongStep",
]
