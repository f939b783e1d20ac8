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
from hipmonai.phantoms.xray import Exposure, Film


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
        dose_ugy: detector air kerma range (µGy), drawn log-uniformly per image (higher = less quantum noise).
        kvp: tube voltage range (kV).
        collimation_prob: fraction of images with a visible collimation border.
        collimation_angle_deg: standard deviation of the collimator's rotation (any angle is possible).
        marker_prob: fraction of images with a lead L/R side marker.
        text_prob: fraction of images with burned-in annotation text.
    """

    spacing_mm: float | None = None
    spacing_range_mm: tuple[float, float] = (0.35, 0.6)
    magnification_range: tuple[float, float] = (1.05, 1.2)
    monochrome1_fraction: float = 0.3
    transfer_syntaxes: tuple[tuple[str, float], ...] = (("j2k", 0.82), ("explicit", 0.13), ("rle", 0.05))
    rotation_deg: float = 4.0
    shift_mm: float = 6.0
    dose_ugy: tuple[float, float] = (1.5, 8.0)
    kvp: tuple[float, float] = (65.0, 90.0)
    collimation_prob: float = 0.6
    collimation_angle_deg: float = 6.0
    marker_prob: float = 0.8
    text_prob: float = 0.5

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
        for name in ("collimation_prob", "marker_prob", "text_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}.")
        if self.collimation_angle_deg < 0:
            raise ValueError(f"collimation_angle_deg must be >= 0, got {self.collimation_angle_deg}.")
        if not 0 < self.dose_ugy[0] <= self.dose_ugy[1]:
            raise ValueError(f"dose_ugy must be a positive (low, high) range, got {self.dose_ugy}.")
        if not 50.0 <= self.kvp[0] <= self.kvp[1] <= 110.0:
            raise ValueError(f"kvp must be a (low, high) range within [50, 110] kV, got {self.kvp}.")

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
    """Draw one image's beam, scatter, dose, detector and "for presentation" processing (see :class:`Exposure`).

    Half the images come from flat-panel (CsI) systems, half from computed radiography plates (more light spread,
    a wide blur tail, more electronic noise); the processing parameters span the looks of different vendors.
    """
    plate = bool(rng.uniform() < 0.5)
    grid = bool(rng.uniform() < 0.85)
    return Exposure(
        kvp=float(rng.uniform(*params.kvp)),
        added_cu_mm=float(rng.choice([0.0, 0.1, 0.2])),
        sid_mm=float(rng.uniform(1000.0, 1200.0)),
        focal_spot_mm=float(rng.choice([0.6, 1.2])),
        heel=float(rng.uniform(0.0, 0.25)),
        heel_angle_deg=float(rng.choice([90.0, 270.0, 0.0, 180.0], p=[0.4, 0.4, 0.1, 0.1])),
        grid=grid,
        spr=float(rng.uniform(0.3, 0.9) if grid else rng.uniform(1.5, 3.5)),
        scatter_mm=float(rng.uniform(25.0, 60.0)),
        dose_ugy=float(np.exp(rng.uniform(*np.log(params.dose_ugy)))),
        detector_absorber_mm=float(rng.uniform(0.3, 0.4) if plate else rng.uniform(0.5, 0.7)),
        detector_blur_mm=float(rng.uniform(0.1, 0.2) if plate else rng.uniform(0.06, 0.12)),
        detector_tail=float(rng.uniform(0.15, 0.35) if plate else rng.uniform(0.03, 0.12)),
        detector_tail_mm=float(rng.uniform(0.4, 1.0)),
        electronic_noise=float(rng.uniform(0.1, 0.3) if plate else rng.uniform(0.02, 0.1)),
        texture=float(rng.uniform(0.3, 0.6)),
        equalisation=float(rng.uniform(0.2, 0.7)),
        equalisation_mm=float(rng.uniform(15.0, 40.0)),
        enhance=float(rng.uniform(0.2, 1.5)),
        enhance_power=float(rng.uniform(0.6, 1.0)),
        gradation=float(rng.uniform(0.0, 3.0)),
        window=(float(rng.uniform(50, 400)), float(rng.uniform(3500, 4095))),
        gamma=float(rng.uniform(0.8, 1.25)),
    )


#: burned-in annotation texts (view and position descriptions only: never anything identifying)
ANNOTATIONS = ("AP", "PA", "SUPINE", "STANDING", "ERECT", "PORTABLE", "WEIGHT BEARING", "BILAT")


def draw_field_annotations(
    film: Film, rng: np.random.Generator, params: AcquisitionParams, keep_mm: np.ndarray, view: str
) -> dict[str, object]:
    """Collimation, a lead side marker and burned-in text, as a technologist would leave them.

    Args:
        film: receives the collimated ``field``, the marker's ``lead_mm`` and the text overlays.
        rng: this image's generator.
        params: ``collimation_prob``, ``collimation_angle_deg``, ``marker_prob``, ``text_prob``.
        keep_mm: ``(N, 2)`` image mm points the collimator leaves inside the field (with a margin), e.g. the
            landmarks of the joints shown.
        view: annotation family (``"AP PELVIS"``, ``"AP HIP"``, ``"PA KNEE"``) for the texts drawn.

    Returns:
        What was drawn: ``collimated`` (bool), ``marker`` (``"L"``, ``"R"`` or ``""``), ``text`` (list of str).
    """
    h, w = film.shape_hw
    px = film.spacing_mm
    keep = np.asarray(keep_mm, dtype=np.float64)
    keep = keep[np.isfinite(keep).all(axis=1)]
    collimated = bool(rng.uniform() < params.collimation_prob) and len(keep) > 0
    angle = float(rng.normal(0.0, params.collimation_angle_deg))
    margins = rng.uniform(8.0, 70.0, size=4)
    if collimated:
        a = np.deg2rad(angle)
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        local = keep @ rot.T
        lo, hi = local.min(axis=0) - margins[:2], local.max(axis=0) + margins[2:]
        centre = rot.T @ ((lo + hi) / 2)
        film.collimate((float(centre[0]), float(centre[1])), tuple((hi - lo) / 2), angle)
    marker = ""
    if rng.uniform() < params.marker_prob:
        marker = "R" if rng.uniform() < 0.5 else "L"  # the patient's right is on the image left
        height = float(rng.uniform(10.0, 22.0))
        inside = np.argwhere(film.field[:: max(h // 64, 1), :: max(w // 64, 1)] > 0.99)
        x_lo, x_hi = (0.03, 0.3) if marker == "R" else (0.7, 0.9)
        y_frac = float(rng.choice([rng.uniform(0.03, 0.2), rng.uniform(0.75, 0.9)]))
        x_mm, y_mm = float(rng.uniform(x_lo, x_hi)) * w * px, y_frac * h * px
        if len(inside):  # move it into the exposed field when the collimator covers that corner
            step = np.array([max(h // 64, 1), max(w // 64, 1)]) * px
            pts = inside * step
            near = pts[np.argmin(np.hypot(pts[:, 0] - y_mm, pts[:, 1] - x_mm))]
            y_mm, x_mm = float(near[0]), float(near[1])
        film.add_text(marker, (x_mm, y_mm), height, lead_mm=float(rng.uniform(1.0, 2.0)))
    texts: list[str] = []
    if rng.uniform() < params.text_prob:
        for _ in range(int(rng.integers(1, 4))):
            text = view if rng.uniform() < 0.4 else str(rng.choice(ANNOTATIONS))
            height = float(rng.uniform(4.0, 10.0))
            corner_x = float(rng.choice([rng.uniform(0.01, 0.1), rng.uniform(0.6, 0.8)]))
            corner_y = float(rng.choice([rng.uniform(0.01, 0.08), rng.uniform(0.88, 0.95)]))
            film.add_text(text, (corner_x * w * px, corner_y * h * px), height, level=float(rng.uniform(0.6, 1.0)))
            texts.append(text)
    return {"collimated": collimated, "marker": marker, "text": texts}


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
