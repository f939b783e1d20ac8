"""A :class:`~hipmonai.deploy.hip_analysis.RadiographAnalysis` as a DICOM Comprehensive SR, written with pydicom.

Content tree (concepts of the private coding scheme ``99HIPMONAI`` unless a DICOM code is named)::

    CONTAINER  Imaging Measurement Report (DCM 126000)
      TEXT       Algorithm Name (DCM 111001) = "hipmonai", Algorithm Version (DCM 111003)
      CONTAINER  "right hip" / "left hip"
        SCOORD POINT   one per detected landmark (concept = its name, e.g. right_13), SELECTED FROM the image
        SCOORD CIRCLE  femoral head (centre, then a point on the circle)
        NUM            "<target> osteophyte probability" (prior bundle), "any osteophyte probability",
                       "<target> OARSI grade" (grading bundle)
        TEXT           "not analysed" with the reason, when the hip could not be cropped

Coordinates are DICOM image coordinates: column, row in pixels with (0, 0) at the top-left corner of the first
pixel, i.e. the package's pixel-centre coordinates + 0.5.

Privacy: the SR references the analysed image by its SOP Class, SOP Instance, Series and Study Instance UIDs (the
coordinates mean nothing without them) and copies **no** patient or study identifying attribute (name, ID, birth
date, sex, accession number, institution, referring physician, study date): it is a new study with an empty patient
module. ``copy_patient_module=True`` (for filing the SR into the patient's study in a PACS) copies the source's
patient and general-study attributes and its Study Instance UID instead.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.deploy.hip_analysis import RadiographAnalysis

__all__ = ["COMPREHENSIVE_SR", "PATIENT_STUDY_ATTRIBUTES", "write_hip_sr"]

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
SCHEME = "99HIPMONAI"
#: Copied from the source only with ``copy_patient_module=True``.
PATIENT_STUDY_ATTRIBUTES = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "IssuerOfPatientID",
                            "OtherPatientIDsSequence", "PatientAge", "AccessionNumber", "StudyDate", "StudyTime",
                            "StudyID", "ReferringPhysicianName", "StudyDescription", "InstitutionName")


def _code(value: str, meaning: str, scheme: str = SCHEME):
    from pydicom.dataset import Dataset

    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value[:16], scheme, meaning[:64]
    return code


def _item(value_type: str, name: str, relationship: str = "CONTAINS", code: tuple[str, str] | None = None):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.RelationshipType, item.ValueType = relationship, value_type
    value, scheme = code if code else (name.replace(" ", "_"), SCHEME)
    item.ConceptNameCodeSequence = [_code(value, name, scheme)]
    return item


def _text(name: str, text: str, code: tuple[str, str] | None = None):
    item = _item("TEXT", name, code=code)
    item.TextValue = text
    return item


def _num(name: str, value: float, unit: tuple[str, str]):
    from pydicom.dataset import Dataset

    item = _item("NUM", name)
    measured = Dataset()
    measured.NumericValue = f"{float(value):.6g}"
    measured.MeasurementUnitsCodeSequence = [_code(unit[0], unit[1], "UCUM")]
    item.MeasuredValueSequence = [measured]
    return item


def _scoord(name: str, graphic_type: str, points: Sequence[float], source: Any):
    from pydicom.dataset import Dataset

    item = _item("SCOORD", name)
    item.GraphicType = graphic_type
    item.GraphicData = [float(v) for v in points]
    image = Dataset()
    image.RelationshipType, image.ValueType = "SELECTED FROM", "IMAGE"
    reference = Dataset()
    reference.ReferencedSOPClassUID = source.SOPClassUID
    reference.ReferencedSOPInstanceUID = source.SOPInstanceUID
    image.ReferencedSOPSequence = [reference]
    item.ContentSequence = [image]
    return item


def write_hip_sr(
    analysis: RadiographAnalysis,
    source: Any,
    path: str | os.PathLike,
    copy_patient_module: bool = False,
    algorithm_version: str | None = None,
) -> Path:
    """Write ``analysis`` of the radiograph ``source`` as a Comprehensive SR file.

    Args:
        analysis: the analyser's result for this image.
        source: the analysed image's pydicom ``Dataset`` (header only is enough) or its file path.
        path: the SR file to write (its folder is created).
        copy_patient_module: copy the source's patient and study attributes and Study Instance UID (PACS filing);
            off by default, so no identifying value leaves the source.
        algorithm_version: written as Algorithm Version (default: the hipmonai package version).

    Returns:
        ``path``.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    if not isinstance(source, Dataset):
        source = pydicom.dcmread(source, stop_before_pixels=True)
    if algorithm_version is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            algorithm_version = version("hipmonai")
        except PackageNotFoundError:
            algorithm_version = "unknown"
    now = datetime.datetime.now()
    sr = Dataset()
    sr.SOPClassUID, sr.SOPInstanceUID = COMPREHENSIVE_SR, generate_uid()
    sr.Modality, sr.SeriesInstanceUID, sr.SeriesNumber, sr.InstanceNumber = "SR", generate_uid(), 9000, 1
    sr.SeriesDescription = "hipmonai hip landmarks and osteophytes"
    sr.Manufacturer, sr.ContentDate, sr.ContentTime = "hipmonai", now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    # patient and study: empty (Type 2) unless explicitly copied
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyDate",
                    "StudyTime", "StudyID", "ReferringPhysicianName"):
        setattr(sr, keyword, "")
    sr.StudyInstanceUID = generate_uid()
    if copy_patient_module:
        for keyword in PATIENT_STUDY_ATTRIBUTES:
            if keyword in source:
                setattr(sr, keyword, source.data_element(keyword).value)
        sr.StudyInstanceUID = source.StudyInstanceUID
    # SR document general module
    sr.CompletionFlag, sr.VerificationFlag = "COMPLETE", "UNVERIFIED"
    evidence_instance = Dataset()
    evidence_instance.ReferencedSOPClassUID = source.SOPClassUID
    evidence_instance.ReferencedSOPInstanceUID = source.SOPInstanceUID
    evidence_series = Dataset()
    evidence_series.SeriesInstanceUID = source.SeriesInstanceUID
    evidence_series.ReferencedSOPSequence = [evidence_instance]
    evidence = Dataset()
    evidence.StudyInstanceUID = source.StudyInstanceUID
    evidence.ReferencedSeriesSequence = [evidence_series]
    sr.CurrentRequestedProcedureEvidenceSequence = [evidence]
    # content tree
    sr.ValueType, sr.ContinuityOfContent = "CONTAINER", "SEPARATE"
    sr.ConceptNameCodeSequence = [_code("126000", "Imaging Measurement Report", "DCM")]
    content = [_text("Algorithm Name", "hipmonai", ("111001", "DCM")),
               _text("Algorithm Version", algorithm_version, ("111003", "DCM"))]
    for hip in analysis.hips:
        container = _item("CONTAINER", f"{hip.side} hip")
        container.ContinuityOfContent = "SEPARATE"
        children = [_scoord(name, "POINT", (px[0] + 0.5, px[1] + 0.5), source)
                    for name, px in zip(hip.landmark_names, hip.landmarks_px, strict=True)
                    if np.isfinite(px).all()]  # a hip reported absent has no points
        if hip.head_circle_mm is not None:
            cx, cy, radius = hip.head_circle_mm
            sx, sy = analysis.spacing_xy_mm
            centre = (cx / sx + 0.5, cy / sy + 0.5)
            children.append(_scoord(f"{hip.side} femoral head", "CIRCLE",
                                    (*centre, centre[0] + radius / sx, centre[1]), source))
        for target, p in hip.osteophyte_probability.items():
            children.append(_num(f"{target} osteophyte probability", p, ("1", "no units")))
        if hip.any_osteophyte_probability is not None:
            children.append(_num("any osteophyte probability", hip.any_osteophyte_probability, ("1", "no units")))
        for target, grade in hip.grades.items():
            children.append(_num(f"{target} OARSI grade", grade, ("{grade}", "grade")))
        if hip.skipped:
            children.append(_text("not analysed", hip.skipped))
        container.ContentSequence = children
        content.append(container)
    sr.ContentSequence = content

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sr.SOPClassUID, sr.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sr.file_meta = meta
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    sr.save_as(tmp, enforce_file_format=True)
    os.replace(tmp, path)
    return path
