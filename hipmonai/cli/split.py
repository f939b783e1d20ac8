"""``hipmonai split``: a subject-level training / validation / test manifest of an HDF5 store."""

from __future__ import annotations

import argparse
from pathlib import Path

from hipmonai.errors import InputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from hipmonai.data.manifests import DEFAULT_FRACTIONS

    parser = subparsers.add_parser(
        "split",
        help="split a store's subjects into training/validation/test (MONAI datalist JSON)",
        description=(
            "Write a MONAI datalist that splits the subjects of a preprocessed HDF5 store at random, seeded: "
            "all visits and both hips of a subject stay in one split. Store paths in the manifest are relative "
            "to its folder. Prints subjects and hips per split."
        ),
    )
    parser.add_argument("--h5", required=True, type=Path, metavar="FILE.h5", help="the preprocessed store")
    parser.add_argument("--out", required=True, type=Path, metavar="NAME.json", help="the manifest to write")
    parser.add_argument("--seed", type=int, default=0, help="split seed, a non-negative integer (default: 0)")
    parser.add_argument(
        "--fractions",
        type=float,
        nargs=3,
        default=list(DEFAULT_FRACTIONS),
        metavar=("TRAIN", "VAL", "TEST"),
        help="shares of subjects, summing to 1 (default: %(default)s)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(func=run)
    return parser


def format_counts(counts: dict[str, dict[str, int]]) -> str:
    """A small table of subjects and hips per split, with a total row."""
    rows = [(name, c["subjects"], c["hips"]) for name, c in counts.items()]
    rows.append(("total", sum(r[1] for r in rows), sum(r[2] for r in rows)))
    lines = [f"{'split':<12}{'subjects':>10}{'hips':>8}"]
    lines += [f"{name:<12}{subjects:>10}{hips:>8}" for name, subjects, hips in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from hipmonai.data.manifests import make_datalist, write_manifest

    if args.out.exists() and not args.overwrite:
        raise InputError(f"{args.out} exists; pass --overwrite to replace it")
    if args.out.suffix.lower() != ".json":
        raise InputError(f"--out must be a .json file, got {args.out}")
    manifest = make_datalist(args.h5, seed=args.seed, fractions=args.fractions)
    path = write_manifest(args.out, manifest)
    print(format_counts(manifest["counts"]))
    print(f"wrote {path}")
    return 0
