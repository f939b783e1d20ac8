"""Spatial transforms that move landmarks with the image: resample to a spacing, crop around a point, flip left hips.

Axes and points follow docs/conventions.md: images are channel-first ``(C, W, H)`` ``MetaTensor`` s (spatial
axis 0 = x = columns, axis 1 = y = rows) whose affine maps the voxel index ``(x, y)`` to mm; landmarks are
``(N, 2)`` arrays of ``(x, y)`` pixel coordinates of the image they travel with (``NaN`` = missing).

Each array transform does the image maths with MONAI (``Spacing``, ``SpatialResample``, ``SpatialCrop``,
``BorderPad``, ``Flip``) and states the ``3 x 3`` pixel-to-pixel matrix of what it did; each dictionary twin
transforms its image keys and moves the landmarks through that one matrix with
:func:`~hipmonai.transforms.geometry.apply_affine_to_points`. :class:`ResampleCropAroundPoint` is resample-then-crop
computed from the pixels the crop needs only, so its cost does not grow with the radiograph.
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
import torch.nn.functional as F
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.networks.layers.convutils import gaussian_1d
from monai.transforms import BorderPad, Flip, MapTransform, Spacing, SpatialCrop, SpatialResample, Transform
from monai.utils import convert_data_type, ensure_tuple, ensure_tuple_rep

from hipmonai.errors import InputError
from hipmonai.transforms.config import crop_size, load_preprocessing_config, spacing_pair
from hipmonai.transforms.geometry import apply_affine_to_points, px_affine_between, translation_2d

__all__ = [
    "CropAroundPoint",
    "CropAroundPointd",
    "FlipLeftHip",
    "FlipLeftHipd",
    "ResampleCropAroundPoint",
    "ResampleCropAroundPointd",
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


def _aligned_present_keys(transform: MapTransform, data: Mapping[Hashable, Any], ref_key: Hashable) -> list[Hashable]:
    """The keys of ``transform`` present in ``data``, checked aligned with ``data[ref_key]`` (a 2D image with an
    affine, which must be present)."""
    if ref_key not in data:
        raise KeyError(f"reference key {ref_key!r} of {type(transform).__name__} is missing from the data")
    _require_2d_image(data[ref_key], f"data[{ref_key!r}]", need_affine=True)
    present = list(transform.key_iterator(data))
    _check_aligned(data, present, ref_key)
    return present


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
            with a Gaussian of ``sigma = (f - 1) / 2`` input pixels (edge-replicating, the scikit-image rule),
            truncated at 4 sigma and normalised to sum 1, so a flat region keeps its value. Never applied with
            ``"nearest"`` mode.

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
        self._last_grid: tuple[tuple, tuple[torch.Tensor, tuple[int, int]]] | None = None

    def __call__(self, img: MetaTensor, mode: str | None = None, anti_aliasing: bool | None = None) -> MetaTensor:
        """Resample ``img`` ``(C, W, H)``; ``mode``/``anti_aliasing`` override the constructor's for this call."""
        _require_2d_image(img, "img", need_affine=True)
        mode = self.mode if mode is None else mode
        kernels = self.kernels(img, mode, anti_aliasing)
        in_dtype = img.dtype
        if kernels is not None:
            smoothed = MetaTensor(_smooth(img.as_tensor(), kernels))
            img = smoothed.copy_meta_from(img)
        return _resampled_dtype(self.spacing(img, mode=mode), in_dtype, mode)

    def kernels(
        self, img: MetaTensor, mode: str | None = None, anti_aliasing: bool | None = None
    ) -> list[torch.Tensor] | None:
        """The anti-aliasing Gaussians of ``img`` along x and y (``None``: no smoothing for this image and mode).

        Returns ``None`` for ``"nearest"`` mode, with anti-aliasing off, or when no axis shrinks; otherwise one
        1D kernel per spatial axis, ``sigma = (target / input - 1) / 2`` input pixels, truncated at 4 sigma and
        summing to 1 (a ``(1,)`` kernel of 1 for an axis that does not shrink); a kernel of length ``k`` reads
        ``k // 2`` pixels either side.
        """
        mode = self.mode if mode is None else mode
        anti_aliasing = self.anti_aliasing if anti_aliasing is None else anti_aliasing
        if not anti_aliasing or _is_nearest(mode):
            return None
        in_spacing = affine_to_spacing(img.affine, r=2, suppress_zeros=False)
        sigmas = [max(0.0, (float(t) / float(s) - 1.0) / 2.0) for t, s in zip(self.spacing_mm, in_spacing, strict=True)]
        if max(sigmas) <= 0:
            return None
        return [
            gaussian_1d(torch.tensor(s), truncated=4.0, approx="erf", normalize=True).to(img.device)
            if s > 0
            else torch.ones(1, device=img.device)
            for s in sigmas
        ]

    def grid(self, img: MetaTensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """The pixel grid ``img`` resamples onto: its ``4 x 4`` float64 affine and spatial shape ``(W', H')``.

        Computed by MONAI ``Spacing`` in lazy mode, so it is exactly the grid of :meth:`__call__`; no pixel is read.
        The last grid is kept: both hips of a radiograph share it.
        """
        _require_2d_image(img, "img", need_affine=True)
        key = (tuple(img.affine.flatten().tolist()), tuple(img.shape[1:]))
        last = self._last_grid  # one read: another thread may replace it meanwhile
        if last is None or last[0] != key:
            pending = self.spacing(img, lazy=True)
            shape = tuple(int(n) for n in pending.peek_pending_shape())
            last = key, (pending.peek_pending_affine().to(torch.float64), shape)
            self._last_grid = last
        affine, shape = last[1]
        return affine.clone(), shape

    @staticmethod
    def points_affine(in_affine: NdarrayOrTensor, out_affine: NdarrayOrTensor) -> np.ndarray:
        """``3 x 3`` matrix from input to output pixels, given the input's and the output's affines."""
        return px_affine_between(in_affine, out_affine)


def _is_nearest(mode: str | int) -> bool:
    return str(mode).lower() == "nearest" or mode == 0


def _smooth(data: torch.Tensor, kernels: list[torch.Tensor]) -> torch.Tensor:
    """Separable filter of a ``(C, W, H)`` image in float32 with edges replicated, one 1D kernel per spatial axis.

    What MONAI's ``separable_filtering(mode="replicate")`` computes, as a weighted sum of shifted views: its
    ``conv2d`` has oneDNN build a kernel for every new input shape (60-150 ms each on CPU), and every crop
    region of :class:`ResampleCropAroundPoint` has a shape of its own.
    """
    out = data.to(torch.float32).unsqueeze(0)
    for axis, kernel in enumerate(kernels):
        tail = len(kernel) // 2
        if tail == 0:
            continue
        pad = [0, 0, 0, 0]  # F.pad order: last axis (y) first, then x
        pad[2 - 2 * axis : 4 - 2 * axis] = [tail, tail]
        padded = F.pad(out, pad, mode="replicate")
        size = out.shape[2 + axis]
        weights = kernel.tolist()
        out = padded.narrow(2 + axis, 0, size) * weights[0]
        for shift, weight in enumerate(weights[1:], start=1):
            out.add_(padded.narrow(2 + axis, shift, size), alpha=weight)
    return out.squeeze(0)


def _resampled_dtype(out: torch.Tensor, in_dtype: torch.dtype, mode: str | int) -> torch.Tensor:
    """``"nearest"`` keeps the input dtype; other modes give float32 for integer input, the input dtype otherwise."""
    if _is_nearest(mode):
        return out.to(in_dtype)
    if not in_dtype.is_floating_point:
        return out.to(torch.float32)
    return out if out.dtype == in_dtype else out.to(in_dtype)


def _shifted_affine(affine: torch.Tensor, start_xy: np.ndarray) -> torch.Tensor:
    """The ``4 x 4`` affine of the sub-grid whose pixel ``(0, 0)`` is pixel ``start_xy`` of ``affine``'s grid."""
    shift = torch.eye(4, dtype=torch.float64)
    shift[:2, 3] = torch.as_tensor(np.asarray(start_xy, dtype=np.float64))
    return affine.to(torch.float64) @ shift


def _min_value(img: NdarrayOrTensor) -> float:
    """An image's minimum (through numpy: torch has no reductions for ``uint16``/``uint32``/``uint64``)."""
    return float(np.min(convert_data_type(img, np.ndarray)[0]))


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
        present = _aligned_present_keys(self, d, self.ref_key)
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

    def bounds(
        self, center_xy_px: NdarrayOrTensor | Sequence[float], spatial_shape: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(offset, start, end)``, int64 ``(x, y)``: the crop's ``(0, 0)`` and its part ``[start, end)`` in the image.

        Raises:
            InputError: the crop lies entirely outside an image of ``spatial_shape`` ``(W, H)``.
        """
        center = _center_xy(center_xy_px)
        offset = self.offset(center)
        shape = np.asarray(spatial_shape, dtype=np.int64)
        start = np.clip(offset, 0, shape)
        end = np.clip(offset + np.asarray(self.roi_size_px), 0, shape)
        if np.any(end <= start):
            raise InputError(
                f"crop of {self.roi_size_px} px around {center.tolist()} lies entirely outside the "
                f"image of spatial shape {tuple(shape.tolist())}"
            )
        return offset, start, end

    def pad(
        self, inside: NdarrayOrTensor, offset: np.ndarray, start: np.ndarray, end: np.ndarray, value: Any
    ) -> NdarrayOrTensor:
        """Pad the part ``inside`` = pixels ``[start, end)`` to the whole crop at ``offset`` with ``value``.

        ``value`` is a number, or a callable returning it (called only when there is padding to do).
        """
        before = start - offset
        after = offset + np.asarray(self.roi_size_px) - end
        if not (np.any(before > 0) or np.any(after > 0)):
            return inside
        border = [int(v) for pair in zip(before, after, strict=True) for v in pair]  # [x_before, x_after, y_...]
        value = value() if callable(value) else value
        return BorderPad(spatial_border=border, mode="constant", value=float(value))(inside)

    def __call__(
        self,
        img: NdarrayOrTensor,
        center_xy_px: NdarrayOrTensor | Sequence[float],
        pad_value: float | str | None = None,
    ) -> NdarrayOrTensor:
        """Crop ``img`` ``(C, W, H)`` to ``(C, size_x, size_y)`` around ``center_xy_px`` ``(x, y)``."""
        _require_2d_image(img, "img")
        pad_value = self.pad_value if pad_value is None else self._check_pad_value(pad_value)
        offset, start, end = self.bounds(center_xy_px, img.shape[1:])
        out = SpatialCrop(roi_start=start.tolist(), roi_end=end.tolist())(img)
        return self.pad(out, offset, start, end, (lambda: _min_value(img)) if pad_value == "min" else pad_value)


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


class ResampleCropAroundPoint(Transform):
    """The crop around a point of an image resampled to a spacing, resampling only the pixels that crop needs.

    The result is :class:`ResampleToSpacing` followed by :class:`CropAroundPoint` — same grid, same crop, same
    values to float32 rounding — without resampling the whole image: the pixel box of the crop is mapped back to
    input pixels, widened by the anti-aliasing Gaussian's half-length and one pixel for the interpolation, and
    that region alone is smoothed (float32) and resampled by MONAI ``SpatialResample`` onto the crop's part of
    the :meth:`ResampleToSpacing.grid` (float64 coordinates, as ``Spacing``). The input may keep an integer
    dtype (e.g. a radiograph as stored): only the region is converted. Where the image stops short of the crop
    the pixels are padded as :class:`CropAroundPoint` pads them, with one difference for ``"min"``: it is the
    minimum of the *input* image, not of the smoothed, resampled one — the same value whenever that minimum
    fills a patch wider than the Gaussian (collimation, air), and the two never differ by more than the
    smoothing lifts an isolated darkest pixel. ``"nearest"`` picks the same pixels except at exact ties (a grid
    pixel exactly between two input pixels, e.g. 0.6 mm to 0.3 mm), which float rounding settles either way here
    as on the whole image.

    Points map as in the two transforms: ``p_crop = inv(grid affine) @ affine @ p - offset`` (see
    :meth:`points_affine`), with ``offset = round(center - (size - 1) / 2)`` in resampled pixels.

    Args:
        spacing_mm: target spacing, one number or ``(x, y)`` in mm; ``None``: ``configs/preprocessing.json``.
        roi_size_px: crop side in pixels at ``spacing_mm``, one int or ``(size_x, size_y)``; ``None``:
            ``configs/preprocessing.json``.
        mode: interpolation, ``"bilinear"`` for images, ``"nearest"`` for masks (see :class:`ResampleToSpacing`).
        padding_mode: ``grid_sample`` padding for the half pixel past the last input pixel centre.
        anti_aliasing: Gaussian pre-filter when shrinking (see :class:`ResampleToSpacing`).
        pad_value: a finite number, or ``"min"`` for the input image's minimum.

    Returns from ``__call__``: a ``MetaTensor`` ``(C, size_x, size_y)`` whose affine is the grid's, moved to the
    crop's origin; dtype as :class:`ResampleToSpacing` (``"nearest"`` keeps the input dtype, otherwise float32
    for integer input and the input dtype for float input).
    """

    backend = ResampleToSpacing.backend

    def __init__(
        self,
        spacing_mm: float | Sequence[float] | None = None,
        roi_size_px: int | Sequence[int] | None = None,
        mode: str = "bilinear",
        padding_mode: str = "border",
        anti_aliasing: bool = True,
        pad_value: float | str = "min",
    ) -> None:
        self.resampler = ResampleToSpacing(spacing_mm, mode, padding_mode=padding_mode, anti_aliasing=anti_aliasing)
        self.cropper = CropAroundPoint(roi_size_px, pad_value=pad_value)
        self.spacing_mm = self.resampler.spacing_mm
        self.roi_size_px = self.cropper.roi_size_px
        self.padding_mode = padding_mode

    @staticmethod
    def points_affine(in_affine: NdarrayOrTensor, grid_affine: NdarrayOrTensor, offset_xy: np.ndarray) -> np.ndarray:
        """``3 x 3`` matrix from input to crop pixels: the resampling's, then ``p_crop = p - offset``."""
        return CropAroundPoint.points_affine(offset_xy) @ ResampleToSpacing.points_affine(in_affine, grid_affine)

    def __call__(
        self,
        img: MetaTensor,
        center_xy_px: NdarrayOrTensor | Sequence[float],
        mode: str | None = None,
        anti_aliasing: bool | None = None,
        pad_value: float | str | None = None,
    ) -> MetaTensor:
        """Crop around ``center_xy_px`` ``(x, y)``, in pixels of ``img`` ``(C, W, H)`` resampled to ``spacing_mm``.

        ``mode``/``anti_aliasing``/``pad_value`` override the constructor's for this call.

        Raises:
            InputError: ``img`` is not a ``(C, W, H)`` ``MetaTensor``, or the crop lies entirely outside the
                resampled image.
        """
        return self.crop(img, self.resampler.grid(img), center_xy_px, mode, anti_aliasing, pad_value)

    def crop(
        self,
        img: MetaTensor,
        grid: tuple[torch.Tensor, tuple[int, int]],
        center_xy_px: NdarrayOrTensor | Sequence[float],
        mode: str | None = None,
        anti_aliasing: bool | None = None,
        pad_value: float | str | None = None,
    ) -> MetaTensor:
        """:meth:`__call__` on a grid already computed by :meth:`ResampleToSpacing.grid` (the dictionary twin's)."""
        _require_2d_image(img, "img", need_affine=True)
        mode = self.resampler.mode if mode is None else mode
        pad_value = self.cropper.pad_value if pad_value is None else CropAroundPoint._check_pad_value(pad_value)
        grid_affine, grid_shape = grid
        offset, start, end = self.cropper.bounds(center_xy_px, grid_shape)
        kernels = self.resampler.kernels(img, mode, anti_aliasing)
        region_start, region_end = self._region(img, grid_affine, start, end, kernels)
        data = img.as_tensor()[:, region_start[0] : region_end[0], region_start[1] : region_end[1]]
        if kernels is not None:
            data = _smooth(data, kernels)
        elif not _is_nearest(mode) and not data.dtype.is_floating_point:
            data = data.to(torch.float32)  # integer pixels: the float32 the whole-image path would have read
        region = MetaTensor(data, affine=_shifted_affine(img.affine, region_start))
        inside = SpatialResample(mode=mode, padding_mode=self.padding_mode, dtype=torch.float64)(
            region, dst_affine=_shifted_affine(grid_affine, start), spatial_size=(end - start).tolist()
        )
        inside = _resampled_dtype(inside, img.dtype, mode)
        value = (lambda: _min_value(img)) if pad_value == "min" else pad_value
        return self.cropper.pad(inside, offset, start, end, value)

    @staticmethod
    def _region(
        img: MetaTensor,
        grid_affine: torch.Tensor,
        start: np.ndarray,
        end: np.ndarray,
        kernels: list[torch.Tensor] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The input pixels ``[region_start, region_end)`` that grid pixels ``[start, end)`` read, margins included."""
        to_input = px_affine_between(grid_affine, img.affine)
        corners = np.array([[x, y] for x in (start[0], end[0] - 1) for y in (start[1], end[1] - 1)], dtype=np.float64)
        mapped = corners @ to_input[:2, :2].T + to_input[:2, 2]
        tails = np.array([0, 0] if kernels is None else [len(k) // 2 for k in kernels], dtype=np.int64)
        margin = tails + 1  # the Gaussian's reach, then the bilinear neighbour (and float slack)
        shape = np.asarray(img.shape[1:], dtype=np.int64)
        region_start = np.clip(np.floor(mapped.min(axis=0)).astype(np.int64) - margin, 0, shape - 1)
        region_end = np.clip(np.ceil(mapped.max(axis=0)).astype(np.int64) + margin + 1, region_start + 1, shape)
        return region_start, region_end


class ResampleCropAroundPointd(MapTransform):
    """Dictionary twin of :class:`ResampleCropAroundPoint`: crops image keys, moves landmarks, records the crop.

    Equals :class:`ResampleToSpacingd` then :class:`CropAroundPointd` (the centre ``data[center_key]`` is in
    resampled pixels, e.g. from :class:`~hipmonai.transforms.FemoralHeadCircled` with ``spacing_mm``) without
    resampling whole images. All ``keys`` must share ``ref_key``'s shape and affine; the grid is computed once
    from ``ref_key``. The landmarks move in the same two steps (through the resampling's matrix, stored as
    float32, then by ``- offset``), ``data[spacing_key]`` gets the target spacing ``(x, y)`` mm (float64),
    ``data[offset_key]`` the crop's ``(0, 0)`` in resampled pixels (int64 ``(x, y)``, negative where padded
    at the left/top), and ``data[px_affine_key]`` the composed pixel matrix.

    Args:
        keys: image-like keys, e.g. ``("image", "lesion_mask")``.
        spacing_mm: target spacing, one number or ``(x, y)`` mm; ``None``: ``configs/preprocessing.json``.
        roi_size_px: crop side at ``spacing_mm``, one int or ``(size_x, size_y)``; ``None``: the config's.
        center_key: key of the ``(x, y)`` centre in resampled pixels.
        mode: one interpolation mode, or one per key (``"bilinear"`` images, ``"nearest"`` masks).
        padding_mode: one ``grid_sample`` padding mode, or one per key.
        anti_aliasing: one flag, or one per key (ignored for ``"nearest"``).
        pad_value: one pad value or one per key: a number, or ``"min"`` (the input image's minimum). 0 for masks.
        ref_key: the key whose affine and shape give the grid; default the first of ``keys``.
        landmarks_key: ``(N, 2)`` pixel ``(x, y)`` landmarks to move (``None``: none); stored as float32.
        offset_key: where to record the offset (``None``: not recorded).
        spacing_key: where to record the target spacing (``None``: not recorded).
        px_affine_key: where to compose the pixel matrix (``None``: not recorded).
        allow_missing_keys: skip missing keys (``ref_key`` must be present).
    """

    backend = ResampleCropAroundPoint.backend

    def __init__(
        self,
        keys: KeysCollection,
        spacing_mm: float | Sequence[float] | None = None,
        roi_size_px: int | Sequence[int] | None = None,
        center_key: Hashable = "femoral_head_center_px",
        mode: str | Sequence[str] = "bilinear",
        padding_mode: str | Sequence[str] = "border",
        anti_aliasing: bool | Sequence[bool] = True,
        pad_value: float | str | Sequence[float | str] = "min",
        ref_key: Hashable | None = None,
        landmarks_key: Hashable | None = "landmarks",
        offset_key: Hashable | None = "crop_offset_xy",
        spacing_key: Hashable | None = "pixel_spacing_mm",
        px_affine_key: Hashable | None = PX_AFFINE_KEY,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        n_keys = len(self.keys)
        pad_values = (pad_value,) if isinstance(pad_value, str) else ensure_tuple(pad_value)
        options = zip(
            self.keys,
            ensure_tuple_rep(mode, n_keys),
            ensure_tuple_rep(padding_mode, n_keys),
            ensure_tuple_rep(anti_aliasing, n_keys),
            ensure_tuple_rep(pad_values if len(pad_values) > 1 else pad_values[0], n_keys),
            strict=True,
        )
        self.croppers = {
            key: ResampleCropAroundPoint(spacing_mm, roi_size_px, mode=m, padding_mode=p, anti_aliasing=a, pad_value=v)
            for key, m, p, a, v in options
        }
        self.ref_key = self.keys[0] if ref_key is None else ref_key
        if self.ref_key not in self.keys:
            raise ValueError(f"ref_key {self.ref_key!r} must be one of keys {list(self.keys)}")
        self.spacing_mm = self.croppers[self.ref_key].spacing_mm
        self.center_key = center_key
        self.landmarks_key = landmarks_key
        self.offset_key = offset_key
        self.spacing_key = spacing_key
        self.px_affine_key = px_affine_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        present = _aligned_present_keys(self, d, self.ref_key)
        if self.center_key not in d:
            raise KeyError(f"centre key {self.center_key!r} of {type(self).__name__} is missing from the data")
        ref = self.croppers[self.ref_key]
        grid = ref.resampler.grid(d[self.ref_key])
        in_affine = d[self.ref_key].affine
        center = d[self.center_key]
        offset = ref.cropper.offset(center)
        for key in present:
            d[key] = self.croppers[key].crop(d[key], grid, center)
        move_landmarks(d, self.landmarks_key, ResampleToSpacing.points_affine(in_affine, grid[0]), self.px_affine_key)
        move_landmarks(d, self.landmarks_key, CropAroundPoint.points_affine(offset), self.px_affine_key)
        if self.spacing_key is not None:
            d[self.spacing_key] = np.asarray(self.spacing_mm, dtype=np.float64)
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
