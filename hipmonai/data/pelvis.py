"""Pelvis cohort preparation for the label-augmentation landmark U-Net (Suh et al. 2023).

A hip cohort on disk (``hipmonai phantoms hip`` writes one; real data looks the same) has AP pelvis DICOM files
and BoneFinder ``.pts`` files in mm with 160 points (right hip 0-79 on the image's left, left hip 80-159), laid out
as :func:`hipmonai.preprocessing.inputs.discover_images` understands. The U-Net predicts the points preprocessing
needs — ``detection_subset`` of ``configs/landmark_groups.json`` on both hips (femoral head contour for the crop
circle, the points of the four osteophyte target zones): ``2 K`` landmarks, right hip first.

:func:`prepare_pelvis_data` reads every radiograph once and writes, under ``out_dir``:

* ``pelvis.h5`` — a landmark cache (:mod:`hipmonai.data.landmark_cache`, root ``radiographs``, key
  ``{subject}/{visit}``): the ``size_px`` square model input of :func:`hipmonai.transforms.pelvis_landmark_transforms`,
  the ``(2 K, 2)`` landmarks in model pixels, the original -> model pixel matrix;
* ``pelvis.json`` — a MONAI datalist ``{"training", "validation", "test"}`` split by subject (seeded, 70/15/15 by
  default), items ``{"h5", "key", "subject_id", "visit", "dicom", "pts"}`` with paths relative to the manifest, and
  the settings (``size_px``, ``landmark_indices``, ``cohort``);
* ``prepare.json`` — the settings, counts and every skipped input with its reason (no patient-identifying DICOM
  value anywhere).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.atomic import atomic_path, write_text_atomic
from hipmonai.data.landmark_cache import load_landmark_datalist, read_landmark_manifest, write_landmark_sample
from hipmonai.data.manifests import DEFAULT_FRACTIONS, SPLITS, split_subjects
from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import check_hip_sides, load_landmark_groups
from hipmonai.io.pts import POINTS_PER_HIP, mm_to_px, read_pts

__all__ = [
    "MANIFEST_FORMAT",
    "check_size_px",
    "PELVIS_ROOT",
    "detection_landmark_names",
    "load_pelvis_datalist",
    "pelvis_manifest_settings",
    "prepare_pelvis_data",
]

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = "hipmonai-pelvis-datalist"
PELVIS_ROOT = "radiographs"
HINT = "run `hipmonai labelaug prepare`"


def detection_landmark_names() -> list[str]:
    """Channel names of the detector, ``"{side}_{index}"`` (e.g. ``"right_13"``), right hip first."""
    subset = load_landmark_groups("hip").detection_subset
    return [f"{side}_{i}" for side in ("right", "left") for i in subset]


def prepare_pelvis_data(
    dicom_dir: str | os.PathLike,
    landmarks_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    size_px: int = 512,
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    index_csv: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``pelvis.h5``, ``pelvis.json`` and ``prepare.json`` (module docstring).

    Args:
        dicom_dir: the radiographs.
        landmarks_dir: their 160-point ``.pts`` files (mirroring ``dicom_dir``).
        out_dir: output folder.
        size_px: side of the square model input (paper: 512).
        seed: subject split seed.
        fractions: (training, validation, test) shares of subjects.
        index_csv: optional ``path, subject_id, visit`` index (see ``hipmonai preprocess``).
        progress: show a progress bar.

    Returns:
        The summary written to ``prepare.json``.

    Raises:
        InputError: no usable radiograph (each skipped one is listed with its reason in the message's summary).
    """
    import h5py
    import torch
    from monai.data import MetaTensor
    from tqdm.auto import tqdm

    from hipmonai.data.record import check_name_part
    from hipmonai.preprocessing.inputs import discover_images
    from hipmonai.readers import load_radiograph
    from hipmonai.transforms.pelvis import pelvis_landmark_transforms

    started = time.perf_counter()
    groups = load_landmark_groups("hip")
    indices = groups.bilateral_detection_subset
    tasks, skipped = discover_images(dicom_dir, landmarks_dir, None, index_csv)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chain = pelvis_landmark_transforms(size_px)
    written: list[tuple[Any, str]] = []
    with atomic_path(out / "pelvis.h5") as tmp, h5py.File(tmp, "w") as handle:
        for task in tqdm(tasks, desc="prepare pelvis", unit="img", disable=not progress):
            if task.landmarks_path is None:
                skipped.append({"input": task.relative, "reason": "no matching landmarks (.pts)"})
                continue
            try:
                array_wh, meta = load_radiograph(task.dicom_path)
                points_mm = read_pts(task.landmarks_path, n_points=2 * POINTS_PER_HIP)
                check_hip_sides(points_mm)
                points = mm_to_px(points_mm, meta["spacing_xy_mm"])
            except InputError as err:
                reason = str(err).replace(str(task.dicom_path), task.relative)
                skipped.append({"input": task.relative, "reason": reason})
                continue
            sample = chain({
                "image": MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"]),
                "landmarks": points[indices].astype(np.float32),
            })
            key = f"{check_name_part(task.subject_id, 'subject_id')}/{check_name_part(task.visit, 'visit')}"
            write_landmark_sample(handle.create_group(f"{PELVIS_ROOT}/{key}"), sample,
                                  original_spacing=np.asarray(meta["spacing_xy_mm"], dtype=np.float64),
                                  source_uid_hash=str(meta["source_uid_hash"]))
            written.append((task, key))
        if not written:
            raise InputError(f"{dicom_dir}: no radiograph with landmarks could be prepared ({len(skipped)} skipped)")
    subjects = sorted({task.subject_id for task, _ in written})
    splits = split_subjects(subjects, fractions=fractions, seed=seed)
    split_of = {subject: name for name, members in splits.items() for subject in members}
    settings = {
        "size_px": int(size_px),
        "landmark_indices": indices,
        "landmark_names": detection_landmark_names(),
        "seed": int(seed),
        "fractions": [float(f) for f in fractions],
    }
    manifest: dict[str, Any] = {"format": MANIFEST_FORMAT, **settings,
                                "dicom_dir": os.path.relpath(Path(dicom_dir).resolve(), out.resolve())}
    for name in SPLITS:
        manifest[name] = [
            {"h5": "pelvis.h5", "key": key, "subject_id": task.subject_id, "visit": task.visit,
             "dicom": os.path.relpath(task.dicom_path.resolve(), out.resolve()),
             "pts": os.path.relpath(Path(task.landmarks_path).resolve(), out.resolve())}
            for task, key in written if split_of[task.subject_id] == name
        ]
    write_text_atomic(out / "pelvis.json", json.dumps(manifest, indent=1) + "\n")
    summary = {
        **settings,
        "n_images": len(written),
        "counts": {name: len(manifest[name]) for name in SPLITS},
        "skipped": skipped,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    for entry in skipped:
        logger.warning("skipped %s: %s", entry["input"], entry["reason"])
    write_text_atomic(out / "prepare.json", json.dumps(summary, indent=1) + "\n")
    return summary


def load_pelvis_datalist(path: str | os.PathLike, split: str = "training") -> list[dict[str, Any]]:
    """Items of one split of a pelvis manifest, with ``h5``, ``dicom`` and ``pts`` made absolute.

    Raises:
        InputError: unreadable or malformed manifest, unknown split, or a subject in two splits (named).
    """
    return load_landmark_datalist(path, split, MANIFEST_FORMAT, HINT, "pelvis")


def pelvis_manifest_settings(path: str | os.PathLike) -> dict[str, Any]:
    """Settings of a pelvis manifest for the bundle configs (so configs and cache cannot disagree).

    Returns:
        ``{"size_px", "landmark_indices", "landmark_names", "n_landmarks", "dicom_dir"}`` (``dicom_dir`` absolute).
    """
    manifest = read_landmark_manifest(path, MANIFEST_FORMAT, HINT, "pelvis")
    return {
        "size_px": int(manifest["size_px"]),
        "landmark_indices": [int(i) for i in manifest["landmark_indices"]],
        "landmark_names": list(manifest["landmark_names"]),
        "n_landmarks": len(manifest["landmark_indices"]),
        "dicom_dir": os.path.normpath(Path(path).resolve().parent / manifest["dicom_dir"]),
    }


def check_size_px(path: str | os.PathLike, size_px: int) -> None:
    """Raise when a config's ``image_size_px`` differs from the manifest's (the cache was made at another size).

    Raises:
        InputError: the sizes differ (both named, with the command to rebuild the cache).
    """
    made = pelvis_manifest_settings(path)["size_px"]
    if int(size_px) != made:
        raise InputError(f"{path}: the cache was prepared at {made} px but the config asks for {size_px} px; "
                         f"rerun `hipmonai labelaug prepare --size {size_px}` or set image_size_px={made}")
