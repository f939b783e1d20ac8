"""``hipmonai preprocess``: DICOM + ``.pts`` + grades CSV -> the preprocessed HDF5 store.

Each radiograph is processed in a worker process: read with :func:`hipmonai.readers.load_radiograph`, landmarks
converted from mm to pixels with the reader's spacing, then each hip runs through
:func:`hipmonai.transforms.hip_preprocessing` and is saved as one part file (:func:`hipmonai.data.save_part`).
A finished image also leaves a small ``done`` marker holding what was skipped, so an interrupted run resumes
where it stopped with nothing lost or duplicated (images with a skipped hip are retried on resume). When every
image is done, the parts are gathered into the store (written to a temp file and renamed), the summary JSON is
written beside it and the parts are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.atomic import write_text_atomic
from hipmonai.errors import HipmonaiError, InputError, input_error_cause
from hipmonai.io.grades import SIDES, UNKNOWN_GRADE, read_grades_csv
from hipmonai.io.landmark_groups import TARGETS
from hipmonai.io.lesion_masks import lesion_channels, read_lesion_mask
from hipmonai.io.pts import POINTS_PER_HIP, mm_to_px
from hipmonai.preprocessing.detector import DetectorSpec, build_detector, detect_landmarks_mm, read_hip_pts
from hipmonai.preprocessing.inputs import ImageTask, discover_images

logger = logging.getLogger(__name__)

PARTS_SUFFIX = ".parts"
PARAMS_FILE = "params.json"
DONE_DIR = "done"


@dataclass(frozen=True)
class PreprocessConfig:
    """Parameters of one preprocessing run; a resumed run must use the same ones.

    Attributes:
        spacing_mm: target isotropic pixel spacing after resampling.
        crop_px: side of the square crop centred on the femoral head.
        fallback_spacing_xy_mm: spacing used for DICOM files that carry none (None: such files are skipped).
        lesion_masks: whether phantom lesion masks travel with the images.
        detector: landmark model for radiographs without a ``.pts`` (None: such radiographs are skipped); a hip it
            reports absent is skipped with its reason.
    """

    spacing_mm: float
    crop_px: int
    fallback_spacing_xy_mm: tuple[float, float] | None = None
    lesion_masks: bool = False
    detector: DetectorSpec | None = None


@dataclass
class ImageOutcome:
    """What happened to one radiograph: hip keys written and ``{"input", "side", "reason"}`` entries skipped."""

    relative: str
    written: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)


def summary_path(store_path: str | os.PathLike) -> Path:
    """``cohort.h5`` -> ``cohort.summary.json`` (beside the store)."""
    path = Path(store_path)
    return path.with_name(f"{path.stem}.summary.json")


def parts_dir(store_path: str | os.PathLike) -> Path:
    """Where an unfinished run keeps its part files: ``cohort.h5.parts/``."""
    path = Path(store_path)
    return path.with_name(f"{path.name}{PARTS_SUFFIX}")


def _done_marker(parts: Path, relative: str) -> Path:
    return parts / DONE_DIR / f"{hashlib.sha1(relative.encode()).hexdigest()[:20]}.json"


_WORKER: dict[str, Any] = {}


def _init_worker(config: PreprocessConfig, parts: str) -> None:
    """Build the transform chain once per process (torch single-threaded: the pool provides parallelism)."""
    import torch

    from hipmonai.transforms import hip_preprocessing

    torch.set_num_threads(1)
    _WORKER["config"] = config
    _WORKER["parts"] = Path(parts)
    _WORKER["chain"] = hip_preprocessing(
        spacing_mm=config.spacing_mm, crop_px=config.crop_px, mask_keys=("lesion_mask",) if config.lesion_masks else ()
    )
    _WORKER["detector"] = None if config.detector is None else build_detector(config.detector)


def _lesion_channels(path: Path, shape_wh: tuple[int, int]) -> dict[str, np.ndarray]:
    """Phantom lesion bit masks -> ``{side: (4, W, H) uint8}``."""
    bits, _ = read_lesion_mask(path)
    if bits.shape != shape_wh:
        raise InputError(f"lesion mask of shape {bits.shape} does not match the image {shape_wh}")
    return {side: lesion_channels(bits, s, len(TARGETS)) for s, side in enumerate(SIDES)}


def process_image(task: ImageTask, grades: dict[str, np.ndarray | None]) -> ImageOutcome:
    """Preprocess both hips of one radiograph into part files (runs inside a worker; see :func:`_init_worker`).

    Args:
        task: the radiograph and its companion files.
        grades: side -> ``(4,)`` grades, or None when the grades CSV has no row for that hip.
    """
    from monai.data import MetaTensor

    from hipmonai.data import ScanRecord, save_part
    from hipmonai.readers import load_radiograph

    config: PreprocessConfig = _WORKER["config"]
    outcome = ImageOutcome(task.relative)

    def skip(reason: str, side: str = "both") -> ImageOutcome:
        outcome.skipped.append({"input": task.relative, "side": side, "reason": reason})
        return outcome

    if task.landmarks_path is None and config.detector is None:
        return skip("no matching landmarks (.pts)")
    detected_hips: dict[str, dict[str, Any]] = {}
    try:
        array_wh, meta = load_radiograph(task.dicom_path, spacing_xy_mm=config.fallback_spacing_xy_mm)
        if task.landmarks_path is not None:
            points_mm = read_hip_pts(task.landmarks_path)
        else:
            image = MetaTensor(np.ascontiguousarray(array_wh[None]), affine=meta["affine"])
            points_mm, written, detected_hips = detect_landmarks_mm(_WORKER["detector"], image, task.relative,
                                                                    config.detector.predicted_dir)
            where = f"written to {written.name}" if written is not None else "no .pts written (a hip is absent)"
            outcome.notes.append({"input": task.relative, "side": "both",
                                  "note": f"no .pts: landmarks predicted by the detector, {where}"})
        if config.lesion_masks and task.lesions_path is None:
            raise InputError("no matching lesion mask")
        lesions = _lesion_channels(task.lesions_path, array_wh.shape) if config.lesion_masks else None
    except InputError as err:
        return skip(str(err).replace(str(task.dicom_path), task.relative))
    spacing_xy_mm = tuple(float(s) for s in meta["spacing_xy_mm"])
    points_px = mm_to_px(points_mm, spacing_xy_mm)
    affine = np.diag([spacing_xy_mm[0], spacing_xy_mm[1], 1.0, 1.0])
    for index, side in enumerate(SIDES):
        if side in detected_hips and not detected_hips[side]["present"]:
            skip(detected_hips[side]["reason"], side)
            continue
        side_grades = grades.get(side)
        if side_grades is None:
            outcome.notes.append({"input": task.relative, "side": side, "note": "no grades row: stored as unknown"})
            side_grades = np.full(len(TARGETS), UNKNOWN_GRADE, dtype=np.int8)
        item: dict[str, Any] = {
            "image": MetaTensor(array_wh[None], affine=affine),
            "landmarks": points_px[index * POINTS_PER_HIP : (index + 1) * POINTS_PER_HIP],
            "side": side,
        }
        if lesions is not None:
            item["lesion_mask"] = MetaTensor(lesions[side], affine=affine)
        try:
            out = _WORKER["chain"](item)
        except Exception as err:  # MONAI's Compose wraps a transform's InputError in RuntimeError
            cause = input_error_cause(err)
            if cause is None:
                raise
            skip(str(cause), side)
            continue
        lesion = out.get("lesion_mask")
        record = ScanRecord(
            subject_id=task.subject_id,
            visit=task.visit,
            side=side,
            image=np.ascontiguousarray(np.asarray(out["image"])[0].T, dtype=np.float32),
            landmarks=np.asarray(out["landmarks"], dtype=np.float32),
            grades=np.asarray(side_grades, dtype=np.int8),
            lesion_mask=None if lesion is None else np.ascontiguousarray(np.asarray(lesion).transpose(0, 2, 1)),
            pixel_spacing=(config.spacing_mm, config.spacing_mm),
            crop_offset_x=int(out["crop_offset_xy"][0]),
            crop_offset_y=int(out["crop_offset_xy"][1]),
            femoral_head_radius=float(out["femoral_head_radius_px"]),
            flipped=bool(out["flipped"]),
            source_uid_hash=str(meta["source_uid_hash"]),
        )
        save_part(_WORKER["parts"], record)
        outcome.written.append(record.key)
    return outcome


def _run_one(args: tuple[ImageTask, dict[str, np.ndarray | None]]) -> ImageOutcome:
    task, grades = args
    try:
        outcome = process_image(task, grades)
    except Exception as err:  # one bad image must not stop the cohort; its reason goes to the summary
        logger.debug("unexpected error on %s", task.relative, exc_info=True)
        outcome = ImageOutcome(task.relative)
        outcome.skipped.append(
            {"input": task.relative, "side": "both", "reason": f"unexpected {err.__class__.__name__}: {err}"}
        )
    write_text_atomic(_done_marker(_WORKER["parts"], task.relative), json.dumps(asdict(outcome)))
    return outcome


def _outcomes(
    jobs: list[tuple[ImageTask, dict[str, np.ndarray | None]]], config: PreprocessConfig, parts: Path, workers: int
) -> Iterator[ImageOutcome]:
    if workers <= 1:
        _init_worker(config, str(parts))
        yield from map(_run_one, jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_init_worker,
                             initargs=(config, str(parts))) as pool:
        yield from pool.map(_run_one, jobs, chunksize=1)


def preprocess_cohort(
    dicom_dir: str | os.PathLike,
    landmarks_dir: str | os.PathLike | None,
    grades_csv: str | os.PathLike,
    out: str | os.PathLike,
    spacing_mm: float | None = None,
    crop_px: int | None = None,
    workers: int = 2,
    lesions_dir: str | os.PathLike | None = None,
    index_csv: str | os.PathLike | None = None,
    fallback_spacing_xy_mm: tuple[float, float] | None = None,
    overwrite: bool = False,
    keep_parts: bool = False,
    progress: bool = True,
    detector: DetectorSpec | None = None,
) -> dict[str, Any]:
    """Preprocess a cohort into one HDF5 store; returns the summary (also written beside the store).

    ``spacing_mm`` and ``crop_px`` default to ``configs/preprocessing.json``; ``workers <= 1`` runs in this process.
    With a ``detector`` (:mod:`hipmonai.preprocessing.detector`), radiographs without a ``.pts`` get predicted
    landmarks (written as ``.pts`` under ``detector.predicted_dir``); ``landmarks_dir`` may then be ``None``. A hip the
    detector reports absent (low confidence, head outside the image, implausible radius) is skipped with that reason;
    the other hip of the radiograph is still processed.

    Raises:
        InputError: a folder or the grades CSV is unusable, the store exists without ``overwrite``, or an interrupted
            run with other parameters is waiting in the parts folder.
    """
    from tqdm.auto import tqdm

    from hipmonai.data import completed_keys, iter_parts, remove_temp_files, write_store
    from hipmonai.transforms import load_preprocessing_config

    started = time.perf_counter()
    out = Path(out)
    defaults = load_preprocessing_config()
    spacing_mm = defaults.spacing_mm[0] if spacing_mm is None else spacing_mm
    crop_px = defaults.crop_px if crop_px is None else crop_px
    if spacing_mm <= 0:
        raise InputError(f"spacing must be positive, got {spacing_mm}")
    if crop_px < 16:
        raise InputError(f"crop must be at least 16 px, got {crop_px}")
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists; pass --overwrite to replace it")
    config = PreprocessConfig(
        spacing_mm=float(spacing_mm),
        crop_px=int(crop_px),
        fallback_spacing_xy_mm=None if fallback_spacing_xy_mm is None else tuple(map(float, fallback_spacing_xy_mm)),
        lesion_masks=lesions_dir is not None,
        detector=detector,
    )
    tasks, skipped = discover_images(dicom_dir, landmarks_dir, lesions_dir, index_csv)
    table = read_grades_csv(grades_csv)
    parts = parts_dir(out)
    params_file = parts / PARAMS_FILE
    params = {"config": asdict(config), "inputs": [t.relative for t in tasks]}
    if params_file.exists():
        previous = json.loads(params_file.read_text(encoding="utf-8"))
        if previous != json.loads(json.dumps(params)):
            raise InputError(
                f"{parts} holds an interrupted run with other parameters or inputs; delete it to start afresh"
            )
    else:
        write_text_atomic(params_file, json.dumps(params))
    remove_temp_files(parts)
    outcomes: list[ImageOutcome] = []
    jobs = []
    for task in tasks:
        marker = _done_marker(parts, task.relative)
        if marker.exists():
            outcome = ImageOutcome(**json.loads(marker.read_text(encoding="utf-8")))
            if not outcome.skipped:  # images with a skipped hip are retried: the cause may have been fixed
                outcomes.append(outcome)
                continue
        jobs.append((task, {side: table.get(task.subject_id, task.visit, side) for side in SIDES}))
    if outcomes:
        logger.info("resuming: %d of %d images already done", len(outcomes), len(tasks))
    bar = tqdm(total=len(tasks), initial=len(outcomes), desc="preprocess", unit="img", disable=not progress)
    for outcome in _outcomes(jobs, config, parts, workers):
        for entry in outcome.skipped:
            logger.warning("skipped %s (%s): %s", entry["input"], entry["side"], entry["reason"])
        outcomes.append(outcome)
        bar.update()
    bar.close()

    expected = {key for outcome in outcomes for key in outcome.written}
    if expected != completed_keys(parts):
        raise HipmonaiError(f"{parts}: part files do not match the finished images; delete the folder and rerun")
    write_store(out, iter_parts(parts), attrs={
        "spacing_mm": config.spacing_mm,
        "crop_px": config.crop_px,
        "targets": list(TARGETS),
        "created_by": "hipmonai preprocess",
    })
    imaged = {(t.subject_id, t.visit) for t in tasks}
    summary = {
        "store": out.name,
        "parameters": asdict(config),
        "images_found": len(tasks) + len(skipped),
        "images_processed": sum(1 for o in outcomes if o.written),
        "hips_written": len(expected),
        "skipped": skipped + [entry for o in sorted(outcomes, key=lambda o: o.relative) for entry in o.skipped],
        "notes": [note for o in sorted(outcomes, key=lambda o: o.relative) for note in o.notes],
        "grades_rejected": [{"row": where, "reason": reason} for where, reason in table.rejected],
        "grades_without_image": sorted(
            f"{s}/{v}/{side}" for (s, v, side) in table.grades if (s, v) not in imaged
        ),
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_text_atomic(summary_path(out), json.dumps(summary, indent=2))
    if not keep_parts:
        shutil.rmtree(parts)
    return summary
