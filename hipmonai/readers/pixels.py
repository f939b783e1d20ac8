"""Decoded pixels of a DICOM projection radiograph as modality values, without MONAI (``hipmonai inspect`` decodes
with this alone; :mod:`hipmonai.readers.radiograph_reader` wraps it as a MONAI reader).

:func:`radiograph_array` applies the modality LUT / rescale, inverts MONOCHROME1 so bone is bright, converts colour
to grey (BT.601 luma, with a warning) and returns the ``(W, H)`` = (columns, rows) array; with ``dtype=None`` integer
modality values stay integer (for the usual DX/CR header the decoded pixels themselves, no copy).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from hipmonai.errors import InputError
from hipmonai.readers.dicom_header import _one_line, dataset_name, is_inverted, transfer_syntax_name

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["DICOM_SUFFIXES", "radiograph_array"]

DICOM_SUFFIXES = (".dcm", ".dicom")
_GREY_PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2")
_COLOUR_PHOTOMETRICS = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, the weights DICOM's YBR_FULL is defined with
_ROWS_PER_BLOCK = 256  # rows rescaled at a time: a float64 scratch of ~6 MB for a 3000-column radiograph


def _stored_range(ds: Dataset) -> tuple[int, int]:
    """Smallest and largest stored pixel value the header allows (BitsStored, PixelRepresentation)."""
    bits = ds.get("BitsStored") or ds.get("BitsAllocated")
    if not bits or int(bits) < 1:
        raise InputError(f"{dataset_name(ds)}: no BitsStored/BitsAllocated, cannot tell the pixel value range")
    bits = int(bits)
    if int(ds.get("PixelRepresentation") or 0) == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _modality_span(ds: Dataset) -> tuple[float, float]:
    """Check ``RescaleSlope``/``RescaleIntercept``; the ``(low, high)`` modality values of the header's stored range.

    The stored range comes from ``BitsStored``/``PixelRepresentation``; it maps through the modality LUT
    (``ModalityLUTSequence``) or the rescale with pydicom's ``apply_modality_lut``.
    """
    from pydicom.pixels import apply_modality_lut

    name = dataset_name(ds)
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        if keyword in ds and ds.get(keyword) not in (None, ""):
            try:
                value = float(ds.get(keyword))
            except (TypeError, ValueError):
                raise InputError(f"{name}: {keyword} {ds.get(keyword)!r} is not a number") from None
            if not math.isfinite(value) or (keyword == "RescaleSlope" and value == 0):
                raise InputError(f"{name}: {keyword} {value} is not usable")
    low, high = _stored_range(ds)
    if ds.get("ModalityLUTSequence"):  # a lookup table need not be monotonic: map every stored value
        if high - low >= 2**16:
            raise InputError(f"{name}: a Modality LUT on more than 16 stored bits is not valid DICOM")
        span = apply_modality_lut(np.arange(low, high + 1, dtype=np.int64), ds)
    else:
        span = apply_modality_lut(np.array([low, high], dtype=np.int64), ds)
    return float(np.min(span)), float(np.max(span))


def _rescale(ds: Dataset) -> tuple[float, float] | None:
    """``(slope, intercept)`` that ``apply_modality_lut`` applies (``(1, 0)`` without both tags); ``None`` for a LUT."""
    if ds.get("ModalityLUTSequence"):
        return None
    if "RescaleSlope" not in ds or "RescaleIntercept" not in ds:
        return 1.0, 0.0
    values = (ds.get("RescaleSlope"), ds.get("RescaleIntercept"))
    return None if any(v in (None, "") for v in values) else (float(values[0]), float(values[1]))


def _integer_dtype(
    stored: np.ndarray, rescale: tuple[float, float] | None, inverted_sum: float | None
) -> np.dtype | None:
    """The smallest integer dtype holding this image's modality values, or ``None`` when they are not integers.

    Integers: integer stored pixels, no modality LUT, an integer slope and intercept (DX/CR headers carry 1 and 0)
    and an integer inversion sum. The dtype is chosen from the image's own stored minimum and maximum.
    """
    if rescale is None or not np.issubdtype(stored.dtype, np.integer):
        return None
    if not all(float(v).is_integer() for v in (*rescale, inverted_sum or 0.0)):
        return None
    slope, intercept = (int(v) for v in rescale)
    ends = [int(v) * slope + intercept for v in (stored.min(), stored.max())]
    if inverted_sum is not None:
        ends = [int(inverted_sum) - v for v in ends]
    low, high = min(ends), max(ends)
    kinds = (np.int8, np.int16, np.int32, np.int64) if low < 0 else (np.uint8, np.uint16, np.uint32, np.uint64)
    return next((np.dtype(t) for t in kinds if np.iinfo(t).min <= low and high <= np.iinfo(t).max), None)


def _map_rows(ds: Dataset, stored: np.ndarray, inverted_sum: float | None, out: np.ndarray) -> np.ndarray:
    """Modality values of ``stored`` ``(H, W)`` into ``out`` ``(H, W)`` (any dtype, any strides), by blocks of rows.

    Per block: pydicom's ``apply_modality_lut`` (float64 for a rescale), then ``inverted_sum - value`` for
    MONOCHROME1, then the cast to ``out``'s dtype; the float64 scratch is ``_ROWS_PER_BLOCK`` rows, never the image.
    """
    from pydicom.pixels import apply_modality_lut

    for start in range(0, stored.shape[0], _ROWS_PER_BLOCK):
        rows = slice(start, start + _ROWS_PER_BLOCK)
        values = apply_modality_lut(stored[rows], ds)
        out[rows] = values if inverted_sum is None else inverted_sum - values.astype(np.float64, copy=False)
    return out


def _to_grey(ds: Dataset, array: np.ndarray, photometric: str) -> np.ndarray:
    """Colour pixels -> grey (BT.601 luma), with a warning: radiographs should be MONOCHROME1/2."""
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        array = apply_color_lut(array, ds)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise InputError(f"{dataset_name(ds)}: {photometric} pixel data of shape {array.shape} is not (rows, cols, 3)")
    warnings.warn(
        f"{dataset_name(ds)}: colour image ({photometric}) converted to grey (BT.601 luma); "
        "projection radiographs are normally MONOCHROME1/MONOCHROME2.",
        stacklevel=2,
    )
    return array.astype(np.float64) @ _LUMA_WEIGHTS


def radiograph_array(
    ds: Dataset, dtype: np.dtype | type | str | None = np.float64, *, columns_first: bool = False
) -> np.ndarray:
    """Decode a single-frame radiograph to modality values with bone bright, ``(H, W)`` = (rows, columns).

    Steps: decode through pydicom's pixel handlers (uncompressed, RLE, JPEG lossless/baseline, JPEG-LS,
    JPEG 2000 via the pylibjpeg plugins); for MONOCHROME1/MONOCHROME2 apply the modality LUT or
    ``RescaleSlope``/``RescaleIntercept``; invert MONOCHROME1 as ``value' = (low + high) - value``, where
    ``[low, high]`` is the *header's* value range (``BitsStored``, ``PixelRepresentation``) after the same
    rescale — the mapping does not depend on the image content, keeps the range, and makes the minimum
    (shown white in MONOCHROME1) the maximum. Colour images (RGB, YBR_*, PALETTE COLOR) become grey with a
    warning (no rescale or inversion: neither is defined for colour). No VOI LUT / windowing is applied.
    The rescale and inversion run a block of rows at a time, so no full-size float64 copy is ever made.

    Args:
        ds: the dataset, pixel data not yet decoded.
        dtype: dtype of the values (the float64 result rounded to it). ``None``: keep integer modality values
            integer (no modality LUT, integer slope and intercept, as DX/CR headers have) in the smallest integer
            dtype that holds this image's values — the decoded array itself when the rescale is the identity
            and the image is MONOCHROME2, no copy at all; float32 otherwise.
        columns_first: return ``(W, H)`` = (columns, rows), the readers' axis order, instead: C-contiguous for a
            given ``dtype``, the transposed view of the ``(H, W)`` result (no copy) for ``dtype=None``.

    Raises:
        ValueError: ``dtype`` is neither a floating type nor ``None``.
        InputError: multi-frame data, undecodable or truncated pixel data, or an unsupported photometric
            interpretation; the message names the file and the reason.
    """
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating):
        raise ValueError(f"dtype must be a floating type or None, got {np.dtype(dtype)}.")
    name = dataset_name(ds)
    frames = ds.get("NumberOfFrames")
    try:
        n_frames = int(frames) if frames not in (None, "") else 1
    except (TypeError, ValueError):
        raise InputError(f"{name}: NumberOfFrames {frames!r} is not a number") from None
    if n_frames != 1:
        raise InputError(f"{name}: {n_frames} frames; a projection radiograph has exactly one")
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric not in _GREY_PHOTOMETRICS + _COLOUR_PHOTOMETRICS:
        raise InputError(f"{name}: unsupported PhotometricInterpretation {photometric!r}")
    try:
        stored = ds.pixel_array
    except Exception as err:  # pydicom's handlers raise many types (ValueError, RuntimeError, ...) on bad data
        raise InputError(
            f"{name}: pixel data cannot be decoded ({transfer_syntax_name(ds)}; {_one_line(err)})"
        ) from err
    expected = (int(ds.Rows), int(ds.Columns))
    if stored.shape[:2] != expected:
        raise InputError(f"{name}: decoded pixel data of shape {stored.shape} does not match Rows x Columns {expected}")
    if photometric in _COLOUR_PHOTOMETRICS:
        grey = _to_grey(ds, stored, photometric)
        return np.ascontiguousarray(grey.T if columns_first else grey, dtype=np.float32 if dtype is None else dtype)
    if stored.ndim != 2:
        raise InputError(f"{name}: {photometric} pixel data of shape {stored.shape} is not (rows, cols)")
    low, high = _modality_span(ds)
    inverted_sum = (low + high) if is_inverted(ds) else None
    if dtype is None:
        rescale = _rescale(ds)
        if rescale == (1.0, 0.0) and inverted_sum is None and np.issubdtype(stored.dtype, np.integer):
            return stored.T if columns_first else stored
        native = _integer_dtype(stored, rescale, inverted_sum)
        values = _map_rows(ds, stored, inverted_sum, np.empty(stored.shape, np.float32 if native is None else native))
        return values.T if columns_first else values
    if not columns_first:
        return _map_rows(ds, stored, inverted_sum, np.empty(stored.shape, dtype))
    values_wh = np.empty(stored.shape[::-1], dtype)
    _map_rows(ds, stored, inverted_sum, values_wh.T)
    return values_wh
