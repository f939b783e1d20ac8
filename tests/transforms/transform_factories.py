"""Factories for the hipmonai.transforms tests: radiograph-like MetaTensors and painted points.

A plain module with a unique name (not conftest.py) so that test files can import it unambiguously.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor


def radiograph(array: np.ndarray, spacing_xy_mm: tuple[float, float]) -> MetaTensor:
    """``(C, W, H)`` array as the MetaTensor ``RadiographReader`` gives: affine ``diag(sx, sy, 1, 1)``."""
    affine = torch.diag(torch.tensor([spacing_xy_mm[0], spacing_xy_mm[1], 1.0, 1.0], dtype=torch.float64))
    return MetaTensor(torch.as_tensor(array), affine=affine)


def pixel_grid_mm(shape_wh: tuple[int, int], spacing_xy_mm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """mm coordinates ``(x, y)`` of every pixel centre of a ``(W, H)`` image, each ``(W, H)``."""
    xx, yy = np.meshgrid(np.arange(shape_wh[0]), np.arange(shape_wh[1]), indexing="ij")
    return xx * spacing_xy_mm[0], yy * spacing_xy_mm[1]


def paint_discs(
    points_mm: np.ndarray, radius_mm: float, shape_wh: tuple[int, int], spacing_xy_mm: tuple[float, float]
) -> np.ndarray:
    """One uint8 channel per point: a disc of ``radius_mm`` (in mm, so elliptic in anisotropic pixels).

    Returns ``(N, W, H)``; a ``NaN`` point gives an empty channel.
    """
    x_mm, y_mm = pixel_grid_mm(shape_wh, spacing_xy_mm)
    out = np.zeros((len(points_mm), *shape_wh), dtype=np.uint8)
    for i, (px, py) in enumerate(points_mm):
        if np.isfinite(px):
            out[i] = (x_mm - px) ** 2 + (y_mm - py) ** 2 <= radius_mm**2
    return out


def centroids_px(channels: np.ndarray) -> np.ndarray:
    """``(N, 2)`` ``(x, y)`` intensity centroid of each channel of ``(N, W, H)``; ``NaN`` for an empty channel."""
    channels = np.asarray(channels, dtype=np.float64)
    xx, yy = np.meshgrid(np.arange(channels.shape[1]), np.arange(channels.shape[2]), indexing="ij")
    mass = channels.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([(channels * xx).sum(axis=(1, 2)) / mass, (channels * yy).sum(axis=(1, 2)) / mass], axis=1)
