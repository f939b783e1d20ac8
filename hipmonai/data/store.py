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

Writers: :func:`write_store` (atomic: temp file, then rename), :func:`write_store_isolated` (the same in a child
process, which a full disk cannot crash), :func:`merge_stores` (stores of disjoint subjects into one) and
:func:`store_write_lock` (one writing process per store, e.g. ``hipmonai preprocess`` and ``hipmonai merge``).
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

try:  # POSIX; elsewhere a store is written without a lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

from hipmonai.atomic import atomic_path
from hipmonai.data.record import SCAN_ATTRS, ScanRecord, check_attr_names, parse_key, to_attr_value
from hipmonai.errors import HipmonaiError, InputError
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
#: Root attributes that differ between two stores of the same data (when and how often they were written).
VOLATILE_ROOT_ATTRS = ("created_utc", "n_scans")
LOCK_SUFFIX = ".lock"
#: ``errno`` values of a full disk: no space left, and a disk quota exceeded (common on cluster file systems)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# how HDF5 reports a failed write: "... errno = 28, error message = 'No space left on device' ..."
_DISK_FULL_TEXT = re.compile(
    rf"No space left on device|Disk quota exceeded|errno = ({'|'.join(str(e) for e in sorted(DISK_FULL_ERRNOS))})\b"
)

logger = logging.getLogger(__name__)


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
        OSError: ``errno.ENOSPC`` when the disk fills up (also when HDF5 reported it in its own words); the writing
            stops at the first failed record. HDF5 cannot close a file after a failed write without crashing the
            interpreter (then or at exit), so a process that must survive a full disk uses
            :func:`write_store_isolated`.
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

    with atomic_path(path) as tmp, _DeallocErrors() as dealloc_errors:
        h5 = h5py.File(tmp, "w")
        try:
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
                _write_scan(scans, record, compression)
                dealloc_errors.raise_first()  # HDF5 writes compressed chunks when a dataset closes
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
            h5.close()
            dealloc_errors.raise_first()
        except BaseException as err:
            _abandon(h5, tmp, hdf5_failed=bool(dealloc_errors.errors) or _DeallocErrors._from_h5py(err)
                     or is_disk_full(err))
            if isinstance(err, Exception) and not isinstance(err, OSError) and is_disk_full(err):
                raise OSError(errno.ENOSPC, f"no space left on the device writing {path} ({_first_line(err)})") \
                    from err
            raise
    return path


def _store_child(sender: Any, path: Path, records: Iterable[ScanRecord], attrs: Mapping[str, Any] | None,
                 compression: str | None) -> None:
    """Body of :func:`write_store_isolated`'s child: write, report one line, end without HDF5's exit handlers."""
    code = 0
    try:
        write_store(path, records, attrs=attrs, compression=compression)
        sender.send(None)
    except BaseException as err:  # everything goes back to the parent, which raises it
        code = 1
        kind = "disk_full" if is_disk_full(err) else "input" if isinstance(err, InputError) else type(err).__name__
        message = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        sender.send((kind, " ".join(message.split())))
    finally:
        sender.close()
        os._exit(code)


def write_store_isolated(
    path: str | os.PathLike,
    records: Iterable[ScanRecord],
    attrs: Mapping[str, Any] | None = None,
    compression: str | None = "gzip",
) -> Path:
    """:func:`write_store` in a forked child process, so that a failure inside HDF5 cannot take this process down.

    On a full disk HDF5 2.0 leaves the file in a state whose closing crashes the interpreter; the child ends with
    ``os._exit`` instead, and this process removes the child's temp file. ``records`` is consumed in the child (a
    generator reading part files is fine: the child inherits it).

    Returns:
        ``path``.

    Raises:
        InputError: as :func:`write_store`.
        OSError: ``errno.ENOSPC`` when the disk filled up.
        HipmonaiError: any other failure of the child (named), or the child crashed (its exit status).
    """
    path = Path(path)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_store_child, args=(sender, path, records, attrs, compression),
                            name="hipmonai-store-writer")
    child.start()
    sender.close()
    try:
        outcome = receiver.recv()
    except EOFError:  # the child died before it could report
        outcome = ("crash", "")
    finally:
        child.join()
        receiver.close()
        path.with_name(f".{path.name}.tmp{child.pid}").unlink(missing_ok=True)
    if outcome is None:
        return path
    kind, message = outcome
    if kind == "crash":
        raise HipmonaiError(f"{path}: the process writing the store ended abruptly (exit status {child.exitcode})")
    if kind == "disk_full":
        raise OSError(errno.ENOSPC, message)
    if kind == "input":
        raise InputError(message)
    raise HipmonaiError(f"{path}: writing the store failed ({kind}: {message})")


def _write_scan(scans: h5py.Group, record: ScanRecord, compression: str | None) -> None:
    """One record's group and datasets (closed on return, which is when HDF5 writes their chunks)."""
    group = scans.create_group(record.key)
    image = group.create_dataset("image", data=record.image, **_dataset_options(record.image, compression))
    for name, value in record.scan_attrs().items():
        image.attrs[name] = value
    group.create_dataset("landmarks", data=record.landmarks)
    group.create_dataset("grades", data=record.grades)
    if record.lesion_mask is not None:
        group.create_dataset("lesion_mask", data=record.lesion_mask,
                             **_dataset_options(record.lesion_mask, compression))


class _DeallocErrors:
    """Collect, silently, the errors h5py can only report while dropping an object, for the time a store is written.

    HDF5 writes a compressed dataset's chunks when the dataset is closed, i.e. when h5py drops its object; a failure
    there (a full disk) cannot be raised: Cython prints its traceback (through ``sys.excepthook``) and reports it to
    ``sys.unraisablehook``, once per object — hundreds of tracebacks for one store, while the writing went on. While
    active, both hooks keep the errors of h5py objects; :meth:`raise_first` raises the first one.
    """

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self._unraisable = sys.unraisablehook
        self._excepthook = sys.excepthook

    @staticmethod
    def _from_h5py(err: BaseException | None) -> bool:
        return err is not None and any("h5py" in frame.f_code.co_filename
                                       for frame, _ in traceback.walk_tb(err.__traceback__))

    def _unraisable_hook(self, unraisable: Any) -> None:
        if unraisable.exc_value is not None and ("h5py" in repr(unraisable.object)
                                                 or self._from_h5py(unraisable.exc_value)):
            self.errors.append(unraisable.exc_value)
        else:
            self._unraisable(unraisable)

    def _except_hook(self, kind: type[BaseException], err: BaseException, tb: Any) -> None:
        if not self._from_h5py(err):
            self._excepthook(kind, err, tb)

    def __enter__(self) -> _DeallocErrors:
        self._unraisable, self._excepthook = sys.unraisablehook, sys.excepthook
        sys.unraisablehook, sys.excepthook = self._unraisable_hook, self._except_hook
        return self

    def __exit__(self, *exc: object) -> None:
        sys.unraisablehook, sys.excepthook = self._unraisable, self._excepthook

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]


def _abandon(h5: h5py.File, tmp: Path, hdf5_failed: bool) -> None:
    """Give up a store whose writing failed (atomic_path removes the temp file next).

    The temp file is emptied first, so the space it took is free at once. After a failed HDF5 write (``hdf5_failed``)
    the file is not closed: HDF5 2.0 crashes the interpreter in ``H5Fclose`` (or at exit) on such a file, which is
    why :func:`write_store_isolated` writes in a child process that ends with ``os._exit``.
    """
    with suppress(OSError):
        os.truncate(tmp, 0)
    if hdf5_failed:
        return
    try:
        h5.close()
    except Exception:  # the file is discarded; what HDF5 says about it no longer matters
        logger.debug("closing the abandoned store %s", tmp, exc_info=True)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or an exception it was raised from or during) reports a full disk or an exceeded quota.

    Recognises an ``OSError`` whose ``errno`` is in :data:`DISK_FULL_ERRNOS` and the messages h5py passes on from
    HDF5 (``"... errno = 28, error message = 'No space left on device' ..."``), which may carry no ``errno``.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if _DISK_FULL_TEXT.search(str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of a store being written: ``cohort.h5`` -> ``cohort.h5.lock`` (beside it)."""
    path = Path(path)
    return path.with_name(f"{path.name}{LOCK_SUFFIX}")


def _lock_holder(fd: int) -> str:
    """``"hipmonai preprocess (pid 123)"`` from a lock file's contents (``pid`` line, then the command line)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        lines = os.read(fd, 4096).decode("utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    pid = lines[0].strip() if lines and lines[0].strip().isdigit() else "unknown"
    command = lines[1].strip() if len(lines) > 1 and lines[1].strip() else "hipmonai process"
    return f"{command} (pid {pid})"


@contextmanager
def store_write_lock(path: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold the exclusive right to write the store at ``path`` (and its parts and summary) for the ``with`` block.

    The lock is an ``fcntl.flock`` on :func:`lock_path` holding this process's pid and ``command``; the kernel
    releases it when the process ends, however it ends, so a lock file left by a killed run never blocks the next.
    The file is removed when the block ends. Without ``fcntl`` (Windows), or on a file system refusing locks (a
    warning is logged), the block runs unlocked.

    Args:
        path: the store (e.g. ``outputs/hip.h5``); its folder is created when missing.
        command: what is writing, named to a second writer (e.g. ``"hipmonai preprocess"``).

    Yields:
        The lock file's path.

    Raises:
        InputError: another process holds the lock: ``"{path} is being written by another {command} (pid N)"``.
    """
    path = Path(path)
    lock = lock_path(path)
    if fcntl is None:
        yield lock
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise InputError(f"{path} is being written by another {holder}") from None
        except OSError as err:  # e.g. ENOLCK on a file system without locks
            os.close(fd)
            logger.warning("%s: cannot lock (%s); writing without a lock", lock, err.strerror)
            yield lock
            return
        try:  # the holder before us may have removed the file between our open and our lock: lock the new one
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n{command}\n".encode())
        yield lock
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def merge_stores(
    sources: Sequence[str | os.PathLike],
    path: str | os.PathLike,
    drop_attrs: Sequence[str] = (),
    compression: str | None = "gzip",
) -> Path:
    """Combine stores holding disjoint subjects into one new store at ``path`` (:func:`write_store_isolated`).

    Scans are copied in key order, so the result equals a store written from all records at once: the same keys,
    datasets and scan attributes. Root attributes come from the sources, which must agree on all of them but
    :data:`VOLATILE_ROOT_ATTRS` and ``drop_attrs`` (which are left out of the result).

    Args:
        sources: the stores (at least one).
        path: the store to write.
        drop_attrs: root attributes that may differ between sources and are not copied (e.g. ``("shard",)``).
        compression: as :func:`write_store`.

    Returns:
        ``path``.

    Raises:
        InputError: no source, a source unreadable, root attributes that differ (the first one named, with both
            stores), or a subject found in two sources (named, with both stores).
        OSError: ``errno.ENOSPC`` when the disk filled up.
    """
    if not sources:
        raise InputError("no stores to merge")
    stores = [HipStore(source) for source in sources]
    ignored = set(VOLATILE_ROOT_ATTRS) | set(drop_attrs)
    first = stores[0]
    shared = {name: value for name, value in first.attrs.items() if name not in ignored}
    owner: dict[str, HipStore] = {}
    keys: list[tuple[str, HipStore]] = []
    for store in stores:
        attrs = {name: value for name, value in store.attrs.items() if name not in ignored}
        for name in sorted(set(shared) | set(attrs)):
            if shared.get(name) != attrs.get(name):
                raise InputError(f"{store.path} and {first.path} differ in root attribute {name!r} "
                                 f"({attrs.get(name)!r} vs {shared.get(name)!r}); they cannot be merged")
        for subject in store.subjects():
            if subject in owner:
                raise InputError(f"subject {subject!r} is in both {owner[subject].path} and {store.path}")
            owner[subject] = store
        keys.extend((key, store) for key in store)
    keys.sort(key=lambda item: item[0])
    attrs = {name: value for name, value in shared.items() if name not in RESERVED_ROOT_ATTRS}
    try:
        return write_store_isolated(path, (store.record(key) for key, store in keys), attrs=attrs,
                                    compression=compression)
    finally:
        for store in stores:
            store.close()


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
