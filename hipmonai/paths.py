"""Where the repository's shared configuration lives."""

from __future__ import annotations

import os
from pathlib import Path

from hipmonai.errors import HipmonaiError

ENV_CONFIG_DIR = "HIPMONAI_CONFIG_DIR"


def repo_root() -> Path:
    """The repository root (hipmonai is installed editable, see README)."""
    return Path(__file__).resolve().parents[1]


def config_dir() -> Path:
    """The shared ``configs/`` folder, or ``$HIPMONAI_CONFIG_DIR`` when set."""
    path = Path(os.environ.get(ENV_CONFIG_DIR, repo_root() / "configs"))
    if not path.is_dir():
        raise HipmonaiError(f"configuration folder {path} not found; set {ENV_CONFIG_DIR} to the repository configs/")
    return path
