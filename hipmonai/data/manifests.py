"""Subject-level splits and MONAI datalists.

A manifest is a JSON file in MONAI datalist form::

    {"format": "hipmonai-manifest", "seed": 0, "fractions": [0.7, 0.15, 0.15], "store": "../outputs/cohort.h5",
     "counts": {"training": {"subjects": 70, "hips": 280}, ...},
     "training": [{"h5": "../outputs/cohort.h5", "key": "S0001/V00/right", "subject_id": "S0001",
                   "visit": "V00", "side": "right", "grades": [0, 1, -1, 2]}, ...],
     "validation": [...], "test": [...]}

Splits are drawn by subject, never by image: all visits and both hips of a subject are in one split, and
loading a manifest whose splits share a subject is an error naming the subject. In the file, store paths
are relative to the manifest's folder (absolute when that is impossible, e.g. another drive);
:func:`load_manifest` returns them absolute. The JSON Schema is ``data_manifests/schema.json``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.atomic import write_text_atomic
from hipmonai.data.record import parse_key
from hipmonai.data.store import HipStore
from hipmonai.errors import InputError
from hipmonai.io.grades import MAX_GRADE, UNKNOWN_GRADE
from hipmonai.io.landmark_groups import TARGETS

SPLITS = ("training", "validation", "test")
DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)
MANIFEST_FORMAT = "hipmonai-manifest"
MANIFEST_FORMAT_VERSION = 1
ITEM_FIELDS = ("h5", "key", "subject_id", "visit", "side", "grades")


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError) as err:
        raise InputError(f"fractions must be three numbers (training, validation, test), got {fractions!r}") from err
    if len(values) != len(SPLITS) or not all(math.isfinite(f) and f >= 0 for f in values):
        raise InputError(
            f"fractions must be three non-negative numbers (training, validation, test), got {fractions!r}"
        )
    if abs(sum(values) - 1.0) > 1e-6:
        raise InputError(f"fractions must sum to 1, got {list(values)} (sum {sum(values):g})")
    return values  # type: ignore[return-value]


def split_sizes(n_subjects: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> tuple[int, int, int]:
    """Subjects per split (training, validation, test) for ``n_subjects``.

    Sizes are ``n * fraction`` rounded by the largest-remainder method (each split gets the floor, the
    leftover subjects go to the largest fractional parts, ties to the earlier split), so they always sum to
    ``n`` and each is within one of its exact share. Then every split with a positive fraction that came out
    empty takes one subject from the currently largest split, as long as that split keeps at least one:
    with the default fractions 3 subjects give (1, 1, 1), 10 give (7, 2, 1), 100 give (70, 15, 15). With fewer
    subjects than positive fractions, later splits stay empty.
    """
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, (int, np.integer)) or n_subjects < 0:
        raise InputError(f"n_subjects must be a non-negative integer, got {n_subjects!r}")
    values = _check_fractions(fractions)
    exact = [n_subjects * f for f in values]
    sizes = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(values)), key=lambda i: (-(exact[i] - sizes[i]), i))
    for i in by_remainder[: n_subjects - sum(sizes)]:
        sizes[i] += 1
    for i, fraction in enumerate(values):
        if fraction > 0 and sizes[i] == 0:
            donor = max(range(len(sizes)), key=lambda j: (sizes[j], -j))
            if sizes[donor] > 1:
                sizes[donor] -= 1
                sizes[i] += 1
    return sizes[0], sizes[1], sizes[2]


def split_subjects(
    subject_ids: Iterable[str], fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0
) -> dict[str, list[str]]:
    """Split subjects at random into training / validation / test, reproducibly.

    The ids are sorted, permuted by ``numpy.random.default_rng(seed)`` and cut into :func:`split_sizes`
    pieces, so the result depends only on the set of ids, the fractions and the seed (not on input order).

    Args:
        subject_ids: unique subject ids.
        fractions: (training, validation, test) shares, non-negative, summing to 1.
        seed: non-negative integer seed.

    Returns:
        ``{"training": [...], "validation": [...], "test": [...]}``, each list sorted; every subject is in
        exactly one.

    Raises:
        InputError: no subjects, duplicate ids, bad fractions or seed.
    """
    ids = [str(s) if isinstance(s, np.str_) else s for s in subject_ids]
    if not ids:
        raise InputError("no subjects to split")
    bad = [s for s in ids if not isinstance(s, str) or not s]
    if bad:
        raise InputError(f"subject ids must be non-empty strings, got {bad[0]!r}")
    repeated = sorted(s for s, n in Counter(ids).items() if n > 1)
    if repeated:
        raise InputError(f"subject id {repeated[0]!r} given more than once")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    sizes = split_sizes(len(ids), fractions)
    if any(size == 0 and f > 0 for size, f in zip(sizes, _check_fractions(fractions), strict=True)):
        warnings.warn(f"only {len(ids)} subjects: split sizes {dict(zip(SPLITS, sizes, strict=True))}", stacklevel=2)
    ordered = sorted(ids)
    shuffled = [ordered[i] for i in np.random.default_rng(int(seed)).permutation(len(ordered))]
    bounds = np.cumsum((0, *sizes))
    return {name: sorted(shuffled[bounds[i] : bounds[i + 1]]) for i, name in enumerate(SPLITS)}


def _counts(manifest: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    return {
        name: {"subjects": len({item["subject_id"] for item in manifest[name]}), "hips": len(manifest[name])}
        for name in SPLITS
    }


def make_datalist(
    store_path: str | os.PathLike, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> dict[str, Any]:
    """Build a subject-level split of every scan in a store, as a MONAI datalist.

    Args:
        store_path: the HDF5 store (:func:`hipmonai.data.write_store`).
        seed: split seed (see :func:`split_subjects`).
        fractions: (training, validation, test) shares of subjects.

    Returns:
        The manifest dict (module docstring) with absolute ``h5`` / ``store`` paths; items sorted by key within
        each split. :func:`write_manifest` makes the paths relative to where it writes.
    """
    from hipmonai import __version__

    fractions = _check_fractions(fractions)
    store = HipStore(store_path)
    store_abs = os.path.abspath(store.path)
    with store:
        splits = split_subjects(store.subjects(), fractions=fractions, seed=seed)
        split_of = {subject: name for name, subjects in splits.items() for subject in subjects}
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_FORMAT_VERSION,
            "description": f"Subject-level split of {store.path.name} (seed {seed}).",
            "hipmonai_version": __version__,
            "seed": int(seed),
            "fractions": list(fractions),
            "store": store_abs,
            "target_names": list(TARGETS),
        }
        items: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
        for key in store:
            subject_id, visit, side = parse_key(key)
            items[split_of[subject_id]].append(
                {
                    "h5": store_abs,
                    "key": key,
                    "subject_id": subject_id,
                    "visit": visit,
                    "side": side,
                    "grades": [int(g) for g in store.grades(key)],
                }
            )
    manifest.update(items)
    manifest["counts"] = _counts(manifest)
    return manifest


def _relative(path: str, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows): keep it absolute
        return path


def write_manifest(path: str | os.PathLike, manifest: Mapping[str, Any]) -> Path:
    """Validate ``manifest`` and write it as JSON to ``path`` atomically.

    ``h5`` and ``store`` paths are written relative to ``path``'s folder (absolute when no relative path
    exists). ``counts`` is recomputed.

    Raises:
        InputError: the manifest is malformed or its splits share a subject.
    """
    path = Path(path)
    check_manifest(manifest, str(path))
    base = Path(os.path.abspath(path.parent))
    out = {name: value for name, value in manifest.items() if name not in SPLITS}
    if isinstance(out.get("store"), str):
        out["store"] = _relative(os.path.abspath(out["store"]), base)
    out["counts"] = _counts(manifest)
    for name in SPLITS:
        out[name] = [{**item, "h5": _relative(os.path.abspath(item["h5"]), base)} for item in manifest[name]]
    return write_text_atomic(path, _format_manifest(out))


def _format_manifest(manifest: Mapping[str, Any]) -> str:
    """JSON with one line per metadata field and per item (readable diffs, compact files)."""
    entries = []
    for name, value in manifest.items():
        if name in SPLITS and value:
            items = ",\n".join(f"    {json.dumps(item)}" for item in value)
            entries.append(f"  {json.dumps(name)}: [\n{items}\n  ]")
        else:
            entries.append(f"  {json.dumps(name)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(entries) + "\n}\n"


def check_manifest(manifest: Any, source: str = "manifest") -> None:
    """Check a manifest's structure and that no subject is in two splits.

    Raises:
        InputError: naming ``source`` and what is wrong, e.g. a subject found in both ``training`` and ``test``.
    """
    if not isinstance(manifest, Mapping):
        raise InputError(f"{source}: a manifest must be a JSON object, got {type(manifest).__name__}")
    missing = [name for name in SPLITS if name not in manifest]
    if missing:
        raise InputError(f"{source}: missing split lists {missing} (a manifest has {list(SPLITS)})")
    if "seed" in manifest and (isinstance(manifest["seed"], bool) or not isinstance(manifest["seed"], int)):
        raise InputError(f"{source}: 'seed' must be an integer, got {manifest['seed']!r}")
    if "fractions" in manifest:
        try:
            _check_fractions(manifest["fractions"])
        except InputError as err:
            raise InputError(f"{source}: {err}") from err
    if "store" in manifest and not isinstance(manifest["store"], str):
        raise InputError(f"{source}: 'store' must be a path string, got {manifest['store']!r}")
    split_of_subject: dict[str, str] = {}
    split_of_key: dict[str, str] = {}
    for name in SPLITS:
        items = manifest[name]
        if not isinstance(items, list):
            raise InputError(f"{source}: '{name}' must be a list of items, got {type(items).__name__}")
        for index, item in enumerate(items):
            where = f"{source}: {name}[{index}]"
            if not isinstance(item, Mapping):
                raise InputError(f"{where} must be an object, got {type(item).__name__}")
            absent = [f for f in ITEM_FIELDS if f not in item]
            if absent:
                raise InputError(f"{where} lacks fields {absent}")
            if not isinstance(item["h5"], str) or not item["h5"]:
                raise InputError(f"{where}: 'h5' must be a path string, got {item['h5']!r}")
            try:
                parts = parse_key(item["key"])
            except InputError as err:
                raise InputError(f"{where}: {err}") from err
            if parts != (item["subject_id"], item["visit"], item["side"]):
                raise InputError(f"{where}: key {item['key']!r} disagrees with subject_id/visit/side "
                                 f"{item['subject_id']!r}/{item['visit']!r}/{item['side']!r}")
            grades = item["grades"]
            if (
                not isinstance(grades, list)
                or len(grades) != len(TARGETS)
                or not all(isinstance(g, int) and not isinstance(g, bool) for g in grades)
                or not all(UNKNOWN_GRADE <= g <= MAX_GRADE for g in grades)
            ):
                raise InputError(f"{where}: 'grades' must be {len(TARGETS)} integers in {UNKNOWN_GRADE}..{MAX_GRADE}, "
                                 f"got {grades!r}")
            key = item["key"]
            if key in split_of_key:
                raise InputError(f"{source}: scan {key!r} is listed twice ({split_of_key[key]} and {name})")
            split_of_key[key] = name
            subject = item["subject_id"]
            other = split_of_subject.setdefault(subject, name)
            if other != name:
                raise InputError(f"{source}: subject {subject!r} is in both '{other}' and '{name}' splits; a "
                                 "subject's visits and hips must stay in one split")


def load_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a manifest; ``h5`` and ``store`` paths come back absolute (resolved against its folder).

    Raises:
        InputError: the file is missing or not JSON, malformed (see :func:`check_manifest`), or its splits share a
            subject (the message names the subject and both splits).
    """
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"{path}: cannot read manifest ({err.__class__.__name__}: {err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from err
    check_manifest(manifest, str(path))
    base = Path(os.path.abspath(path.parent))
    if isinstance(manifest.get("store"), str):
        manifest["store"] = os.path.normpath(base / manifest["store"])
    for name in SPLITS:
        for item in manifest[name]:
            item["h5"] = os.path.normpath(base / item["h5"])
    return manifest


def load_datalist(path: str | os.PathLike, split: str = "training", allow_empty: bool = True) -> list[dict[str, Any]]:
    """The items of one split of a checked manifest (absolute ``h5`` paths), e.g. for a bundle config::

        "$hipmonai.data.load_datalist(@datalist, 'training')"

    Args:
        path: the manifest.
        split: ``"training"``, ``"validation"`` or ``"test"``.
        allow_empty: return an empty split; ``False`` raises instead (for items that are subsampled before a
            loader could name the empty split, as the grading bundle's weak/strong subset is).

    Raises:
        InputError: an unknown split, a bad manifest (:func:`load_manifest`), or an empty split when not
            ``allow_empty``.
    """
    if split not in SPLITS:
        raise InputError(f"split must be one of {list(SPLITS)}, got {split!r}")
    items = load_manifest(path)[split]
    if not items and not allow_empty:
        raise InputError(f"{path}: the {split} split is empty (0 items)")
    return items


def store_settings(
    path: str | os.PathLike, crop_px: int | None = None, spacing_mm: float | None = None
) -> dict[str, Any]:
    """How the hip crops of a manifest's store were made: ``{"spacing_mm": float, "crop_px": int}`` (its root
    attributes, written by ``hipmonai preprocess``), checked against what a bundle config expects, for the config to
    record with its checkpoint::

        "store_settings": "$hipmonai.data.store_settings(@datalist, crop_px=@image_size_px, spacing_mm=@spacing_mm)"

    Args:
        path: the manifest.
        crop_px: the crop side in px the config's network input expects (its ``image_size_px``); ``None``: any.
        spacing_mm: the isotropic pixel spacing in mm the config expects; ``None``: any. Compared with a relative
            tolerance of 1e-3 (``89.6 / 64`` is 1.4 up to rounding).

    Raises:
        InputError: the manifest names no store, the store lacks either attribute, or it was made at another crop
            size or spacing than expected (both values named, with the command that makes a matching store).
    """
    manifest = load_manifest(path)
    if not isinstance(manifest.get("store"), str):
        raise InputError(f"{path}: the manifest names no store")
    with HipStore(manifest["store"]) as store:
        attrs = store.attrs
    missing = [k for k in ("spacing_mm", "crop_px") if k not in attrs]
    if missing:
        raise InputError(f"{manifest['store']}: the store does not record {missing}; write it with hipmonai preprocess")
    made = {"spacing_mm": float(attrs["spacing_mm"]), "crop_px": int(attrs["crop_px"])}
    crop_differs = crop_px is not None and int(crop_px) != made["crop_px"]
    spacing_differs = spacing_mm is not None and not math.isclose(float(spacing_mm), made["spacing_mm"], rel_tol=1e-3)
    if crop_differs or spacing_differs:
        want_crop = made["crop_px"] if crop_px is None else int(crop_px)
        want_spacing = made["spacing_mm"] if spacing_mm is None else float(spacing_mm)
        raise InputError(
            f"{manifest['store']}: the store holds {made['crop_px']} px crops at {made['spacing_mm']:g} mm, but the "
            f"config expects image_size_px {want_crop} px at {want_spacing:g} mm; make a matching store with "
            f"`hipmonai preprocess --crop {want_crop} --spacing {want_spacing:g}`, or train at the store's size"
        )
    return made
