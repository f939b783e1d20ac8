"""Spatial transforms that move landmarks with the image: resample to a spacing, crop around a point, flip left hips.

Axes and points follow docs/conventions.md: images are channel-first ``(C, W, H)`` ``MetaTensor`` s (spatial
axis 0 = x = columns, axis 1 = y = rows) whose affine maps the voxel index ``(x, y)`` to mm; landmarks are
``(N, 2)`` arrays of ``(x, y)`` pixel coordinates of the image they travel with (``NaN`` = missing).

Each array transform does the image maths with MONAI (``Spacing``, ``SpatialCrop``, ``BorderPad``, ``Flip``)
and states the ``3 x 3`` pixel-to-pixel matrix of what it did; each dictionary twin transforms its image keys
and moves the landmarks through that one matrix with :func:`~hipmonai.transforms.geometry.apply_affine_to_points`.
The dictionary twins also compose the matrices into ``data[px_affine_key]`` (default ``"px_affine"``): a
``3 x 3`` float64 matrix from the pixels of the image the chain started with to the current pixels, so a
prediction on the crop maps back with its inverse.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.networks.layers import separable_filtering
from monai.networks.layers.convutils import gaussian_1d
from monai.transforms import BorderPad, Flip, MapTransform, Spacing, SpatialCrop, Transform
from monai.utils import convert_data_type, ensure_tuple, ensure_tuple_rep

from hipmonai.errors import InputError
from hipmonai.transforms.config import crop_size, load_preprocessing_config, spacing_pair
from hipmonai.transforms.geometry import apply_affine_to_points, px_affine_between, translation_2d

__all__ = [
    "CropAroundPoint",
    "CropAroundPointd",
    "FlipLeftHip",
    "FlipLeftHipd",
    "ResampleToFitd",
    "ResampleToSpacing",
    "ResampleToSpacingd",
    "fit_spacing_mm",
    "move_landmarks",
]

SIDES = ("right", "left")
PX_AFFINE_KEY = "px_affine"


def _require_2d_image(img: Any, name: str, need_affine: bool = False) -> None:
    if not isinstance(img, torch.Tensor | np.ndarray) or img.ndim != 3:
        shape = getattr(img, "shape", None)
        raise InputError(f"{name} must be a channel-first 2D image (C, W, H), got {type(img).__name__} {shape}")
    if need_affine and not isinstance(img, MetaTensor):
        raise InputError(f"{name} must be a MetaTensor carrying its pixel-to-mm affine, got {type(img).__name__}")


def _center_xy(center_xy_px: NdarrayOrTensor | Sequence[float]) -> np.ndarray:
    """A point ``(x, y)`` as a float64 ``(2,)`` array."""
    center = np.asarray(convert_data_type(center_xy_px, np.ndarray)[0], dtype=np.float64).reshape(-1)
    if center.shape != (2,):
        raise InputError(f"a centre must be one (x, y) point in pixels, got {center.tolist()}")
    return center


def _check_aligned(data: Mapping[Hashable, Any], keys: Sequence[Hashable], ref_key: Hashable) -> None:
    """Every image key must share the reference key's spatial shape (and affine, for MetaTensors)."""
    ref = data[ref_key]
    for key in keys:
        img = data[key]
        _require_2d_image(img, f"data[{key!r}]")
        if tuple(img.shape[1:]) != tuple(ref.shape[1:]):
            raise InputError(
                f"data[{key!r}] spatial shape {tuple(img.shape[1:])} differs from data[{ref_key!r}]'s "
                f"{tuple(ref.shape[1:])}; image keys must be aligned"
            )
        both_meta = isinstance(img, MetaTensor) and isinstance(ref, MetaTensor)
        if both_meta and not torch.allclose(img.affine.double().cpu(), ref.affine.double().cpu(), atol=1e-6):
            raise InputError(f"data[{key!r}] affine differs from data[{ref_key!r}]'s; image keys must be aligned")


def move_landmarks(
    data: dict[Hashable, Any], landmarks_key: Hashable | None, matrix: np.ndarray, px_affine_key: Hashable | None
) -> None:
    """Move ``data[landmarks_key]`` in place through a ``3 x 3`` pixel matrix; compose it into ``data[px_affine_key]``.

    Landmarks are stored as float32 of their input type (numpy array or torch tensor); a missing
    ``landmarks_key`` is skipped, ``NaN`` rows stay ``NaN``. ``data[px_affine_key]`` (identity when absent)
    becomes ``matrix @ data[px_affine_key]``.
    """
    if landmarks_key is not None and landmarks_key in data:
        data[landmarks_key] = apply_affine_to_points(data[landmarks_key], matrix, dtype=np.float32)
    if px_affine_key is not None:
        previous = np.asarray(data.get(px_affine_key, np.eye(3)), dtype=np.float64)
        data[px_affine_key] = matrix @ previous


class ResampleToSpacing(Transform):
    """Resample a 2D image to a target pixel spacing with MONAI ``Spacing`` (anti-aliased when shrinking).

    Pixel ``(x, y)`` of the input (centre at ``affine @ (x, y)`` mm) becomes pixel
    ``inv(out.affine) @ in.affine @ (x, y)`` of the output; for the axis-aligned zero-origin affines of
    :class:`hipmonai.readers.RadiographReader` this is ``x' = x * sx / tx``, ``y' = y * sy / ty`` (input spacing
    ``(sx, sy)``, target ``(tx, ty)``), and the output has ``numpy.round((W - 1) * sx / tx + 1)`` columns (half
    to even; MONAI's ``scale_extent=False``: pixel centres 0 and ``W - 1`` keep their positions in mm).

    Args:
        spacing_mm: target spacing, one number or ``(x, y)`` in mm; ``None``: ``configs/preprocessing.json``.
        mode: interpolation, ``"bilinear"`` for images, ``"nearest"`` for masks and labels (any MONAI
            ``Spacing`` mode).
        padding_mode: ``grid_sample`` padding for the half pixel past the last input pixel centre.
        anti_aliasing: before shrinking along an axis by a factor ``f = target / input > 1``, smooth the image
            with a Gaussian of ``sigma = (f - 1) / 2`` input pixels (edge-replicating, the scikit-image rule).
            Never applied with ``"nearest"`` mode.

    Returns from ``__call__``: a ``MetaTensor`` ``(C, W', H')`` with the new affine; ``"nearest"`` keeps the
    input dtype (masks stay uint8), other modes give float32 for integer input and the input dtype otherwise.
    """

    backend = Spacing.backend

    def __init__(
        self,
        spacing_mm: float | Sequence[float] | None = None,
        mode: str = "bilinear",
        padding_mode: str = "border",
        anti_aliasing: bool = True,
    ) -> None:
        if spacing_mm is None:
            spacing_mm = load_preprocessing_config().spacing_mm
        self.spacing_mm = spacing_pair(spacing_mm)
        self.mode = mode
        self.anti_aliasing = anti_aliasing
        self.spacing = Spacing(pixdim=self.spacing_mm, mode=mode, padding_mode=padding_mode)

    def __call__(self, img: MetaTensor, mode: str | None = None, anti_aliasing: bool | None = None) -> MetaTensor:
        """Resample ``img`` ``(C, W, H)``; ``mode``/``anti_aliasing`` override the constructor's for this call."""
        _require_2d_image(img, "img", need_affine=True)
        mode = self.mode if mode is None else mode
        anti_aliasing = self.anti_aliasing if anti_aliasing is None else anti_aliasing
        nearest = str(mode).lower() == "nearest" or mode == 0
        in_dtype = img.dtype
        if anti_aliasing and not nearest:
            img = self._smooth(img)
        out = self.spacing(img, mode=mode)
        if nearest:
            out = out.to(in_dtype)
        elif not in_dtype.is_floating_point:
            out = out.to(torch.float32)
        elif out.dtype != in_dtype:
            out = out.to(in_dtype)
        return out

    def _smooth(self, img: MetaTensor) -> MetaTensor:
        in_spacing = affine_to_spacing(img.affine, r=2, suppress_zeros=False)
        sigmas = [max(0.0, (float(t) / float(s) - 1.0) / 2.0) for t, s in zip(self.spacing_mm, in_spacing, strict=True)]
        if max(sigmas) <= 0:
            return img
        kernels = [
            gaussian_1d(torch.tensor(s), truncated=4.0, approx="erf").to(img.device)
            if s > 0
            else torch.ones(1, device=img.device)
            for s in sigmas
        ]
        data = img.as_tensor().to(torch.float32).unsqueeze(0)
        smoothed = separable_filtering(data, [k.to(data.dtype) for k in kernels], mode="replicate").squeeze(0)
        out = MetaTensor(smoothed)
        out.copy_meta_from(img)
        return out

    @staticmethod
    def points_affine(in_affine: NdarrayOrTensor, out_affine: NdarrayOrTensor) -> np.ndarray:
        """``3 x 3`` matrix from input to output pixels, given the input's and the output's affines."""
        return px_affine_between(in_affine, out_affine)


class ResampleToSpacingd(MapTransform):
    """Dictionary twin of :class:`ResampleToSpacing`: image keys, landmarks and the spacing record.

    All ``keys`` must share ``ref_key``'s shape and affine. The landmarks move through
    ``inv(new affine) @ old affine`` of ``ref_key`` (see :class:`ResampleToSpacing` for the closed form), and
    ``data[spacing_key]`` is set to the target spacing ``(x, y)`` in mm (float64 numpy array).

    Args:
        keys: image-like keys to resample, e.g. ``("image", "lesion_mask")``.
        spacing_mm: target spacing, one number or ``(x, y)`` mm; ``None``: ``configs/preprocessing.json``.
        mode: one interpolation mode, or one per key (``"bilinear"`` images, ``"nearest"`` masks).
        padding_mode: one ``grid_sample`` padding mode, or one per key.
        anti_aliasing: one flag, or one per key (ignored for ``"nearest"``).
        ref_key: the key whose affine moves the landmarks; default the first of ``keys``.
        landmarks_key: ``(N, 2)`` pixel ``(x, y)`` landmarks to move (``None``: none); stored as float32.
        spacing_key: where to record the target spacing (``None``: not recorded).
        px_affine_key: where to compose the pixel matrix (``None``: not recorded).
        allow_missing_keys: skip missing keys (``ref_key`` must be present).
    """

    backend = ResampleToSpacing.backend

    def __init__(
        self,
        keys: KeysCollection,
        spacing_mm: float | Sequence[float] | None = None,
        mode: str | Sequence[str] = "bilinear",
        padding_mode: str | Sequence[str] = "border",
        anti_aliasing: bool | Sequence[bool] = True,
        ref_key: Hashable | None = None,
        landmarks_key: Hashable | None = "landmarks",
        spacing_key: Hashable | None = "pixel_spacing_mm",
        px_affine_key: Hashable | None = PX_AFFINE_KEY,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        self.padding_mode = ensure_tuple_rep(padding_mode, len(self.keys))
        self.anti_aliasing = ensure_tuple_rep(anti_aliasing, len(self.keys))
        self.resamplers = {
            key: ResampleToSpacing(spacing_mm, mode=m, padding_mode=p, anti_aliasing=a)
            for key, m, p, a in zip(self.keys, self.mode, self.padding_mode, self.anti_aliasing, strict=True)
        }
        self.spacing_mm = self.resamplers[self.keys[0]].spacing_mm
        self.ref_key = self.keys[0] if ref_key is None else ref_key
        if self.ref_key not in self.keys:
            raise ValueError(f"ref_key {self.ref_key!r} must be one of keys {list(self.keys)}")
        self.landmarks_key = landmarks_key
        self.spacing_key = spacing_key
        self.px_affine_key = px_affine_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if self.ref_key not in d:
            raise KeyError(f"reference key {self.ref_key!r} of {type(self).__name__} is missing from the data")
        _require_2d_image(d[self.ref_key], f"data[{self.ref_key!r}]", need_affine=True)
        present = list(self.key_iterator(d))
        _check_aligned(d, present, self.ref_key)
        in_affine = d[self.ref_key].affine.clone()
        for key in present:
            d[key] = self.resamplers[key](d[key])
        matrix = ResampleToSpacing.points_affine(in_affine, d[self.ref_key].affine)
        move_landmarks(d, self.landmarks_key, matrix, self.px_affine_key)
        if self.spacing_key is not None:
            d[self.spacing_key] = np.asarray(self.spacing_mm, dtype=np.float64)
        return d


def fit_spacing_mm(spatial_shape: Sequence[int], spacing_xy_mm: Sequence[float], size_px: int) -> float:
    """The isotropic spacing at which an image of ``spatial_shape`` ``(W, H)`` fits ``size_px`` along its longer side.

    With :class:`ResampleToSpacing`'s rule (pixel centres ``0`` and ``W - 1`` keep their mm positions) the longer
    side then has exactly ``size_px`` pixels: ``t = max((W - 1) * sx, (H - 1) * sy) / (size_px - 1)``.

    Raises:
        ValueError: ``size_px < 2`` or an image with fewer than two pixels along both axes.
    """
    if int(size_px) < 2:
        raise ValueError(f"size_px must be at least 2, got {size_px}.")
    extent = max((int(n) - 1) * float(s) for n, s in zip(spatial_shape, spacing_xy_mm, strict=True))
    if extent <= 0:
        raise ValueError(f"cannot fit an image of spatial shape {tuple(spatial_shape)}.")
    return extent / (int(size_px) - 1)


class ResampleToFitd(MapTransform):
    """Resample to the isotropic spacing that fits the longer side in ``size_px`` pixels (:func:`fit_spacing_mm`).

    The paper-003 "resize the padded radiograph" step done in millimetres: the aspect ratio is kept and every pixel
    of the result is square, so pixel errors convert to mm with one number. Follow it with a centred
    :class:`CropAroundPointd` of ``size_px`` to pad the shorter side. Landmarks, ``data[spacing_key]`` and the pixel
    matrix are updated as in :class:`ResampleToSpacingd`.

    Args:
        keys: image-like keys; all must share ``ref_key``'s shape and affine.
        size_px: pixels along the longer side after resampling.
        mode, padding_mode, anti_aliasing, ref_key, landmarks_key, spacing_key, px_affine_key,
            allow_missing_keys: as :class:`ResampleToSpacingd`.
    """

    backend = ResampleToSpacing.backend

    def __init__(
        self,
        keys: KeysCollection,
        size_px: int,
        mode: str | Sequence[str] = "bilinear",
        padding_mode: str | Sequence[str] = "border",
        anti_aliasing: bool | Sequence[bool] = True,
        ref_key: Hashable | None = None,
        landmarks_key: Hashable | None = "landmarks",
        spacing_key: Hashable | None = "pixel_spacing_mm",
        px_affine_key: Hashable | None = PX_AFFINE_KEY,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        fit_spacing_mm((2, 2), (1.0, 1.0), size_px)
        self.size_px = int(size_px)
        self.options = {
            "mode": mode, "padding_mode": padding_mode, "anti_aliasing": anti_aliasing, "ref_key": ref_key,
            "landmarks_key": landmarks_key, "spacing_key": spacing_key, "px_affine_key": px_affine_key,
            "allow_missing_keys": allow_missing_keys,
        }
        self.ref_key = self.keys[0] if ref_key is None else ref_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        if self.ref_key not in data:
            raise KeyError(f"reference key {self.ref_key!r} of {type(self).__name__} is missing from the data")
        img = data[self.ref_key]
        _require_2d_image(img, f"data[{self.ref_key!r}]", need_affine=True)
        spacing = affine_to_spacing(img.affine, r=2, suppress_zeros=False)
        target = fit_spacing_mm(img.shape[1:], [float(v) for v in spacing], self.size_px)
        return ResampleToSpacingd(self.keys, spacing_mm=target, **self.options)(data)


class CropAroundPoint(Transform):
    """Fixed-size crop centred on a point, padding where the image ends.

    The crop's pixel ``(0, 0)`` is input pixel ``offset = round(center - (size - 1) / 2)`` per axis (round half
    up), so the centre lands within half a pixel of the crop's geometric centre ``(size - 1) / 2`` (symmetric
    under a horizontal flip). Crop pixel ``(x, y)`` is input pixel ``(x + offset_x, y + offset_y)``, i.e. points
    map by ``p_crop = p - offset``. Offsets are negative, or ``offset + size`` exceeds the image, when the
    crop runs past a border: those pixels are padded with ``pad_value``. Uses MONAI ``SpatialCrop`` then
    ``BorderPad``, which keep the ``MetaTensor`` affine consistent (origin moved by ``offset`` pixels).

    Args:
        roi_size_px: crop side ``(size_x, size_y)`` or one int for a square; ``None``: ``configs/preprocessing.json``.
        pad_value: constant for padded pixels, or ``"min"`` for the image's minimum (so padding reads as the
            darkest background of that image, not as a value the image never had).
    """

    backend = [b for b in SpatialCrop.backend if b in BorderPad.backend]

    def __init__(self, roi_size_px: int | Sequence[int] | None = None, pad_value: float | str = "min") -> None:
        if roi_size_px is None:
            roi_size_px = load_preprocessing_config().crop_px
        sizes = ensure_tuple_rep(roi_size_px, 2)
        self.roi_size_px = tuple(crop_size(s, "roi_size_px") for s in sizes)
        self.pad_value = self._check_pad_value(pad_value)

    @staticmethod
    def _check_pad_value(pad_value: float | str) -> float | str:
        if isinstance(pad_value, str) and pad_value == "min":
            return pad_value
        if isinstance(pad_value, numbers.Real) and not isinstance(pad_value, bool) and np.isfinite(pad_value):
            return pad_value
        raise ValueError(f"pad_value must be a finite number or 'min', got {pad_value!r}")

    def offset(self, center_xy_px: NdarrayOrTensor | Sequence[float]) -> np.ndarray:
        """The crop's ``(0, 0)`` in input pixels, ``(offset_x, offset_y)`` int64, for a centre ``(x, y)`` px."""
        center = _center_xy(center_xy_px)
        if not np.isfinite(center).all():
            raise InputError(f"crop centre must be finite (x, y) pixels, got {center.tolist()}")
        return np.floor(center - (np.asarray(self.roi_size_px) - 1) / 2.0 + 0.5).astype(np.int64)

    @staticmethod
    def points_affine(offset_xy: np.ndarray) -> np.ndarray:
        """``3 x 3`` matrix from input to crop pixels: ``p_crop = p - offset``."""
        return translation_2d(-np.asarray(offset_xy, dtype=np.float64))

    def __call__(
        self,
        img: NdarrayOrTensor,
        center_xy_px: NdarrayOrTensor | Sequence[float],
        pad_value: float | str | None = None,
    ) -> NdarrayOrTensor:
        """Crop ``img`` ``(C, W, H)`` to ``(C, size_x, size_y)`` around ``center_xy_px`` ``(x, y)``."""
        _require_2d_image(img, "img")
        pad_value = self.pad_value if pad_value is None else self._check_pad_value(pad_value)
        center = _center_xy(center_xy_px)
        offset = self.offset(center)
        shape = np.asarray(img.shape[1:])
        start = np.clip(offset, 0, shape)
        end = np.clip(offset + np.asarray(self.roi_size_px), 0, shape)
        if np.any(end <= start):
            raise InputError(
                f"crop of {self.roi_size_px} px around {center.tolist()} lies entirely outside the "
                f"image of spatial shape {tuple(shape.tolist())}"
            )
        out = SpatialCrop(roi_start=start.tolist(), roi_end=end.tolist())(img)
        before = start - offset
        after = offset + np.asarray(self.roi_size_px) - end
        if np.any(before > 0) or np.any(after > 0):
            value = float(img.min()) if pad_value == "min" else float(pad_value)
            border = [
                int(v) for pair in zip(before, after, strict=True) for v in pair
            ]  # [x_before, x_after, y_before, y_after]
            out = BorderPad(spatial_border=border, mode="constant", value=value)(out)
        return out


class CropAroundPointd(MapTransform):
    """Dictionary twin of :class:`CropAroundPoint`: crop image keys around ``data[center_key]``, move landmarks.

    Sets ``data[offset_key]`` to the crop's ``(0, 0)`` in the input's pixels, ``(offset_x, offset_y)`` int64
    (negative when padding at the left/top), and moves the landmarks by ``p_crop = p - offset``.

    Args:
        keys: image-like keys to crop (all must share one spatial shape).
        center_key: key of the ``(x, y)`` centre in input pixels (e.g. from :class:`FemoralHeadCircled`).
        roi_size_px: crop side, one int or ``(size_x, size_y)``; ``None``: ``configs/preprocessing.json``.
        pad_value: one pad value or one per key: a number, or ``"min"`` (the image's own minimum). Use 0 for masks.
        landmarks_key: ``(N, 2)`` landmarks to move (``None``: none); stored as float32.
        offset_key: where to record the offset (``None``: not recorded).
        px_affine_key: where to compose the pixel matrix (``None``: not recorded).
        allow_missing_keys: skip missing image keys.
    """

    backend = CropAroundPoint.backend

    def __init__(
        self,
        keys: KeysCollection,
        center_key: Hashable = "femoral_head_center_px",
        roi_size_px: int | Sequence[int] | None = None,
        pad_value: float | str | Sequence[float | str] = "min",
        landmarks_key: Hashable | None = "landmarks",
        offset_key: Hashable | None = "crop_offset_xy",
        px_affine_key: Hashable | None = PX_AFFINE_KEY,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.cropper = CropAroundPoint(roi_size_px)
        pad_values = (pad_value,) if isinstance(pad_value, str) else ensure_tuple(pad_value)
        self.pad_value = ensure_tuple_rep(pad_values if len(pad_values) > 1 else pad_values[0], len(self.keys))
        self.pad_value = tuple(CropAroundPoint._check_pad_value(v) for v in self.pad_value)
        self.center_key = center_key
        self.landmarks_key = landmarks_key
        self.offset_key = offset_key
        self.px_affine_key = px_affine_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if self.center_key not in d:
            raise KeyError(f"centre key {self.center_key!r} of {type(self).__name__} is missing from the data")
        center = d[self.center_key]
        offset = self.cropper.offset(center)
        present = list(self.key_iterator(d, self.pad_value))
        if present:
            _check_aligned(d, [k for k, _ in present], present[0][0])
        for key, pad_value in present:
            d[key] = self.cropper(d[key], center, pad_value=pad_value)
        move_landmarks(d, self.landmarks_key, CropAroundPoint.points_affine(offset), self.px_affine_key)
        if self.offset_key is not None:
            d[self.offset_key] = offset
        return d


class FlipLeftHip(Transform):
    """Flip a left hip horizontally (along x, spatial axis 0) so every hip has the right-hip orientation.

    For ``side == "left"`` pixel ``(x, y)`` of an image ``W`` pixels wide maps to ``(W - 1 - x, y)``; a right hip
    is returned unchanged. Uses MONAI ``Flip(spatial_axis=0)``, which updates the ``MetaTensor`` affine.
    """

    backend = Flip.backend

    def __init__(self) -> None:
        self.flipper = Flip(spatial_axis=0)

    @staticmethod
    def is_left(side: str) -> bool:
        """``True`` for ``"left"``, ``False`` for ``"right"`` (case and surrounding blanks ignored).

        Raises:
            InputError: any other value.
        """
        value = side.strip().lower() if isinstance(side, str) else side
        if value not in SIDES:
            raise InputError(f"side must be 'right' or 'left', got {side!r}")
        return value == "left"

    @staticmethod
    def points_affine(side: str, width_px: int) -> np.ndarray:
        """``3 x 3`` matrix of the flip: ``x' = width_px - 1 - x`` for a left hip, identity for a right hip."""
        mat = np.eye(3)
        if FlipLeftHip.is_left(side):
            mat[0, 0], mat[0, 2] = -1.0, float(width_px - 1)
        return mat

    def __call__(self, img: NdarrayOrTensor, side: str) -> NdarrayOrTensor:
        """Flip ``img`` ``(C, W, H)`` along x when ``side`` is ``"left"``."""
        _require_2d_image(img, "img")
        return self.flipper(img) if self.is_left(side) else img


class FlipLeftHipd(MapTransform):
    """Dictionary twin of :class:`FlipLeftHip`: flips image keys and landmarks when ``data[side_key] == "left"``.

    Landmarks map by ``x' = W - 1 - x`` with ``W`` the width of the (first present) image key; for the
    standard chain ``W`` is the crop size. ``data[flipped_key]`` records whether the flip happened.

    Args:
        keys: image-like keys (all must share one spatial shape).
        side_key: key of ``"right"``/``"left"``.
        landmarks_key: ``(N, 2)`` landmarks to move (``None``: none); stored as float32.
        flipped_key: where to record the flip as ``bool`` (``None``: not recorded).
        px_affine_key: where to compose the pixel matrix (``None``: not recorded).
        allow_missing_keys: skip missing image keys (at least one must be present to know the width).
    """

    backend = FlipLeftHip.backend

    def __init__(
        self,
        keys: KeysCollection,
        side_key: Hashable = "side",
        landmarks_key: Hashable | None = "landmarks",
        flipped_key: Hashable | None = "flipped",
        px_affine_key: Hashable | None = PX_AFFINE_KEY,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.flipper = FlipLeftHip()
        self.side_key = side_key
        self.landmarks_key = landmarks_key
        self.flipped_key = flipped_key
        self.px_affine_key = px_affine_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if self.side_key not in d:
            raise KeyError(f"side key {self.side_key!r} of {type(self).__name__} is missing from the data")
        side = d[self.side_key]
        present = list(self.key_iterator(d))
        if not present:
            raise KeyError(f"{type(self).__name__} needs one of the image keys {list(self.keys)} to know the width")
        _check_aligned(d, present, present[0])
        width_px = int(d[present[0]].shape[1])
        for key in present:
            d[key] = self.flipper(d[key], side)
        move_landmarks(d, self.landmarks_key, FlipLeftHip.points_affine(side, width_px), self.px_affine_key)
        if self.flipped_key is not None:
            d[self.flipped_key] = FlipLeftHip.is_left(side)
        return d
