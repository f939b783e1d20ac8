"""Point geometry shared by the landmark-aware transforms: 2D affines on points, the Taubin circle fit and the femoral
head circles of a bilateral hip point list.

Points are ``(N, 2)`` arrays of ``(x, y)`` pixel coordinates, i.e. the voxel index ``(i, j)`` of the
channel-first ``(C, W, H)`` image they travel with (docs/conventions.md). A missing point is a row with a
``NaN``. Every spatial transform in :mod:`hipmonai.transforms` moves points through one function,
:func:`apply_affine_to_points`, with a ``3 x 3`` homogeneous pixel-to-pixel matrix, so a later random
transform (e.g. a rotation) only has to provide its matrix to move landmarks with the image.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor
from monai.utils import convert_data_type
from monai.utils.type_conversion import dtype_torch_to_numpy

from hipmonai.errors import InputError
from hipmonai.io.grades import SIDES
from hipmonai.io.landmark_groups import load_landmark_groups

__all__ = [
    "apply_affine_to_points",
    "as_points",
    "fit_circle_taubin",
    "fit_head_circle",
    "fit_head_circles",
    "head_circle_residual",
    "px_affine_between",
    "translation_2d",
]


def as_points(points: NdarrayOrTensor, name: str = "points") -> np.ndarray:
    """Validate ``points`` and return them as a float64 numpy array.

    Args:
        points: ``(N, 2)`` array or tensor of ``(x, y)``; ``NaN`` marks a missing point.
        name: how the error message names the input.

    Returns:
        ``(N, 2)`` float64 array (a copy).

    Raises:
        InputError: ``points`` is not ``(N, 2)``, or holds an infinite value.
    """
    if isinstance(points, MetaTensor):
        points = points.as_tensor()
    array = np.array(convert_data_type(points, np.ndarray)[0], dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise InputError(f"{name} must have shape (N, 2) of (x, y), got {tuple(array.shape)}")
    if np.isinf(array).any():
        raise InputError(f"{name} holds infinite coordinates (use NaN for a missing point)")
    return array


def apply_affine_to_points(
    points: NdarrayOrTensor, affine: NdarrayOrTensor, dtype: np.dtype | type | None = None
) -> NdarrayOrTensor:
    """Map 2D points through a homogeneous affine: ``[x', y', 1]^T = affine @ [x, y, 1]^T``.

    Args:
        points: ``(N, 2)`` of ``(x, y)``; a row with any ``NaN`` is a missing point and comes back all ``NaN``.
        affine: ``(3, 3)`` homogeneous matrix (last row ``[0, 0, 1]``), e.g. from :func:`px_affine_between`.
        dtype: numpy float dtype of the result; default: the input's float dtype (float32 for integer input).

    Returns:
        ``(N, 2)`` mapped points, of the input's type (numpy array or torch tensor on the input's device; a
        ``MetaTensor`` comes back as a plain tensor). The maths is done in float64.

    Raises:
        InputError: ``points`` is not ``(N, 2)`` or ``affine`` is not a ``3 x 3`` affine matrix.
    """
    pts = as_points(points)
    mat = np.asarray(convert_data_type(affine, np.ndarray)[0], dtype=np.float64)
    if mat.shape != (3, 3) or not np.allclose(mat[2], (0.0, 0.0, 1.0)) or not np.isfinite(mat).all():
        raise InputError(f"a 2D point affine must be a finite 3x3 matrix with last row [0, 0, 1], got {mat.tolist()}")
    missing = np.isnan(pts).any(axis=1)
    out = pts @ mat[:2, :2].T + mat[:2, 2]
    out[missing] = np.nan
    if isinstance(points, torch.Tensor):
        torch_floats = (torch.float64, torch.float32, torch.float16)
        src_dtype = dtype_torch_to_numpy(points.dtype) if points.dtype in torch_floats else np.float32
        return torch.from_numpy(out.astype(dtype or src_dtype)).to(points.device)
    src_dtype = np.asarray(points).dtype
    return out.astype(dtype or (src_dtype if np.issubdtype(src_dtype, np.floating) else np.float32))


def px_affine_between(src_affine: NdarrayOrTensor, dst_affine: NdarrayOrTensor) -> np.ndarray:
    """The ``3 x 3`` pixel-to-pixel matrix between two images that share a world (mm) frame.

    A pixel ``p`` of the source image lies at ``src_affine @ p`` mm, which is pixel
    ``inv(dst_affine) @ src_affine @ p`` of the destination image; this is how points follow any MONAI
    spatial transform that updates the ``MetaTensor`` affine (``Spacing``, crops, pads, flips, rotations).

    Args:
        src_affine: ``(3, 3)`` or ``(4, 4)`` voxel-to-mm affine of the source image (2D image; a ``4 x 4``
            affine must not mix the third axis into x and y).
        dst_affine: the same for the destination image.

    Returns:
        ``(3, 3)`` float64 matrix mapping source ``(x, y, 1)`` to destination ``(x, y, 1)`` pixel coordinates.

    Raises:
        InputError: an affine has the wrong shape or is singular.
    """
    mats = []
    for name, affine in (("src_affine", src_affine), ("dst_affine", dst_affine)):
        mat = np.asarray(convert_data_type(affine, np.ndarray)[0], dtype=np.float64)
        if mat.shape == (4, 4):
            if np.abs(mat[:2, 2]).max() > 1e-9 or np.abs(mat[2, :2]).max() > 1e-9:
                raise InputError(f"{name} couples the third axis into x/y, not a 2D image affine: {mat.tolist()}")
            mat = mat[np.ix_((0, 1, 3), (0, 1, 3))]
        if mat.shape != (3, 3):
            raise InputError(f"{name} must be 3x3 or 4x4, got shape {mat.shape}")
        mats.append(mat)
    try:
        return np.linalg.solve(mats[1], mats[0])
    except np.linalg.LinAlgError as err:
        raise InputError(f"dst_affine is singular: {mats[1].tolist()}") from err


def translation_2d(shift_xy: np.ndarray | tuple[float, float]) -> np.ndarray:
    """``3 x 3`` matrix adding ``shift_xy`` = ``(dx, dy)`` to every point."""
    mat = np.eye(3)
    mat[:2, 2] = np.asarray(shift_xy, dtype=np.float64)
    return mat


def fit_circle_taubin(points: NdarrayOrTensor) -> tuple[float, float, float]:
    """Least-squares circle through 2D points, Taubin's algebraic fit (SVD form).

    Minimises the algebraic distance ``sum((x^2 + y^2 + D x + E y + F)^2)`` normalised by the mean squared
    gradient (Taubin 1991, "Estimation of planar curves, surfaces and nonplanar space curves defined by
    implicit equations", IEEE TPAMI 13(11)); SVD formulation of Chernov, "Circular and linear regression"
    (2010). Unlike the Kasa fit it is nearly unbiased for points on a short arc such as the femoral head
    contour, and it is exact for points on a circle.

    Args:
        points: ``(N, 2)`` of ``(x, y)`` in any unit; rows with ``NaN`` are ignored.

    Returns:
        ``(cx, cy, r)``: centre and radius in the unit of ``points``.

    Raises:
        InputError: fewer than 3 valid points, or the valid points are (nearly) collinear / coincident.
    """
    pts = as_points(points)
    pts = pts[~np.isnan(pts).any(axis=1)]
    if len(pts) < 3:
        raise InputError(f"a circle fit needs at least 3 valid (non-NaN) points, got {len(pts)}")
    centroid = pts.mean(axis=0)
    uv = pts - centroid
    z = (uv**2).sum(axis=1)
    z_mean = z.mean()
    if z_mean <= 0:
        raise InputError(f"cannot fit a circle: all {len(pts)} points coincide at {centroid.tolist()}")
    z0 = (z - z_mean) / (2.0 * np.sqrt(z_mean))
    _, _, vt = np.linalg.svd(np.column_stack((z0, uv)), full_matrices=False)
    a = vt[-1].copy()
    a[0] /= 2.0 * np.sqrt(z_mean)
    coeffs = np.append(a, -z_mean * a[0])  # A (x^2 + y^2) + B x + C y + D = 0 in centred coordinates
    scale = np.abs(uv).max()
    if abs(coeffs[0]) * scale < 1e-9 * np.hypot(coeffs[1], coeffs[2]):
        raise InputError(f"cannot fit a circle: the {len(pts)} points are collinear")
    cx, cy = -coeffs[1:3] / (2.0 * coeffs[0]) + centroid
    radius = np.sqrt(coeffs[1] ** 2 + coeffs[2] ** 2 - 4.0 * coeffs[0] * coeffs[3]) / (2.0 * abs(coeffs[0]))
    return float(cx), float(cy), float(radius)


def fit_head_circles(points_mm: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Femoral head circles ``{side: (centre_x_mm, centre_y_mm, radius_mm)}`` from a bilateral 160-point list.

    Uses the ``femoral_head`` curve of ``configs/landmark_groups.json`` and the Taubin fit of preprocessing; a side
    with fewer than three finite head points is left out.

    Raises:
        InputError: a side's head points are collinear or coincide.
    """
    circles = {side: fit_head_circle(points_mm, side) for side in SIDES}
    return {side: circle for side, circle in circles.items() if circle is not None}


def _head_points(points_mm: np.ndarray, side: str) -> np.ndarray:
    """The ``femoral_head`` curve points of one side of a bilateral ``(160, 2)`` list (NaN rows kept)."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}.")
    groups = load_landmark_groups("hip")
    offset = SIDES.index(side) * groups.n_points
    return np.asarray(points_mm, dtype=np.float64)[[offset + i for i in groups.curves["femoral_head"]]]


def head_circle_residual(points_mm: np.ndarray, side: str, circle: tuple[float, float, float]) -> float:
    """RMS distance of one side's finite femoral head points from ``circle`` ``(cx, cy, r)`` (mm), over ``r``."""
    pts = _head_points(points_mm, side)
    pts = pts[np.isfinite(pts).all(axis=1)]
    cx, cy, radius = circle
    return float(np.sqrt(np.mean((np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) - radius) ** 2)) / radius)


def fit_head_circle(points_mm: np.ndarray, side: str) -> tuple[float, float, float] | None:
    """One side's femoral head circle ``(centre_x_mm, centre_y_mm, radius_mm)`` from a bilateral ``(160, 2)`` list
    in mm (see :func:`fit_head_circles`); ``None`` when fewer than three of its head points are finite.

    Raises:
        ValueError: ``side`` is not ``"right"`` or ``"left"``.
        InputError: the head points are collinear or coincide.
    """
    pts = _head_points(points_mm, side)
    if np.isfinite(pts).all(axis=1).sum() < 3:
        return None
    cx, cy, radius = fit_circle_taubin(pts)
    return float(cx), float(cy), float(radius)
