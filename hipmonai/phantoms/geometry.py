"""Plane geometry for the phantoms: interpolating curves, rigid poses and an anti-aliased polygon rasteriser.

Points are ``(N, 2)`` float arrays of ``(x, y)``. Geometry is built in millimetres; the rasteriser works in pixel
coordinates where pixel ``(column c, row r)`` has its centre at ``(x, y) = (c, r)`` (the convention of
docs/conventions.md: ``mm = px * spacing``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def catmull_rom(
    points: np.ndarray, samples_per_segment: int = 12, closed: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Centripetal Catmull-Rom curve through ``points`` (it passes through every control point).

    Args:
        points: ``(N, 2)`` control points, ``N >= 2``.
        samples_per_segment: samples between consecutive control points.
        closed: join the last point back to the first.

    Returns:
        ``(curve, control_index)``: the dense ``(M, 2)`` polyline and, for each control point, its row in
        ``curve`` (``curve[control_index[i]] == points[i]`` exactly).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise ValueError(f"points must have shape (N>=2, 2), got {pts.shape}.")
    if samples_per_segment < 1:
        raise ValueError(f"samples_per_segment must be >= 1, got {samples_per_segment}.")
    if closed:
        ext = np.concatenate([pts[-1:], pts, pts[:2]])
    else:
        ext = np.concatenate([2 * pts[:1] - pts[1:2], pts, 2 * pts[-1:] - pts[-2:-1]])
    n_seg = len(pts) if closed else len(pts) - 1
    p0, p1, p2, p3 = (ext[i : i + n_seg] for i in range(4))

    def knot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(np.linalg.norm(b - a, axis=1), 1e-9) ** 0.5

    t0 = np.zeros(n_seg)
    t1 = t0 + knot(p0, p1)
    t2 = t1 + knot(p1, p2)
    t3 = t2 + knot(p2, p3)
    frac = np.arange(samples_per_segment) / samples_per_segment
    t = t1[:, None] + (t2 - t1)[:, None] * frac[None, :]

    def lerp(pa: np.ndarray, pb: np.ndarray, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
        w = ((t - ta[:, None]) / (tb - ta)[:, None])[..., None]
        pa = pa[:, None, :] if pa.ndim == 2 else pa
        pb = pb[:, None, :] if pb.ndim == 2 else pb
        return pa * (1 - w) + pb * w

    a1, a2, a3 = lerp(p0, p1, t0, t1), lerp(p1, p2, t1, t2), lerp(p2, p3, t2, t3)
    b1, b2 = lerp(a1, a2, t0, t2), lerp(a2, a3, t1, t3)
    curve = lerp(b1, b2, t1, t2).reshape(-1, 2)
    control_index = np.arange(len(pts)) * samples_per_segment
    if not closed:
        curve = np.concatenate([curve, pts[-1:]])
    curve[control_index] = pts  # exact, not merely within rounding
    return curve, control_index


def arc(centre: np.ndarray, radius: float | np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    """Points ``centre + radius * (cos a, -sin a)``: angle 0 along +x, 90 degrees towards image top (-y).

    ``radius`` may be an array matching ``angles_deg`` (a curve of varying radius).
    """
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    r = np.asarray(radius, dtype=np.float64)
    return np.asarray(centre, dtype=np.float64) + np.stack([r * np.cos(a), -r * np.sin(a)], axis=-1)


def unit(v: np.ndarray) -> np.ndarray:
    """Unit vector(s) along the last axis."""
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def rotate(v: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate vectors by ``angle_deg`` (positive: from +x towards +y, i.e. clockwise on screen)."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    v = np.asarray(v, dtype=np.float64)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def polyline_normals(curve: np.ndarray) -> np.ndarray:
    """Unit normals of a polyline, all on the same side (the tangent turned by 90 degrees)."""
    tangent = np.gradient(np.asarray(curve, dtype=np.float64), axis=0)
    return unit(np.stack([tangent[:, 1], -tangent[:, 0]], axis=1))


def outward_normals(curve: np.ndarray, inside_point: np.ndarray) -> np.ndarray:
    """Unit normals of a polyline, oriented away from ``inside_point`` (a point on the bone side)."""
    normal = polyline_normals(curve)
    flip = np.sum(normal * (curve - inside_point), axis=1) < 0
    normal[flip] *= -1
    return normal


@dataclass(frozen=True)
class Pose:
    """Rigid in-plane pose: ``p_image = R(angle) @ p + offset`` (mm)."""

    angle_deg: float
    offset_mm: tuple[float, float]

    def apply(self, points_mm: np.ndarray) -> np.ndarray:
        return rotate(points_mm, self.angle_deg) + np.asarray(self.offset_mm)

    def to_frame(self, x_mm: np.ndarray, y_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`apply` for broadcastable image coordinate arrays ``x_mm``, ``y_mm``."""
        a = np.deg2rad(-self.angle_deg)
        dx, dy = x_mm - self.offset_mm[0], y_mm - self.offset_mm[1]
        return np.cos(a) * dx - np.sin(a) * dy, np.sin(a) * dx + np.cos(a) * dy


def resample_polyline(curve: np.ndarray, step: float) -> np.ndarray:
    """Resample an open polyline at (about) equal arc-length ``step`` (same unit as the points)."""
    curve = np.asarray(curve, dtype=np.float64)
    seg = np.linalg.norm(np.diff(curve, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.ceil(s[-1] / step)), 1) + 1
    target = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(target, s, curve[:, 0]), np.interp(target, s, curve[:, 1])], axis=1)


@dataclass(frozen=True)
class Patch:
    """A rectangular window of an image: rows ``r0:r1``, columns ``c0:c1`` and the values there."""

    r0: int
    r1: int
    c0: int
    c1: int
    values: np.ndarray

    @property
    def window(self) -> tuple[slice, slice]:
        return slice(self.r0, self.r1), slice(self.c0, self.c1)


def polygon_window(rings_px: list[np.ndarray], shape_hw: tuple[int, int], pad: int) -> tuple[int, int, int, int] | None:
    """Bounding window ``(r0, r1, c0, c1)`` of polygon rings plus ``pad`` pixels, clipped to the image."""
    allpts = np.concatenate(rings_px)
    h, w = shape_hw
    c0 = max(int(np.floor(allpts[:, 0].min())) - pad, 0)
    c1 = min(int(np.ceil(allpts[:, 0].max())) + pad + 1, w)
    r0 = max(int(np.floor(allpts[:, 1].min())) - pad, 0)
    r1 = min(int(np.ceil(allpts[:, 1].max())) + pad + 1, h)
    if c0 >= c1 or r0 >= r1:
        return None
    return r0, r1, c0, c1


def rasterise(rings_px: list[np.ndarray], window: tuple[int, int, int, int], subsamples: int = 4) -> np.ndarray:
    """Anti-aliased coverage of a polygon (outer ring plus optional hole rings) inside an image window.

    Non-zero winding per ring; the first ring is the outline, further rings are holes. Horizontal coverage is
    exact per crossing, vertical coverage is averaged over ``subsamples`` sub-rows per pixel row.

    Args:
        rings_px: closed rings, each ``(N, 2)`` ``(x, y)`` in pixels (the closing edge is implied).
        window: ``(r0, r1, c0, c1)`` rows and columns of the image to fill.
        subsamples: sub-rows per pixel row.

    Returns:
        ``(r1 - r0, c1 - c0)`` float32 coverage in ``[0, 1]``.
    """
    r0, r1, c0, c1 = window
    out = None
    for k, ring in enumerate(rings_px):
        cov = _ring_coverage(np.asarray(ring, dtype=np.float64), r0, r1, c0, c1, subsamples)
        out = cov if k == 0 else out * (1.0 - cov)
    return out.astype(np.float32)


def _ring_coverage(ring: np.ndarray, r0: int, r1: int, c0: int, c1: int, sub: int) -> np.ndarray:
    n_rows, n_cols = r1 - r0, c1 - c0
    x0, y0 = ring[:, 0] - c0, ring[:, 1] - r0
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    # sub-row k (0..n_rows*sub-1) samples y = (k + 0.5) / sub - 0.5
    ya, yb = np.minimum(y0, y1), np.maximum(y0, y1)
    k_lo = np.clip(np.ceil((ya + 0.5) * sub - 0.5), 0, n_rows * sub).astype(np.int64)
    k_hi = np.clip(np.ceil((yb + 0.5) * sub - 0.5), 0, n_rows * sub).astype(np.int64)
    counts = k_hi - k_lo
    keep = counts > 0
    if not np.any(keep):
        return np.zeros((n_rows, n_cols), dtype=np.float64)
    edge = np.repeat(np.nonzero(keep)[0], counts[keep])
    start = np.repeat(k_lo[keep], counts[keep])
    offsets = np.arange(len(edge)) - np.repeat(np.cumsum(counts[keep]) - counts[keep], counts[keep])
    k = start + offsets
    y = (k + 0.5) / sub - 0.5
    t = (y - y0[edge]) / (y1[edge] - y0[edge])
    x = x0[edge] + t * (x1[edge] - x0[edge])
    sign = np.where(y1[edge] > y0[edge], 1.0, -1.0)
    col = np.floor(x + 0.5)
    frac = col + 0.5 - x
    before = col < 0
    frac[before], col[before] = 1.0, -1
    col = np.minimum(col, n_cols).astype(np.int64)
    width = n_cols + 3  # column -1 .. n_cols + 1, so idx + 1 never spills into the next sub-row
    idx = k * width + col + 1
    size = n_rows * sub * width
    diff = np.bincount(idx, weights=sign * frac, minlength=size) + np.bincount(
        idx + 1, weights=sign * (1.0 - frac), minlength=size
    )
    winding = np.cumsum(diff.reshape(n_rows * sub, width), axis=1)[:, 1 : n_cols + 1]
    cov = np.clip(np.abs(winding), 0.0, 1.0)
    return cov.reshape(n_rows, sub, n_cols).mean(axis=1)


def inside_distance_mm(coverage: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Distance (mm) from each covered pixel to the outline (0 outside), from the Euclidean distance transform."""
    return ndimage.distance_transform_edt(coverage > 0.5).astype(np.float32) * np.float32(spacing_mm)


def distance_to_points(points: np.ndarray, query: np.ndarray) -> np.ndarray:
    """For each ``(M, 2)`` query point, the distance to the nearest of ``(N, 2)`` points (same unit)."""
    d = np.linalg.norm(np.asarray(query)[:, None, :] - np.asarray(points)[None, :, :], axis=2)
    return d.min(axis=1)
