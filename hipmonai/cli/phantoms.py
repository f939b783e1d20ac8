"""``hipmonai phantoms hip|knee``: write a synthetic phantom cohort."""

from __future__ import annotations

import argparse
import json

from hipmonai.errors import InputError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got {value}")
    return value


def _spacing(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a pixel spacing in mm, got {text!r}") from None
    if not 0.05 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"pixel spacing must lie in [0.05, 2.0] mm, got {value}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "phantoms",
        help="write a synthetic phantom cohort (DICOM, .pts, grades, lesion masks)",
        description="Write a synthetic bilateral AP pelvis (hip) or PA knee (knee) phantom cohort laid out as a real "
        "user's data: OUT/dicom, OUT/landmarks (.pts, mm), OUT/grades.csv, plus ground truth (OUT/lesions, "
        "OUT/truth.csv), OUT/cohort.json and OUT/contact_sheet.png. Prints the realised correlation matrix and "
        "grade distribution. The same seed gives identical files for any number of workers.",
    )
    parser.add_argument("kind", choices=("hip", "knee"), help="which phantom: hip (AP pelvis) or knee (bilateral PA)")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument(
        "--subjects",
        type=_positive_int,
        default=None,
        help="number of subjects (default: hip 300, knee 200 — the demo cohort)",
    )
    parser.add_argument("--seed", type=_seed, default=0, help="cohort seed (default 0)")
    parser.add_argument("--visits", type=_positive_int, default=1, help="visits per subject (default 1, at most 10)")
    parser.add_argument("--workers", type=_positive_int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--spacing",
        type=_spacing,
        default=None,
        help="render every image at this pixel spacing in mm (default: drawn per subject, "
        "0.35-0.6 mm hip, 0.3-0.5 mm knee)",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        type=_param,
        help="phantom parameters, values as JSON (e.g. single_hip_fraction=0.2 collimation_prob=0 "
        "dose_ugy=[2,4]); names: see HipPhantomParams / KneePhantomParams",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a cohort already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def _param(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(
            f"{name}: value must be JSON (a number, true/false or a list), got {value!r}"
        ) from None
    return name, _tuples(parsed)


def _tuples(value: object) -> object:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def run(args: argparse.Namespace) -> int:
    from hipmonai.phantoms import format_summary, generate_hip_cohort, generate_knee_cohort

    generate = generate_hip_cohort if args.kind == "hip" else generate_knee_cohort
    options: dict[str, object] = dict(args.set)
    if args.spacing is not None:
        options["spacing_mm"] = args.spacing
    if args.subjects is not None:  # otherwise the generator's default demo size
        options["n_subjects"] = args.subjects
    try:
        summary = generate(
            args.out,
            seed=args.seed,
            visits=args.visits,
            workers=args.workers,
            overwrite=args.overwrite,
            progress=not args.quiet,
            **options,
        )
    except (TypeError, ValueError) as err:
        raise InputError(str(err)) from err
    print(format_summary(summary))
    return 0
