"""Preprocessed data: scan records, resumable part files, the HDF5 store (SPEC 2.3), its MONAI loaders and the
subject-level manifests (SPEC 2.4).

The MONAI loaders (:class:`LoadHipScan`, :class:`LoadHipScand`) are imported on first use, so the store, parts
and manifests work without paying for MONAI's import (``hipmonai split``, preprocessing workers).
"""

from __future__ import annotations

import importlib
from typing import Any

from hipmonai.atomic import atomic_path, is_temp_path, temp_path_for, write_text_atomic
from hipmonai.data.manifests import (
    DEFAULT_FRACTIONS,
    SPLITS,
    check_manifest,
    load_datalist,
    load_manifest,
    make_datalist,
    split_sizes,
    split_subjects,
    write_manifest,
)
from hipmonai.data.parts import (
    completed_keys,
    iter_parts,
    key_from_part_name,
    load_part,
    part_name,
    part_paths,
    remove_temp_files,
    save_part,
)
from hipmonai.data.record import SCAN_ATTRS, ScanRecord, make_key, parse_key
from hipmonai.data.store import HipStore, write_store

__all__ = [
    "DEFAULT_FRACTIONS",
    "SCAN_ATTRS",
    "SPLITS",
    "HipStore",
    "LoadHipScan",
    "LoadHipScand",
    "ScanRecord",
    "atomic_path",
    "check_manifest",
    "completed_keys",
    "is_temp_path",
    "iter_parts",
    "key_from_part_name",
    "load_datalist",
    "load_manifest",
    "load_part",
    "make_datalist",
    "make_key",
    "parse_key",
    "part_name",
    "part_paths",
    "remove_temp_files",
    "save_part",
    "split_sizes",
    "split_subjects",
    "temp_path_for",
    "write_manifest",
    "write_store",
    "write_text_atomic",
]

_LAZY = {"LoadHipScan": "hipmonai.data.loaders", "LoadHipScand": "hipmonai.data.loaders"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
