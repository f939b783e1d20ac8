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
from importlib.metadata import PackageNotFoundError, version

from hipmonai.errors import error_line

SUBCOMMANDS = ("phantoms", "inspect", "preprocess", "merge", "split", "prior", "grading", "labelaug", "knee", "bundle",
               "demo", "predict")

#: the stack limit Holoscan (MONAI Deploy) asks for; see :func:`raise_stack_limit`
RECOMMENDED_STACK_BYTES = 32 * 1024 * 1024


def package_version() -> str:
    """The installed hipmonai distribution's version (``importlib.metadata``)."""
    try:
        return version("hipmonai")
    except PackageNotFoundError:  # a source tree on sys.path that was never installed
        from hipmonai import __version__

        return __version__


def raise_stack_limit(minimum: int = RECOMMENDED_STACK_BYTES) -> None:
    """Raise the soft stack limit to ``minimum`` bytes (at most the hard limit), never lowering it.

    The processes the command starts (the main job's ``python -m monai.bundle run`` steps) inherit the limit, so
    Holoscan, which ``import monai`` loads when the MONAI Deploy App SDK is installed, gets the stack it asks for and
    does not warn in them. In this process the warning is filtered by :mod:`hipmonai`. Without the ``resource``
    module (Windows) or when the limit cannot be changed, nothing happens.
    """
    try:
        import resource
    except ImportError:
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
        if soft == resource.RLIM_INFINITY or soft >= minimum:
            return
        target = minimum if hard == resource.RLIM_INFINITY else min(minimum, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_STACK, (target, hard))
    except (OSError, ValueError):
        return


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipmonai", description="Hip and knee radiograph tools for the hipmonai MONAI bundles."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
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
    """Run the ``hipmonai`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    raise_stack_limit()
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
        # the hipmonai error behind MONAI's wrapping when a bundle failed, else the error itself
        print(error_line(err, f"hipmonai {args.command}") or f"hipmonai {args.command}: error: {err}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
