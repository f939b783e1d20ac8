"""Where hipmonai's packaged data lives: the shared configs and the bundle templates.

Both ship inside the package (``hipmonai.configs`` and ``hipmonai.bundles``, mapped onto the repository's top-level
``configs/`` and ``bundles/`` folders by ``pyproject.toml``), so they are found the same way in an editable install,
in an installed wheel and from any working directory: through :mod:`importlib.resources`, never relative to the
repository.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from hipmonai.errors import HipmonaiError, InputError

__all__ = ["ENV_CONFIG_DIR", "bundle_names", "bundle_template_dir", "bundle_templates_dir", "config_dir"]

ENV_CONFIG_DIR = "HIPMONAI_CONFIG_DIR"

CONFIGS_PACKAGE = "hipmonai.configs"
BUNDLES_PACKAGE = "hipmonai.bundles"


def _package_folder(package: str) -> Path:
    """The folder on disk of the data package ``package``.

    Raises:
        HipmonaiError: the package is missing (a broken installation) or not a folder on disk (e.g. imported from
            a zip file; the bundle commands need real files).
    """
    try:
        folder = importlib.resources.files(package)
    except ModuleNotFoundError as err:
        raise HipmonaiError(f"{package} is not installed; reinstall hipmonai (pip install hipmonai)") from err
    if not isinstance(folder, Path) or not folder.is_dir():
        raise HipmonaiError(f"{package} is not a folder on disk ({folder}); install hipmonai from its wheel or "
                            "source, not as a zip")
    return folder


def config_dir() -> Path:
    """The shared configuration folder (``landmark_groups.json``, ``preprocessing.json``).

    Returns ``$HIPMONAI_CONFIG_DIR`` when set, else the folder packaged as ``hipmonai.configs`` (the repository's
    ``configs/`` in an editable install).

    Raises:
        HipmonaiError: ``$HIPMONAI_CONFIG_DIR`` is not a folder, or the packaged configs are missing.
    """
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        path = Path(override)
        if not path.is_dir():
            raise HipmonaiError(f"configuration folder {path} (${ENV_CONFIG_DIR}) not found")
        return path
    return _package_folder(CONFIGS_PACKAGE)


def bundle_templates_dir() -> Path:
    """The folder holding the packaged bundle templates, one sub-folder per bundle (see :func:`bundle_names`)."""
    return _package_folder(BUNDLES_PACKAGE)


def bundle_names() -> tuple[str, ...]:
    """The names of the packaged bundle templates (folders with a ``configs/metadata.json``), sorted."""
    root = bundle_templates_dir()
    return tuple(sorted(p.name for p in root.iterdir() if (p / "configs" / "metadata.json").is_file()))


def bundle_template_dir(name: str) -> Path:
    """The folder of the packaged bundle template ``name`` (``configs/``, ``docs/``, ``LICENSE``, ``models/``).

    The template is part of the installed package: run bundles from it, or copy it to train into your own folder;
    files written under it (checkpoints, evaluations) would land in the installation.

    Args:
        name: a bundle name, e.g. ``"hip_landmark_labelaug"``.

    Raises:
        InputError: no packaged bundle has that name (the message lists the known ones).
    """
    names = bundle_names()
    if name not in names:
        raise InputError(f"unknown bundle {name!r}; the packaged bundles are: {', '.join(names)}")
    return bundle_templates_dir() / name
