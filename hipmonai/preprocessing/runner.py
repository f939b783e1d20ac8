"""``hipmonai preprocess``: DICOM + ``.pts`` + grades CSV -> the preprocessed HDF5 store.

Each radiograph is processed in a worker process: its header is checked first (:func:`check_radiograph_header`: a
plausible pixel spacing, a resampled size that fits in memory), it is read with
:func:`hipmonai.readers.load_radiograph`, landmarks converted from mm to pixels with the reader's spacing, then each
hip runs through :func:`hipmonai.transforms.hip_preprocessing` and is saved as one part file
(:func:`hipmonai.data.save_part`). A finished image also leaves a small ``done`` marker holding what was skipped and
what the image was made from (its DICOM file's size, SHA-256 of its ``.pts`` and lesion mask), so an interrupted run
resumes where it stopped with nothing lost or duplicated (images with a skipped hip are retried on resume).

A resumed run must be made of the same inputs as the images already finished: the settings, the DICOM list (and the
subject and visit of each file), the contents of the grades CSV and of the detector checkpoint (``params.json`` in
the parts folder, hashed once at the start) and each finished image's companion files are compared, and any
difference is refused in one line naming it. A parts folder without a finished image is simply started afresh.

When every image is done, the parts are gathered into the store (written to a temp file and renamed), the summary
JSON is written beside it and the parts are removed. Every run that gets this far writes its summary, also when no
hip could be written (then :class:`~hipmonai.errors.InputError` points at it). One run at a time writes a store
(:func:`hipmonai.data.store.store_write_lock`); a full disk stops the run with one line and leaves it resumable. With
a ``shard``, a run covers one subject-level part of the cohort (:mod:`hipmonai.preprocessing.shards`), which
:func:`hipmonai.preprocessing.merge_shards` combines.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.atomic import write_text_atomic
from hipmonai.data import completed_keys, iter_parts, part_paths, remove_temp_files
from hipmonai.data.store import is_disk_full, store_write_lock, write_store_isolated
from hipmonai.errors import HipmonaiError, InputError, input_error_cause
from hipmonai.io.grades import SIDES, UNKNOWN_GRADE, read_grades_csv
from hipmonai.io.landmark_groups import TARGETS, check_hip_sides
from hipmonai.io.lesion_masks import lesion_channels, read_lesion_mask
from hipmonai.io.pts import POINTS_PER_HIP, mm_to_px
from hipmonai.networks.checkpoint import read_checkpoint
from hipmonai.preprocessing.detector import DetectorSpec, build_detector, detect_landmarks_mm, read_hip_pts
from hipmonai.preprocessing.inputs import ImageTask, discover_images
from hipmonai.preprocessing.shards import Shard
from hipmonai.readers.dicom_header import read_dicom, spacing_from_dataset

logger = logging.getLogger(__name__)

PARTS_SUFFIX = ".parts"
PARAMS_FILE = "params.json"
#: version of ``params.json`` and of the ``inputs`` recorded in done markers; a parts folder of another is not resumed
PARAMS_VERSION = 2
DONE_DIR = "done"
#: pixel spacings hipmonai accepts, in mm, lower bound excluded: ``--spacing``, ``--fallback-spacing`` and every
#: DICOM file's own spacing (projection radiographs lie around 0.1-0.2 mm at the detector)
SPACING_RANGE_MM = (0.02, 5.0)
#: crop sides hipmonai accepts (``--crop``), in pixels, both bounds included
CROP_RANGE_PX = (16, 4096)
#: largest radiograph, stored or resampled to ``--spacing``, in pixels (2**27: 256 MiB as uint16; the resampled
#: crops are small, but a radiograph this large is a wrong header far more often than a real image)
MAX_IMAGE_PIXELS = 1 << 27


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
    """What happened to one radiograph: hip keys written, ``{"input", "side", "reason"}`` entries skipped, notes, and
    the ``inputs`` it was made from (``{"dicom_bytes", "landmarks", "lesions"}``: size, SHA-256 or None; compared
    when a run resumes)."""

    relative: str
    written: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)


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


def _plausible_spacing(value: float) -> bool:
    low, high = SPACING_RANGE_MM
    return math.isfinite(value) and low < value <= high


def check_preprocess_arguments(
    spacing_mm: float,
    crop_px: int,
    fallback_spacing_xy_mm: Sequence[float] | None = None,
    workers: int = 1,
) -> tuple[float, int, tuple[float, float] | None, int]:
    """Check the numeric settings of a run before any work starts; returns them as ``float``/``int``.

    Args:
        spacing_mm: target spacing in mm, finite and in :data:`SPACING_RANGE_MM` (lower bound excluded).
        crop_px: crop side in pixels, a whole number in :data:`CROP_RANGE_PX`.
        fallback_spacing_xy_mm: ``(x, y)`` mm for files without a spacing, each value as ``spacing_mm``; or None.
        workers: worker processes, 0 or more (0 and 1 run in this process).

    Returns:
        ``(spacing_mm, crop_px, fallback_spacing_xy_mm, workers)``.

    Raises:
        InputError: a value out of range; the message names the argument, its command-line option and the value.
    """
    low, high = SPACING_RANGE_MM
    try:
        spacing = float(spacing_mm)
    except (TypeError, ValueError):
        spacing = math.nan
    if not _plausible_spacing(spacing):
        raise InputError(f"spacing_mm (--spacing) must be a finite number of mm in ({low}, {high}], got {spacing_mm}")
    try:
        crop = int(crop_px)
        whole = crop == crop_px
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole or not CROP_RANGE_PX[0] <= crop <= CROP_RANGE_PX[1]:
        raise InputError(f"crop_px (--crop) must be a whole number of pixels in [{CROP_RANGE_PX[0]}, "
                         f"{CROP_RANGE_PX[1]}], got {crop_px}")
    fallback = None
    if fallback_spacing_xy_mm is not None:
        try:
            fallback = tuple(float(v) for v in fallback_spacing_xy_mm)
        except (TypeError, ValueError):
            fallback = ()
        if len(fallback) != 2 or not all(_plausible_spacing(v) for v in fallback):
            raise InputError(f"fallback_spacing_xy_mm (--fallback-spacing) must be two finite numbers of mm (x, y) "
                             f"in ({low}, {high}], got {list(fallback_spacing_xy_mm)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise InputError(f"workers (--workers) must be 0 or more (0 and 1 run in this process), got {workers}")
    return spacing, crop, fallback, workers


def _torch_load_reason(err: BaseException) -> str:
    """One line from torch's multi-line ``weights_only`` refusal: the unpickler's own reason, else the first line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    found = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n\n|$)", text, re.DOTALL)
    line = found.group(1) if found else (text.strip().splitlines() or [type(err).__name__])[0]
    return " ".join(line.split())


def check_detector_checkpoint(checkpoint: str | os.PathLike) -> None:
    """Check that the detector checkpoint exists and loads as network weights (``torch.load(weights_only=True)``
    through :func:`hipmonai.networks.checkpoint.read_checkpoint`, so no code in the file runs), before any worker.

    Raises:
        InputError: one line naming the file: not found, or not a checkpoint of network weights (with torch's reason).
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise InputError(f"detector checkpoint {path} not found (--detector-checkpoint)")
    try:
        read_checkpoint(path)
    except InputError as err:
        reason = _torch_load_reason(err.__cause__) if err.__cause__ is not None else str(err).replace(f"{path}: ", "")
        raise InputError(f"detector checkpoint {path} (--detector-checkpoint) cannot be loaded as network weights "
                         f"({reason})") from err


def check_radiograph_header(
    path: str | os.PathLike,
    spacing_mm: float,
    fallback_spacing_xy_mm: Sequence[float] | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> None:
    """Refuse a radiograph, from its header alone, whose pixel spacing is implausible or whose image would not fit.

    The spacing is the one :func:`hipmonai.readers.dicom_header.spacing_from_dataset` finds (``fallback_spacing_xy_mm``
    only for a file without one); it must be finite and in :data:`SPACING_RANGE_MM` along x and y. The stored image
    (``Columns x Rows``) and the image resampled to ``spacing_mm`` must each have at most ``max_pixels`` pixels.
    A header that cannot be read, or a file without a spacing, passes: the reader skips it with its own reason.

    Args:
        path: the DICOM file.
        spacing_mm: the run's target spacing in mm.
        fallback_spacing_xy_mm: ``(x, y)`` mm for a file without a spacing.
        max_pixels: the largest image allowed, in pixels.

    Raises:
        InputError: one line naming the file, the values and the bound.
    """
    try:
        ds = read_dicom(path, pixels=False)
        (x_mm, y_mm), source = spacing_from_dataset(ds, fallback_spacing_xy_mm)
        columns, rows = int(ds.Columns), int(ds.Rows)
    except (InputError, TypeError, ValueError):
        return
    low, high = SPACING_RANGE_MM
    if not (_plausible_spacing(x_mm) and _plausible_spacing(y_mm)):
        raise InputError(f"{path}: implausible pixel spacing {x_mm:g} x {y_mm:g} mm ({source}); hipmonai accepts "
                         f"({low:g}, {high:g}] mm")
    if columns * rows > max_pixels:
        raise InputError(f"{path}: {columns} x {rows} px is larger than the {max_pixels} px hipmonai reads")
    width, height = math.ceil(columns * x_mm / spacing_mm), math.ceil(rows * y_mm / spacing_mm)
    if width * height > max_pixels:
        raise InputError(f"{path}: resampling {columns} x {rows} px of {x_mm:g} x {y_mm:g} mm to {spacing_mm:g} mm "
                         f"would make a {width} x {height} px image (more than {max_pixels} px); use a coarser "
                         "--spacing")


_WORKER: dict[str, Any] = {}


def _init_worker(config: PreprocessConfig, parts: str) -> None:
    """Build the transform chain once per process (torch single-threaded: the pool provides parallelism).

    An error is kept and raised by the first image (:func:`_run_one`): raised here, it would only break the pool
    ("A process in the process pool was terminated abruptly").
    """
    import torch

    from hipmonai.transforms import hip_preprocessing

    _WORKER.clear()
    _WORKER["config"] = config
    _WORKER["parts"] = Path(parts)
    try:
        torch.set_num_threads(1)
        _WORKER["chain"] = hip_preprocessing(
            spacing_mm=config.spacing_mm, crop_px=config.crop_px,
            mask_keys=("lesion_mask",) if config.lesion_masks else (),
        )
        _WORKER["detector"] = None if config.detector is None else build_detector(config.detector)
    except Exception as err:
        _WORKER["init_error"] = err if isinstance(err, HipmonaiError) else HipmonaiError(
            f"a preprocessing worker could not start ({type(err).__name__}: {' '.join(str(err).split())})")


def _lesion_bits(path: Path, shape_wh: tuple[int, int]) -> np.ndarray:
    """A phantom lesion bit mask as ``(1, W, H)`` uint8: cropped as it is, split into channels per hip after the crop.

    Nearest-neighbour resampling picks whole pixels, so cropping the bits then splitting them
    (:func:`~hipmonai.io.lesion_masks.lesion_channels`) equals splitting then cropping, at a crop's cost.
    """
    bits, _ = read_lesion_mask(path)
    if bits.shape != shape_wh:
        raise InputError(f"lesion mask of shape {bits.shape} does not match the image {shape_wh}")
    return bits[None]


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
        # dtype=None: the stored integers, not a float copy of the radiograph; the chain converts each crop only
        array_wh, meta = load_radiograph(task.dicom_path, spacing_xy_mm=config.fallback_spacing_xy_mm, dtype=None)
        if task.landmarks_path is not None:
            points_mm = read_hip_pts(task.landmarks_path)
        else:
            image = MetaTensor(np.ascontiguousarray(array_wh[None]), affine=meta["affine"])
            points_mm, written, detected_hips = detect_landmarks_mm(_WORKER["detector"], image, task.relative,
                                                                    config.detector.predicted_dir)
            where = f"written to {written.name}" if written is not None else "no .pts written (a hip is absent)"
            outcome.notes.append({"input": task.relative, "side": "both",
                                  "note": f"no .pts: landmarks predicted by the detector, {where}"})
            check_hip_sides(points_mm)
        if config.lesion_masks and task.lesions_path is None:
            raise InputError("no matching lesion mask")
        lesions = _lesion_bits(task.lesions_path, array_wh.shape) if config.lesion_masks else None
    except InputError as err:
        return skip(str(err).replace(str(task.dicom_path), task.relative))
    spacing_xy_mm = tuple(float(s) for s in meta["spacing_xy_mm"])
    points_px = mm_to_px(points_mm, spacing_xy_mm)
    affine = np.diag([spacing_xy_mm[0], spacing_xy_mm[1], 1.0, 1.0])
    radiograph = MetaTensor(array_wh[None], affine=affine)  # one decoded array, read (never copied) by both hips
    for index, side in enumerate(SIDES):
        if side in detected_hips and not detected_hips[side]["present"]:
            skip(detected_hips[side]["reason"], side)
            continue
        side_grades = grades.get(side)
        if side_grades is None:
            outcome.notes.append({"input": task.relative, "side": side, "note": "no grades row: stored as unknown"})
            side_grades = np.full(len(TARGETS), UNKNOWN_GRADE, dtype=np.int8)
        item: dict[str, Any] = {
            "image": radiograph,
            "landmarks": points_px[index * POINTS_PER_HIP : (index + 1) * POINTS_PER_HIP],
            "side": side,
        }
        if lesions is not None:
            item["lesion_mask"] = MetaTensor(lesions, affine=affine)  # the bits of both hips, shared like the image
        try:
            out = _WORKER["chain"](item)
        except Exception as err:  # MONAI's Compose wraps a transform's InputError in RuntimeError
            cause = input_error_cause(err)
            if cause is None:
                raise
            skip(str(cause), side)
            continue
        lesion = None if lesions is None else lesion_channels(np.asarray(out["lesion_mask"])[0], index, len(TARGETS))
        record = ScanRecord(
            subject_id=task.subject_id,
            visit=task.visit,
            side=side,
            image=np.ascontiguousarray(np.asarray(out["image"])[0].T, dtype=np.float32),
            landmarks=np.asarray(out["landmarks"], dtype=np.float32),
            grades=np.asarray(side_grades, dtype=np.int8),
            lesion_mask=None if lesion is None else np.ascontiguousarray(lesion.transpose(0, 2, 1)),
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


#: one image's work: the task, its grades by side (None: no row), and its inputs (:func:`_image_inputs`)
Job = tuple[ImageTask, dict[str, np.ndarray | None], dict[str, Any]]


def _run_one(job: Job) -> ImageOutcome:
    """One image: header check, :func:`process_image`, done marker. A full disk stops the run (raised)."""
    task, grades, inputs = job
    if "init_error" in _WORKER:
        raise _WORKER["init_error"]
    config: PreprocessConfig = _WORKER["config"]
    outcome = ImageOutcome(task.relative)
    try:
        check_radiograph_header(task.dicom_path, config.spacing_mm, config.fallback_spacing_xy_mm)
    except InputError as err:
        reason = str(err).replace(str(task.dicom_path), task.relative)
        outcome.skipped.append({"input": task.relative, "side": "both", "reason": reason})
    else:
        try:
            outcome = process_image(task, grades)
        except Exception as err:  # one bad image must not stop the cohort; its reason goes to the summary
            if is_disk_full(err):
                raise
            logger.debug("unexpected error on %s", task.relative, exc_info=True)
            outcome.skipped.append(
                {"input": task.relative, "side": "both", "reason": f"unexpected {err.__class__.__name__}: {err}"}
            )
    outcome.inputs = inputs
    write_text_atomic(_done_marker(_WORKER["parts"], task.relative), json.dumps(asdict(outcome)))
    return outcome


def _outcomes(jobs: list[Job], config: PreprocessConfig, parts: Path, workers: int) -> Iterator[ImageOutcome]:
    """Run ``jobs`` in this process (``workers <= 1``) or a pool; the first error raised stops the rest."""
    if workers <= 1:
        _init_worker(config, str(parts))
        yield from map(_run_one, jobs)
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_init_worker,
                               initargs=(config, str(parts)))
    try:
        yield from pool.map(_run_one, jobs, chunksize=1)
    except BrokenProcessPool as err:
        raise HipmonaiError(f"a worker process ended abruptly (killed by the system, e.g. for lack of memory?); "
                            f"rerun the same command to resume: the finished images are kept in {parts}") from err
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's contents (hex)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror})") from err
    return digest.hexdigest()


def _image_inputs(task: ImageTask) -> dict[str, Any]:
    """What one image is made of, compared when a run resumes: its DICOM file's size and its companions' SHA-256."""
    return {
        "dicom_bytes": task.dicom_path.stat().st_size,
        "landmarks": None if task.landmarks_path is None else _sha256(task.landmarks_path),
        "lesions": None if task.lesions_path is None else _sha256(task.lesions_path),
    }


def _run_params(
    config: PreprocessConfig, shard: Shard | None, tasks: list[ImageTask], inputs_sha256: Mapping[str, str | None]
) -> dict[str, Any]:
    """``params.json`` of a parts folder: what every image of the run shares (JSON values only)."""
    settings = asdict(config)
    if config.detector is not None:  # its checkpoint is compared by contents, not by path
        settings["detector"] = {k: v for k, v in config.detector.as_params().items() if k != "checkpoint"}
    return json.loads(json.dumps({
        "format_version": PARAMS_VERSION,
        "settings": settings,
        "shard": None if shard is None else str(shard),
        **inputs_sha256,
        "dicom": {task.relative: task.key for task in tasks},
    }))


def _listed(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _resume_differences(
    previous: Mapping[str, Any],
    current: Mapping[str, Any],
    finished: Mapping[str, ImageOutcome],
    inputs: Mapping[str, Mapping[str, Any]],
    tasks: Mapping[str, ImageTask],
    named: Mapping[str, str],
) -> list[str]:
    """What differs between an interrupted run (``previous`` params, its ``finished`` images) and this one."""
    if previous.get("format_version") != PARAMS_VERSION:
        return [f"it was started by another hipmonai version (parts format {previous.get('format_version')!r}, "
                f"this one writes {PARAMS_VERSION})"]
    differences = []
    old, new = previous.get("settings", {}), current["settings"]
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            differences.append(f"{name} was {old.get(name)!r}, now {new.get(name)!r}")
    if previous.get("shard") != current["shard"]:
        differences.append(f"shard was {previous.get('shard')}, now {current['shard']}")
    for key, what in named.items():
        if previous.get(key) != current[key]:
            differences.append(what)
    old_dicom, new_dicom = previous.get("dicom", {}), current["dicom"]
    added = sorted(set(new_dicom) - set(old_dicom))
    removed = sorted(set(old_dicom) - set(new_dicom))
    rekeyed = sorted(r for r in set(old_dicom) & set(new_dicom) if old_dicom[r] != new_dicom[r])
    if added:
        differences.append(f"{_plural(len(added), 'DICOM file')} added: {_listed(added)}")
    if removed:
        differences.append(f"{_plural(len(removed), 'DICOM file')} gone: {_listed(removed)}")
    if rekeyed:
        differences.append(f"other subject/visit for {_listed([f'{r} ({new_dicom[r]})' for r in rekeyed])}")
    companions = {"dicom_bytes": "DICOM files of {} changed size", "landmarks": "landmarks (--landmarks) of {} differ",
                  "lesions": "lesion masks (--lesions) of {} differ"}
    for name, text in companions.items():
        changed = []
        for relative, outcome in sorted(finished.items()):
            if relative in inputs and outcome.inputs.get(name) != inputs[relative].get(name):
                path = {"dicom_bytes": tasks[relative].dicom_path, "landmarks": tasks[relative].landmarks_path,
                        "lesions": tasks[relative].lesions_path}[name]
                changed.append(str(path) if path is not None else f"{relative} (none now)")
        if changed:
            differences.append(f"the {text.format(_plural(len(changed), 'finished image'))}: {_listed(changed)}")
    return differences


def _prepare_parts(
    parts: Path,
    params: dict[str, Any],
    tasks: list[ImageTask],
    inputs: Mapping[str, Mapping[str, Any]],
    named: Mapping[str, str],
) -> dict[str, ImageOutcome]:
    """Check an interrupted run in ``parts`` against this one and keep what can be resumed.

    Returns:
        The finished images (no hip skipped) that need not run again, by relative path. Their part files stay; every
        other part file and temp file is removed. Without a finished image, the folder is started afresh.

    Raises:
        InputError: finished images exist and any input or setting differs (each difference named).
    """
    params_file = parts / PARAMS_FILE
    finished: dict[str, ImageOutcome] = {}
    if params_file.is_file():
        for task in tasks:
            marker = _done_marker(parts, task.relative)
            if marker.exists():
                outcome = ImageOutcome(**json.loads(marker.read_text(encoding="utf-8")))
                if not outcome.skipped:  # images with a skipped hip are retried: the cause may have been fixed
                    finished[task.relative] = outcome
        try:
            previous = json.loads(params_file.read_text(encoding="utf-8"))
        except ValueError:
            previous = {}
        if finished:
            differences = _resume_differences(previous, params, finished, inputs, {t.relative: t for t in tasks},
                                              named)
            if differences:
                raise InputError(f"{parts} holds an interrupted run with other inputs or settings: "
                                 f"{'; '.join(differences)}. Rerun with the original ones to resume it, or delete "
                                 f"{parts} to start afresh")
        elif previous != params:
            logger.info("%s: no image was finished; starting afresh with this run's inputs", parts)
            shutil.rmtree(parts)
    elif parts.exists():
        shutil.rmtree(parts)
    write_text_atomic(params_file, json.dumps(params))
    remove_temp_files(parts)
    kept = {key for outcome in finished.values() for key in outcome.written}
    for key, path in part_paths(parts).items():
        if key not in kept:  # an unfinished image's hips: written again when it runs
            path.unlink()
    return finished


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
    shard: Shard | None = None,
) -> dict[str, Any]:
    """Preprocess a cohort into one HDF5 store; returns the summary (also written beside the store).

    ``spacing_mm`` and ``crop_px`` default to ``configs/preprocessing.json``; ``workers <= 1`` runs in this process.
    The numeric settings and the detector checkpoint are checked before any work (:func:`check_preprocess_arguments`,
    :func:`check_detector_checkpoint`); each DICOM header before its image is read (:func:`check_radiograph_header`).
    With a ``detector`` (:mod:`hipmonai.preprocessing.detector`), radiographs without a ``.pts`` get predicted
    landmarks (written as ``.pts`` under ``detector.predicted_dir``); ``landmarks_dir`` may then be ``None``. A hip the
    detector reports absent (low confidence, head outside the image, implausible radius) is skipped with that reason;
    the other hip of the radiograph is still processed. With a ``shard``, only the subjects of that shard are
    processed; the store gets a ``shard`` root attribute and the summary a ``shard`` entry.

    The run holds :func:`hipmonai.data.store.store_write_lock` on ``out``. The summary is written whenever the
    images were processed; when no hip was written there is no store (an existing one replaced with ``overwrite``
    is removed) and :class:`InputError` points at the summary, unless the run is a shard without any subject of the
    cohort (a warning is logged).

    Raises:
        InputError: a bad setting or detector checkpoint, a folder or the grades CSV is unusable, another process is
            writing ``out``, the store exists without ``overwrite``, an interrupted run made of other inputs or
            settings is waiting in the parts folder (what differs is named), or no hip was written.
        HipmonaiError: the disk filled up (the run is resumable), or a worker process died.
    """
    from hipmonai.transforms import load_preprocessing_config

    started = time.perf_counter()
    out = Path(out)
    defaults = load_preprocessing_config()
    spacing_mm, crop_px, fallback, workers = check_preprocess_arguments(
        defaults.spacing_mm[0] if spacing_mm is None else spacing_mm,
        defaults.crop_px if crop_px is None else crop_px,
        fallback_spacing_xy_mm,
        workers,
    )
    if detector is not None:
        check_detector_checkpoint(detector.checkpoint)
    config = PreprocessConfig(spacing_mm=spacing_mm, crop_px=crop_px, fallback_spacing_xy_mm=fallback,
                              lesion_masks=lesions_dir is not None, detector=detector)
    with store_write_lock(out, "hipmonai preprocess"):
        if out.exists() and not overwrite:
            raise InputError(f"{out} exists; pass --overwrite to replace it")
        try:
            summary = _preprocess_locked(config, shard, dicom_dir, landmarks_dir, grades_csv, lesions_dir, index_csv,
                                         out, workers, keep_parts, progress, started)
        except Exception as err:
            if is_disk_full(err):
                raise HipmonaiError(f"no space left on the device while writing {out} or its parts: free some space "
                                    f"and rerun the same command; the finished images are kept in {parts_dir(out)} "
                                    "and the run resumes") from err
            raise
    return summary


def _preprocess_locked(
    config: PreprocessConfig,
    shard: Shard | None,
    dicom_dir: str | os.PathLike,
    landmarks_dir: str | os.PathLike | None,
    grades_csv: str | os.PathLike,
    lesions_dir: str | os.PathLike | None,
    index_csv: str | os.PathLike | None,
    out: Path,
    workers: int,
    keep_parts: bool,
    progress: bool,
    started: float,
) -> dict[str, Any]:
    """The body of :func:`preprocess_cohort` while it holds the lock on ``out``; returns the summary.

    Order of the end, so that an error at any point leaves a resumable run: the store (temp file, renamed), the
    summary (on failure the new store is removed again), then the parts folder.
    """
    from tqdm.auto import tqdm

    tasks, skipped = discover_images(dicom_dir, landmarks_dir, lesions_dir, index_csv)
    cohort_images = len(tasks) + len(skipped)
    if shard is not None:  # inputs that could not be keyed to a subject are reported by shard 0
        tasks = [task for task in tasks if shard.contains(task.subject_id)]
        skipped = skipped if shard.index == 0 else []
    table = read_grades_csv(grades_csv)
    inputs_sha256 = {
        "grades_csv_sha256": _sha256(grades_csv),
        "detector_checkpoint_sha256": None if config.detector is None else _sha256(config.detector.checkpoint),
    }
    named = {
        "grades_csv_sha256": f"the grades CSV {grades_csv} (--grades) has other contents",
        "detector_checkpoint_sha256": (f"the detector checkpoint {config.detector.checkpoint} (--detector-checkpoint) "
                                       "has other contents" if config.detector is not None
                                       else "a detector checkpoint was used, now none"),
    }
    inputs = {task.relative: _image_inputs(task) for task in tasks}
    parts = parts_dir(out)
    finished = _prepare_parts(parts, _run_params(config, shard, tasks, inputs_sha256), tasks, inputs, named)
    outcomes = list(finished.values())
    jobs = [(task, {side: table.get(task.subject_id, task.visit, side) for side in SIDES}, inputs[task.relative])
            for task in tasks if task.relative not in finished]
    if finished:
        logger.info("resuming: %d of %d images already done", len(finished), len(tasks))
    bar = tqdm(total=len(tasks), initial=len(finished), desc="preprocess", unit="img", disable=not progress)
    with closing(_outcomes(jobs, config, parts, workers)) as results:
        for outcome in results:
            for entry in outcome.skipped:
                logger.warning("skipped %s (%s): %s", entry["input"], entry["side"], entry["reason"])
            outcomes.append(outcome)
            bar.update()
    bar.close()

    expected = {key for outcome in outcomes for key in outcome.written}
    if expected != completed_keys(parts):
        raise HipmonaiError(f"{parts}: part files do not match the finished images; delete the folder and rerun")
    attrs: dict[str, Any] = {
        "spacing_mm": config.spacing_mm,
        "crop_px": config.crop_px,
        "targets": list(TARGETS),
        "created_by": "hipmonai preprocess",
    }
    if shard is not None:
        attrs["shard"] = str(shard)
    if expected:  # in a child process: HDF5 cannot fail on a full disk without crashing its process
        write_store_isolated(out, iter_parts(parts), attrs=attrs)
    elif out.exists():  # replaced with --overwrite by a run that wrote nothing: it must not stand beside this summary
        out.unlink()
    imaged = {(t.subject_id, t.visit) for t in tasks}
    ordered = sorted(outcomes, key=lambda o: o.relative)
    summary: dict[str, Any] = {
        "store": out.name if expected else None,
        "parameters": asdict(config),
        "inputs": inputs_sha256,
    }
    if shard is not None:
        summary["shard"] = {"index": shard.index, "count": shard.count, "cohort_images_found": cohort_images}
    summary.update({
        "images_found": len(tasks) + len(skipped),
        "images_processed": sum(1 for o in outcomes if o.written),
        "hips_written": len(expected),
        "skipped": skipped + [entry for o in ordered for entry in o.skipped],
        "notes": [note for o in ordered for note in o.notes],
        "grades_rejected": [{"row": where, "reason": reason} for where, reason in table.rejected],
        "grades_without_image": sorted(
            f"{s}/{v}/{side}" for (s, v, side) in table.grades
            if (s, v) not in imaged and (shard is None or shard.contains(s))
        ),
        "seconds": round(time.perf_counter() - started, 2),
    })
    try:
        write_text_atomic(summary_path(out), json.dumps(summary, indent=2))
    except BaseException:
        if expected:
            out.unlink(missing_ok=True)
        raise
    if not keep_parts:
        shutil.rmtree(parts)
    if not expected:
        if shard is None or tasks:
            raise InputError(f"no hip was written: all {summary['images_found']} images found were skipped; the "
                             f"reasons are in {summary_path(out)}")
        logger.warning("shard %s holds no subject of the cohort: no store written, summary in %s", shard,
                       summary_path(out))
    return summary
