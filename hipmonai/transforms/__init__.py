"""Landmark-aware MONAI transforms: hip preprocessing, where points move through the image's spatial maps;
target landmark groups for the CAM prior; cutout augmentation (KNEEL); domain randomisation (sim-to-real)."""

from __future__ import annotations

from hipmonai.transforms.chains import hip_preprocessing
from hipmonai.transforms.config import PreprocessingConfig, load_preprocessing_config
from hipmonai.transforms.cutout import RandCutout, RandCutoutd, cutout_patch_size
from hipmonai.transforms.domain_randomisation import (
    RandBlurSharpen,
    RandBlurSharpend,
    RandCollimation,
    RandCollimationd,
    RandFieldOfView,
    RandFieldOfViewd,
    RandIntensityCurve,
    RandIntensityCurved,
    RandMarkers,
    RandMarkersd,
    RandRadiographNoise,
    RandRadiographNoised,
    block_letter_mask,
    text_line_mask,
)
from hipmonai.transforms.femoral_head import FemoralHeadCircle, FemoralHeadCircled
from hipmonai.transforms.geometry import (
    apply_affine_to_points,
    as_points,
    fit_circle_taubin,
    px_affine_between,
    translation_2d,
)
from hipmonai.transforms.heatmap import HeatmapArgmax, HeatmapArgmaxd, heatmap_argmax
from hipmonai.transforms.intensity import PercentileScale, PercentileScaled
from hipmonai.transforms.knee import (
    KneeHalfd,
    MapPointd,
    PixelsToMmd,
    RandTranslate2Dd,
    SetImageCentred,
    knee_landmark_transforms,
    knee_roi_transforms,
)
from hipmonai.transforms.label_augmentation import (
    DilatedLandmarkLabels,
    DilatedLandmarkLabelsd,
    MaskLandmarksOutside,
    MaskLandmarksOutsided,
    dilated_landmark_labels,
    dilated_pixel_count,
)
from hipmonai.transforms.pelvis import pelvis_landmark_transforms
from hipmonai.transforms.random_spatial import RandRotate2D, RandRotate2Dd, rotation_points_affine
from hipmonai.transforms.spatial import (
    CropAroundPoint,
    CropAroundPointd,
    FlipLeftHip,
    FlipLeftHipd,
    ResampleCropAroundPoint,
    ResampleCropAroundPointd,
    ResampleToFitd,
    ResampleToSpacing,
    ResampleToSpacingd,
    fit_spacing_mm,
    move_landmarks,
)
from hipmonai.transforms.target_landmarks import TargetLandmarks, TargetLandmarksd, target_index_table

__all__ = [
    "apply_affine_to_points",
    "as_points",
    "block_letter_mask",
    "CropAroundPoint",
    "CropAroundPointd",
    "cutout_patch_size",
    "dilated_landmark_labels",
    "dilated_pixel_count",
    "DilatedLandmarkLabels",
    "DilatedLandmarkLabelsd",
    "MaskLandmarksOutside",
    "MaskLandmarksOutsided",
    "FemoralHeadCircle",
    "FemoralHeadCircled",
    "fit_circle_taubin",
    "fit_spacing_mm",
    "FlipLeftHip",
    "FlipLeftHipd",
    "heatmap_argmax",
    "HeatmapArgmax",
    "HeatmapArgmaxd",
    "hip_preprocessing",
    "knee_landmark_transforms",
    "knee_roi_transforms",
    "KneeHalfd",
    "load_preprocessing_config",
    "MapPointd",
    "move_landmarks",
    "pelvis_landmark_transforms",
    "PercentileScale",
    "PercentileScaled",
    "PixelsToMmd",
    "PreprocessingConfig",
    "px_affine_between",
    "RandBlurSharpen",
    "RandBlurSharpend",
    "RandCollimation",
    "RandCollimationd",
    "RandCutout",
    "RandCutoutd",
    "RandFieldOfView",
    "RandFieldOfViewd",
    "RandIntensityCurve",
    "RandIntensityCurved",
    "RandMarkers",
    "RandMarkersd",
    "RandRadiographNoise",
    "RandRadiographNoised",
    "RandRotate2D",
    "RandRotate2Dd",
    "RandTranslate2Dd",
    "ResampleCropAroundPoint",
    "ResampleCropAroundPointd",
    "ResampleToFitd",
    "ResampleToSpacing",
    "ResampleToSpacingd",
    "rotation_points_affine",
    "SetImageCentred",
    "target_index_table",
    "TargetLandmarks",
    "TargetLandmarksd",
    "text_line_mask",
    "translation_2d",
]
