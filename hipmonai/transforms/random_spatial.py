"""Random in-plane rotation that moves landmarks with the image (training augmentation of Chen et al. section 3.2).

Axes and points follow docs/conventions.md: images are channel-first ``(C, W, H)`` (spatial axis 0 = x = columns,
axis 1 = y = rows); landmarks are ``(N, 2)`` ``(x, y)`` pixel coordinates of the image they travel with, ``NaN`` =
missing. The image is rotated about its centre ``c = ((W - 1) / 2, (H - 1) / 2)`` keeping its size, which maps pixel
``p`` to ``R(angle) (p - c) + c`` with ``R = [[cos, sin], [-sin, cos]]`` (the matrix :meth:`RandRotate2D.points_affine`
returns); the dictionary twin moves the landmarks through that matrix with
:func:`~hipmonai.transforms.spatial.move_landmarks`, so image, masks and points share one draw. The image is resampled
with one ``affine_grid`` + ``grid_sample`` (``align_corners=False``) whose sampling matrix is derived from that same
point matrix (:func:`rotation_sampling_theta`): the grid of MONAI's ``Rotate(angle, keep_size=True)``, without its
per-call ``MetaTensor`` tracing.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor, get_track_meta
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import GridSampleMode, GridSamplePadMode, TransformBackends, ensure_tuple_rep, look_up_option

from hipmonai.errors import InputError
from hipmonai.transforms.spatial import PX_AFFINE_KEY, move_landmarks

__all__ = ["RandRotate2D", "RandRotate2Dd", "rotation_points_affine", "rotation_sampling_theta"]


def _mode(mode: str) -> str:
    """``mode`` checked against ``grid_sample``'s interpolations (``ValueError`` naming it otherwise)."""
    return look_up_option(mode, GridSampleMode).value


def _padding_mode(padding_mode: str) -> str:
    """``padding_mode`` checked against ``grid_sample``'s padding modes (``ValueError`` naming it otherwise)."""
    return look_up_option(padding_mode, GridSamplePadMode).value


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


def rotation_sampling_theta(points_affine: np.ndarray, spatial_shape: Sequence[int]) -> np.ndarray:
    """``2 x 3`` ``affine_grid`` matrix (``align_corners=False``) that resamples a ``(W, H)`` image by a pixel map.

    ``points_affine`` maps input pixels to output pixels (``3 x 3``, ``(x, y)``, as :func:`rotation_points_affine`);
    the sampling grid needs its inverse (output pixel -> input pixel) in ``grid_sample``'s normalised coordinates,
    ``n = (2 p + 1) / size - 1`` per axis, with the axes reversed (``grid_sample`` sees ``(N, C, W, H)`` as
    ``(N, C, rows, cols)``: its first grid coordinate indexes H). This is the matrix MONAI's
    ``AffineTransform(normalized=False, reverse_indexing=True, align_corners=False)`` builds for ``Rotate``, here in
    float64 (MONAI: float32).

    Args:
        points_affine: ``3 x 3`` input-to-output pixel matrix.
        spatial_shape: ``(W, H)`` of both the input and the output.

    Returns:
        ``(2, 3)`` float64 ``theta`` for :func:`torch.nn.functional.affine_grid`.
    """
    size = np.asarray([float(s) for s in spatial_shape])
    if size.shape != (2,) or size.min() < 1:
        raise ValueError(f"spatial_shape must be two positive sizes (W, H), got {tuple(spatial_shape)}.")
    norm = np.diag([*(2.0 / size), 1.0])
    norm[:2, 2] = 1.0 / size - 1.0
    theta = norm @ np.linalg.inv(np.asarray(points_affine, dtype=np.float64)) @ np.linalg.inv(norm)
    return theta[[1, 0]][:, [1, 0, 2]]


def _sampling_grid(theta: np.ndarray, spatial_shape: Sequence[int], device: torch.device) -> torch.Tensor:
    """``(1, W, H, 2)`` float32 ``grid_sample`` grid of ``theta``: ``torch.nn.functional.affine_grid(theta,
    (1, C, W, H), align_corners=False)`` to float32 rounding, as two broadcast sums over the pixel-centre axes
    ``n = (2 i + 1) / size - 1`` (``affine_grid`` builds and multiplies a ``(W H, 3)`` base grid: several times
    slower on the CPU)."""
    width, height = (int(s) for s in spatial_shape)
    rows = (torch.arange(width, dtype=torch.float32, device=device) * 2.0 + 1.0) / width - 1.0  # axis 0 (x)
    cols = (torch.arange(height, dtype=torch.float32, device=device) * 2.0 + 1.0) / height - 1.0  # axis 1 (y)
    grid = torch.empty(1, width, height, 2, dtype=torch.float32, device=device)
    for k in range(2):  # grid[..., 0] indexes H (cols), grid[..., 1] indexes W (rows)
        torch.add(
            (cols * float(theta[k, 0]))[None, :],
            (rows * float(theta[k, 1]) + float(theta[k, 2]))[:, None],
            out=grid[0, :, :, k],
        )
    return grid


class RandRotate2D(RandomizableTransform):
    """Rotate a ``(C, W, H)`` image by an angle drawn uniformly from ``[-max_angle_deg, max_angle_deg]``.

    Args:
        max_angle_deg: largest absolute rotation in degrees (Chen et al. do not state its range; the bundles use
            10 degrees, the range of Ye et al. 2026).
        prob: probability of rotating at all.
        mode: interpolation (``"bilinear"`` for images, ``"nearest"`` for masks, ``"bicubic"``).
        padding_mode: how the corners that rotate in are filled (``"border"``, ``"zeros"``, ``"reflection"``).

    The image is resampled in float32 with one ``torch.nn.functional.affine_grid`` + ``grid_sample`` on a plain tensor
    (:func:`rotation_sampling_theta`; the grid of MONAI's ``Rotate(angle_rad, keep_size=True)`` to float rounding).

    Example::

        >>> rotate = RandRotate2D(max_angle_deg=10, prob=1.0).set_random_state(0)
        >>> out = rotate(np.zeros((1, 64, 48), np.float32))
        >>> tuple(out.shape), out.dtype, rotate.points_affine((64, 48)).shape
        ((1, 64, 48), torch.float32, (3, 3))
    """

    backend = [TransformBackends.TORCH]

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
        self.mode = _mode(mode)
        self.padding_mode = _padding_mode(padding_mode)
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
            The rotated image, same shape, float32 (``"nearest"`` keeps the input dtype, so masks stay integer): a
            ``MetaTensor`` (its meta copied, its affine composed with the rotation) while MONAI tracks meta data
            (``monai.data.get_track_meta()``, the default), otherwise a plain tensor. ``img`` itself when the draw is
            no rotation. Unlike MONAI's ``Rotate`` no entry is added to ``applied_operations`` (this transform is not
            invertible).
        """
        if img.ndim != 3:
            raise InputError(f"RandRotate2D needs a channel-first 2D image (C, W, H), got shape {tuple(img.shape)}")
        if randomize:
            self.randomize()
        if not self._do_transform or self.angle_rad == 0.0:
            return img
        mode = self.mode if mode is None else _mode(mode)
        padding_mode = self.padding_mode if padding_mode is None else _padding_mode(padding_mode)
        data = img.as_tensor() if isinstance(img, MetaTensor) else torch.as_tensor(img)
        spatial_shape = tuple(int(s) for s in data.shape[1:])
        points = self.points_affine(spatial_shape)
        grid = _sampling_grid(rotation_sampling_theta(points, spatial_shape), spatial_shape, data.device)
        out = F.grid_sample(
            data[None].to(torch.float32), grid, mode=mode, padding_mode=padding_mode, align_corners=False
        )[0]
        if mode == GridSampleMode.NEAREST:
            out = out.to(data.dtype)
        if not get_track_meta():
            return out
        meta = dict(img.meta) if isinstance(img, MetaTensor) else {}
        affine = img.affine if isinstance(img, MetaTensor) else MetaTensor.get_default_affine()
        rank = affine.shape[-1]
        step = np.eye(rank)  # the rotation as an output -> input pixel map of the affine's rank
        inverse = np.linalg.inv(points)
        step[:2, :2], step[:2, rank - 1] = inverse[:2, :2], inverse[:2, 2]
        meta["affine"] = affine.to(torch.float64) @ torch.as_tensor(step, dtype=torch.float64, device=affine.device)
        operations = list(img.applied_operations) if isinstance(img, MetaTensor) else None
        return MetaTensor(out, meta=meta, applied_operations=operations)


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
        self.mode = tuple(_mode(m) for m in ensure_tuple_rep(mode, len(self.keys)))
        self.padding_mode = tuple(_padding_mode(p) for p in ensure_tuple_rep(padding_mode, len(self.keys)))
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
            raise InputError(
                f"{type(self).__name__}: keys {[k for k, _, _ in present]} differ in spatial shape {sorted(shapes)}"
            )
        self.randomize()
        if self.rotator.angle_rad != 0.0:
            for key, mode, padding_mode in present:
                d[key] = self.rotator(d[key], randomize=False, mode=mode, padding_mode=padding_mode)
        # also without a rotation, so every item of a batch carries the same keys
        move_landmarks(d, self.landmarks_key, self.rotator.points_affine(shapes.pop()), self.px_affine_key)
        return d
