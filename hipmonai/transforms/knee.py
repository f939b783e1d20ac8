"""Knee sample chains of the KNEEL pipeline (Tiulpin et al. 2019 §4.3), built from the landmark-aware transforms.

Two chains turn one bilateral PA knee radiograph into network inputs, moving the landmarks with the image and
composing ``data["px_affine"]``, the ``3 x 3`` map from original-image pixels to sample pixels (its inverse maps a
prediction back):

* :func:`knee_roi_transforms` — ROI stage: the half of the image that holds one knee (the right knee is on the
  image's left half, docs/phantoms.md), resampled to ``roi_spacing_mm`` (paper: 1 mm), padded/cropped to a fixed
  ``roi_size_px`` around the half's centre, percentile-scaled. Not flipped (as in the paper).
* :func:`knee_landmark_transforms` — landmark stage: the whole image resampled to ``spacing_mm`` (paper: 0.3 mm), a
  square of ``crop_mm`` (paper: 140 mm) around a centre given in original pixels (the true tibial centre for
  training, the ROI prediction at inference), percentile-scaled, left knees flipped to the right-knee orientation.

Axes and points follow docs/conventions.md: images ``(C, W, H)`` ``MetaTensor`` s with a pixel-to-mm affine,
landmarks ``(N, 2)`` ``(x, y)`` pixels, ``NaN`` = missing.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.transforms import Compose, MapTransform, RandomizableTransform

from hipmonai.errors import InputError
from hipmonai.transforms.geometry import apply_affine_to_points
from hipmonai.transforms.intensity import PercentileScaled
from hipmonai.transforms.spatial import (
    PX_AFFINE_KEY,
    CropAroundPoint,
    CropAroundPointd,
    FlipLeftHip,
    FlipLeftHipd,
    ResampleToSpacingd,
    _require_2d_image,
    move_landmarks,
)

__all__ = [
    "KneeHalfd",
    "MapPointd",
    "PixelsToMmd",
    "RandTranslate2Dd",
    "SetImageCentred",
    "crop_size_px",
    "knee_half_box_px",
    "knee_landmark_transforms",
    "knee_roi_transforms",
]


def knee_half_box_px(width_px: int, side: str) -> tuple[int, int]:
    """Columns ``[start, stop)`` of the half of a bilateral PA knee image that holds ``side``'s knee.

    The image is shown facing the patient, so the right knee is on the image's left half: ``[0, W // 2)``; the left
    knee on ``[W // 2, W)``.
    """
    if width_px < 2:
        raise InputError(f"a bilateral knee image needs at least 2 columns, got {width_px}")
    half = width_px // 2
    return (half, width_px) if FlipLeftHip.is_left(side) else (0, half)


def crop_size_px(size_mm: float, spacing_mm: float) -> int:
    """Side in pixels of a ``size_mm`` square at ``spacing_mm``: ``round(size_mm / spacing_mm)``, at least 1."""
    if not size_mm > 0 or not spacing_mm > 0:
        raise ValueError(f"crop size and spacing must be positive mm, got {size_mm} and {spacing_mm}.")
    return max(1, int(round(size_mm / spacing_mm)))


class KneeHalfd(MapTransform):
    """Crop image keys to the half of a bilateral knee image that holds ``data[side_key]``'s knee.

    Pixel ``(x, y)`` of the half is pixel ``(x + start, y)`` of the input (:func:`knee_half_box_px`); landmarks move
    by ``x - start`` and the translation is composed into ``data[px_affine_key]``. Uses
    :class:`~hipmonai.transforms.spatial.CropAroundPoint` (which keeps the ``MetaTensor`` affine consistent).

    Args:
        keys: image keys ``(C, W, H)`` of one spatial shape.
        side_key: key of ``"right"`` / ``"left"``.
        landmarks_key: ``(N, 2)`` pixel landmarks to move (``None``: none).
        px_affine_key: where to compose the pixel matrix (``None``: not recorded).
        allow_missing_keys: skip missing image keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        side_key: Hashable = "side",
        landmarks_key: Hashable | None = "landmarks",
        px_affine_key: Hashable | None = PX_AFFINE_KEY,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.side_key = side_key
        self.landmarks_key = landmarks_key
        self.px_affine_key = px_affine_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if self.side_key not in d:
            raise KeyError(f"side key {self.side_key!r} of {type(self).__name__} is missing from the data")
        present = list(self.key_iterator(d))
        if not present:
            raise KeyError(f"{type(self).__name__} needs one of the image keys {list(self.keys)}")
        _require_2d_image(d[present[0]], f"data[{present[0]!r}]")
        width, height = int(d[present[0]].shape[1]), int(d[present[0]].shape[2])
        start, stop = knee_half_box_px(width, d[self.side_key])
        cropper = CropAroundPoint((stop - start, height))
        centre = np.array([start + (stop - start - 1) / 2.0, (height - 1) / 2.0])
        offset = cropper.offset(centre)
        for key in present:
            d[key] = cropper(d[key], centre)
        move_landmarks(d, self.landmarks_key, CropAroundPoint.points_affine(offset), self.px_affine_key)
        return d


class SetImageCentred(MapTransform):
    """Store the centre pixel ``((W - 1) / 2, (H - 1) / 2)`` of ``data[key]`` (first key) in ``data[center_key]``."""

    def __init__(self, keys: KeysCollection, center_key: Hashable = "image_center_px") -> None:
        super().__init__(keys)
        self.center_key = center_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        img = d[self.first_key(d)]
        _require_2d_image(img, "image")
        d[self.center_key] = np.array([(img.shape[1] - 1) / 2.0, (img.shape[2] - 1) / 2.0])
        return d


class MapPointd(MapTransform):
    """Map points given in original-image pixels into the current pixels through ``data[px_affine_key]``.

    ``data[output_key] = px_affine @ data[key]`` for each key, e.g. the crop centre chosen on the original image
    carried through a resampling (a single ``(2,)`` point comes back ``(2,)``, ``(N, 2)`` stays ``(N, 2)``).

    Args:
        keys: point keys in original pixels.
        output_keys: where to write the mapped points (default: ``"{key}_current"``).
        px_affine_key: key of the ``3 x 3`` original-to-current matrix (identity when absent).
    """

    def __init__(
        self,
        keys: KeysCollection,
        output_keys: Sequence[Hashable] | None = None,
        px_affine_key: Hashable = PX_AFFINE_KEY,
    ) -> None:
        super().__init__(keys)
        self.output_keys = tuple(output_keys) if output_keys is not None else tuple(f"{k}_current" for k in self.keys)
        if len(self.output_keys) != len(self.keys):
            raise ValueError(f"need one output key per key, got {list(self.output_keys)} for {list(self.keys)}.")
        self.px_affine_key = px_affine_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        matrix = np.asarray(d.get(self.px_affine_key, np.eye(3)), dtype=np.float64)
        for key, out_key in self.key_iterator(d, self.output_keys):
            point = np.asarray(d[key], dtype=np.float64)
            mapped = apply_affine_to_points(point.reshape(-1, 2), matrix, dtype=np.float64)
            d[out_key] = mapped.reshape(point.shape)
        return d


class PixelsToMmd(MapTransform):
    """``data[output_key] = data[key] * data[spacing_key]``: ``(N, 2)`` ``(x, y)`` pixels to mm (``.pts`` units).

    Args:
        keys: pixel point keys, e.g. the pipeline's ``"pred"``.
        spacing_key: key of the ``(x, y)`` spacing in mm.
        output_keys: where to write (default ``"{key}_mm"``).
    """

    def __init__(
        self, keys: KeysCollection, spacing_key: Hashable = "spacing_mm", output_keys: Sequence[Hashable] | None = None
    ) -> None:
        super().__init__(keys)
        self.spacing_key = spacing_key
        self.output_keys = tuple(output_keys) if output_keys is not None else tuple(f"{k}_mm" for k in self.keys)
        if len(self.output_keys) != len(self.keys):
            raise ValueError(f"need one output key per key, got {list(self.output_keys)} for {list(self.keys)}.")

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        import torch

        d = dict(data)
        for key, out_key in self.key_iterator(d, self.output_keys):
            points = torch.as_tensor(d[key])
            spacing = torch.as_tensor(np.asarray(d[self.spacing_key], dtype=np.float64).reshape(2))
            d[out_key] = points * spacing.to(device=points.device, dtype=points.dtype)
        return d


class RandTranslate2Dd(RandomizableTransform, MapTransform):
    """Shift image keys and landmarks by one random whole-pixel ``(dx, dy)``, edges replicated.

    Crops made around the true tibial centre always hold landmark 4 at their centre; at inference the crop is
    centred on the ROI prediction, which is a few mm off. Without translations the landmark model learns "landmark 4
    is the centre" and inherits the ROI error; the paper's homographic augmentation includes these shifts.
    Output pixel ``(x, y)`` shows input pixel ``(x - dx, y - dy)``: landmarks move by ``+(dx, dy)``.

    Args:
        keys: image keys ``(C, W, H)`` of one spatial shape.
        max_shift_px: shifts are drawn uniformly from ``[-max_shift_px, max_shift_px]`` per axis (integers).
        prob: probability of shifting.
        landmarks_key: ``(N, 2)`` pixel landmarks to move (``None``: none).
        allow_missing_keys: skip missing image keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        max_shift_px: int = 10,
        prob: float = 1.0,
        landmarks_key: Hashable | None = "landmarks",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        if max_shift_px < 0:
            raise ValueError(f"max_shift_px must be >= 0, got {max_shift_px}.")
        self.max_shift_px = int(max_shift_px)
        self.landmarks_key = landmarks_key
        self.shift = (0, 0)

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        m = self.max_shift_px
        self.shift = (int(self.R.randint(-m, m + 1)), int(self.R.randint(-m, m + 1))) if self._do_transform else (0, 0)

    @staticmethod
    def shift_image(img: Any, shift_xy: Sequence[int]) -> Any:
        """``(C, W, H)`` image shifted by whole pixels ``(dx, dy)``, edges replicated (a tensor)."""
        import torch
        import torch.nn.functional as F

        dx, dy = (int(v) for v in shift_xy)
        data = torch.as_tensor(img)
        w, h = data.shape[1], data.shape[2]
        padded = F.pad(data[None].float(), (abs(dy), abs(dy), abs(dx), abs(dx)), mode="replicate")[0]
        x0, y0 = abs(dx) - dx, abs(dy) - dy
        return padded[:, x0 : x0 + w, y0 : y0 + h].to(data.dtype)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        if self.shift == (0, 0):
            return d
        for key in self.key_iterator(d):
            d[key] = self.shift_image(d[key], self.shift)
        if self.landmarks_key is not None and self.landmarks_key in d:
            d[self.landmarks_key] = np.asarray(d[self.landmarks_key], dtype=np.float32) + np.asarray(
                self.shift, dtype=np.float32
            )
        return d


def knee_roi_transforms(
    spacing_mm: float = 1.0,
    roi_size_px: Sequence[int] = (256, 320),
    image_key: Hashable = "image",
    landmarks_key: Hashable = "landmarks",
    side_key: Hashable = "side",
    percentiles: Sequence[float] | None = None,
) -> Compose:
    """ROI-stage chain: half image → ``spacing_mm`` → fixed ``roi_size_px`` around the half's centre → scaled.

    Input dict: ``image_key`` ``MetaTensor`` ``(1, W, H)`` of the whole bilateral radiograph with its
    ``diag(sx, sy, 1, 1)`` affine; ``landmarks_key`` ``(N, 2)`` original pixels of this knee (optional);
    ``side_key`` ``"right"`` / ``"left"``.

    Output: ``image`` ``(1, *roi_size_px)`` float32; landmarks in ROI pixels; ``"px_affine"`` original → ROI pixels;
    ``"pixel_spacing_mm"`` ``(x, y)``; ``"crop_offset_xy"``.

    Args:
        spacing_mm: ROI pixel spacing in mm (paper: 1 mm).
        roi_size_px: ``(W, H)`` of the ROI image (default 256 x 320 px: 256 x 320 mm at 1 mm, a half image of the
            phantoms with margin; areas outside the image are padded with its minimum).
        image_key, landmarks_key, side_key: keys of the input dict.
        percentiles: intensity percentiles mapped to 0 and 1 (``None``: ``configs/preprocessing.json``).
    """
    size = tuple(int(s) for s in roi_size_px)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"roi_size_px must be (W, H) positive pixels, got {list(roi_size_px)}.")
    lm_key = landmarks_key
    return Compose(
        [
            KneeHalfd(image_key, side_key=side_key, landmarks_key=lm_key, allow_missing_keys=False),
            ResampleToSpacingd(image_key, spacing_mm=spacing_mm, landmarks_key=lm_key),
            SetImageCentred(image_key, center_key="roi_center_px"),
            CropAroundPointd(image_key, center_key="roi_center_px", roi_size_px=size, landmarks_key=lm_key),
            PercentileScaled(image_key, percentiles=percentiles),
        ]
    )


def knee_landmark_transforms(
    spacing_mm: float = 0.3,
    crop_mm: float = 140.0,
    image_key: Hashable = "image",
    landmarks_key: Hashable = "landmarks",
    side_key: Hashable = "side",
    center_key: Hashable = "knee_center_px",
    flip_left: bool = True,
    percentiles: Sequence[float] | None = None,
) -> Compose:
    """Landmark-stage chain: whole image → ``spacing_mm`` → ``crop_mm`` square around a centre → scaled → flip.

    Input dict: ``image_key`` ``MetaTensor`` ``(1, W, H)`` of the whole radiograph; ``center_key`` ``(x, y)`` in
    *original* pixels (the true tibial centre, landmark 4, for training; the ROI model's prediction at inference);
    ``landmarks_key`` ``(16, 2)`` original pixels (optional); ``side_key``.

    Output: ``image`` ``(1, S, S)`` with ``S = round(crop_mm / spacing_mm)`` (paper: 467 px), float32; landmarks in
    crop pixels (left knees flipped, so every crop has the right-knee orientation, lateral on the crop's left);
    ``"px_affine"`` original → crop pixels; ``"flipped"``; ``"pixel_spacing_mm"``; ``"crop_offset_xy"``.

    Args:
        spacing_mm: landmark-stage pixel spacing (paper: 0.3 mm).
        crop_mm: side of the square crop (paper: 140 mm).
        image_key, landmarks_key, side_key, center_key: keys of the input dict.
        flip_left: flip left knees (paper: yes).
        percentiles: intensity percentiles mapped to 0 and 1.
    """
    size = crop_size_px(crop_mm, spacing_mm)
    lm_key = landmarks_key
    steps: list[Any] = [
        ResampleToSpacingd(image_key, spacing_mm=spacing_mm, landmarks_key=lm_key),
        MapPointd(center_key, output_keys=["crop_center_px"]),
        CropAroundPointd(image_key, center_key="crop_center_px", roi_size_px=size, landmarks_key=lm_key),
        PercentileScaled(image_key, percentiles=percentiles),
    ]
    if flip_left:
        steps.append(FlipLeftHipd(image_key, side_key=side_key, landmarks_key=lm_key))
    return Compose(steps)
