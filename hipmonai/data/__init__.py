"""Preprocessed data: scan records, resumable part files, the HDF5 store, its MONAI loaders and the
subject-level manifests.

The MONAI loaders (:class:`LoadHipScan`, :class:`LoadHipScand`, :class:`SplitDataLoader`) are imported on first use,
so the store, parts and manifests work without paying for MONAI's import (``hipmonai split``, preprocessing workers).
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
    store_settings,
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
    "atomic_path",
    "check_manifest",
    "completed_keys",
    "DEFAULT_FRACTIONS",
    "HipStore",
    "is_temp_path",
    "iter_parts",
    "key_from_part_name",
    "knee_manifest_settings",
    "load_datalist",
    "load_knee_datalist",
    "load_landmark_datalist",
    "load_manifest",
    "load_part",
    "load_pelvis_datalist",
    "LoadHipScan",
    "LoadHipScand",
    "LoadKneeRadiographd",
    "LoadKneeSampled",
    "LoadLandmarkSample",
    "LoadLandmarkSampled",
    "LoadRadiographd",
    "make_datalist",
    "make_key",
    "parse_key",
    "part_name",
    "part_paths",
    "pelvis_manifest_settings",
    "prepare_knee_data",
    "prepare_pelvis_data",
    "remove_temp_files",
    "save_part",
    "SCAN_ATTRS",
    "ScanRecord",
    "split_sizes",
    "split_subjects",
    "SplitDataLoader",
    "store_settings",
    "split_weak_strong",
    "SPLITS",
    "temp_path_for",
    "write_manifest",
    "write_store",
    "write_text_atomic",
]

_LAZY = {
    "LoadHipScan": "hipmonai.data.loaders",
    "LoadHipScand": "hipmonai.data.loaders",
    "SplitDataLoader": "hipmonai.data.loaders",
    "LoadLandmarkSample": "hipmonai.data.landmark_cache",
    "LoadLandmarkSampled": "hipmonai.data.landmark_cache",
    "LoadRadiographd": "hipmonai.data.landmark_cache",
    "load_landmark_datalist": "hipmonai.data.landmark_cache",
    "prepare_pelvis_data": "hipmonai.data.pelvis",
    "load_pelvis_datalist": "hipmonai.data.pelvis",
    "pelvis_manifest_settings": "hipmonai.data.pelvis",
    "prepare_knee_data": "hipmonai.data.knee",
    "load_knee_datalist": "hipmonai.data.knee",
    "LoadKneeSampled": "hipmonai.data.knee",
    "LoadKneeRadiographd": "hipmonai.data.knee",
    "knee_manifest_settings": "hipmonai.data.knee",
    "split_weak_strong": "hipmonai.data.weak_labels",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
