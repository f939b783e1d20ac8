"""Landmark-aware MONAI transforms: hip preprocessing (SPEC 3), where points move through the image's spatial maps;
target landmark groups for the CAM prior; cutout augmentation (paper 004)."""

from __future__ import annotations

from hipmonai.transforms.chains import hip_preprocessing
from hipmonai.transforms.config import PreprocessingConfig, load_preprocessing_config
from hipmonai.transforms.cutout import RandCutout, RandCutoutd, cutout_patch_size
from hipmonai.transforms.femoral_head import FemoralHeadCircle, FemoralHeadCircled
from hipmonai.transforms.geometry import (
    apply_affine_to_points,
    as_points,
    fit_circle_taubin,
    px_affine_between,
    translation_2d,
)
from hipmonai.transforms.intensity import PercentileScale, PercentileScaled
from hipmonai.transforms.random_spatial import RandRotate2D, RandRotate2Dd, rotation_points_affine
from hipmonai.transforms.spatial import (
    CropAroundPoint,
    CropAroundPointd,
    FlipLeftHip,
    FlipLeftHipd,
    ResampleToSpacing,
    ResampleToSpacingd,
    move_landmarks,
)
from hipmonai.transforms.target_landmarks import TargetLandmarks, TargetLandmarksd, target_index_table

__all__ = [
    "RandRotate2D",
    "RandRotate2Dd",
    "rotation_points_affine",
    "RandCutout",
    "RandCutoutd",
    "TargetLandmarks",
    "TargetLandmarksd",
    "cutout_patch_size",
    "target_index_table",
    "CropAroundPoint",
    "CropAroundPointd",
    "FemoralHeadCircle",
    "FemoralHeadCircled",
    "FlipLeftHip",
    "FlipLeftHipd",
    "PercentileScale",
    "PercentileScaled",
    "PreprocessingConfig",
    "ResampleToSpacing",
    "ResampleToSpacingd",
    "apply_affine_to_points",
    "as_points",
    "fit_circle_taubin",
    "hip_preprocessing",
    "load_preprocessing_config",
    "move_landmarks",
    "px_affine_between",
    "translation_2d",
]
