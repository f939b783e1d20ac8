"""Phantom ground-truth lesion masks: one NIfTI file per radiograph holding a ``(W, H)`` uint8 bit mask.

Bit ``side_index * n_targets + target_index`` is set where a lesion of that target lies in that joint
(sides: right = 0, left = 1; targets in :data:`hipmonai.io.landmark_groups.TARGETS` order for hips). The
array is ``(W, H)`` (x first, like the readers' arrays) with affine ``diag(sx, sy, 1, 1)``.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hipmonai.atomic import atomic_path
from hipmonai.errors import InputError

__all__ = ["encode_lesion_bits", "lesion_channels", "read_lesion_mask", "write_lesion_mask"]


def write_lesion_mask(path: str | os.PathLike, bits_wh: np.ndarray, spacing_xy_mm: Sequence[float]) -> Path:
    """Write a ``(W, H)`` uint8 lesion bit mask as NIfTI (affine ``diag(sx, sy, 1, 1)``), gzip without timestamps."""
    import nibabel as nib

    bits_wh = np.asarray(bits_wh)
    if bits_wh.ndim != 2 or bits_wh.dtype != np.uint8:
        raise ValueError(f"bits_wh must be a 2D uint8 (W, H) array, got {bits_wh.dtype} {bits_wh.shape}.")
    sx, sy = (float(v) for v in spacing_xy_mm)
    img = nib.Nifti1Image(bits_wh, np.diag([sx, sy, 1.0, 1.0]))
    img.header.set_xyzt_units("mm")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(gzip.compress(img.to_bytes(), compresslevel=6, mtime=0))
    return path


def read_lesion_mask(path: str | os.PathLike) -> tuple[np.ndarray, tuple[float, float]]:
    """Read a lesion mask: ``((W, H) uint8 bits, (sx, sy) mm)``; :class:`InputError` naming the file if unreadable."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
        bits = np.asarray(img.dataobj, dtype=np.uint8)
    except Exception as err:  # nibabel raises several types for unreadable files
        raise InputError(f"{path}: cannot read lesion mask ({err})") from err
    if bits.ndim != 2:
        raise InputError(f"{path}: lesion mask must be 2D (W, H), got shape {bits.shape}")
    zooms = img.header.get_zooms()
    return bits, (float(zooms[0]), float(zooms[1]))


def lesion_channels(bits_wh: np.ndarray, side_index: int, n_targets: int) -> np.ndarray:
    """One joint's ``(n_targets, W, H)`` uint8 0/1 masks from a ``(W, H)`` bit mask."""
    if side_index < 0 or n_targets < 1 or (side_index + 1) * n_targets > 8:
        raise ValueError(f"side_index {side_index} with {n_targets} targets does not fit 8 bits.")
    shifts = side_index * n_targets + np.arange(n_targets, dtype=np.uint8)
    return ((np.asarray(bits_wh, dtype=np.uint8)[None] >> shifts[:, None, None]) & 1).astype(np.uint8)


def encode_lesion_bits(masks_hw: np.ndarray) -> np.ndarray:
    """``(sides, targets, H, W)`` bool masks -> the ``(W, H)`` uint8 bit mask (inverse of :func:`lesion_channels`)."""
    masks_hw = np.asarray(masks_hw, dtype=bool)
    if masks_hw.ndim != 4 or masks_hw.shape[0] * masks_hw.shape[1] > 8:
        raise ValueError(f"masks must be (sides, targets, H, W) with at most 8 channels, got {masks_hw.shape}.")
    n_targets = masks_hw.shape[1]
    bits = np.zeros(masks_hw.shape[2:], dtype=np.uint8)
    for side, side_masks in enumerate(masks_hw):
        for k, mask in enumerate(side_masks):
            bits[mask] |= np.uint8(1 << (side * n_targets + k))
    return np.ascontiguousarray(bits.T)
