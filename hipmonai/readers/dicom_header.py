"""DICOM header logic for projection radiographs: reading, pixel spacing, a privacy-safe summary, the projection
view, the image hash.

Nothing here decodes pixel data, so ``hipmonai inspect --header-only`` and the choice among the images of a visit
stay fast; :mod:`hipmonai.readers.radiograph_reader` builds the pixel array on top of these functions. pydicom is
imported lazily inside the functions.

Privacy: every value that leaves this module comes from a whitelist of technical tags (size, spacing,
photometric interpretation, modality, transfer syntax, laterality, a ViewPosition defined term). Free-text tags
(SeriesDescription, ProtocolName, ImageComments) are only searched for view words, never copied out.
Patient-identifying values (name, ID, birth date, accession number, institution, ...) are never read into a
returned dict or an error message; images are referred to by :func:`source_uid_hash`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hipmonai.errors import InputError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "SPACING_SOURCE_CALLER",
    "SPACING_SOURCE_IMAGER",
    "SPACING_SOURCE_IMAGER_MAGNIFICATION",
    "SPACING_SOURCE_MISSING",
    "SPACING_SOURCE_PIXEL",
    "ProjectionView",
    "dataset_name",
    "is_inverted",
    "laterality",
    "projection_view",
    "read_dicom",
    "source_uid_hash",
    "spacing_from_dataset",
    "summarize_dicom",
    "transfer_syntax_name",
    "validate_spacing_xy_mm",
]

SPACING_SOURCE_PIXEL = "PixelSpacing"
SPACING_SOURCE_IMAGER = "ImagerPixelSpacing"
SPACING_SOURCE_IMAGER_MAGNIFICATION = "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
SPACING_SOURCE_CALLER = "caller"
SPACING_SOURCE_MISSING = "missing"  # only in summaries: the file has no usable spacing and none was passed

UID_HASH_LENGTH = 16

#: ViewPosition (0018,5101) defined terms of a frontal view, and of lateral/oblique views (plus common vendor spellings)
VIEW_POSITIONS_AP = ("AP", "PA")
VIEW_POSITIONS_LATERAL = ("LL", "RL", "LLD", "RLD", "LLO", "RLO", "LAT", "LATERAL")
#: free-text tags searched for the view, in this order, and the words (whole tokens, any case) looked for
VIEW_TEXT_TAGS = ("SeriesDescription", "ProtocolName", "ImageComments")
VIEW_WORDS_AP = frozenset({"AP", "PA"})
VIEW_WORDS_LATERAL = frozenset({"LAT", "LATERAL", "LAUENSTEIN", "FROG", "AXIAL"})
VIEW_WORDS_SCOUT = frozenset({"SCOUT", "LOCALIZER", "LOCALISER", "SCANOGRAM", "TOPOGRAM"})


def dataset_name(ds: Dataset) -> str:
    """The file a dataset was read from (for error messages), or ``"DICOM dataset"`` when it was built in memory."""
    filename = getattr(ds, "filename", None)
    return str(filename) if isinstance(filename, (str, os.PathLike)) and str(filename) else "DICOM dataset"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{err.__class__.__name__}: {text}" if text else err.__class__.__name__


def read_dicom(path: str | os.PathLike, *, pixels: bool = True) -> Dataset:
    """Read one DICOM file, turning every failure into an :class:`~hipmonai.InputError` naming the file.

    Args:
        path: the file. It must carry the DICOM file preamble (``DICM`` at byte 128), as every file written by a
            modality or PACS export does.
        pixels: also read the (undecoded) pixel data; ``False`` stops before it, for header-only use.

    Returns:
        The dataset; ``ds.filename`` is the path as a string. Pixel data is not decoded here.

    Raises:
        InputError: the file is missing, is a folder, is not DICOM, its header is unreadable, or it is not an
            image (no Rows/Columns, or no Pixel Data when ``pixels`` is true), or is truncated.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    name = os.fspath(path)
    if not os.path.exists(name):
        raise InputError(f"{name}: file not found")
    if os.path.isdir(name):
        raise InputError(f"{name}: is a folder, expected one DICOM file")
    try:
        ds = pydicom.dcmread(name, stop_before_pixels=not pixels)
    except InvalidDicomError:
        raise InputError(f"{name}: not a DICOM file (no 'DICM' marker after the 128-byte preamble)") from None
    except OSError as err:
        raise InputError(f"{name}: cannot be read ({_one_line(err)})") from err
    except Exception as err:  # pydicom raises many types on damaged headers; the user needs one line
        raise InputError(f"{name}: unreadable DICOM header ({_one_line(err)})") from err
    if len(ds) == 0:  # pydicom returns an empty dataset when it hits the end of a truncated file mid-element
        raise InputError(f"{name}: no data element could be read; the file is truncated or damaged")
    missing = [keyword for keyword in ("Rows", "Columns") if ds.get(keyword) in (None, "")]
    if missing:
        raise InputError(f"{name}: not an image (no {'/'.join(missing)}); the file may be damaged")
    if pixels and not any(keyword in ds for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise InputError(f"{name}: no Pixel Data element; the file may be truncated")
    return ds


def _positive_pair(ds: Dataset, keyword: str) -> tuple[tuple[float, float] | None, str]:
    """``(row, column)`` values of a two-valued spacing tag, or None and why the tag cannot be used."""
    if keyword not in ds or ds[keyword].is_empty:
        return None, f"{keyword} absent"
    raw = ds[keyword].value
    values = list(raw) if isinstance(raw, Sequence) and not isinstance(raw, (str, bytes)) else [raw]
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        return None, f"{keyword} {values} is not numeric"
    if len(floats) != 2:
        return None, f"{keyword} {floats} does not hold two values (row, column)"
    if not all(math.isfinite(v) and v > 0 for v in floats):
        return None, f"{keyword} {floats} is not positive"
    return (floats[0], floats[1]), ""


def _magnification(ds: Dataset) -> float | None:
    """EstimatedRadiographicMagnificationFactor when present and usable (finite, > 0)."""
    raw = ds.get("EstimatedRadiographicMagnificationFactor")
    try:
        factor = float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return factor if factor is not None and math.isfinite(factor) and factor > 0 else None


def validate_spacing_xy_mm(spacing_xy_mm: Sequence[float]) -> tuple[float, float]:
    """``(x, y)`` spacing in mm as two floats, or ValueError naming the bad value (not two finite positives)."""
    try:
        values = tuple(float(s) for s in spacing_xy_mm)
    except (TypeError, ValueError):
        raise ValueError(f"spacing_xy_mm must be two numbers (x, y) in mm, got {spacing_xy_mm!r}.") from None
    if len(values) != 2 or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing_xy_mm must be two positive numbers (x, y) in mm, got {spacing_xy_mm!r}.")
    return values[0], values[1]


def spacing_from_dataset(
    ds: Dataset, spacing_xy_mm: Sequence[float] | None = None, *, force: bool = False
) -> tuple[tuple[float, float], str]:
    """The pixel spacing of a projection radiograph and the tag it came from.

    Order: ``PixelSpacing`` (spacing in the patient plane) when present with two positive values; else
    ``ImagerPixelSpacing`` (at the detector) divided by ``EstimatedRadiographicMagnificationFactor`` when that
    is present and positive, or undivided when it is not; else the caller's ``spacing_xy_mm``. Zero, negative,
    non-finite or malformed values count as missing (many CR files store ``PixelSpacing = 0.000\\0.000``).
    The caller's spacing is a fallback: it is used only when the file has none, unless ``force`` is true, in
    which case it overrides the file (for files known to carry a wrong calibration).

    Args:
        ds: the dataset (header only is enough).
        spacing_xy_mm: fallback ``(x, y)`` = (column, row) spacing in mm.
        force: use ``spacing_xy_mm`` even when the file has a usable spacing.

    Returns:
        ``((x_mm, y_mm), source)``: (column spacing, row spacing) in mm — DICOM stores ``[row, column]``, this
        function swaps them — and ``source``: ``"PixelSpacing"``, ``"ImagerPixelSpacing"``,
        ``"ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"`` or ``"caller"``.

    Raises:
        ValueError: ``spacing_xy_mm`` is not two positive numbers, or ``force`` is given without it.
        InputError: the file has no usable spacing and ``spacing_xy_mm`` is None; the message names the file,
            says what the tags held and that a spacing can be passed.
    """
    fallback = None if spacing_xy_mm is None else validate_spacing_xy_mm(spacing_xy_mm)
    if force:
        if fallback is None:
            raise ValueError("force=True needs spacing_xy_mm, the spacing that overrides the file's.")
        return fallback, SPACING_SOURCE_CALLER
    pixel, pixel_reason = _positive_pair(ds, "PixelSpacing")
    if pixel is not None:
        return (pixel[1], pixel[0]), SPACING_SOURCE_PIXEL
    imager, imager_reason = _positive_pair(ds, "ImagerPixelSpacing")
    if imager is not None:
        factor = _magnification(ds)
        if factor is None:
            return (imager[1], imager[0]), SPACING_SOURCE_IMAGER
        return (imager[1] / factor, imager[0] / factor), SPACING_SOURCE_IMAGER_MAGNIFICATION
    if fallback is not None:
        return fallback, SPACING_SOURCE_CALLER
    raise InputError(
        f"{dataset_name(ds)}: no usable pixel spacing ({pixel_reason}; {imager_reason}); "
        "pass a spacing (spacing_xy_mm, or --fallback-spacing X_MM Y_MM on the command line)"
    )


def is_inverted(ds: Dataset) -> bool:
    """True for ``MONOCHROME1`` (minimum value shown white): such images are inverted so that bone is bright."""
    return _text(ds, "PhotometricInterpretation").upper() == "MONOCHROME1"


def laterality(ds: Dataset) -> str:
    """``ImageLaterality``, else ``Laterality`` (``"L"``, ``"R"``, ``"B"``, ``"U"``), else ``""``."""
    for keyword in ("ImageLaterality", "Laterality"):
        value = _text(ds, keyword).upper()
        if value:
            return value
    return ""


def transfer_syntax_name(ds: Dataset) -> str:
    """The transfer syntax's name (e.g. ``"JPEG 2000 Image Compression"``), its UID when unnamed, or ``"unknown"``."""
    file_meta = getattr(ds, "file_meta", None)
    uid = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    return str(uid.name) if uid else "unknown"


def source_uid_hash(ds: Dataset) -> str:
    """A pseudonymous, stable image reference: the first 16 hex digits of SHA-256.

    Hashes the ``SOPInstanceUID`` (ASCII, surrounding blanks and NUL padding removed); a dataset without one
    falls back to the hash of its raw (possibly compressed) pixel data bytes.

    Raises:
        InputError: the dataset has neither a SOPInstanceUID nor pixel data.
    """
    uid = _text(ds, "SOPInstanceUID")
    if uid:
        payload = uid.encode("ascii", errors="replace")
    elif "PixelData" in ds and ds.PixelData:
        payload = bytes(ds.PixelData)
    else:
        raise InputError(f"{dataset_name(ds)}: no SOPInstanceUID and no pixel data to derive an image reference from")
    return hashlib.sha256(payload).hexdigest()[:UID_HASH_LENGTH]


def summarize_dicom(ds: Dataset) -> dict[str, Any]:
    """The whitelisted, non-identifying header fields ``hipmonai inspect`` prints (JSON-ready).

    Returns:
        ``{"rows", "cols", "spacing_mm", "spacing_source", "photometric", "inverted", "modality",
        "transfer_syntax", "laterality"}``: ``rows``/``cols`` in pixels; ``spacing_mm`` = ``[x, y]`` (column,
        row) in mm as :func:`spacing_from_dataset` finds it, or None with ``spacing_source = "missing"``;
        ``inverted`` true for MONOCHROME1 (the reader inverts those so bone is bright).
    """
    try:
        spacing, source = spacing_from_dataset(ds)
        spacing_mm: list[float] | None = [spacing[0], spacing[1]]
    except InputError:
        spacing_mm, source = None, SPACING_SOURCE_MISSING
    return {
        "rows": int(ds.Rows),
        "cols": int(ds.Columns),
        "spacing_mm": spacing_mm,
        "spacing_source": source,
        "photometric": _text(ds, "PhotometricInterpretation"),
        "inverted": is_inverted(ds),
        "modality": _text(ds, "Modality"),
        "transfer_syntax": transfer_syntax_name(ds),
        "laterality": laterality(ds),
    }


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip(" \0")


@dataclass(frozen=True)
class ProjectionView:
    """What a radiograph's header says about its projection, in terms free of identifying values.

    Attributes:
        kind: ``"ap"`` (ViewPosition AP or PA), ``"ap_text"`` (a free-text tag names AP/PA), ``"unlabelled"``,
            ``"lateral"`` (ViewPosition lateral/oblique, or a text tag names a lateral view) or ``"scout"`` (a text tag
            names a scout/localizer).
        tag: the keyword that decided it (``"ViewPosition"``, ``"SeriesDescription"``, ...; ``""`` when unlabelled).
        value: the ViewPosition defined term when ``tag`` is ViewPosition, else ``""`` (free text is never kept).
    """

    kind: str
    tag: str = ""
    value: str = ""

    @property
    def frontal(self) -> bool:
        """Whether the image may be the AP/PA view (labelled so, or not labelled at all)."""
        return self.kind in ("ap", "ap_text", "unlabelled")

    def describe(self) -> str:
        """A clause for "this one ...": ``"is ViewPosition LL"``, ``"is a lateral view (ProtocolName)"``, ..."""
        if self.tag == "ViewPosition":
            return f"is ViewPosition {self.value}"
        if self.kind == "ap_text":
            return f"is labelled AP/PA in {self.tag} only"
        if self.kind == "lateral":
            return f"is a lateral view ({self.tag})"
        if self.kind == "scout":
            return f"is a scout/localizer ({self.tag})"
        return "has no view in the header"


def _words(ds: Dataset, keyword: str) -> frozenset[str]:
    return frozenset(re.split(r"[^A-Z0-9]+", _text(ds, keyword).upper())) - {""}


def projection_view(ds: Dataset) -> ProjectionView:
    """Classify a radiograph's projection from its header (header only; no value is copied out but a defined term).

    Rule, first match wins: a free-text tag (:data:`VIEW_TEXT_TAGS`) naming a scout/localizer -> ``"scout"``;
    ``ViewPosition`` AP/PA -> ``"ap"``, lateral/oblique -> ``"lateral"`` (other values are ignored); a text tag
    naming a lateral view (LAT, LATERAL, Lauenstein, frog, axial) without AP/PA -> ``"lateral"``; a text tag naming
    AP or PA (as a whole word) -> ``"ap_text"``; else ``"unlabelled"``. A tag naming both AP/PA and a lateral view
    (``"HIP AP + LAT"``) decides nothing.
    """
    words = {keyword: _words(ds, keyword) for keyword in VIEW_TEXT_TAGS}
    for keyword in VIEW_TEXT_TAGS:
        if words[keyword] & VIEW_WORDS_SCOUT:
            return ProjectionView("scout", keyword)
    position = _text(ds, "ViewPosition").upper()
    if position in VIEW_POSITIONS_AP:
        return ProjectionView("ap", "ViewPosition", position)
    if position in VIEW_POSITIONS_LATERAL:
        return ProjectionView("lateral", "ViewPosition", position)
    for keyword in VIEW_TEXT_TAGS:
        if words[keyword] & VIEW_WORDS_LATERAL and not words[keyword] & VIEW_WORDS_AP:
            return ProjectionView("lateral", keyword)
    for keyword in VIEW_TEXT_TAGS:
        if words[keyword] & VIEW_WORDS_AP and not words[keyword] & VIEW_WORDS_LATERAL:
            return ProjectionView("ap_text", keyword)
    return ProjectionView("unlabelled")

