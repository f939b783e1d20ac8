"""Whole-radiograph chain of the pelvis landmark U-Net (Suh et al. 2023 §3).

Paper 003 pads every radiograph to a square and resizes it to 512 x 512 px. :func:`pelvis_landmark_transforms` does
the same in millimetres, so one pixel of the result is square and errors convert to mm with one number: resample
the image to the isotropic spacing that fits its longer side in ``size_px`` pixels (:class:`ResampleToFitd`), pad
the shorter side symmetrically to a ``size_px`` square (:class:`CropAroundPointd` around the image centre, padding
with the image's minimum) and scale intensities by percentiles. Landmarks move with the image and
``data["px_affine"]`` maps original pixels to model pixels (its inverse maps predictions back).

Axes and points follow docs/conventions.md: images ``(C, W, H)`` ``MetaTensor`` s with a pixel-to-mm affine,
landmarks ``(N, 2)`` ``(x, y)`` pixels, ``NaN`` = missing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from monai.transforms import Compose

from hipmonai.transforms.intensity import PercentileScaled
from hipmonai.transforms.knee import SetImageCentred
from hipmonai.transforms.spatial import CropAroundPointd, ResampleToFitd

__all__ = ["pelvis_landmark_transforms"]


def pelvis_landmark_transforms(
    size_px: int = 512,
    image_key: Hashable = "image",
    landmarks_key: Hashable | None = "landmarks",
    percentiles: Sequence[float] | None = None,
) -> Compose:
    """Whole radiograph -> ``(1, size_px, size_px)`` model input (module docstring).

    Input dict: ``image_key`` ``MetaTensor`` ``(1, W, H)`` with its ``diag(sx, sy, 1, 1)`` affine
    (:func:`hipmonai.readers.load_radiograph`); ``landmarks_key`` ``(N, 2)`` original pixels (optional).

    Output: ``image`` ``(1, size_px, size_px)`` float32 (5th/95th percentiles -> 0/1 by default); landmarks in model
    pixels; ``"px_affine"`` original -> model pixels; ``"pixel_spacing_mm"`` ``(s, s)``; ``"crop_offset_xy"``.

    Args:
        size_px: side of the square model input (paper: 512).
        image_key, landmarks_key: keys of the input dict (``landmarks_key`` may be absent at inference).
        percentiles: intensity percentiles mapped to 0 and 1 (``None``: ``configs/preprocessing.json``).
    """
    size = int(size_px)
    return Compose(
        [
            ResampleToFitd(image_key, size_px=size, landmarks_key=landmarks_key),
            SetImageCentred(image_key, center_key="image_center_px"),
            CropAroundPointd(image_key, center_key="image_center_px", roi_size_px=size, landmarks_key=landmarks_key),
            PercentileScaled(image_key, percentiles=percentiles),
        ]
    )
