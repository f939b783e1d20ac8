"""Femoral head circle from the head sub-curve landmarks, with a radius sanity check in mm."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from hipmonai.errors import InputError
from hipmonai.io import load_landmark_groups
from hipmonai.transforms.config import load_preprocessing_config, spacing_pair, value_range
from hipmonai.transforms.geometry import apply_affine_to_points, as_points, fit_circle_taubin
from hipmonai.transforms.spatial import ResampleToSpacing

__all__ = ["FemoralHeadCircle", "FemoralHeadCircled"]

HEAD_CURVE = "femoral_head"


class FemoralHeadCircle(Transform):
    """Fit the femoral head circle (Taubin) to the head sub-curve of the hip landmarks and sanity-check its radius.

    Args:
        head_indices: indices of the head sub-curve in the ``(N, 2)`` landmarks; ``None``: the
            ``"femoral_head"`` curve of ``configs/landmark_groups.json`` (``[13, 78, 14..21]``).
        radius_range_mm: plausible radius ``(min, max)`` in mm; ``None``: ``configs/preprocessing.json``.

    ``__call__(landmarks, spacing_mm)`` takes ``(N, 2)`` ``(x, y)`` landmarks in pixels of an image with isotropic
    ``spacing_mm`` (one number or ``(x, y)``, equal) and returns ``(center_xy_px, radius_px)``: a float64 ``(2,)``
    array and a float, in the same pixels. Missing (``NaN``) head points are ignored; at least 3 must remain.

    Raises (from ``__call__``):
        InputError: fewer than 3 valid head points, collinear points, anisotropic spacing, or a radius in mm
            outside ``radius_range_mm`` (the message gives the value: usually landmarks in mm read as pixels,
            a wrong spacing, or landmarks of another model).
    """

    backend = [TransformBackends.NUMPY, TransformBackends.TORCH]

    def __init__(
        self, head_indices: Sequence[int] | None = None, radius_range_mm: Sequence[float] | None = None
    ) -> None:
        if head_indices is None:
            head_indices = load_landmark_groups("hip").curves[HEAD_CURVE]
        self.head_indices = [int(i) for i in head_indices]
        if len(self.head_indices) < 3 or min(self.head_indices) < 0:
            raise ValueError(f"head_indices must be at least 3 non-negative indices, got {self.head_indices}")
        if radius_range_mm is None:
            radius_range_mm = load_preprocessing_config().radius_range_mm
        self.radius_range_mm = value_range(radius_range_mm, "radius_range_mm", 0.0)

    def __call__(self, landmarks: NdarrayOrTensor, spacing_mm: float | Sequence[float]) -> tuple[np.ndarray, float]:
        points = as_points(landmarks, "landmarks")
        spacing = spacing_pair(spacing_mm)
        if not np.isclose(spacing[0], spacing[1], rtol=1e-6):
            raise InputError(
                f"femoral head circle needs isotropic pixels, got spacing {spacing} mm; resample first "
                "(ResampleToSpacingd)"
            )
        if max(self.head_indices) >= len(points):
            raise InputError(
                f"head indices {self.head_indices} do not fit landmarks of {len(points)} points (one hip has 80)"
            )
        head = points[self.head_indices]
        n_valid = int((~np.isnan(head).any(axis=1)).sum())
        if n_valid < 3:
            raise InputError(
                f"femoral head circle needs at least 3 of the head points {self.head_indices}, {n_valid} are present"
            )
        cx, cy, radius_px = fit_circle_taubin(head)
        radius_mm = radius_px * spacing[0]
        low, high = self.radius_range_mm
        if not low <= radius_mm <= high:
            raise InputError(
                f"femoral head radius {radius_mm:.2f} mm ({radius_px:.1f} px at {spacing[0]:g} mm) is outside the "
                f"plausible range [{low:g}, {high:g}] mm; check the landmarks' units and the pixel spacing"
            )
        return np.array([cx, cy], dtype=np.float64), radius_px


class FemoralHeadCircled(MapTransform):
    """Dictionary twin of :class:`FemoralHeadCircle`: reads the landmarks and the image's spacing, writes the circle.

    Without ``spacing_mm`` the spacing is read from ``data[image_key]``'s affine (a ``MetaTensor``), so run it
    after :class:`~hipmonai.transforms.ResampleToSpacingd`; centre and radius are in that image's pixels. With
    ``spacing_mm`` the landmarks, in pixels of ``data[image_key]`` (any spacing, anisotropic too), are first
    mapped onto the grid that image resamples to at ``spacing_mm`` (:meth:`ResampleToSpacing.grid`, no pixel
    read; the points rounded to float32 as :class:`~hipmonai.transforms.ResampleToSpacingd` stores them), and
    centre and radius are in *those* pixels — what a following
    :class:`~hipmonai.transforms.ResampleCropAroundPointd` crops around. ``data[landmarks_key]`` is not changed.

    Args:
        landmarks_key: key of the ``(N, 2)`` pixel ``(x, y)`` landmarks.
        image_key: key of the image whose affine gives the spacing.
        head_indices: see :class:`FemoralHeadCircle`.
        radius_range_mm: see :class:`FemoralHeadCircle`.
        center_key: where to write the ``(x, y)`` centre (float64 ``(2,)`` array, pixels).
        radius_key: where to write the radius (float, pixels).
        spacing_mm: fit in the pixels of the image resampled to this spacing, one number or ``(x, y)`` mm
            (``None``: in the image's own pixels, which must be square).
        allow_missing_keys: skip (write nothing) when the landmarks are missing.
    """

    backend = FemoralHeadCircle.backend

    def __init__(
        self,
        landmarks_key: Hashable = "landmarks",
        image_key: Hashable = "image",
        head_indices: Sequence[int] | None = None,
        radius_range_mm: Sequence[float] | None = None,
        center_key: Hashable = "femoral_head_center_px",
        radius_key: Hashable = "femoral_head_radius_px",
        spacing_mm: float | Sequence[float] | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(landmarks_key, allow_missing_keys)
        self.fitter = FemoralHeadCircle(head_indices, radius_range_mm)
        self.resampler = None if spacing_mm is None else ResampleToSpacing(spacing_mm)
        self.image_key = image_key
        self.center_key = center_key
        self.radius_key = radius_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            image = d.get(self.image_key)
            if not isinstance(image, MetaTensor):
                raise InputError(
                    f"data[{self.image_key!r}] must be a MetaTensor whose affine gives the pixel spacing, "
                    f"got {type(image).__name__}"
                )
            landmarks, affine = d[key], image.affine
            if self.resampler is not None:
                grid_affine, _ = self.resampler.grid(image)
                matrix = ResampleToSpacing.points_affine(affine, grid_affine)
                landmarks, affine = apply_affine_to_points(landmarks, matrix, dtype=np.float32), grid_affine
            spacing = affine_to_spacing(affine, r=2, suppress_zeros=False)
            center, radius = self.fitter(landmarks, tuple(float(s) for s in spacing))
            d[self.center_key] = center
            d[self.radius_key] = radius
        return d
