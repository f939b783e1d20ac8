"""Label augmentation of Suh et al. 2023: landmark pixels dilated into 4-connected regions.

Landmark ``l`` at pixel ``p_l = round(x_l, y_l)`` becomes the binary map of the pixels ``q`` with
``|q_x - p_x| + |q_y - p_y| <= k``: the landmark pixel dilated ``k`` times with the 4-connected (cross) structuring
element, clipped at the image border. Inside the image the region holds ``2k² + 2k + 1`` pixels
(:func:`dilated_pixel_count`). A missing landmark (``NaN``) or one whose pixel lies outside the image gives an
all-zero channel. The curriculum lowers ``k`` during training (:class:`hipmonai.handlers.LabelCurriculum`).

Images are ``(C, W, H)`` (x along the first spatial axis), landmarks ``(L, 2)`` ``(x, y)`` pixels
(docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

__all__ = [
    "DilatedLandmarkLabels",
    "DilatedLandmarkLabelsd",
    "MaskLandmarksOutside",
    "MaskLandmarksOutsided",
    "check_dilation",
    "dilated_landmark_labels",
    "dilated_pixel_count",
]


def check_dilation(dilation: Any) -> int:
    """``dilation`` as an int; ``ValueError`` naming it unless it is a non-negative integer."""
    if isinstance(dilation, bool) or int(dilation) != dilation or dilation < 0:
        raise ValueError(f"dilation must be a non-negative integer, got {dilation!r}.")
    return int(dilation)


def dilated_pixel_count(k: int) -> int:
    """Pixels of one landmark dilated ``k`` times (4-connected) away from the border: ``2k² + 2k + 1``."""
    k = check_dilation(k)
    return 2 * k * k + 2 * k + 1


def dilated_landmark_labels(points: Any, spatial_size: Sequence[int], dilation: int) -> torch.Tensor:
    """Binary label maps of landmarks dilated ``dilation`` times (module docstring).

    Args:
        points: ``(B, L, 2)`` or ``(L, 2)`` ``(x, y)`` pixel coordinates, ``NaN`` for a missing landmark.
        spatial_size: ``(W, H)`` of the maps.
        dilation: ``k >= 0``; 0 gives single pixels.

    Returns:
        ``(B, L, W, H)`` (or ``(L, W, H)``) float32 maps of 0/1 on the points' device.
    """
    k = check_dilation(dilation)
    pts = torch.as_tensor(points)
    if isinstance(pts, torch.Tensor) and hasattr(pts, "as_tensor"):
        pts = pts.as_tensor()
    squeeze = pts.ndim == 2
    if squeeze:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"points must be (B, L, 2) or (L, 2), got {list(pts.shape)}.")
    width, height = (int(s) for s in spatial_size)
    if width < 1 or height < 1:
        raise ValueError(f"spatial_size must be positive (W, H), got {list(spatial_size)}.")
    pts = pts.to(torch.float32)
    pixel = torch.round(torch.nan_to_num(pts, nan=-1e9))
    inside = torch.isfinite(pts).all(-1) & (pixel[..., 0] >= 0) & (pixel[..., 0] <= width - 1)
    inside &= (pixel[..., 1] >= 0) & (pixel[..., 1] <= height - 1)
    xs = torch.arange(width, device=pts.device, dtype=torch.float32)
    ys = torch.arange(height, device=pts.device, dtype=torch.float32)
    dx = (xs[None, None, :] - pixel[..., 0:1]).abs()  # (B, L, W)
    dy = (ys[None, None, :] - pixel[..., 1:2]).abs()  # (B, L, H)
    maps = ((dx[..., :, None] + dy[..., None, :]) <= k) & inside[..., None, None]
    maps = maps.to(torch.float32)
    return maps[0] if squeeze else maps


class DilatedLandmarkLabels(Transform):
    """Array transform: ``(L, 2)`` landmarks -> ``(L, W, H)`` dilated label maps (:func:`dilated_landmark_labels`).

    Args:
        spatial_size: ``(W, H)``; may be given per call instead.
        dilation: ``k``; a mutable attribute, so a :class:`hipmonai.handlers.LabelCurriculum` can lower it.
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, spatial_size: Sequence[int] | None = None, dilation: int = 0) -> None:
        self.spatial_size = None if spatial_size is None else tuple(int(s) for s in spatial_size)
        self.dilation = check_dilation(dilation)

    def __call__(self, points: Any, spatial_size: Sequence[int] | None = None) -> torch.Tensor:
        size = spatial_size if spatial_size is not None else self.spatial_size
        if size is None:
            raise ValueError("DilatedLandmarkLabels needs a spatial_size (W, H).")
        return dilated_landmark_labels(points, size, self.dilation)


class DilatedLandmarkLabelsd(MapTransform):
    """Dictionary twin of :class:`DilatedLandmarkLabels`: ``data[output_key]`` = maps of the size of ``image_key``.

    Args:
        keys: the ``(L, 2)`` landmark key.
        image_key: image whose ``(W, H)`` sizes the maps.
        output_key: where to write the ``(L, W, H)`` maps.
        dilation: ``k`` (mutable attribute).
        allow_missing_keys: skip a missing landmark key.
    """

    def __init__(
        self,
        keys: KeysCollection,
        image_key: Hashable = "image",
        output_key: Hashable = "label_map",
        dilation: int = 0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.image_key, self.output_key = image_key, output_key
        self.renderer = DilatedLandmarkLabels(dilation=dilation)

    @property
    def dilation(self) -> int:
        return self.renderer.dilation

    @dilation.setter
    def dilation(self, value: int) -> None:
        self.renderer.dilation = check_dilation(value)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        size = [int(s) for s in d[self.image_key].shape[1:]]
        for key in self.key_iterator(d):
            d[self.output_key] = self.renderer(np.asarray(d[key], dtype=np.float32), size)
        return d


class MaskLandmarksOutside(Transform):
    """Array transform: ``(L, 2)`` landmarks -> the same with ``NaN`` where the landmark's pixel lies outside a
    ``(W, H)`` image — the landmarks the training step turns into all-zero channels (an absent hip), which a
    landmark error must not score.

    Args:
        spatial_size: ``(W, H)``; may be given per call instead.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, spatial_size: Sequence[int] | None = None) -> None:
        self.spatial_size = spatial_size

    def __call__(self, points: Any, spatial_size: Sequence[int] | None = None) -> Any:
        size = spatial_size if spatial_size is not None else self.spatial_size
        if size is None or len(size) != 2:
            raise ValueError(f"spatial_size must be (W, H), got {size!r}.")
        pts = torch.as_tensor(points).clone().to(torch.float32)
        pixel = torch.round(pts)
        outside = (pixel[..., 0] < 0) | (pixel[..., 0] > size[0] - 1)
        outside |= (pixel[..., 1] < 0) | (pixel[..., 1] > size[1] - 1)
        pts[outside] = float("nan")
        return pts.numpy() if isinstance(points, np.ndarray) else pts


class MaskLandmarksOutsided(MapTransform):
    """Dictionary twin of :class:`MaskLandmarksOutside`: the image size comes from ``image_key`` ``(C, W, H)``.

    Args:
        keys: landmark keys.
        image_key: the image (or heatmaps) whose spatial size bounds the landmarks.
        allow_missing_keys: skip absent keys.
    """

    backend = MaskLandmarksOutside.backend

    def __init__(self, keys: KeysCollection, image_key: Hashable = "image", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.image_key = image_key
        self.masker = MaskLandmarksOutside()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        size = tuple(d[self.image_key].shape[1:])
        for key in self.key_iterator(d):
            d[key] = self.masker(d[key], size)
        return d
