"""Packaged as ``hipmonai.configs``: the shared configuration files (see :func:`hipmonai.paths.config_dir`).

This file only makes the folder an importable package, so :mod:`importlib.resources` finds the JSON files beside it
in an editable install and in an installed wheel alike.
"""

from __future__ import annotations
