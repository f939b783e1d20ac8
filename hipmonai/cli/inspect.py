"""``hipmonai inspect FILE.dcm``: check that a radiograph can be read and print one JSON object describing it.

Fields: rows, cols, spacing_mm ([x, y] in mm or null), spacing_source (the tag used, or "missing"), photometric,
inverted, modality, transfer_syntax, laterality. By default the pixel data is decoded as preprocessing decodes it
(:func:`hipmonai.readers.radiograph_array`, the decoding step of :func:`hipmonai.readers.load_radiograph`), so a file
whose pixels cannot be decoded (damaged JPEG stream, truncated data, Rows x Columns larger than the pixel buffer) is
a one-line error with exit status 1; ``--header-only`` reads the header alone, as fast as before. Only whitelisted
technical fields are printed — never a patient-identifying value.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="check that a DICOM radiograph decodes and print its size, spacing, photometric interpretation, ... "
        "as one JSON object",
        description=(
            "Read a DICOM file, decode its pixel data the way hipmonai preprocess does, and print one JSON object: "
            "rows, cols, spacing_mm ([x, y] = [column, row] spacing in mm, null when the file has none), "
            "spacing_source (PixelSpacing, ImagerPixelSpacing, ImagerPixelSpacing/"
            "EstimatedRadiographicMagnificationFactor or missing), photometric, inverted (MONOCHROME1: hipmonai "
            "inverts it so bone is bright), modality, transfer_syntax and laterality. A file that is not a DICOM "
            "image, or whose pixel data cannot be decoded (damaged or truncated data, a size the pixel data does not "
            "hold), prints one line on stderr and exits with status 1. Patient-identifying values are never printed."
        ),
    )
    parser.add_argument("file", metavar="FILE.dcm", help="a DICOM file")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print with this indent (default: one line)")
    parser.add_argument(
        "--header-only",
        action="store_true",
        help="read the header only (fast; the pixel data is neither read nor checked)",
    )
    parser.set_defaults(func=run)


@contextmanager
def _pydicom_quiet(quiet: bool) -> Iterator[None]:
    """Hold back pydicom's own log records (a traceback per failed decoder plugin) while ``quiet``: the reason
    reaches the user once, in the one-line error."""
    logger = logging.getLogger("pydicom")
    level = logger.level
    if quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def run(args: argparse.Namespace) -> int:
    from hipmonai.readers.dicom_header import read_dicom, summarize_dicom

    if args.indent is not None and args.indent < 0:
        raise ValueError(f"--indent must be >= 0, got {args.indent}.")
    ds = read_dicom(args.file, pixels=not args.header_only)
    summary = summarize_dicom(ds)
    if not args.header_only:
        from hipmonai.readers import radiograph_array

        with _pydicom_quiet(not getattr(args, "debug", False)):
            radiograph_array(ds)  # raises InputError naming the file when the pixels cannot be decoded
    print(json.dumps(summary, indent=args.indent))
    return 0
