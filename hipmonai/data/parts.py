"""Resumable part files: one ``.npz`` per preprocessed hip, written atomically by worker processes.

A preprocessing run saves each finished hip with :func:`save_part`; a resumed run asks :func:`completed_keys`
which hips are done, and the final step streams :func:`iter_parts` into :func:`hipmonai.data.write_store`.
Part files are named after the scan key, percent-encoded so any subject id or visit gives one safe file name
(``S0001/V00/right`` -> ``S0001%2FV00%2Fright.npz``). A worker killed mid-write leaves only a hidden
``.{name}.tmp<pid>`` file, which every function here ignores.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np

from hipmonai.atomic import atomic_path, is_temp_path
from hipmonai.data.record import ScanRecord, parse_key
from hipmonai.errors import InputError

PART_SUFFIX = ".npz"
PART_FORMAT = "hipmonai-part"
PART_FORMAT_VERSION = 1
_MAX_NAME_CHARS = 240


def part_name(key: str) -> str:
    """File name of the part holding scan ``key`` (percent-encoded, no ``/``, never starting with ``.``)."""
    parse_key(key)
    name = quote(key, safe="").replace(".", "%2E").replace("~", "%7E") + PART_SUFFIX
    if len(name) > _MAX_NAME_CHARS:
        raise InputError(f"scan key {key!r} is too long for a part file name ({len(name)} > {_MAX_NAME_CHARS} chars)")
    return name


def key_from_part_name(name: str) -> str:
    """Inverse of :func:`part_name`; raises :class:`InputError` when ``name`` is not a part file name."""
    if not name.endswith(PART_SUFFIX) or name.startswith("."):
        raise InputError(f"{name!r} is not a part file name (expected an encoded scan key + '{PART_SUFFIX}')")
    key = unquote(name[: -len(PART_SUFFIX)])
    try:
        parse_key(key)
    except InputError as err:
        raise InputError(f"{name!r} is not a part file name ({err})") from err
    return key


def save_part(parts_dir: str | os.PathLike, record: ScanRecord) -> Path:
    """Write ``record`` to ``parts_dir/<part_name(key)>`` atomically (temp file + ``os.replace``).

    Saving the same key again replaces the earlier part. Safe to call from several processes at once for
    different keys.

    Returns:
        The part file's path.
    """
    if not isinstance(record, ScanRecord):
        raise TypeError(f"record must be a ScanRecord, got {type(record).__name__}")
    path = Path(parts_dir) / part_name(record.key)
    meta = {
        "format": PART_FORMAT,
        "format_version": PART_FORMAT_VERSION,
        "key": record.key,
        "attrs": record.scan_attrs(),
    }
    arrays = {
        "image": record.image,
        "landmarks": record.landmarks,
        "grades": record.grades,
        "meta": np.array(json.dumps(meta)),
    }
    if record.lesion_mask is not None:
        arrays["lesion_mask"] = record.lesion_mask
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def load_part(path: str | os.PathLike) -> ScanRecord:
    """Read one part file written by :func:`save_part`.

    Raises:
        InputError: the file is missing, truncated, or not a hipmonai part.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            arrays = {name: npz[name] for name in ("image", "landmarks", "grades", "lesion_mask") if name in npz}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"{path}: not a readable hipmonai part file ({err.__class__.__name__}: {err})") from err
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != PART_FORMAT:
        raise InputError(f"{path}: not a hipmonai part file (format {found!r}, expected {PART_FORMAT!r})")
    if meta.get("format_version") != PART_FORMAT_VERSION:
        raise InputError(f"{path}: part format version {meta.get('format_version')!r} is not supported "
                         f"(expected {PART_FORMAT_VERSION})")
    try:
        return ScanRecord.from_arrays(meta["key"], arrays, meta["attrs"])
    except (KeyError, TypeError) as err:
        raise InputError(f"{path}: incomplete part file (missing {err})") from err
    except InputError as err:
        raise InputError(f"{path}: {err}") from err


def part_paths(parts_dir: str | os.PathLike) -> dict[str, Path]:
    """Finished parts in ``parts_dir``: scan key -> file, sorted by key (empty when the folder does not exist).

    Temp files of interrupted writes and sub-folders are ignored.

    Raises:
        InputError: a ``*.npz`` file whose name is not an encoded scan key (the folder holds foreign files).
    """
    parts_dir = Path(parts_dir)
    if not parts_dir.is_dir():
        return {}
    found: dict[str, Path] = {}
    for entry in parts_dir.iterdir():
        if is_temp_path(entry) or entry.name.startswith(".") or entry.suffix != PART_SUFFIX or not entry.is_file():
            continue
        try:
            found[key_from_part_name(entry.name)] = entry
        except InputError as err:
            raise InputError(f"{parts_dir}: {err}") from err
    return dict(sorted(found.items()))


def completed_keys(parts_dir: str | os.PathLike) -> set[str]:
    """Scan keys whose part file is complete in ``parts_dir`` (temp files of crashed writes are ignored)."""
    return set(part_paths(parts_dir))


def iter_parts(parts_dir: str | os.PathLike) -> Iterator[ScanRecord]:
    """Load every finished part of ``parts_dir`` in key order (one at a time, for :func:`write_store`)."""
    for path in part_paths(parts_dir).values():
        yield load_part(path)


def remove_temp_files(parts_dir: str | os.PathLike) -> int:
    """Delete temp files left by interrupted writes in ``parts_dir``; returns how many.

    Call it before starting workers (a live worker's temp file would be removed too).
    """
    parts_dir = Path(parts_dir)
    if not parts_dir.is_dir():
        return 0
    stale = [entry for entry in parts_dir.iterdir() if is_temp_path(entry) and entry.is_file()]
    for entry in stale:
        entry.unlink(missing_ok=True)
    return len(stale)
