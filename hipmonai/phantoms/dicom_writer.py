"""Write phantom radiographs as DICOM DX files that look to the pipeline like a real user's data."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    UID,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from hipmonai.atomic import atomic_path

TRANSFER_SYNTAXES: dict[str, UID] = {
    "explicit": ExplicitVRLittleEndian,
    "rle": RLELossless,
    "j2k": JPEG2000Lossless,
}

_GIVEN = ("JANE", "JOHN", "MARIA", "PIETER", "ANNA", "LARS", "SOFIE", "YUSUF", "EMMA", "DAAN", "NOOR", "LUCAS")
_FAMILY = ("DOE", "JANSEN", "DE VRIES", "VAN DIJK", "BAKKER", "VISSER", "SMIT", "MEIJER", "MULDER", "BOS", "VOS")
_INSTITUTIONS = ("St Elsewhere Hospital", "Phantom Medical Centre", "Hospital of Nowhere")


@dataclass(frozen=True)
class FakePatient:
    """Plausible, entirely fake identifying tags, so that anonymisation is exercised end to end."""

    name: str
    patient_id: str
    birth_date: str
    sex: str
    accession: str
    institution: str

    @classmethod
    def draw(cls, rng: np.random.Generator) -> FakePatient:
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 25)))
        return cls(
            name=f"{rng.choice(_FAMILY)}^{rng.choice(_GIVEN)}",
            patient_id=f"PID{int(rng.integers(10**7, 10**8))}",
            birth_date=birth.strftime("%Y%m%d"),
            sex=str(rng.choice(["F", "M"])),
            accession=f"ACC{int(rng.integers(10**6, 10**7))}",
            institution=str(rng.choice(_INSTITUTIONS)),
        )

    def identifying_values(self) -> list[str]:
        """The values that must never reach an output file or a log."""
        return [self.name, self.patient_id, self.birth_date, self.accession, self.institution]


def write_dx(
    path: str | os.PathLike,
    pixels: np.ndarray,
    spacing_xy_mm: Sequence[float],
    patient: FakePatient,
    *,
    monochrome1: bool = False,
    bits_stored: int = 12,
    magnification: float = 1.1,
    laterality: str = "",
    body_part: str = "PELVIS",
    view_position: str = "AP",
    study_date: str = "20200101",
    transfer_syntax: str = "explicit",
    uid_seed: str | None = None,
) -> Path:
    """Write a 2D grey image as a DX For Presentation DICOM file, atomically.

    Args:
        path: destination ``.dcm``; parent folders are created.
        pixels: ``(H, W)`` image (rows, columns), bone bright, values in ``[0, 2**bits_stored)``.
        spacing_xy_mm: (column spacing, row spacing) in mm at the detector plane corrected for magnification.
            Written as ``PixelSpacing = [row, col]`` and ``ImagerPixelSpacing = PixelSpacing * magnification``
            with ``EstimatedRadiographicMagnificationFactor = magnification``.
        patient: fake identifying tags.
        monochrome1: store inverted (MONOCHROME1), as many CR/DX systems do.
        bits_stored: significant bits of the unsigned pixel data (BitsAllocated is 16).
        magnification: the estimated radiographic magnification factor.
        laterality: ImageLaterality ("", "L", "R"; "" for bilateral).
        body_part, view_position, study_date: the matching DICOM tags.
        transfer_syntax: "explicit" (uncompressed), "rle" (RLE Lossless) or "j2k" (JPEG 2000 Lossless).
        uid_seed: makes the UIDs deterministic (same seed -> same file bytes).
    """
    if pixels.ndim != 2:
        raise ValueError(f"pixels must be a 2D (H, W) array, got shape {pixels.shape}.")
    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise ValueError(f"transfer_syntax must be one of {sorted(TRANSFER_SYNTAXES)}, got {transfer_syntax!r}.")
    max_value = 2**bits_stored - 1
    data = np.clip(np.rint(pixels), 0, max_value).astype(np.uint16)
    if monochrome1:
        data = (max_value - data).astype(np.uint16)
    sx, sy = (float(s) for s in spacing_xy_mm)

    def uid(suffix: str) -> UID:
        return generate_uid(entropy_srcs=[uid_seed, suffix]) if uid_seed is not None else generate_uid()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = uid("sop")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.Modality = "DX"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = "hipmonai phantom"
    ds.InstitutionName = patient.institution
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.AccessionNumber = patient.accession
    ds.StudyDate = ds.ContentDate = study_date
    ds.StudyTime = ds.ContentTime = "120000"
    ds.BodyPartExamined = body_part
    ds.ViewPosition = view_position
    ds.ImageLaterality = laterality
    # standard display (AP and PA alike): the patient's right on the image's left, head up
    ds.PatientOrientation = ["L", "F"]
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.Rows, ds.Columns = data.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [f"{sy:.6g}", f"{sx:.6g}"]
    ds.ImagerPixelSpacing = [f"{sy * magnification:.6g}", f"{sx * magnification:.6g}"]
    ds.EstimatedRadiographicMagnificationFactor = f"{magnification:.6g}"
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    ds.WindowCenter, ds.WindowWidth = f"{max_value / 2:.0f}", f"{max_value:.0f}"
    ds.PresentationLUTShape = "INVERSE" if monochrome1 else "IDENTITY"
    ds.BurnedInAnnotation = "NO"
    ds.PixelData = data.tobytes()
    if transfer_syntax != "explicit":
        ds.compress(TRANSFER_SYNTAXES[transfer_syntax], data, generate_instance_uid=False)
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path


def read_back(path: str | os.PathLike) -> pydicom.Dataset:
    """Read a written file back (tests and the contact sheet use this)."""
    return pydicom.dcmread(path)
