"""Acquisition settings shared by the hip and knee phantoms: pixel spacing, magnification, photometric
interpretation, transfer syntax, exposure and study dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from hipmonai.phantoms.dicom_writer import TRANSFER_SYNTAXES
from hipmonai.phantoms.geometry import Pose
from hipmonai.phantoms.seeding import SeedLike, resolve
from hipmonai.phantoms.xray import Exposure


@dataclass(frozen=True)
class AcquisitionParams:
    """How the phantom radiographs of a cohort are acquired and stored.

    Attributes:
        spacing_mm: render every image at this pixel spacing; ``None`` draws one per subject from
            ``spacing_range_mm``.
        spacing_range_mm: pixel spacing range of the cohort (object plane, written as PixelSpacing).
        magnification_range: EstimatedRadiographicMagnificationFactor range (ImagerPixelSpacing = spacing * m).
        monochrome1_fraction: fraction of subjects stored MONOCHROME1.
        transfer_syntaxes: ``(name, weight)`` of the DICOM transfer syntaxes (``j2k``, ``explicit``, ``rle``).
        rotation_deg: maximum in-plane rotation of the anatomy.
        shift_mm: standard deviation of the anatomy's position in the field of view.
        photons_per_mm2: quantum-noise fluence range, drawn log-uniformly per image (higher = less noise).
    """

    spacing_mm: float | None = None
    spacing_range_mm: tuple[float, float] = (0.35, 0.6)
    magnification_range: tuple[float, float] = (1.05, 1.2)
    monochrome1_fraction: float = 0.3
    transfer_syntaxes: tuple[tuple[str, float], ...] = (("j2k", 0.82), ("explicit", 0.13), ("rle", 0.05))
    rotation_deg: float = 4.0
    shift_mm: float = 6.0
    photons_per_mm2: tuple[float, float] = (1.5e5, 4.0e5)

    def __post_init__(self) -> None:
        if self.spacing_mm is not None and not 0.05 <= self.spacing_mm <= 2.0:
            raise ValueError(f"spacing_mm must lie in [0.05, 2.0] mm, got {self.spacing_mm}.")
        lo, hi = self.spacing_range_mm
        if not 0.05 <= lo <= hi <= 2.0:
            raise ValueError(f"spacing_range_mm must satisfy 0.05 <= low <= high <= 2.0, got {self.spacing_range_mm}.")
        if not 1.0 <= self.magnification_range[0] <= self.magnification_range[1] <= 2.0:
            raise ValueError(f"magnification_range must lie within [1, 2], got {self.magnification_range}.")
        if not 0 <= self.monochrome1_fraction <= 1:
            raise ValueError(f"monochrome1_fraction must lie in [0, 1], got {self.monochrome1_fraction}.")
        names = [name for name, _ in self.transfer_syntaxes]
        weights = [w for _, w in self.transfer_syntaxes]
        if not names or any(n not in TRANSFER_SYNTAXES for n in names) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(
                f"transfer_syntaxes must be (name, weight >= 0) pairs with names in "
                f"{sorted(TRANSFER_SYNTAXES)} and a positive total, got {self.transfer_syntaxes}."
            )
        if self.rotation_deg < 0 or self.shift_mm < 0:
            raise ValueError(f"rotation_deg and shift_mm must be >= 0, got {self.rotation_deg}, {self.shift_mm}.")
        if not 0 < self.photons_per_mm2[0] <= self.photons_per_mm2[1]:
            raise ValueError(f"photons_per_mm2 must be a positive (low, high) range, got {self.photons_per_mm2}.")

    @classmethod
    def from_kwargs(cls, **kwargs):
        """Build from keyword arguments, naming any unknown one in the error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown {cls.__name__} parameter(s) {unknown}; known: {sorted(known)}.")
        return cls(**kwargs)


@dataclass(frozen=True)
class Acquisition:
    """Per-subject storage settings.

    Attributes:
        spacing_mm: pixel spacing (square pixels).
        magnification: magnification factor written to the DICOM.
        monochrome1: stored inverted.
        transfer_syntax: DICOM transfer syntax name.
        baseline_date: study date of visit 0 (``YYYYMMDD``).
        visit_interval_days: days between visits.
    """

    spacing_mm: float
    magnification: float
    monochrome1: bool
    transfer_syntax: str
    baseline_date: str
    visit_interval_days: int

    def study_date(self, visit: int) -> str:
        """``YYYYMMDD`` date of visit ``visit``."""
        date = dt.datetime.strptime(self.baseline_date, "%Y%m%d").date() + dt.timedelta(
            days=self.visit_interval_days * visit
        )
        return date.strftime("%Y%m%d")


def draw_acquisition(rng: np.random.Generator, params: AcquisitionParams) -> Acquisition:
    """Draw a subject's spacing, magnification, photometric interpretation, transfer syntax and study dates."""
    spacing = (
        float(params.spacing_mm)
        if params.spacing_mm is not None
        else float(np.round(rng.uniform(*params.spacing_range_mm), 3))
    )
    magnification = float(np.round(rng.uniform(*params.magnification_range), 3))
    monochrome1 = bool(rng.uniform() < params.monochrome1_fraction)
    names = [n for n, _ in params.transfer_syntaxes]
    weights = np.array([w for _, w in params.transfer_syntaxes], dtype=np.float64)
    syntax = str(names[int(rng.choice(len(names), p=weights / weights.sum()))])
    baseline = dt.date(2005, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3650)))
    return Acquisition(
        spacing, magnification, monochrome1, syntax, baseline.strftime("%Y%m%d"), int(rng.integers(600, 900))
    )


def draw_exposure(rng: np.random.Generator, params: AcquisitionParams) -> Exposure:
    """Draw one image's blur, noise, texture and presentation processing."""
    return Exposure(
        blur_mm=float(rng.uniform(0.3, 0.55)),
        photons_per_mm2=float(np.exp(rng.uniform(*np.log(params.photons_per_mm2)))),
        texture=float(rng.uniform(0.15, 0.25)),
        latitude=float(rng.uniform(0.3, 0.6)),
        latitude_mm=float(rng.uniform(20.0, 40.0)),
        unsharp=float(rng.uniform(0.3, 0.8)),
        unsharp_mm=float(rng.uniform(3.0, 6.0)),
        window=(float(rng.uniform(80, 350)), float(rng.uniform(3300, 4000))),
        gamma=float(rng.uniform(0.8, 1.2)),
    )


@dataclass(frozen=True)
class VisitSetup:
    """What every phantom renderer draws first for one visit (same draws, same order, for hips and knees).

    Attributes:
        subject: the subject (drawn from ``subject_rng`` when not given).
        spacing_mm: the pixel spacing the image is rendered at.
        pose: in-plane rotation and position of the anatomy in the field.
        drops: ``(2,)`` vertical offsets (mm) of the right and left joint.
        exposure: blur, noise and presentation processing of this image.
        pose_rng, noise_rng: the visit's generators for further pose and noise draws.
    """

    subject: Any
    spacing_mm: float
    pose: Pose
    drops: np.ndarray
    exposure: Exposure
    pose_rng: np.random.Generator
    noise_rng: np.random.Generator


def visit_setup(
    seed: SeedLike,
    visit: int,
    params: AcquisitionParams,
    subject: Any,
    draw_subject: Callable[..., Any],
    spacing_mm: float | None,
    centre_y_fraction: tuple[float, float],
    drop_sd_mm: float,
) -> VisitSetup:
    """Resolve the generators, the subject, the spacing, the pose, the joint drops and the exposure of one visit.

    Args:
        seed, visit: as :func:`hipmonai.phantoms.seeding.resolve`.
        params: the phantom parameters (``rotation_deg``, ``shift_mm`` and the acquisition fields).
        subject: a drawn subject, or None to draw it with ``draw_subject(subject_rng, params, n_visits=visit + 1)``.
        spacing_mm: render spacing, or None for the subject's own.
        centre_y_fraction: range of the anatomy's vertical centre as a fraction of the field height.
        drop_sd_mm: standard deviation of the per-joint vertical offsets.

    Raises:
        ValueError: ``visit`` outside the subject's visits or a spacing outside [0.05, 2.0] mm.
    """
    subject_rng, pose_rng, noise_rng = resolve(seed, visit)
    if subject is None:
        subject = draw_subject(subject_rng, params, n_visits=visit + 1)
    if not 0 <= visit < subject.n_visits:
        raise ValueError(f"visit must lie in [0, {subject.n_visits - 1}] for this subject, got {visit}.")
    spacing = float(spacing_mm) if spacing_mm is not None else subject.acquisition.spacing_mm
    if not 0.05 <= spacing <= 2.0:
        raise ValueError(f"spacing_mm must lie in [0.05, 2.0] mm, got {spacing}.")
    field_w, field_h = subject.field_mm
    angle = float(pose_rng.uniform(-params.rotation_deg, params.rotation_deg))
    centre_x = field_w / 2 + pose_rng.normal(0, params.shift_mm)
    centre_y = field_h * pose_rng.uniform(*centre_y_fraction) + pose_rng.normal(0, params.shift_mm / 2)
    pose = Pose(angle, (float(centre_x), float(centre_y)))
    drops = pose_rng.normal(0, drop_sd_mm, size=2)
    exposure = draw_exposure(pose_rng, params)
    return VisitSetup(subject, spacing, pose, drops, exposure, pose_rng, noise_rng)
