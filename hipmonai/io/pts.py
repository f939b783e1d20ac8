"""BoneFinder ``.pts`` landmark files.

A ``.pts`` file reads::

    version: 1
    n_points: 160
    {
    x y
    ...
    }

Points are ``(N, 2)`` arrays in ``(x, y)`` order: x along image columns, y along rows. BoneFinder writes
millimetres when the DICOM had a pixel spacing; :func:`mm_to_px` / :func:`px_to_mm` convert with an
explicit ``spacing_xy_mm`` = (column spacing, row spacing). A hip model has 80 points per hip; a
bilateral file has 160, the right hip (image left) first, then the left hip.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hipmonai.atomic import write_text_atomic
from hipmonai.errors import InputError

POINTS_PER_HIP = 80
POINTS_PER_KNEE = 16


def read_pts(path: str | os.PathLike, n_points: int | None = None) -> np.ndarray:
    """Read a BoneFinder ``.pts`` file.

    Args:
        path: the file.
        n_points: when given, the number of points the file must hold (e.g. 80 or 160).

    Returns:
        ``(N, 2)`` float64 array of ``(x, y)`` in the file's units (mm for BoneFinder on DICOM).

    Raises:
        InputError: the file is malformed, or does not hold ``n_points`` points.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read landmark file ({err.__class__.__name__}: {err})") from err
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    header: dict[str, str] = {}
    try:
        start = lines.index("{")
        end = lines.index("}", start)
    except ValueError as err:
        raise InputError(f"{path}: not a .pts file (no '{{' ... '}}' block)") from err
    for line in lines[:start]:
        key, _, value = line.partition(":")
        header[key.strip().lower()] = value.strip()
    try:
        declared = int(header["n_points"])
    except (KeyError, ValueError) as err:
        raise InputError(f"{path}: missing or invalid 'n_points' header") from err
    rows = lines[start + 1 : end]
    try:
        points = np.array([[float(v) for v in row.split()[:2]] for row in rows], dtype=np.float64).reshape(-1, 2)
    except ValueError as err:
        raise InputError(f"{path}: invalid coordinate line ({err})") from err
    if any(len(row.split()) < 2 for row in rows):
        raise InputError(f"{path}: every point line needs 'x y'")
    if len(points) != declared:
        raise InputError(f"{path}: header says n_points={declared} but the file holds {len(points)} points")
    if n_points is not None and len(points) != n_points:
        raise InputError(f"{path}: expected {n_points} points, found {len(points)}")
    if not np.all(np.isfinite(points)):
        raise InputError(f"{path}: non-finite coordinates")
    return points


def write_pts(path: str | os.PathLike, points: np.ndarray, precision: int = 4) -> Path:
    """Write ``(N, 2)`` ``(x, y)`` points as a BoneFinder ``.pts`` file, atomically.

    Args:
        path: destination; parent folders are created.
        points: ``(N, 2)`` array, in the units the reader expects (mm for DICOM-derived files).
        precision: decimals written.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {points.shape}.")
    if not np.all(np.isfinite(points)):
        raise ValueError("points must be finite to be written as .pts.")
    body = "\n".join(f"{x:.{precision}f} {y:.{precision}f}" for x, y in points)
    return write_text_atomic(path, f"version: 1\nn_points: {len(points)}\n{{\n{body}\n}}\n")


def _spacing(spacing_xy_mm: Sequence[float]) -> np.ndarray:
    from hipmonai.readers.dicom_header import validate_spacing_xy_mm

    return np.asarray(validate_spacing_xy_mm(spacing_xy_mm), dtype=np.float64)


def mm_to_px(points_mm: np.ndarray, spacing_xy_mm: Sequence[float]) -> np.ndarray:
    """``(N, 2)`` points in mm -> pixel coordinates (x / column spacing, y / row spacing)."""
    return np.asarray(points_mm, dtype=np.float64) / _spacing(spacing_xy_mm)


def px_to_mm(points_px: np.ndarray, spacing_xy_mm: Sequence[float]) -> np.ndarray:
    """``(N, 2)`` pixel coordinates -> mm (x * column spacing, y * row spacing)."""
    return np.asarray(points_px, dtype=np.float64) * _spacing(spacing_xy_mm)


def split_bilateral(points: np.ndarray, points_per_side: int = POINTS_PER_HIP) -> dict[str, np.ndarray]:
    """Split a bilateral ``(2 * P, 2)`` array into ``{"right": (P, 2), "left": (P, 2)}`` (right first)."""
    points = np.asarray(points)
    if points.shape != (2 * points_per_side, 2):
        raise InputError(f"expected {2 * points_per_side} points (bilateral), found {len(points)}")
    return {"right": points[:points_per_side], "left": points[points_per_side:]}
