"""Osteophyte (bony spur) outlines shared by the hip and knee phantoms (millimetres, closed rings)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hipmonai.phantoms.acquisition import AcquisitionParams
from hipmonai.phantoms.geometry import catmull_rom, distance_to_points, outward_normals, rotate, unit


@dataclass(frozen=True)
class PhantomParams(AcquisitionParams):
    """Acquisition plus the osteophyte settings shared by the hip and knee phantoms.

    Attributes:
        conspicuity: spur density factor per target (subtle zones read worse); length = number of targets.
        spur_height_mm: height range of a spur for grades 1, 2, 3.
        spur_density_by_grade: spur density factor for grades 1, 2, 3 (early spurs are fainter as well as smaller).
        zone_radius_mm: every spur vertex lies within this distance of a landmark of its zone.
        normal_variant_rate: fraction of grade-0 zones that carry a small normal contour bump instead (not an
            osteophyte, not in the lesion mask) — the doubtful cases that make grade 0 vs 1 hard, as in real grading.
        normal_variant_height_mm: height range of such a bump.
        normal_variant_density: its density factor (times the zone's conspicuity).
    """

    conspicuity: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    spur_height_mm: tuple[tuple[float, float], ...] = ((1.3, 2.3), (2.8, 4.2), (4.8, 7.0))
    spur_density_by_grade: tuple[float, float, float] = (0.55, 0.8, 1.0)
    zone_radius_mm: float = 12.0
    normal_variant_rate: float = 0.35
    normal_variant_height_mm: tuple[float, float] = (0.6, 1.8)
    normal_variant_density: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.normal_variant_rate <= 1:
            raise ValueError(f"normal_variant_rate must lie in [0, 1], got {self.normal_variant_rate}.")
        lo, hi = self.normal_variant_height_mm
        if not 0 < lo <= hi or self.normal_variant_density < 0:
            raise ValueError(
                f"normal_variant_height_mm must be a positive (low, high) range and normal_variant_density >= 0, "
                f"got {self.normal_variant_height_mm} and {self.normal_variant_density}."
            )
        if len(self.conspicuity) != 4 or min(self.conspicuity) <= 0:
            raise ValueError(f"conspicuity needs 4 positive values (one per target), got {self.conspicuity}.")
        if len(self.spur_height_mm) != 3 or any(not 0 < lo <= hi for lo, hi in self.spur_height_mm):
            raise ValueError(
                f"spur_height_mm needs three (low, high) ranges for grades 1-3, got {self.spur_height_mm}."
            )
        if len(self.spur_density_by_grade) != 3 or min(self.spur_density_by_grade) <= 0:
            raise ValueError(f"spur_density_by_grade needs three positive factors, got {self.spur_density_by_grade}.")
        if self.zone_radius_mm <= 0:
            raise ValueError(f"zone_radius_mm must be positive, got {self.zone_radius_mm}.")

    def has_spur(self, grade: int, draw: SpurDraw) -> bool:
        """Whether a zone of ``grade`` is drawn with a spur (an osteophyte, or a normal variant at grade 0)."""
        return grade > 0 or draw.variant < self.normal_variant_rate

    def spur_height(self, grade: int, draw: SpurDraw, factor: float = 1.0) -> float:
        """Height (mm) of the spur of a grade ``grade`` zone (0 = normal variant), times ``factor``."""
        if not 0 <= grade <= len(self.spur_height_mm):
            raise ValueError(f"grade must lie in 0..{len(self.spur_height_mm)}, got {grade}.")
        lo, hi = self.normal_variant_height_mm if grade == 0 else self.spur_height_mm[grade - 1]
        return (lo + draw.height_quantile * (hi - lo)) * factor

    def spur_density(self, target_index: int, grade: int) -> float:
        """Density factor of the spur of target ``target_index`` at ``grade`` (0 = normal variant)."""
        by_grade = self.normal_variant_density if grade == 0 else self.spur_density_by_grade[grade - 1]
        return self.conspicuity[target_index] * by_grade


@dataclass(frozen=True)
class SpurDraw:
    """Random shape of one potential spur, fixed per joint and zone so it only grows with the grade over visits.

    Attributes:
        position: 0..1, where along the zone the spur roots.
        height_quantile: 0..1, where in its grade's height range the spur lies.
        width: base half-width relative to the height.
        lean: tip displacement along the contour relative to the height.
        variant: 0..1, compared with ``normal_variant_rate`` to give a grade-0 zone a normal bump.
    """

    position: float
    height_quantile: float
    width: float
    lean: float
    variant: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SpurDraw:
        return cls(
            float(rng.uniform(0.0, 1.0)),
            float(rng.uniform()),
            float(rng.uniform(0.9, 1.3)),
            float(rng.uniform(-0.5, 0.5)),
            float(rng.uniform()),
        )


def contour_spur(
    contour: np.ndarray, row_a: int, row_b: int, position: float, draw: SpurDraw, height: float, inside: np.ndarray
) -> np.ndarray:
    """A spur grown outward from ``contour`` on its stretch between rows ``row_a`` and ``row_b``.

    Args:
        contour: ``(M, 2)`` dense outline of the host bone (mm).
        row_a, row_b: rows of ``contour`` bounding the zone.
        position: 0..1, root position along that stretch.
        draw: the spur's random shape.
        height: spur height (mm).
        inside: a point inside the host (orients the outward normals).

    Returns:
        Closed ring ``(K, 2)`` (mm), its base 1 mm inside the host.
    """
    a, b = sorted((row_a, row_b))
    seg = contour[a : b + 1]
    arclen = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(seg, axis=0), axis=1))])
    half = min(draw.width * height * 0.6 + 0.8, 0.45 * arclen[-1])
    centre = np.clip(position * arclen[-1], half, arclen[-1] - half)
    sel = (arclen >= centre - half) & (arclen <= centre + half)
    base = seg[sel]
    normals = outward_normals(seg, inside)[sel]
    mid = len(base) // 2
    anchor, nrm = base[mid], normals[mid]
    tangent = unit(base[-1] - base[0])
    tip = anchor + height * nrm + draw.lean * height * tangent
    shoulder_a = base[0] + 0.55 * height * nrm + (0.3 + 0.4 * draw.lean) * height * tangent
    shoulder_b = base[-1] + 0.5 * height * nrm + (-0.3 + 0.4 * draw.lean) * height * tangent
    cap, _ = catmull_rom(np.array([base[0], shoulder_a, tip, shoulder_b, base[-1]]), 8)
    return np.concatenate([cap, (base - 1.0 * normals)[::-1]])


def point_spur(anchor: np.ndarray, axis: np.ndarray, draw: SpurDraw, height: float) -> np.ndarray:
    """A beak-shaped spur rooted at ``anchor`` and growing ``height`` mm along the unit vector ``axis``."""
    axis = unit(axis)
    across = unit(rotate(axis, 90.0))
    half = draw.width * height * 0.45 + 0.6
    pts = np.array(
        [
            anchor - 1.5 * axis - half * across,
            anchor + 0.55 * height * axis - 0.55 * half * across + 0.3 * draw.lean * height * across,
            anchor + height * axis + draw.lean * 0.5 * height * across,
            anchor + 0.5 * height * axis + 0.6 * half * across + 0.3 * draw.lean * height * across,
            anchor - 1.5 * axis + half * across,
        ]
    )
    return catmull_rom(pts, 8, closed=True)[0]


def fit_in_zone(ring: np.ndarray, zone: np.ndarray, radius_mm: float) -> np.ndarray:
    """Shrink ``ring`` towards its vertex nearest the zone until every vertex lies within ``radius_mm`` of a
    zone landmark (``zone``: ``(k, 2)``)."""
    dist = distance_to_points(zone, ring)
    if dist.max() <= radius_mm:
        return ring
    root = ring[np.argmin(dist)]
    for factor in np.linspace(0.95, 0.05, 19):
        shrunk = root + factor * (ring - root)
        if distance_to_points(zone, shrunk).max() <= radius_mm:
            return shrunk
    return root + 0.05 * (ring - root)
