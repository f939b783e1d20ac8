"""The ``hipmonai`` console command: one subcommand per module in this package.

Each subcommand module exposes ``add_parser(subparsers)`` (which registers its options and sets
``func``) and a ``run(args) -> int``. Errors reach the user as one line naming the input and the
reason; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

SUBCOMMANDS = ("phantoms", "inspect", "preprocess", "split", "prior", "grading", "labelaug", "knee", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipmonai", description="Hip and knee radiograph tools for the hipmonai MONAI bundles."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"hipmonai.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"hipmonai.cli.{name}":
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("hipmonai: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line for the user, the traceback only with --debug
        if args.debug:
            raise
        print(f"hipmonai {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
