"""``hipmonai merge``: the shard stores of ``hipmonai preprocess --shard I/N`` -> one store and summary."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="combine the shard stores of 'hipmonai preprocess --shard I/N' runs into one store",
        description=(
            "Combine the stores (and the summaries beside them) of all N shards of one 'hipmonai preprocess --shard "
            "I/N' run into the store and summary a single run would have written: the same keys, datasets and "
            "attributes; the summary's counts and lists are merged and 'merged_from' names the shards. Refused, in one "
            "line: a store that is not a shard, shards of another count, a shard given twice or missing, shards made "
            "with other parameters or inputs (grades CSV, detector checkpoint) or from another DICOM folder, and a "
            "subject found in two shards. A shard that wrote no hip has a summary and no store; give its store path "
            "all the same."
        ),
    )
    parser.add_argument("shards", nargs="+", metavar="SHARD.h5", help="the shard stores, in any order")
    parser.add_argument("--out", required=True, metavar="FILE.h5", help="the merged store (its summary goes beside it)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hipmonai.preprocessing import merge_shards, summary_path

    summary = merge_shards(args.shards, args.out, overwrite=args.overwrite)
    brief = {k: summary[k] for k in ("store", "images_found", "images_processed", "hips_written", "seconds")}
    brief["skipped"] = len(summary["skipped"])
    brief["shards"] = len(summary["merged_from"])
    brief["summary"] = str(summary_path(args.out))
    print(json.dumps(brief))
    return 0
