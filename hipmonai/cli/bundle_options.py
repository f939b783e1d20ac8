"""Options shared by the CLI commands that drive a bundle (``hipmonai prior``, ``grading``, ``knee``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hipmonai.paths import bundle_template_dir


def parse_override(text: str) -> tuple[str, Any]:
    """``ID=VALUE`` with VALUE parsed as JSON when it is JSON (``max_epochs=2``, ``widen_factor=0.125``)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"overrides are ID=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_bundle_options(
    parser: argparse.ArgumentParser,
    default_bundle: str,
    default_configs: Sequence[str] = ("configs/train.json",),
    override_example: str = "max_epochs=5",
) -> None:
    """``--bundle``, ``--config FILE...``, ``--set ID=VALUE...`` (into ``overrides``) and ``--out``."""
    parser.add_argument("--bundle", type=Path, default=bundle_template_dir(default_bundle),
                        help=f"bundle folder (default: the {default_bundle} bundle packaged with hipmonai)")
    parser.add_argument("--config", nargs="+", default=list(default_configs), metavar="FILE",
                        help=f"bundle config files, relative to --bundle (default: {' '.join(default_configs)}; "
                             "training at the demo scale adds configs/demo.json; inference configs read their sizes "
                             "from the checkpoint)")
    parser.add_argument("--set", dest="overrides", nargs="*", type=parse_override, default=[], metavar="ID=VALUE",
                        help=f"config id overrides, VALUE as JSON (e.g. {override_example})")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
