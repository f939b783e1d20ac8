"""``configs/landmark_groups.json``: named landmark index groups of the hip and knee models."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipmonai.errors import InputError
from hipmonai.paths import config_dir

TARGETS = ("osteo_fem_sup", "osteo_fem_inf", "osteo_acet_sup", "osteo_acet_inf")


@dataclass(frozen=True)
class LandmarkGroups:
    """Index groups of one landmark model.

    Attributes:
        n_points: points per hip (80) or per knee (16).
        curves: curve name -> ordered 0-based point indices.
        targets: osteophyte target -> indices defining its zone (hip only), in :data:`TARGETS` order.
        detection_subset: the points a landmark detector must provide for preprocessing (hip only).
        pck_landmarks: the landmarks PCK is reported on (knee only).
    """

    n_points: int
    curves: dict[str, list[int]]
    targets: dict[str, list[int]] = field(default_factory=dict)
    detection_subset: list[int] = field(default_factory=list)
    pck_landmarks: list[int] = field(default_factory=list)

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(self.targets)

    def bilateral(self, indices: list[int]) -> list[int]:
        """Indices of a bilateral point list (right side first, then left): ``indices`` then ``n_points + indices``."""
        return [*indices, *(self.n_points + i for i in indices)]

    @property
    def bilateral_detection_subset(self) -> list[int]:
        """The detection subset in a bilateral (``2 * n_points``) list: what a pelvis landmark detector predicts."""
        return self.bilateral(self.detection_subset)

    def expand_detection(self, points: np.ndarray) -> np.ndarray:
        """A detector's ``(2 K, 2)`` bilateral subset points -> the full ``(2 n_points, 2)`` list, ``NaN`` elsewhere.

        Raises:
            InputError: ``points`` is not ``(2 K, 2)`` for the ``K`` points of :attr:`detection_subset`.
        """
        points = np.asarray(points, dtype=np.float64)
        index = self.bilateral_detection_subset
        if points.shape != (len(index), 2):
            raise InputError(f"expected ({len(index)}, 2) detection-subset points, got {points.shape}")
        full = np.full((2 * self.n_points, 2), np.nan)
        full[index] = points
        return full


def load_landmark_groups(model: str = "hip", path: str | os.PathLike | None = None) -> LandmarkGroups:
    """Load the groups of ``model`` ("hip" or "knee") from ``path`` (default: ``configs/landmark_groups.json``).

    Raises:
        InputError: the file is missing, a group refers to an index outside the model, or the hip targets are not
            exactly :data:`TARGETS`.
    """
    path = Path(path) if path is not None else config_dir() / "landmark_groups.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))[model]
    except (OSError, json.JSONDecodeError, KeyError) as err:
        raise InputError(f"{path}: cannot load landmark groups for model '{model}' ({err})") from err
    groups = LandmarkGroups(
        n_points=int(spec["n_points"]),
        curves={k: [int(i) for i in v] for k, v in spec["curves"].items()},
        targets={k: [int(i) for i in v] for k, v in spec.get("targets", {}).items()},
        detection_subset=[int(i) for i in spec.get("detection_subset", [])],
        pck_landmarks=[int(i) for i in spec.get("pck_landmarks", [])],
    )
    everything = [*groups.curves.values(), *groups.targets.values(), groups.detection_subset, groups.pck_landmarks]
    bad = sorted({i for group in everything for i in group if not 0 <= i < groups.n_points})
    if bad:
        raise InputError(f"{path}: indices {bad} outside 0..{groups.n_points - 1} in model '{model}'")
    if model == "hip" and tuple(groups.targets) != TARGETS:
        raise InputError(f"{path}: hip targets must be {list(TARGETS)} in this order, got {list(groups.targets)}")
    return groups


def check_hip_sides(points: np.ndarray, groups: LandmarkGroups | None = None) -> None:
    """Refuse a bilateral hip point list whose right and left hips look swapped.

    In a standard AP (or PA) pelvis radiograph the patient's right hip lies on the image's left, so every point of
    the right hip's ``femoral_head`` curve (``configs/landmark_groups.json``) must have a smaller x than every point
    of the left hip's. A hip whose head points are all ``NaN`` (a detector that found no such hip) is not compared.

    Args:
        points: ``(2 * n_points, 2)`` ``(x, y)`` points, right hip first, in mm or pixels (only x is compared).
        groups: the hip landmark groups (default: :func:`load_landmark_groups` ``("hip")``).

    Raises:
        ValueError: ``points`` is not ``(2 * n_points, 2)``.
        InputError: the right hip's femoral head is not entirely left of the left hip's; the message gives both
            x ranges and the rule.
    """
    groups = load_landmark_groups("hip") if groups is None else groups
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (2 * groups.n_points, 2):
        raise ValueError(f"points must be ({2 * groups.n_points}, 2) (right hip, then left), got {points.shape}.")
    head = groups.curves["femoral_head"]
    right_x = points[head, 0]
    left_x = points[[groups.n_points + i for i in head], 0]
    right_x, left_x = right_x[np.isfinite(right_x)], left_x[np.isfinite(left_x)]
    if right_x.size == 0 or left_x.size == 0:
        return
    if right_x.max() >= left_x.min():
        raise InputError(
            f"right and left hips look swapped: the right hip's femoral_head points have x {right_x.min():.1f} to "
            f"{right_x.max():.1f}, the left hip's {left_x.min():.1f} to {left_x.max():.1f}; in an AP view the "
            "patient's right hip (listed first) lies on the image's left, every head point at a smaller x than the "
            "left hip's"
        )

