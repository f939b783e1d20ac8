"""One preprocessed hip: the unit the HDF5 store and the resumable part files hold."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hipmonai.errors import InputError
from hipmonai.io.grades import MAX_GRADE, SIDES, UNKNOWN_GRADE
from hipmonai.io.landmark_groups import TARGETS

#: Per-scan attributes every record carries (stored on the ``image`` dataset).
SCAN_ATTRS = ("pixel_spacing", "crop_offset_x", "crop_offset_y", "femoral_head_radius", "flipped", "source_uid_hash")

_UID_HASH = re.compile(r"^[0-9a-f]{8,64}$")
# Attribute names that would carry a patient-identifying DICOM value (compared lower-case, letters and digits only).
_IDENTIFYING_NAMES = frozenset(
    {
        "patientname",
        "patientsname",
        "patientid",
        "otherpatientids",
        "patientbirthdate",
        "patientsbirthdate",
        "birthdate",
        "dateofbirth",
        "dob",
        "patientaddress",
        "patientsaddress",
        "accessionnumber",
        "institutionname",
        "institutionaddress",
        "referringphysicianname",
        "performingphysicianname",
        "operatorsname",
        "sopinstanceuid",
        "studyinstanceuid",
        "seriesinstanceuid",
    }
)


def check_name_part(value: Any, what: str) -> str:
    """Validate a subject id or visit used as one level of an HDF5 path / key; returns it.

    Raises:
        InputError: not a non-empty string, contains ``/`` or control characters, surrounding spaces, or is
            ``.`` / ``..``.
    """
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} must be a non-empty string, got {value!r}")
    if "/" in value or value in {".", ".."} or value != value.strip() or any(ord(c) < 32 for c in value):
        raise InputError(f"{what} {value!r} cannot be used as a key part (no '/', '.', '..', control characters "
                         "or surrounding spaces)")
    return value


def make_key(subject_id: str, visit: str, side: str) -> str:
    """``("S0001", "V00", "right")`` -> ``"S0001/V00/right"`` (validated)."""
    check_name_part(subject_id, "subject_id")
    check_name_part(visit, "visit")
    if side not in SIDES:
        raise InputError(f"side must be one of {list(SIDES)}, got {side!r}")
    return f"{subject_id}/{visit}/{side}"


def parse_key(key: Any) -> tuple[str, str, str]:
    """``"S0001/V00/right"`` -> ``("S0001", "V00", "right")``; raises :class:`InputError` for anything else."""
    if not isinstance(key, str) or key.count("/") != 2:
        raise InputError(f"scan key must read 'subject/visit/side', got {key!r}")
    subject_id, visit, side = key.split("/")
    make_key(subject_id, visit, side)
    return subject_id, visit, side


def check_attr_names(names: Sequence[str] | Mapping[str, Any], where: str) -> None:
    """Refuse attribute names that would carry a patient-identifying DICOM value (PatientName, PatientID, ...).

    Raises:
        InputError: a name is not a non-empty string, or names an identifying field.
    """
    for name in names:
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}: attribute names must be non-empty strings, got {name!r}")
        if re.sub(r"[^0-9a-z]", "", name.lower()) in _IDENTIFYING_NAMES:
            raise InputError(f"{where}: attribute {name!r} would hold a patient-identifying value; it is never stored")


def to_attr_value(value: Any, name: str) -> Any:
    """A value HDF5 attributes (and JSON) can hold: str, bool, int, float, or a flat list of numbers / strings.

    Raises:
        InputError: ``None``, nested or mixed sequences, or other objects.
    """
    if isinstance(value, (str, bool, np.bool_)):
        return value if isinstance(value, str) else bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (bytes, bytearray)):
        items = list(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else list(value)
        if all(isinstance(v, str) for v in items) or all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in items
        ):
            return [v if isinstance(v, str) else v.item() if isinstance(v, np.generic) else v for v in items]
    raise InputError(f"attribute {name!r}: cannot store {type(value).__name__} {value!r} (use a str, number, bool "
                     "or a flat list of numbers or strings)")


@dataclass
class ScanRecord:
    """One preprocessed hip, as stored under ``/scans/{subject_id}/{visit}/{side}``.

    Arrays are converted to the stored dtypes on construction.

    Attributes:
        subject_id: the study's pseudonymous subject id (never a DICOM PatientID).
        visit: visit label, e.g. ``"V00"``.
        side: patient side, ``"right"`` or ``"left"``.
        image: ``(H, W)`` float32, rows x columns (docs/conventions.md: the store keeps (H, W)), finite.
        landmarks: ``(N, 2)`` float32 of ``(x, y)`` crop pixels (x along columns); ``NaN`` = missing point.
        grades: ``(4,)`` int8 OARSI grades 0..3 in :data:`hipmonai.io.landmark_groups.TARGETS` order, -1 = unknown.
        pixel_spacing: ``(x, y)`` mm of the stored image's pixels (the target spacing after resampling).
        crop_offset_x: column of the crop's top-left corner in the spacing-resampled radiograph, before any flip
            (px, may be negative where the crop was padded).
        crop_offset_y: row of that corner (px).
        femoral_head_radius: fitted femoral head radius in crop pixels.
        flipped: whether the crop was flipped horizontally (left hips, to the right-hip orientation).
        source_uid_hash: truncated SHA-256 hex digest of the source SOP Instance UID (8-64 lowercase hex digits).
        lesion_mask: optional ``(4, H, W)`` uint8 0/1 masks per target (phantoms only).
        extra_attrs: further non-identifying per-scan attributes (e.g. ``{"spacing_source": "PixelSpacing"}``),
            stored beside the :data:`SCAN_ATTRS` on the image dataset.
    """

    subject_id: str
    visit: str
    side: str
    image: np.ndarray
    landmarks: np.ndarray
    grades: np.ndarray
    pixel_spacing: tuple[float, float]
    crop_offset_x: int
    crop_offset_y: int
    femoral_head_radius: float
    flipped: bool
    source_uid_hash: str
    lesion_mask: np.ndarray | None = None
    extra_attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        key = make_key(self.subject_id, self.visit, self.side)
        image = np.asarray(self.image)
        if image.ndim != 2 or min(image.shape) < 1:
            raise InputError(f"{key}: image must be a non-empty (H, W) array, got shape {image.shape}")
        if not np.issubdtype(image.dtype, np.number) or np.issubdtype(image.dtype, np.complexfloating):
            raise InputError(f"{key}: image must be real numbers, got dtype {image.dtype}")
        self.image = np.ascontiguousarray(image, dtype=np.float32)
        if not np.all(np.isfinite(self.image)):
            raise InputError(f"{key}: image holds NaN or infinite values")

        landmarks = np.asarray(self.landmarks)
        if landmarks.ndim != 2 or landmarks.shape[1] != 2:
            raise InputError(f"{key}: landmarks must be (N, 2) (x, y), got shape {landmarks.shape}")
        self.landmarks = np.ascontiguousarray(landmarks, dtype=np.float32)
        if np.any(np.isinf(self.landmarks)):
            raise InputError(f"{key}: landmarks hold infinite values (use NaN for missing points)")

        grades = np.asarray(self.grades)
        if grades.shape != (len(TARGETS),):
            raise InputError(f"{key}: grades must have shape ({len(TARGETS)},) in order {list(TARGETS)}, "
                             f"got {grades.shape}")
        if not np.issubdtype(grades.dtype, np.number) or not np.all(np.isfinite(grades)) or np.any(grades % 1):
            raise InputError(f"{key}: grades must be whole numbers, got {grades.tolist()}")
        if np.any((grades < UNKNOWN_GRADE) | (grades > MAX_GRADE)):
            raise InputError(f"{key}: grades must be {UNKNOWN_GRADE} (unknown) or 0..{MAX_GRADE}, "
                             f"got {grades.tolist()}")
        self.grades = grades.astype(np.int8)

        if self.lesion_mask is not None:
            mask = np.asarray(self.lesion_mask)
            expected = (len(TARGETS), *self.image.shape)
            if mask.shape != expected:
                raise InputError(f"{key}: lesion_mask must have shape {expected} (targets, H, W), got {mask.shape}")
            numeric = mask.dtype == np.bool_ or np.issubdtype(mask.dtype, np.number)
            if not numeric or np.any((mask != 0) & (mask != 1)):
                values = np.unique(mask)[:8].tolist() if numeric else mask.dtype
                raise InputError(f"{key}: lesion_mask must hold only 0 and 1, got {values}")
            self.lesion_mask = np.ascontiguousarray(mask, dtype=np.uint8)

        try:
            spacing = np.asarray(self.pixel_spacing, dtype=np.float64)
        except (TypeError, ValueError):
            spacing = None
        if spacing is None or spacing.shape != (2,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
            raise InputError(f"{key}: pixel_spacing must be two positive (x, y) mm values, got {self.pixel_spacing!r}")
        self.pixel_spacing = (float(spacing[0]), float(spacing[1]))
        self.crop_offset_x = _whole(self.crop_offset_x, f"{key}: crop_offset_x")
        self.crop_offset_y = _whole(self.crop_offset_y, f"{key}: crop_offset_y")
        radius = self.femoral_head_radius
        if isinstance(radius, bool) or not isinstance(radius, (int, float, np.integer, np.floating)) or not (
            math.isfinite(radius) and radius > 0
        ):
            raise InputError(f"{key}: femoral_head_radius must be a positive number of pixels, got {radius!r}")
        self.femoral_head_radius = float(radius)
        if not isinstance(self.flipped, (bool, np.bool_)):
            raise InputError(f"{key}: flipped must be a bool, got {self.flipped!r}")
        self.flipped = bool(self.flipped)
        if not isinstance(self.source_uid_hash, str) or not _UID_HASH.match(self.source_uid_hash):
            raise InputError(f"{key}: source_uid_hash must be 8-64 lowercase hex digits (a truncated SHA-256 of the "
                             f"SOP Instance UID), got {self.source_uid_hash!r}")

        if not isinstance(self.extra_attrs, Mapping):
            raise InputError(f"{key}: extra_attrs must be a mapping, got {type(self.extra_attrs).__name__}")
        check_attr_names(self.extra_attrs, key)
        clash = sorted(set(self.extra_attrs) & set(SCAN_ATTRS))
        if clash:
            raise InputError(f"{key}: extra_attrs {clash} clash with the standard scan attributes")
        self.extra_attrs = {name: to_attr_value(v, f"{key}: {name}") for name, v in self.extra_attrs.items()}

    @property
    def key(self) -> str:
        """``"{subject_id}/{visit}/{side}"``."""
        return f"{self.subject_id}/{self.visit}/{self.side}"

    def scan_attrs(self) -> dict[str, Any]:
        """The per-scan attributes (:data:`SCAN_ATTRS` then ``extra_attrs``) as plain Python values."""
        attrs: dict[str, Any] = {
            "pixel_spacing": list(self.pixel_spacing),
            "crop_offset_x": self.crop_offset_x,
            "crop_offset_y": self.crop_offset_y,
            "femoral_head_radius": self.femoral_head_radius,
            "flipped": self.flipped,
            "source_uid_hash": self.source_uid_hash,
        }
        attrs.update(self.extra_attrs)
        return attrs

    @classmethod
    def from_arrays(cls, key: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any]) -> ScanRecord:
        """Rebuild a record from its stored arrays (``image``, ``landmarks``, ``grades``, optional ``lesion_mask``)
        and attributes (:data:`SCAN_ATTRS` plus extras)."""
        subject_id, visit, side = parse_key(key)
        missing = [name for name in SCAN_ATTRS if name not in attrs]
        if missing:
            raise InputError(f"{key}: missing scan attributes {missing}")
        return cls(
            subject_id=subject_id,
            visit=visit,
            side=side,
            image=arrays["image"],
            landmarks=arrays["landmarks"],
            grades=arrays["grades"],
            lesion_mask=arrays.get("lesion_mask"),
            pixel_spacing=tuple(np.asarray(attrs["pixel_spacing"], dtype=np.float64).tolist()),
            crop_offset_x=attrs["crop_offset_x"],
            crop_offset_y=attrs["crop_offset_y"],
            femoral_head_radius=attrs["femoral_head_radius"],
            flipped=bool(attrs["flipped"]),
            source_uid_hash=str(attrs["source_uid_hash"]),
            extra_attrs={k: v for k, v in attrs.items() if k not in SCAN_ATTRS},
        )


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
        math.isfinite(value) and float(value).is_integer()
    ):
        raise InputError(f"{what} must be a whole number of pixels, got {value!r}")
    return int(value)
