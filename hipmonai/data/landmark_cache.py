"""Landmark sample caches shared by the landmark bundles (knee KNEEL stages, pelvis U-Net): HDF5 + JSON manifest.

A cache is an HDF5 file with one group per sample under a root group (``knees/{subject}/{visit}/{side}`` for the
knee stages, ``radiographs/{subject}/{visit}`` for whole pelvis radiographs), each holding

* ``image`` float32 ``(H, W)`` (rows, columns, as the hip store of :mod:`hipmonai.data.store`),
* ``landmarks`` float32 ``(L, 2)`` ``(x, y)`` sample pixels, ``NaN`` = missing,
* ``px_affine`` float64 ``(3, 3)``: original-image pixels -> sample pixels (its inverse maps predictions back),

and attributes ``pixel_spacing`` ``(x, y)`` mm of the sample, ``original_spacing``, ``source_uid_hash`` and any
task-specific ones (``flipped``, ``kl``). No patient-identifying DICOM value is written.

A manifest is a JSON object ``{"format": ..., <settings>, "training": [...], "validation": [...], "test": [...]}``
whose items carry ``h5`` and ``key`` (and ``subject_id``, ``dicom``, ``pts``), paths relative to the manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monai.transforms import MapTransform

from hipmonai.data.manifests import SPLITS
from hipmonai.errors import InputError
from hipmonai.io.pts import mm_to_px, read_pts

__all__ = [
    "LoadLandmarkSample",
    "LoadLandmarkSampled",
    "LoadRadiographd",
    "load_landmark_datalist",
    "read_landmark_manifest",
    "write_landmark_sample",
]

PATH_FIELDS = ("h5", "dicom", "pts")


def write_landmark_sample(group: Any, sample: Mapping[Hashable, Any], **attrs: Any) -> None:
    """Write one transformed sample (``image`` ``(1, W, H)``, ``landmarks``, ``px_affine``, ``pixel_spacing_mm``).

    Args:
        group: an open ``h5py.Group`` (created by the caller under the cache's root group).
        sample: the output of a landmark chain (e.g. :func:`hipmonai.transforms.pelvis_landmark_transforms`).
        attrs: further attributes (``original_spacing``, ``source_uid_hash``, ``flipped``, ``kl``...).
    """
    image = np.asarray(sample["image"][0], dtype=np.float32).T  # (W, H) -> (H, W) rows, columns
    group.create_dataset("image", data=image, compression="gzip", compression_opts=1)
    group.create_dataset("landmarks", data=np.asarray(sample["landmarks"], dtype=np.float32))
    group.create_dataset("px_affine", data=np.asarray(sample["px_affine"], dtype=np.float64))
    group.attrs["pixel_spacing"] = np.asarray(sample["pixel_spacing_mm"], dtype=np.float64)
    for name, value in attrs.items():
        group.attrs[name] = value


def read_landmark_manifest(path: str | os.PathLike, manifest_format: str, hint: str, kind: str) -> dict[str, Any]:
    """Read a manifest and check its ``format`` and that no subject is in two splits.

    Args:
        path: the manifest JSON.
        manifest_format: the expected ``"format"`` value.
        hint: what to run to make one (quoted in the error).
        kind: the manifest's name in messages (``"knee"``, ``"pelvis"``).

    Raises:
        InputError: unreadable or malformed, another format, or a subject in two splits (named, with both splits).
    """
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: cannot read the manifest ({type(err).__name__}: {err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != manifest_format:
        raise InputError(f"{path}: not a {kind} manifest (format {manifest_format!r}); {hint}")
    owner: dict[str, str] = {}
    for name in SPLITS:
        for item in manifest.get(name, []):
            other = owner.setdefault(item["subject_id"], name)
            if other != name:
                raise InputError(f"{path}: subject {item['subject_id']!r} is in both '{other}' and '{name}' splits")
    return manifest


def load_landmark_datalist(
    path: str | os.PathLike, split: str, manifest_format: str, hint: str, kind: str
) -> list[dict[str, Any]]:
    """Items of one split of a manifest, with ``h5``, ``dicom`` and ``pts`` made absolute.

    Raises:
        InputError: unknown split, or see :func:`read_landmark_manifest`.
    """
    if split not in SPLITS:
        raise InputError(f"split must be one of {list(SPLITS)}, got {split!r}")
    manifest = read_landmark_manifest(path, manifest_format, hint, kind)
    base = Path(path).resolve().parent
    return [
        {**item, **{f: os.path.normpath(base / item[f]) for f in PATH_FIELDS if f in item}}
        for item in manifest.get(split, [])
    ]


class LoadLandmarkSample:
    """Read one sample of a cache: ``(image (1, W, H) float32, landmarks (L, 2) px, attributes + px_affine)``.

    Open files are kept per path (read-only), so a ``Dataset`` reads without reopening; worker processes open their
    own handles.

    Args:
        root: the cache's root group (``"knees"``, ``"radiographs"``).
        hint: what to run when the cache is missing (quoted in the error).
    """

    def __init__(self, root: str, hint: str = "") -> None:
        self.root, self.hint = root, hint
        self._files: dict[str, Any] = {}

    def __call__(self, h5_path: str, key: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        import h5py

        handle = self._files.get(h5_path)
        if handle is None:
            if not Path(h5_path).is_file():
                raise InputError(f"{h5_path}: landmark cache not found; {self.hint}".rstrip("; "))
            handle = self._files[h5_path] = h5py.File(h5_path, "r")
        name = f"{self.root}/{key}"
        if name not in handle:
            raise InputError(f"{h5_path}: no sample {key!r} under {self.root!r}")
        group = handle[name]
        image = np.ascontiguousarray(group["image"][()].T[None], dtype=np.float32)
        attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in group.attrs.items()}
        return image, group["landmarks"][()].astype(np.float32), {**attrs, "px_affine": group["px_affine"][()]}

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "hint": self.hint, "_files": {}}


class LoadLandmarkSampled(MapTransform):
    """Dictionary loader of a cache manifest item: adds ``image`` ``(1, W, H)``, ``landmarks`` ``(L, 2)`` sample
    px, ``pixel_spacing_mm`` ``(2,)`` float32 and ``px_affine`` ``(3, 3)``.

    Args:
        keys: the manifest field with the cache path (``"h5"``).
        root: the cache's root group.
        key_field: the manifest field with the sample key.
        hint: what to run when the cache is missing.
    """

    def __init__(self, keys: str = "h5", root: str = "radiographs", key_field: str = "key", hint: str = "") -> None:
        super().__init__(keys)
        self.h5_field, self.key_field = keys, key_field
        self.loader = LoadLandmarkSample(root, hint)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        image, landmarks, attrs = self.loader(d[self.h5_field], d[self.key_field])
        d["image"] = image
        d["landmarks"] = landmarks
        d["pixel_spacing_mm"] = np.asarray(attrs["pixel_spacing"], dtype=np.float32)
        d["px_affine"] = np.asarray(attrs["px_affine"], dtype=np.float64)
        return d


class LoadRadiographd(MapTransform):
    """Load a whole radiograph and, when given, its landmarks (``.pts`` in mm -> original pixels).

    Adds ``image`` ``MetaTensor`` ``(1, W, H)`` float32 with the ``diag(sx, sy, 1, 1)`` affine
    (:func:`hipmonai.readers.load_radiograph`), ``spacing_mm`` ``(2,)`` float32 ``(x, y)``, ``source_uid_hash`` and,
    with a ``pts_key`` in the item, ``label`` ``(M, 2)`` float32 original pixels.

    Args:
        keys: the item field with the DICOM path (``"image"``, replaced by the image).
        pts_key: the item field with the ``.pts`` path (skipped when absent or empty).
        n_points: points the ``.pts`` must hold (e.g. 160 for a bilateral hip file, 32 for knees).
        point_indices: keep only these points (e.g. the bilateral detection subset); ``None``: all.
        spacing_xy_mm: fallback spacing for files without one.
    """

    def __init__(
        self,
        keys: str = "image",
        pts_key: str = "pts",
        n_points: int | None = None,
        point_indices: Sequence[int] | None = None,
        spacing_xy_mm: Sequence[float] | None = None,
    ) -> None:
        super().__init__(keys)
        self.image_key, self.pts_key, self.spacing_xy_mm = keys, pts_key, spacing_xy_mm
        self.n_points = n_points
        self.point_indices = None if point_indices is None else [int(i) for i in point_indices]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        import torch
        from monai.data import MetaTensor

        from hipmonai.readers import load_radiograph

        d = dict(data)
        array_wh, meta = load_radiograph(d[self.image_key], self.spacing_xy_mm)
        spacing = np.asarray(meta["spacing_xy_mm"], dtype=np.float64)
        d[self.image_key] = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
        d["spacing_mm"] = spacing.astype(np.float32)
        d["source_uid_hash"] = meta["source_uid_hash"]
        if d.get(self.pts_key):
            points = mm_to_px(read_pts(d[self.pts_key], n_points=self.n_points), spacing)
            if self.point_indices is not None:
                points = points[self.point_indices]
            d["label"] = points.astype(np.float32)
        return d
