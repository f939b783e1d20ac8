"""Random in-plane rotation that moves landmarks with the image (training augmentation of Chen et al. section 3.2).

Axes and points follow docs/conventions.md: images are channel-first ``(C, W, H)`` (spatial axis 0 = x = columns,
axis 1 = y = rows); landmarks are ``(N, 2)`` ``(x, y)`` pixel coordinates of the image they travel with, ``NaN`` =
missing. The image is rotated with MONAI's :class:`monai.transforms.Rotate` about its centre
``((W - 1) / 2, (H - 1) / 2)`` keeping its size, which maps pixel ``p`` to
``R(angle) (p - c) + c`` with ``R = [[cos, sin], [-sin, cos]]`` (the matrix :meth:`RandRotate2D.points_affine`
returns); the dictionary twin moves the landmarks through that matrix with
:func:`~hipmonai.transforms.spatial.move_landmarks`, so image, masks and points share one draw.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, RandomizableTransform, Rotate
from monai.utils import GridSampleMode, GridSamplePadMode, ensure_tuple_rep

from hipmonai.errors import InputError
from hipmonai.transforms.spatial import PX_AFFINE_KEY, move_landmarks

__all__ = ["RandRotate2D", "RandRotate2Dd", "rotation_points_affine"]


def rotation_points_affine(angle_rad: float, spatial_shape: Sequence[int]) -> np.ndarray:
    """``3 x 3`` pixel matrix of a rotation by ``angle_rad`` about the centre of a ``(W, H)`` image.

    The same map MONAI's ``Rotate(angle_rad, keep_size=True)`` applies to the image: pixel ``(x, y)`` goes to
    ``R (p - c) + c`` with ``c = ((W - 1) / 2, (H - 1) / 2)`` and ``R = [[cos a, sin a], [-sin a, cos a]]``.
    """
    if len(spatial_shape) != 2 or min(int(s) for s in spatial_shape) < 1:
        raise ValueError(f"spatial_shape must be two positive sizes (W, H), got {tuple(spatial_shape)}.")
    cos, sin = math.cos(angle_rad), math.sin(angle_rad)
    centre = (np.asarray(spatial_shape, dtype=np.float64) - 1.0) / 2.0
    rot = np.array([[cos, sin], [-sin, cos]])
    mat = np.eye(3)
    mat[:2, :2] = rot
    mat[:2, 2] = centre - rot @ centre
    return mat


class RandRotate2D(RandomizableTransform):
    """Rotate a ``(C, W, H)`` image by an angle drawn uniformly from ``[-max_angle_deg, max_angle_deg]``.

    Args:
        max_angle_deg: largest absolute rotation in degrees (Chen et al. do not state its range; the bundles use
            10 degrees, the range of Ye et al. 2026).
        prob: probability of rotating at all.
        mode: interpolation (``"bilinear"`` for images, ``"nearest"`` for masks).
        padding_mode: how the corners that rotate in are filled (``"border"``, ``"zeros"``, ``"reflection"``).

    Example::

        >>> rotate = RandRotate2D(max_angle_deg=10, prob=1.0)
        >>> rotate.set_random_state(0)
        >>> out = rotate(np.zeros((1, 64, 48), np.float32))
        >>> out.shape, rotate.points_affine((64, 48)).shape
        ((1, 64, 48), (3, 3))
    """

    backend = Rotate.backend

    def __init__(
        self,
        max_angle_deg: float = 10.0,
        prob: float = 1.0,
        mode: str = GridSampleMode.BILINEAR,
        padding_mode: str = GridSamplePadMode.BORDER,
    ) -> None:
        if not (math.isfinite(max_angle_deg) and 0 <= max_angle_deg <= 180):
            raise ValueError(f"max_angle_deg must be in [0, 180], got {max_angle_deg}.")
        if not 0 <= prob <= 1:
            raise ValueError(f"prob must be in [0, 1], got {prob}.")
        RandomizableTransform.__init__(self, prob)
        self.max_angle_deg = float(max_angle_deg)
        self.mode = mode
        self.padding_mode = padding_mode
        self.angle_rad = 0.0

    def randomize(self, data: Any = None) -> None:
        """Draw whether to rotate and the angle (radians); 0 when not rotating."""
        super().randomize(None)
        angle = self.R.uniform(-self.max_angle_deg, self.max_angle_deg)
        self.angle_rad = math.radians(angle) if self._do_transform else 0.0

    def points_affine(self, spatial_shape: Sequence[int]) -> np.ndarray:
        """``3 x 3`` pixel matrix of the current draw for a ``(W, H)`` image (identity when not rotating)."""
        return rotation_points_affine(self.angle_rad, spatial_shape)

    def __call__(
        self, img: NdarrayOrTensor, randomize: bool = True, mode: str | None = None, padding_mode: str | None = None
    ) -> NdarrayOrTensor:
        """Rotate ``img`` ``(C, W, H)``; ``randomize=False`` reuses the last draw (for several keys of one item).

        Returns:
            The rotated image, same shape (a ``MetaTensor`` has its affine updated; ``"nearest"`` keeps the input
            dtype, so masks stay integer); ``img`` itself when the draw is no rotation.
        """
        if img.ndim != 3:
            raise InputError(f"RandRotate2D needs a channel-first 2D image (C, W, H), got shape {tuple(img.shape)}")
        if randomize:
            self.randomize()
        if not self._do_transform or self.angle_rad == 0.0:
            return img
        mode = self.mode if mode is None else mode
        rotate = Rotate(
            angle=self.angle_rad,
            keep_size=True,
            mode=mode,
            padding_mode=self.padding_mode if padding_mode is None else padding_mode,
            dtype=np.float32,
        )
        out = rotate(img)
        return out.to(img.dtype) if mode == GridSampleMode.NEAREST and hasattr(out, "to") else out


class RandRotate2Dd(RandomizableTransform, MapTransform):
    """Dictionary twin of :class:`RandRotate2D`: one draw rotates every image key and moves the landmarks.

    Args:
        keys: image-like keys ``(C, W, H)`` of one spatial shape (e.g. ``["image", "lesion_mask"]``).
        max_angle_deg, prob: see :class:`RandRotate2D`.
        mode: one interpolation or one per key (e.g. ``["bilinear", "nearest"]`` for image and mask).
        padding_mode: one padding mode or one per key (e.g. ``["border", "zeros"]``).
        landmarks_key: ``(N, 2)`` ``(x, y)`` landmarks moved with the image (``None``: none); stored as float32.
        px_affine_key: where to compose the ``3 x 3`` pixel matrix (``None``: not recorded).
        allow_missing_keys: skip missing image keys.
    """

    backend = RandRotate2D.backend

    def __init__(
        self,
        keys: KeysCollection,
        max_angle_deg: float = 10.0,
        prob: float = 1.0,
        mode: str | Sequence[str] = GridSampleMode.BILINEAR,
        padding_mode: str | Sequence[str] = GridSamplePadMode.BORDER,
        landmarks_key: Hashable | None = "landmarks",
        px_affine_key: Hashable | None = PX_AFFINE_KEY,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.rotator = RandRotate2D(max_angle_deg=max_angle_deg, prob=1.0)
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        self.padding_mode = ensure_tuple_rep(padding_mode, len(self.keys))
        self.landmarks_key = landmarks_key
        self.px_affine_key = px_affine_key

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandRotate2Dd:
        super().set_random_state(seed, state)
        self.rotator.set_random_state(seed, state)
        return self

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if self._do_transform:
            self.rotator.randomize()
        else:
            self.rotator.angle_rad = 0.0

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        present = list(self.key_iterator(d, self.mode, self.padding_mode))
        if not present:
            return d
        shapes = {tuple(d[key].shape[1:]) for key, _, _ in present}
        if len(shapes) != 1:
            raise InputError(f"{type(self).__name__}: keys {[k for k, _, _ in present]} differ in spatial shape "
                             f"{sorted(shapes)}")
        self.randomize()
        if self.rotator.angle_rad != 0.0:
            for key, mode, padding_mode in present:
                d[key] = self.rotator(d[key], randomize=False, mode=mode, padding_mode=padding_mode)
        # also without a rotation, so every item of a batch carries the same keys
        move_landmarks(d, self.landmarks_key, self.rotator.points_affine(shapes.pop()), self.px_affine_key)
        return d
