"""The preprocessed HDF5 store: one file per cohort.

Layout::

    /                                   attrs: format, format_version, hipmonai_version, created_utc, n_scans,
                                               n_landmarks, target_names, image_axes, landmark_axes, + caller's
    /scans/{subject}/{visit}/{side}/
        image        (H, W) float32     attrs: pixel_spacing (x, y mm), crop_offset_x, crop_offset_y (px),
                                               femoral_head_radius (px), flipped, source_uid_hash (+ extras)
        landmarks    (N, 2) float32     (x, y) crop pixels, NaN = missing
        grades       (4,) int8          TARGETS order, -1 = unknown
        lesion_mask  (4, H, W) uint8    phantoms only

Images stay ``(H, W)`` (rows, columns) as the research group's tooling and ``imshow`` expect; the pipeline
loader :class:`hipmonai.data.LoadHipScand` transposes them to ``(1, W, H)``. No patient-identifying value is
ever written: subjects are keyed by their pseudonym and sources by ``source_uid_hash``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hipmonai.atomic import atomic_path
from hipmonai.data.record import SCAN_ATTRS, ScanRecord, check_attr_names, parse_key, to_attr_value
from hipmonai.errors import InputError
from hipmonai.io.grades import SIDES
from hipmonai.io.landmark_groups import TARGETS

STORE_FORMAT = "hipmonai-store"
STORE_FORMAT_VERSION = 1
SCANS_GROUP = "scans"
COMPRESSIONS = ("gzip", "lzf", None)
#: Root attributes :func:`write_store` sets itself; callers' ``attrs`` may not use these names.
RESERVED_ROOT_ATTRS = (
    "format",
    "format_version",
    "hipmonai_version",
    "created_utc",
    "n_scans",
    "n_landmarks",
    "target_names",
    "image_axes",
    "landmark_axes",
)
_WHOLE_CHUNK_MAX_ELEMENTS = 1 << 20


def _dataset_options(array: np.ndarray, compression: str | None) -> dict[str, Any]:
    if compression is None:
        return {}
    options: dict[str, Any] = {"compression": compression, "shuffle": True}
    if compression == "gzip":
        options["compression_opts"] = 4
    if array.size:
        options["chunks"] = array.shape if array.size <= _WHOLE_CHUNK_MAX_ELEMENTS else True
    return options


def write_store(
    path: str | os.PathLike,
    records: Iterable[ScanRecord],
    attrs: Mapping[str, Any] | None = None,
    compression: str | None = "gzip",
) -> Path:
    """Write ``records`` into a new HDF5 store at ``path``, atomically.

    The file is built as ``.{name}.tmp<pid>`` beside ``path`` and renamed onto it only when every record is
    written; if anything fails (a bad record, an exception raised by the ``records`` iterator, a full disk)
    the temp file is removed and ``path`` is left as it was. Records are consumed one at a time, so a
    generator (e.g. :func:`hipmonai.data.iter_parts`) keeps memory flat.

    Args:
        path: the store to create (replaced if it exists; its folder is created when missing).
        records: the hips to store; every key must be unique and all must have the same number of landmarks.
        attrs: extra root attributes (e.g. ``{"created_by": "hipmonai preprocess", "spacing_mm": 0.4}``); str,
            number, bool or flat lists of them. Names of identifying DICOM fields and :data:`RESERVED_ROOT_ATTRS`
            are refused.
        compression: HDF5 filter for the arrays: ``"gzip"`` (portable, default), ``"lzf"`` (h5py only, faster)
            or None.

    Returns:
        ``path``.

    Raises:
        InputError: no records, a duplicate key (named), inconsistent landmark counts, or unusable ``attrs``.
    """
    from hipmonai import __version__

    path = Path(path)
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {list(COMPRESSIONS)}, got {compression!r}")
    attrs = dict(attrs or {})
    check_attr_names(attrs, f"{path} root attributes")
    reserved = sorted(set(attrs) & set(RESERVED_ROOT_ATTRS))
    if reserved:
        raise InputError(f"{path}: root attributes {reserved} are set by write_store itself")
    root_attrs = {name: to_attr_value(value, name) for name, value in attrs.items()}

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        scans = h5.create_group(SCANS_GROUP)
        n_scans = 0
        n_landmarks: int | None = None
        first_key = ""
        for record in records:
            if not isinstance(record, ScanRecord):
                raise TypeError(f"records must be ScanRecord objects, got {type(record).__name__}")
            key = record.key
            if key in scans:
                raise InputError(f"{path}: duplicate scan key {key!r}")
            if n_landmarks is None:
                n_landmarks, first_key = len(record.landmarks), key
            elif len(record.landmarks) != n_landmarks:
                raise InputError(f"{path}: {key} has {len(record.landmarks)} landmarks but {first_key} has "
                                 f"{n_landmarks}; a store holds one landmark model")
            group = scans.create_group(key)
            image = group.create_dataset("image", data=record.image, **_dataset_options(record.image, compression))
            for name, value in record.scan_attrs().items():
                image.attrs[name] = value
            group.create_dataset("landmarks", data=record.landmarks)
            group.create_dataset("grades", data=record.grades)
            if record.lesion_mask is not None:
                group.create_dataset(
                    "lesion_mask", data=record.lesion_mask, **_dataset_options(record.lesion_mask, compression)
                )
            n_scans += 1
        if n_scans == 0:
            raise InputError(f"{path}: no records to write")
        h5.attrs.update(
            {
                "format": STORE_FORMAT,
                "format_version": STORE_FORMAT_VERSION,
                "hipmonai_version": __version__,
                "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "n_scans": n_scans,
                "n_landmarks": n_landmarks,
                "target_names": list(TARGETS),
                "image_axes": "HW",
                "landmark_axes": "xy",
            }
        )
        for name, value in root_attrs.items():
            h5.attrs[name] = value
    return path


def _python_value(value: Any) -> Any:
    """An HDF5 attribute value as plain Python (bytes decoded, numpy scalars unwrapped, arrays to lists)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [_python_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


class HipStore:
    """Read-only access to a store written by :func:`write_store`.

    The file is opened lazily, once per process: an instance can be created in the main process and handed
    to DataLoader workers (pickling drops the handle; a forked worker opens its own).

    Example::

        store = HipStore("outputs/demo/cohort.h5")
        scan = store["S0001/V00/right"]   # {"image": (H, W) float32, "landmarks": (N, 2), "grades": (4,), ...}

    Raises:
        InputError: the file is missing, not HDF5, or has no ``/scans`` group.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid: int | None = None
        with self._open() as h5:
            self._attrs = {name: _python_value(value) for name, value in h5.attrs.items()}
            self._keys = self._index(h5)
        self._key_set = frozenset(self._keys)

    def _open(self) -> h5py.File:
        if not self.path.is_file():
            raise InputError(f"{self.path}: HDF5 store not found")
        try:
            h5 = h5py.File(self.path, "r")
        except OSError as err:
            raise InputError(f"{self.path}: not a readable HDF5 file ({err})") from err
        if not isinstance(h5.get(SCANS_GROUP), h5py.Group):
            h5.close()
            raise InputError(f"{self.path}: not a hipmonai store (no /{SCANS_GROUP} group)")
        return h5

    def _index(self, h5: h5py.File) -> list[str]:
        keys = []
        for subject, subject_group in _groups(h5[SCANS_GROUP]):
            for visit, visit_group in _groups(subject_group):
                for side, side_group in _groups(visit_group):
                    key = f"{subject}/{visit}/{side}"
                    if side not in SIDES:
                        raise InputError(f"{self.path}: unexpected group /{SCANS_GROUP}/{key} "
                                         f"(side must be one of {list(SIDES)})")
                    if "image" in side_group:
                        parse_key(key)  # subject and visit names must be valid key parts
                        keys.append(key)
        return sorted(keys)

    def _handle(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = self._open()
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def close(self) -> None:
        """Close this process's handle (the store reopens on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._pid = None

    def __enter__(self) -> HipStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HipStore({str(self.path)!r}, scans={len(self._keys)})"

    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes (format, version, target names, preprocessing parameters, ...) as plain Python."""
        return dict(self._attrs)

    def keys(self) -> list[str]:
        """Scan keys ``"subject/visit/side"``, sorted."""
        return list(self._keys)

    def subjects(self) -> list[str]:
        """Subject ids, sorted."""
        return sorted({key.split("/", 1)[0] for key in self._keys})

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._key_set

    def _read(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if key not in self._key_set:
            raise InputError(f"{self.path}: no scan {key!r} in this store")
        group = self._handle()[SCANS_GROUP][key]
        try:
            arrays = {name: group[name][()] for name in ("image", "landmarks", "grades")}
        except KeyError as err:
            raise InputError(f"{self.path}: scan {key!r} lacks a dataset ({err})") from err
        if "lesion_mask" in group:
            arrays["lesion_mask"] = group["lesion_mask"][()]
        attrs = {name: _python_value(value) for name, value in group["image"].attrs.items()}
        return arrays, attrs

    def __getitem__(self, key: str) -> dict[str, Any]:
        """One scan as ``{"key", "subject_id", "visit", "side", "image" (H, W) float32, "landmarks" (N, 2)
        float32, "grades" (4,) int8, ["lesion_mask" (4, H, W) uint8], "pixel_spacing" (2,) float64 (x, y) mm,
        "crop_offset_x", "crop_offset_y", "femoral_head_radius", "flipped", "source_uid_hash", extras...}``.

        Raises:
            InputError: ``key`` is not in the store, or its group is incomplete.
        """
        arrays, attrs = self._read(key)
        subject_id, visit, side = parse_key(key)
        missing = [name for name in SCAN_ATTRS if name not in attrs]
        if missing:
            raise InputError(f"{self.path}: scan {key!r} lacks image attributes {missing}")
        item: dict[str, Any] = {"key": key, "subject_id": subject_id, "visit": visit, "side": side}
        item.update(attrs)
        item["pixel_spacing"] = np.asarray(attrs["pixel_spacing"], dtype=np.float64)
        item["flipped"] = bool(attrs["flipped"])
        item.update(arrays)
        return item

    def record(self, key: str) -> ScanRecord:
        """One scan as a validated :class:`ScanRecord` (e.g. to copy it into another store)."""
        arrays, attrs = self._read(key)
        try:
            return ScanRecord.from_arrays(key, arrays, attrs)
        except InputError as err:
            raise InputError(f"{self.path}: {err}") from err

    def grades(self, key: str) -> np.ndarray:
        """``(4,)`` int8 grades of one scan without reading its image."""
        if key not in self._key_set:
            raise InputError(f"{self.path}: no scan {key!r} in this store")
        return np.asarray(self._handle()[SCANS_GROUP][key]["grades"][()], dtype=np.int8)


def _groups(group: h5py.Group) -> Iterator[tuple[str, h5py.Group]]:
    for name, child in group.items():
        if isinstance(child, h5py.Group):
            yield name, child
