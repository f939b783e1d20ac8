"""``hipmonai inspect FILE.dcm``: print one JSON object describing a radiograph's header.

Fields: rows, cols, spacing_mm ([x, y] in mm or null), spacing_source (the tag used, or "missing"),
photometric, inverted, modality, transfer_syntax, laterality. Only the header is read (no pixel decoding),
and only these whitelisted technical fields are printed — never a patient-identifying value.
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="print a DICOM radiograph's size, spacing, photometric interpretation, ... as one JSON object",
        description=(
            "Read a DICOM file's header (pixel data is not decoded) and print one JSON object: rows, cols, "
            "spacing_mm ([x, y] = [column, row] spacing in mm, null when the file has none), spacing_source "
            "(PixelSpacing, ImagerPixelSpacing, ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor or "
            "missing), photometric, inverted (MONOCHROME1: hipmonai inverts it so bone is bright), modality, "
            "transfer_syntax and laterality. Patient-identifying values are never printed."
        ),
    )
    parser.add_argument("file", metavar="FILE.dcm", help="a DICOM file")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print with this indent (default: one line)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hipmonai.readers.dicom_header import read_dicom, summarize_dicom

    if args.indent is not None and args.indent < 0:
        raise ValueError(f"--indent must be >= 0, got {args.indent}.")
    summary = summarize_dicom(read_dicom(args.file, pixels=False))
    print(json.dumps(summary, indent=args.indent))
    return 0
