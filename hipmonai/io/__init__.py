"""File formats: BoneFinder .pts, grades CSV, landmark groups."""

from __future__ import annotations

from hipmonai.io.grades import SIDES, GradesTable, normalise_side, read_grades_csv
from hipmonai.io.landmark_groups import TARGETS, LandmarkGroups, check_hip_sides, load_landmark_groups
from hipmonai.io.pts import POINTS_PER_HIP, POINTS_PER_KNEE, mm_to_px, px_to_mm, read_pts, split_bilateral, write_pts

__all__ = [
    "SIDES",
    "TARGETS",
    "GradesTable",
    "normalise_side",
    "read_grades_csv",
    "POINTS_PER_HIP",
    "POINTS_PER_KNEE",
    "LandmarkGroups",
    "check_hip_sides",
    "load_landmark_groups",
    "mm_to_px",
    "px_to_mm",
    "read_pts",
    "split_bilateral",
    "write_pts",
]
