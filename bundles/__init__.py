"""Packaged as ``hipmonai.bundles``: the MONAI bundle templates, one folder each (see
:func:`hipmonai.paths.bundle_template_dir`).

This file only makes the folder an importable package, so :mod:`importlib.resources` finds the bundles beside it in
an editable install and in an installed wheel alike. A folder here is a bundle when it has ``configs/metadata.json``.
"""

from __future__ import annotations
