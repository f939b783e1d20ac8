"""MONAI transforms that read scans from the HDF5 store into pipeline form, and the bundles' training loader
(:class:`SplitDataLoader`, a MONAI ``DataLoader`` that refuses a split it would make no batch of and can prepare the
next batch in a background thread).

The store keeps images ``(H, W)``; pipelines use channel-first ``(C, W, H)`` (docs/conventions.md), so the
image is transposed to ``(1, W, H)`` with the affine ``diag(spacing_x, spacing_y, 1, 1)``, and landmarks keep
their ``(x, y)`` = voxel index ``(i, j)`` meaning. Store handles are opened once per process and never pickled,
so the transforms work inside ``DataLoader`` workers (fork or spawn).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.data import DataLoader, MetaTensor
from monai.transforms import MapTransform, Transform
from torch.utils.data import Dataset, Sampler

from hipmonai.data.store import HipStore
from hipmonai.errors import InputError

_ARRAY_KEYS = ("image", "landmarks", "grades", "lesion_mask")


class LoadHipScan(Transform):
    """Load one scan of a store: ``LoadHipScan()(h5_path, key) -> dict``.

    Returns:
        ``image``: ``(1, W, H)`` float32 ``MetaTensor`` (x = columns first), affine ``diag(sx, sy, 1, 1)`` in mm,
        meta holding the scan key, subject, visit, side and every scan attribute (pixel spacing, crop offsets,
        femoral head radius, flipped, source_uid_hash);
        ``landmarks``: ``(N, 2)`` float32 ``(x, y)`` = voxel index ``(i, j)`` of ``image``, NaN = missing;
        ``grades``: ``(4,)`` int64 in TARGETS order, -1 = unknown;
        ``label``: ``(4,)`` float32 binary targets ``grades > 0`` (0 where unknown);
        ``label_mask``: ``(4,)`` float32, 1 where the grade is known;
        ``lesion_mask``: ``(4, W, H)`` uint8 ``MetaTensor`` when the store has one (phantoms).

    Args:
        base_dir: folder that relative store paths are resolved against (default: the working directory).
    """

    def __init__(self, base_dir: str | os.PathLike | None = None) -> None:
        self.base_dir = None if base_dir is None else Path(base_dir)
        self._stores: dict[str, HipStore] = {}

    def store(self, h5: str | os.PathLike) -> HipStore:
        """The (cached, per-process lazily opened) :class:`HipStore` of ``h5``."""
        path = Path(h5)
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        name = os.path.abspath(path)
        store = self._stores.get(name)
        if store is None:
            store = self._stores[name] = HipStore(name)
        return store

    def __call__(self, h5: str | os.PathLike, key: str) -> dict[str, Any]:
        store = self.store(h5)
        scan = store[key]
        spacing_xy_mm = np.asarray(scan["pixel_spacing"], dtype=np.float64)
        affine = np.diag([spacing_xy_mm[0], spacing_xy_mm[1], 1.0, 1.0])
        image_hw = scan["image"]
        meta = {name: value for name, value in scan.items() if name not in _ARRAY_KEYS}
        meta.update(
            {
                "scan_key": scan["key"],
                "filename_or_obj": str(store.path),
                "spatial_shape": np.array(image_hw.shape[::-1]),
                "original_channel_dim": 0,
            }
        )
        meta.pop("key")
        grades = np.asarray(scan["grades"], dtype=np.int64)
        out: dict[str, Any] = {
            "image": MetaTensor(
                np.ascontiguousarray(image_hw.T[None], dtype=np.float32), affine=affine, meta=dict(meta)
            ),
            "landmarks": np.asarray(scan["landmarks"], dtype=np.float32),
            "grades": grades,
            "label": (grades > 0).astype(np.float32),
            "label_mask": (grades >= 0).astype(np.float32),
        }
        if "lesion_mask" in scan:
            mask_wh = np.ascontiguousarray(np.asarray(scan["lesion_mask"], dtype=np.uint8).transpose(0, 2, 1))
            out["lesion_mask"] = MetaTensor(mask_wh, affine=affine.copy(), meta=dict(meta))
        return out


class LoadHipScand(MapTransform):
    """Dictionary twin of :class:`LoadHipScan` for datalist items ``{"h5": path, "key": "S0001/V00/right", ...}``.

    Adds ``image`` ``(1, W, H)``, ``landmarks`` ``(N, 2)``, ``grades`` ``(4,)``, ``label`` ``(4,)``, ``label_mask``
    ``(4,)`` and, when stored, ``lesion_mask`` ``(4, W, H)`` (see :class:`LoadHipScan`); other item fields pass
    through (a datalist's ``grades`` are replaced by the store's).

    Args:
        keys: the item field holding the store path (default ``"h5"``).
        scan_key: the item field holding the scan key.
        base_dir: folder relative store paths are resolved against (e.g. the manifest's folder); items from
            :func:`hipmonai.data.load_datalist` already hold absolute paths.
        image_key, landmarks_key, grades_key, label_key, label_mask_key, lesion_mask_key: output field names.
        allow_missing_keys: pass items without a store path through unchanged.
    """

    def __init__(
        self,
        keys: KeysCollection = "h5",
        scan_key: str = "key",
        base_dir: str | os.PathLike | None = None,
        image_key: str = "image",
        landmarks_key: str = "landmarks",
        grades_key: str = "grades",
        label_key: str = "label",
        label_mask_key: str = "label_mask",
        lesion_mask_key: str = "lesion_mask",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"LoadHipScand reads one store path per item, got keys {list(self.keys)}.")
        self.scan_key = scan_key
        self.loader = LoadHipScan(base_dir=base_dir)
        self.output_keys = {
            "image": image_key,
            "landmarks": landmarks_key,
            "grades": grades_key,
            "label": label_key,
            "label_mask": label_mask_key,
            "lesion_mask": lesion_mask_key,
        }

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if self.scan_key not in d:
                raise InputError(f"datalist item for store {d[key]!r} has no {self.scan_key!r} field")
            for name, value in self.loader(d[key], d[self.scan_key]).items():
                d[self.output_keys[name]] = value
        return d


class SplitDataLoader(DataLoader):
    """MONAI ``DataLoader`` of one datalist split that raises instead of making no batch, and can prepare the next
    batch in a background thread while the network trains on the current one.

    An empty dataset otherwise fails inside torch's ``RandomSampler`` ("num_samples should be a positive integer
    value"), and one smaller than ``batch_size`` with ``drop_last`` gives an empty loader: Ignite skips the run with a
    warning, and a bundle exits 0 without a checkpoint. Both are checked when the loader is built, before any epoch.
    With a ``sampler`` (``DistributedSampler`` in the multi-GPU configs) the items per process are what counts.

    With ``prefetch_batches > 0`` one thread runs the loader (the random augmentation of ``num_workers=0``, or the
    hand-over from worker processes) up to that many batches ahead, on another core while the training step computes
    (torch releases the GIL in its kernels). It is the only thread that draws augmentations and the shuffle, in the
    same order as without it, so training is bit-identical; unlike MONAI's ``ThreadDataLoader`` an exception in the
    thread (e.g. an :class:`~hipmonai.errors.InputError` from a transform) is raised in the caller instead of ending
    the epoch early.

    Args:
        dataset: the split's dataset (any sized ``Dataset``).
        split: the split's name for the message, e.g. ``"training"``.
        batch_size: items per batch.
        drop_last: drop the last incomplete batch (the bundles' training loaders do).
        sampler: optional sampler; its length is the number of items this process loads.
        prefetch_batches: batches prepared ahead in a background thread; 0 loads in the calling thread.
        kwargs: the other arguments of ``monai.data.DataLoader`` (``shuffle``, ``num_workers``, ...).

    Raises:
        InputError: the dataset is empty, or ``drop_last`` and fewer items than ``batch_size`` (split, sizes named).
        ValueError: a negative ``prefetch_batches``.

    Example (bundle config)::

        "dataloader": {"_target_": "hipmonai.data.SplitDataLoader", "dataset": "@train#dataset",
                       "split": "training", "batch_size": "@batch_size", "shuffle": true, "drop_last": true,
                       "prefetch_batches": 1}
    """

    def __init__(
        self,
        dataset: Dataset,
        split: str = "training",
        batch_size: int = 1,
        drop_last: bool = False,
        sampler: Sampler | None = None,
        prefetch_batches: int = 0,
        **kwargs: Any,
    ) -> None:
        if prefetch_batches < 0:
            raise ValueError(f"prefetch_batches must be >= 0, got {prefetch_batches}.")
        n_items = len(dataset)  # type: ignore[arg-type]
        if n_items == 0:
            raise InputError(f"the {split} split is empty (0 items, batch_size {batch_size}): nothing to load; check "
                             "the datalist")
        per_process = n_items if sampler is None else len(sampler)  # type: ignore[arg-type]
        if drop_last and batch_size is not None and per_process < batch_size:
            items = f"{n_items} item{'s' if n_items != 1 else ''}"
            if sampler is not None:
                items += f" ({per_process} per process with {type(sampler).__name__})"
            raise InputError(f"the {split} split has {items}, fewer than batch_size {batch_size} with drop_last=True: "
                             "not one batch to train on; lower batch_size or add data")
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last, sampler=sampler, **kwargs)
        self.split = split
        self.prefetch_batches = int(prefetch_batches)

    def __iter__(self) -> Iterator[Any]:
        batches = super().__iter__()
        return batches if self.prefetch_batches == 0 else prefetch(batches, self.prefetch_batches)


_DONE = object()


def prefetch(batches: Iterable[Any], size: int = 1, poll_s: float = 0.1) -> Iterator[Any]:
    """Iterate over ``batches`` with one background thread producing up to ``size`` items ahead.

    Items come in order; an exception of the producer is raised here (the same object, so its ``__cause__`` chain
    stays); closing the returned generator early (``break``, garbage collection) stops and joins the thread.

    Args:
        batches: any iterable (a ``DataLoader`` iterator).
        size: items buffered ahead, >= 1.
        poll_s: how often a producer blocked on a full buffer checks whether the consumer has gone.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}.")
    buffer: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def produce() -> None:
        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    buffer.put(item, timeout=poll_s)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            for batch in batches:
                if not put((batch, None)):
                    return
        except BaseException as err:  # handed to the consumer, which raises it
            put((_DONE, err))
            return
        put((_DONE, None))

    return _consume(buffer, stop, threading.Thread(target=produce, name="hipmonai-prefetch", daemon=True))


def _consume(buffer: queue.Queue, stop: threading.Event, thread: threading.Thread) -> Iterator[Any]:
    thread.start()
    try:
        while True:
            item, err = buffer.get()
            if err is not None:
                raise err
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()
