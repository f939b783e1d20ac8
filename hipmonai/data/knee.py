"""Knee cohort preparation for the KNEEL bundle (Tiulpin et al. 2019): per-stage HDF5 caches and split manifests.

A knee cohort (``hipmonai phantoms knee`` writes one into ``dicom/``, ``landmarks/`` and ``grades.csv``; real data
looks the same) has a folder of bilateral PA radiographs ``{subject}/{visit}/NAME.dcm``, a folder of BoneFinder
``.pts`` files mirroring it (``{subject}/{visit}/NAME.pts``, mm, 32 points: right knee 0-15 on the image's left,
left knee 16-31, KNEEL numbering lateral to medial) and optionally a grades CSV with a ``kl`` column.

:func:`prepare_knee_data` takes the three as separate arguments (``hipmonai knee prepare --dicom --landmarks
--grades``, as ``hipmonai preprocess`` and ``labelaug prepare`` take them), reads every image once and writes, under
``out_dir``:

* ``roi.h5`` — ROI stage (paper: half images at 1 mm, one point per knee), from
  :func:`hipmonai.transforms.knee.knee_roi_transforms`;
* ``landmarks.h5`` — landmark stage (paper: 0.3 mm, 140 mm crops around the true tibial centre, landmark 4, left
  knees flipped), from :func:`hipmonai.transforms.knee.knee_landmark_transforms`;
* ``roi.json`` / ``landmarks.json`` — MONAI datalists ``{"training", "validation", "test"}`` split by subject
  (seeded, 70/15/15 by default), items ``{"h5", "key", "subject_id", "visit", "side", "kl", "dicom", "pts"}``
  with paths relative to the manifest;
* ``prepare.json`` — the settings and counts (no patient-identifying DICOM value anywhere).

HDF5 layout (one group per knee, ``/knees/{subject}/{visit}/{side}``, like the hip store of
:mod:`hipmonai.data.store`): ``image``
float32 ``(H, W)`` (rows, columns), ``landmarks`` float32 ``(16, 2)`` ``(x, y)`` sample pixels, ``px_affine``
float64 ``(3, 3)`` original → sample pixels; attributes ``pixel_spacing`` ``(x, y)`` mm, ``original_spacing``,
``flipped``, ``kl``, ``source_uid_hash``. :class:`LoadKneeSampled` loads one item back as ``(1, W, H)``.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from monai.transforms import MapTransform

from hipmonai.atomic import atomic_path, write_text_atomic
from hipmonai.data.landmark_cache import (
    LoadLandmarkSample,
    LoadLandmarkSampled,
    LoadRadiographd,
    load_landmark_datalist,
    read_landmark_manifest,
    write_landmark_sample,
)
from hipmonai.data.manifests import DEFAULT_FRACTIONS, SPLITS, split_subjects
from hipmonai.data.record import make_key, parse_key
from hipmonai.errors import InputError
from hipmonai.io.pts import POINTS_PER_KNEE, mm_to_px, read_pts

__all__ = [
    "KNEE_CENTRE_LANDMARK",
    "KNEE_SIDES",
    "STAGES",
    "KneeImage",
    "LoadKneeSample",
    "LoadKneeSampled",
    "LandmarksToNormalizedd",
    "find_knee_images",
    "knee_item",
    "knee_manifest_settings",
    "knee_radiograph_items",
    "LoadKneeRadiographd",
    "load_knee_datalist",
    "prepare_knee_data",
    "read_kl_grades",
]

KNEE_SIDES = ("right", "left")
STAGES = ("roi", "landmarks")
KNEE_CENTRE_LANDMARK = 4  # tibial centre (KNEEL numbering): the ROI target and the landmark crop's centre
MANIFEST_FORMAT = "hipmonai-knee-datalist"
KNEE_ROOT = "knees"
HINT = "run `hipmonai knee prepare`"


@dataclass(frozen=True)
class KneeImage:
    """One bilateral knee radiograph of a cohort: its ids and files."""

    subject_id: str
    visit: str
    dicom: Path
    pts: Path


def find_knee_images(dicom_dir: str | os.PathLike, landmarks_dir: str | os.PathLike) -> list[KneeImage]:
    """Every ``{dicom_dir}/{subject}/{visit}/*.dcm`` with its ``{landmarks_dir}/{subject}/{visit}/*.pts``, sorted.

    Args:
        dicom_dir: folder of the radiographs, ``{subject}/{visit}/NAME.dcm``.
        landmarks_dir: folder of their ``.pts`` files, ``{subject}/{visit}/NAME.pts``.

    Returns:
        One :class:`KneeImage` per radiograph, sorted by DICOM path.

    Raises:
        InputError: a folder that does not exist, no images, or an image without its landmark file.
    """
    dicom_dir, pts_dir = Path(dicom_dir), Path(landmarks_dir)
    for name, folder in (("DICOM", dicom_dir), ("landmark", pts_dir)):
        if not folder.is_dir():
            raise InputError(f"{folder}: {name} folder not found")
    images = []
    for dcm in sorted(dicom_dir.glob("*/*/*.dcm")):
        subject, visit = dcm.parent.parent.name, dcm.parent.name
        pts = pts_dir / subject / visit / f"{dcm.stem}.pts"
        if not pts.is_file():
            raise InputError(f"{dcm}: no landmark file {pts}")
        images.append(KneeImage(subject, visit, dcm, pts))
    if not images:
        raise InputError(f"{dicom_dir}: no DICOM files in {{subject}}/{{visit}}/")
    return images


def read_kl_grades(path: str | os.PathLike | None) -> dict[str, int]:
    """``{key: kl}`` from a knee ``grades.csv`` (``subject_id, visit, side, kl``); empty for ``None``/no file."""
    if path is None or not Path(path).is_file():
        return {}
    grades = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"subject_id", "visit", "side", "kl"} <= set(reader.fieldnames):
            raise InputError(f"{path}: a knee grades CSV needs columns subject_id, visit, side, kl")
        for row in reader:
            value = row["kl"].strip()
            grades[make_key(row["subject_id"], row["visit"], row["side"])] = int(value) if value else -1
    return grades


def knee_item(image: KneeImage, side: str, spacing_xy_mm: Sequence[float] | None = None) -> dict[str, Any]:
    """The input dict of the knee chains for one knee: the whole radiograph and this knee's landmarks.

    Returns:
        ``{"image": MetaTensor (1, W, H), "landmarks": (16, 2) original px, "side", "knee_center_px": (2,) true
        tibial centre px, "original_spacing_mm": (2,), "source_uid_hash"}``.
    """
    import torch
    from monai.data import MetaTensor

    from hipmonai.readers import load_radiograph

    array_wh, meta = load_radiograph(image.dicom, spacing_xy_mm)
    spacing = np.asarray(meta["spacing_xy_mm"], dtype=np.float64)
    points_mm = read_pts(image.pts, n_points=2 * POINTS_PER_KNEE)
    index = KNEE_SIDES.index(side)
    landmarks = mm_to_px(points_mm[index * POINTS_PER_KNEE : (index + 1) * POINTS_PER_KNEE], spacing)
    return {
        "image": MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"]),
        "landmarks": landmarks.astype(np.float32),
        "side": side,
        "knee_center_px": landmarks[KNEE_CENTRE_LANDMARK].astype(np.float64),
        "original_spacing_mm": spacing,
        "source_uid_hash": meta["source_uid_hash"],
    }


def prepare_knee_data(
    dicom_dir: str | os.PathLike,
    landmarks_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    grades_csv: str | os.PathLike | None = None,
    roi_spacing_mm: float = 1.0,
    roi_size_px: Sequence[int] = (256, 320),
    landmark_spacing_mm: float = 0.3,
    crop_mm: float = 140.0,
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the ROI and landmark caches and their subject-level manifests (module docstring).

    Args:
        dicom_dir: folder of the bilateral PA radiographs, ``{subject}/{visit}/NAME.dcm``.
        landmarks_dir: folder of their 32-point ``.pts`` files mirroring ``dicom_dir``.
        out_dir: folder for ``roi.h5``, ``landmarks.h5``, ``roi.json``, ``landmarks.json``, ``prepare.json``.
        roi_spacing_mm: ROI-stage spacing (paper: 1 mm).
        roi_size_px: ``(W, H)`` of the ROI images.
        landmark_spacing_mm: landmark-stage spacing (paper: 0.3 mm).
        crop_mm: landmark crop side (paper: 140 mm).
        grades_csv: knee grades CSV (``subject_id, visit, side, kl``); without it every knee's ``kl`` is -1.
        seed: subject split seed.
        fractions: (training, validation, test) shares of subjects.
        progress: print one line per image.

    Returns:
        The summary written to ``prepare.json``: the settings, the input folders and grades CSV (relative to
        ``out_dir``; ``grades_csv`` ``None`` when not given), ``n_images``, ``counts`` per split and ``elapsed_s``.

    Raises:
        InputError: missing folders, images without landmarks (:func:`find_knee_images`), or a ``grades_csv`` that
            does not exist or lacks the knee columns.
    """
    import h5py

    from hipmonai.transforms.knee import knee_landmark_transforms, knee_roi_transforms

    started = time.perf_counter()
    images = find_knee_images(dicom_dir, landmarks_dir)
    if grades_csv is not None and not Path(grades_csv).is_file():
        raise InputError(f"{grades_csv}: grades CSV not found")
    kl = read_kl_grades(grades_csv)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chains = {
        "roi": knee_roi_transforms(roi_spacing_mm, roi_size_px),
        "landmarks": knee_landmark_transforms(landmark_spacing_mm, crop_mm),
    }
    splits = split_subjects(sorted({im.subject_id for im in images}), fractions=fractions, seed=seed)
    split_of = {subject: name for name, subjects in splits.items() for subject in subjects}
    items: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
    with (
        atomic_path(out / "roi.h5") as roi_tmp,
        atomic_path(out / "landmarks.h5") as lm_tmp,
        h5py.File(roi_tmp, "w") as roi_file,
        h5py.File(lm_tmp, "w") as lm_file,
    ):
        files = {"roi": roi_file, "landmarks": lm_file}
        for number, image in enumerate(images, 1):
            for side in KNEE_SIDES:
                base = knee_item(image, side)
                key = make_key(image.subject_id, image.visit, side)
                for stage, chain in chains.items():
                    sample = chain(dict(base))
                    group = files[stage].create_group(f"knees/{key}")
                    write_landmark_sample(group, sample, original_spacing=base["original_spacing_mm"],
                                          flipped=bool(sample.get("flipped", False)), kl=int(kl.get(key, -1)),
                                          source_uid_hash=base["source_uid_hash"])
                items[split_of[image.subject_id]].append({
                    "key": key,
                    "subject_id": image.subject_id,
                    "visit": image.visit,
                    "side": side,
                    "kl": kl.get(key, -1),
                    "dicom": os.path.relpath(image.dicom, out),
                    "pts": os.path.relpath(image.pts, out),
                })
            if progress:
                print(f"[{number}/{len(images)}] {image.subject_id}/{image.visit}", flush=True)
    settings = {
        "roi_spacing_mm": float(roi_spacing_mm),
        "roi_size_px": [int(s) for s in roi_size_px],
        "landmark_spacing_mm": float(landmark_spacing_mm),
        "crop_mm": float(crop_mm),
        "seed": int(seed),
        "fractions": [float(f) for f in fractions],
    }
    for stage in STAGES:
        manifest = {"format": MANIFEST_FORMAT, "stage": stage, **settings}
        for name in SPLITS:
            manifest[name] = [{"h5": f"{stage}.h5", **item} for item in items[name]]
        write_text_atomic(out / f"{stage}.json", json.dumps(manifest, indent=1) + "\n")
    summary = {
        **settings,
        "dicom_dir": os.path.relpath(Path(dicom_dir).resolve(), out.resolve()),
        "landmarks_dir": os.path.relpath(Path(landmarks_dir).resolve(), out.resolve()),
        "grades_csv": None if grades_csv is None else os.path.relpath(Path(grades_csv).resolve(), out.resolve()),
        "n_images": len(images),
        "counts": {name: len(items[name]) for name in SPLITS},
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    write_text_atomic(out / "prepare.json", json.dumps(summary, indent=1) + "\n")
    return summary


def load_knee_datalist(path: str | os.PathLike, split: str = "training") -> list[dict[str, Any]]:
    """Items of one split of a knee manifest, with ``h5``, ``dicom`` and ``pts`` made absolute.

    Raises:
        InputError: unreadable or malformed manifest, unknown split, or a subject in two splits (named).
    """
    return load_landmark_datalist(path, split, MANIFEST_FORMAT, HINT, "knee")


def knee_manifest_settings(path: str | os.PathLike) -> dict[str, Any]:
    """Sampling of a knee manifest's stage, for the bundle configs (so configs and cache cannot disagree).

    Returns:
        ``{"stage", "spacing_mm", "input_size_px": [W, H], "roi_spacing_mm", "roi_size_px", "landmark_spacing_mm",
        "crop_mm"}``.
    """
    from hipmonai.transforms.knee import crop_size_px

    manifest = read_landmark_manifest(path, MANIFEST_FORMAT, HINT, "knee")
    settings = {k: manifest[k] for k in ("stage", "roi_spacing_mm", "roi_size_px", "landmark_spacing_mm", "crop_mm")}
    if settings["stage"] == "roi":
        settings["spacing_mm"] = float(settings["roi_spacing_mm"])
        settings["input_size_px"] = [int(s) for s in settings["roi_size_px"]]
    else:
        settings["spacing_mm"] = float(settings["landmark_spacing_mm"])
        settings["input_size_px"] = [crop_size_px(settings["crop_mm"], settings["landmark_spacing_mm"])] * 2
    return settings


class LoadKneeSample(LoadLandmarkSample):
    """Read one knee sample from a stage cache: ``(image (1, W, H) float32, landmarks (16, 2) px, attributes)``."""

    def __init__(self) -> None:
        super().__init__(KNEE_ROOT, HINT)

    def __call__(self, h5_path: str, key: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        parse_key(key)
        return super().__call__(h5_path, key)


class LoadKneeSampled(LoadLandmarkSampled):
    """Dictionary loader of a knee manifest item: adds ``image`` ``(1, W, H)``, ``landmarks`` ``(16, 2)`` sample px,
    ``pixel_spacing_mm`` ``(2,)`` float32 and ``px_affine`` ``(3, 3)``.

    Args:
        keys: the manifest field with the cache path (``"h5"``); the item's ``"key"`` names the knee.
        key_field: the manifest field with the knee key.
    """

    def __init__(self, keys: str = "h5", key_field: str = "key") -> None:
        super().__init__(keys, root=KNEE_ROOT, key_field=key_field, hint=HINT)
        self.loader = LoadKneeSample()


class LandmarksToNormalizedd(MapTransform):
    """``data[output_key]`` = the chosen landmarks of ``data[key]`` in normalised ``(x, y)`` of ``data[image_key]``.

    The network's unit (:func:`hipmonai.networks.soft_argmax.pixels_to_normalized`, same ``grid``), computed after the
    spatial augmentations so the targets follow the image.

    Args:
        keys: the ``(N, 2)`` pixel landmarks key.
        output_key: where to write the ``(M, 2)`` float32 target.
        indices: landmark indices to keep (ROI stage: ``[4]``, the tibial centre); ``None``: all.
        image_key: image whose ``(W, H)`` defines the normalisation.
        grid: soft-argmax grid of the network.
    """

    def __init__(
        self,
        keys: str = "landmarks",
        output_key: str = "label",
        indices: Sequence[int] | None = None,
        image_key: str = "image",
        grid: str = "pixel_centre",
    ) -> None:
        super().__init__(keys)
        self.key, self.output_key, self.image_key, self.grid = keys, output_key, image_key, grid
        self.indices = None if indices is None else [int(i) for i in indices]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        import torch

        from hipmonai.networks.soft_argmax import pixels_to_normalized

        d = dict(data)
        points = torch.as_tensor(np.asarray(d[self.key], dtype=np.float32))
        if self.indices is not None:
            points = points[self.indices]
        size = [int(s) for s in d[self.image_key].shape[1:]]
        d[self.output_key] = pixels_to_normalized(points, size, self.grid).to(torch.float32)
        return d


def knee_radiograph_items(path: str | os.PathLike, split: str = "test") -> list[dict[str, Any]]:
    """One item per radiograph of a knee manifest split (both knees together), for whole-image inference.

    Returns:
        ``[{"image": dicom path, "pts": landmark path, "key": "{subject}/{visit}", "subject_id", "visit"}]`` sorted.
    """
    images: dict[str, dict[str, Any]] = {}
    for item in load_knee_datalist(path, split):
        images.setdefault(item["dicom"], {"image": item["dicom"], "pts": item["pts"],
                                          "key": f"{item['subject_id']}/{item['visit']}",
                                          "subject_id": item["subject_id"], "visit": item["visit"]})
    return [images[k] for k in sorted(images)]


class LoadKneeRadiographd(LoadRadiographd):
    """Load a whole bilateral knee radiograph and, when given, its 32 landmarks.

    Adds ``image`` ``MetaTensor`` ``(1, W, H)`` float32 with the ``diag(sx, sy, 1, 1)`` affine
    (:func:`hipmonai.readers.load_radiograph`), ``spacing_mm`` ``(2,)`` float32 ``(x, y)``, ``source_uid_hash`` and,
    with a ``pts_key`` in the item, ``label`` ``(32, 2)`` float32 original pixels (right knee 0-15, left 16-31).

    Args:
        keys: the item field with the DICOM path (``"image"``, replaced by the image).
        pts_key: the item field with the ``.pts`` path (skipped when absent).
        spacing_xy_mm: fallback spacing for files without one.
    """

    def __init__(self, keys: str = "image", pts_key: str = "pts", spacing_xy_mm: Sequence[float] | None = None):
        super().__init__(keys, pts_key=pts_key, n_points=2 * POINTS_PER_KNEE, spacing_xy_mm=spacing_xy_mm)
