"""Readers for DICOM projection radiographs: header logic and a MONAI ``ImageReader``.

The header functions and the pixel decoding (:func:`radiograph_array`) need only pydicom and numpy.
``RadiographReader`` and ``load_radiograph`` subclass/use MONAI, whose import takes seconds, so they load on first
access (PEP 562): ``hipmonai inspect`` never pays for MONAI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hipmonai.readers.dicom_header import (
    SPACING_SOURCE_CALLER,
    SPACING_SOURCE_IMAGER,
    SPACING_SOURCE_IMAGER_MAGNIFICATION,
    SPACING_SOURCE_MISSING,
    SPACING_SOURCE_PIXEL,
    is_inverted,
    laterality,
    read_dicom,
    source_uid_hash,
    spacing_from_dataset,
    summarize_dicom,
    transfer_syntax_name,
    validate_spacing_xy_mm,
)
from hipmonai.readers.pixels import radiograph_array

if TYPE_CHECKING:
    from hipmonai.readers.radiograph_reader import RadiographReader, load_radiograph

_LAZY = {"RadiographReader", "load_radiograph"}

__all__ = [
    "SPACING_SOURCE_CALLER",
    "SPACING_SOURCE_IMAGER",
    "SPACING_SOURCE_IMAGER_MAGNIFICATION",
    "SPACING_SOURCE_MISSING",
    "SPACING_SOURCE_PIXEL",
    "RadiographReader",
    "is_inverted",
    "laterality",
    "load_radiograph",
    "radiograph_array",
    "read_dicom",
    "source_uid_hash",
    "spacing_from_dataset",
    "summarize_dicom",
    "transfer_syntax_name",
    "validate_spacing_xy_mm",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from hipmonai.readers import radiograph_reader

        return getattr(radiograph_reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
