"""Write a phantom cohort to disk exactly as a real user's data looks, in parallel and deterministically.

Layout under ``out_dir`` (``S0001``-style subject ids, ``V00``-style visits)::

    dicom/{subject}/{visit}/{subject}_{visit}.dcm       DX, 12 of 16 bits, PixelSpacing + ImagerPixelSpacing
    landmarks/{subject}/{visit}/{subject}_{visit}.pts   BoneFinder .pts in mm (pixel x spacing), right side first
    lesions/{subject}/{visit}/{subject}_{visit}.nii.gz  uint8 (W, H), bit side*4 + target, affine diag(sx, sy, 1, 1)
    grades.csv      hip: subject_id,visit,side,osteo_fem_sup,osteo_fem_inf,osteo_acet_sup,osteo_acet_inf
                    knee: subject_id,visit,side,kl
    truth.csv       per joint ground truth (latent severity, joint space, head circle / tibial centre in mm, ...)
    cohort.json     generator version, seed, parameters, counts, realised correlations and grade distribution
    contact_sheet.png

Subject ``i`` and its visits draw from seeds derived from ``(seed, i)`` and ``(seed, i, visit)`` only
(:mod:`hipmonai.phantoms.seeding`), so the files do not depend on the number of worker processes.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.atomic import atomic_path, write_text_atomic
from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import TARGETS, load_landmark_groups
from hipmonai.io.lesion_masks import write_lesion_mask
from hipmonai.io.pts import write_pts
from hipmonai.phantoms.contact_sheet import Crop, Preview, crop_around, downsample, write_contact_sheet
from hipmonai.phantoms.dicom_writer import write_dx
from hipmonai.phantoms.hip import POINTS_PER_HIP, HipPhantomParams, draw_hip_subject, render_hip_radiograph
from hipmonai.phantoms.knee import (
    KNEE_TARGET_LANDMARKS,
    POINTS_PER_KNEE,
    KneePhantomParams,
    draw_knee_subject,
    render_knee_radiograph,
)
from hipmonai.phantoms.seeding import image_seed, subject_seed
from hipmonai.phantoms.severity import KNEE_TARGETS, SIDES, grade_correlation, grade_distribution

GENERATOR_VERSION = "2.0"
DEFAULT_HIP_SUBJECTS = 300
DEFAULT_KNEE_SUBJECTS = 200
MAX_VISITS = 10
PREVIEW_SUBJECTS = 12  # subjects whose images may appear on the contact sheet
OUTPUTS = ("dicom", "landmarks", "lesions", "grades.csv", "truth.csv", "cohort.json", "contact_sheet.png")
HIP_TRUTH_COLUMNS = (
    "subject_id",
    "visit",
    "side",
    "severity",
    "joint_space_mm",
    "head_centre_x_mm",
    "head_centre_y_mm",
    "head_radius_mm",
    "spacing_mm",
)
KNEE_TRUTH_COLUMNS = (
    "subject_id",
    "visit",
    "side",
    "severity",
    "kl",
    *KNEE_TARGETS,
    "joint_space_medial_mm",
    "joint_space_lateral_mm",
    "tibial_centre_x_mm",
    "tibial_centre_y_mm",
    "spacing_mm",
)


def subject_id(index: int) -> str:
    """``S0001`` for subject index 0."""
    return f"S{index + 1:04d}"


def visit_id(visit: int) -> str:
    """``V00`` for visit 0."""
    return f"V{visit:02d}"


def image_paths(out_dir: str | os.PathLike, subject: str, visit: str) -> dict[str, Path]:
    """Where the DICOM, ``.pts`` and lesion files of one image go."""
    out = Path(out_dir)
    stem = f"{subject}_{visit}"
    return {
        "dicom": out / "dicom" / subject / visit / f"{stem}.dcm",
        "landmarks": out / "landmarks" / subject / visit / f"{stem}.pts",
        "lesions": out / "lesions" / subject / visit / f"{stem}.nii.gz",
    }


@dataclass(frozen=True)
class _Task:
    kind: str
    seed: int
    index: int
    visits: int
    params: Any
    out_dir: str
    preview: bool


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _fmt(value: float, digits: int = 4) -> str:
    return f"{float(value):.{digits}f}"


def _write_image_files(
    task: _Task, sid: str, vid: str, visit: int, ph: Any, subject: Any, body_part: str, view_position: str
) -> dict[str, Path]:
    """Write one rendered radiograph as a user's data: DICOM, ``.pts`` (mm) and the lesion mask."""
    paths = image_paths(task.out_dir, sid, vid)
    acq = subject.acquisition
    write_dx(
        paths["dicom"],
        ph.image,
        ph.spacing_xy_mm,
        subject.patient,
        monochrome1=acq.monochrome1,
        bits_stored=12,
        magnification=acq.magnification,
        body_part=body_part,
        view_position=view_position,
        study_date=acq.study_date(visit),
        transfer_syntax=acq.transfer_syntax,
        uid_seed=f"hipmonai-phantom/{task.kind}/{task.seed}/{sid}/{vid}",
    )
    write_pts(paths["landmarks"], ph.landmarks_mm)
    write_lesion_mask(paths["lesions"], ph.lesion_bitmask(), ph.spacing_xy_mm)
    return paths


def _joint_crop(
    image: np.ndarray, lesion_masks: np.ndarray, centre_px: np.ndarray, half: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop ``(H, W)`` image and ``(T, H, W)`` lesion masks around a joint: ``(image, bool masks, origin_xy)``."""
    crop, origin = crop_around(image, centre_px, half)
    masks = np.stack([crop_around(m.astype(np.float32), centre_px, half)[0] for m in lesion_masks]) > 0.5
    return crop, masks, origin


def _preview(sid: str, vid: str, acq: Any, ph: Any, crops: list[Crop]) -> Preview:
    small, factor = downsample(ph.image)
    photometric = "MONOCHROME1" if acq.monochrome1 else "MONOCHROME2"
    return Preview(
        title=f"{sid} {vid} ({photometric}, {acq.transfer_syntax}, {ph.spacing_xy_mm[0]:.3f} mm)",
        image=small,
        factor=factor,
        landmarks_px=ph.landmarks_px,
        crops=crops,
    )


def _image_record(sid: str, vid: str, ph: Any, acq: Any, paths: dict[str, Path]) -> dict:
    return {
        "subject_id": sid,
        "visit": vid,
        "rows": ph.image.shape[0],
        "columns": ph.image.shape[1],
        "spacing_mm": ph.spacing_xy_mm[0],
        "monochrome1": acq.monochrome1,
        "transfer_syntax": acq.transfer_syntax,
        "bytes": sum(p.stat().st_size for p in paths.values()),
    }


def _hip_task(task: _Task) -> list[dict]:
    """Render and write every visit of one hip subject; returns one record per image."""
    params: HipPhantomParams = task.params
    sid = subject_id(task.index)
    subject = draw_hip_subject(np.random.default_rng(subject_seed(task.seed, task.index)), params, task.visits)
    groups = load_landmark_groups("hip")
    records = []
    for visit in range(task.visits):
        vid = visit_id(visit)
        ph = render_hip_radiograph(image_seed(task.seed, task.index, visit), params, subject=subject, visit=visit)
        acq = subject.acquisition
        paths = _write_image_files(task, sid, vid, visit, ph, subject, body_part="PELVIS", view_position="AP")
        sx, sy = ph.spacing_xy_mm
        grades, truth = [], []
        for s, side in enumerate(SIDES):
            grades.append(
                {
                    "subject_id": sid,
                    "visit": vid,
                    "side": side,
                    **{t: int(ph.grades[s, k]) for k, t in enumerate(TARGETS)},
                }
            )
            truth.append(
                {
                    "subject_id": sid,
                    "visit": vid,
                    "side": side,
                    "severity": _fmt(ph.severity[s]),
                    "joint_space_mm": _fmt(ph.joint_space_mm[s]),
                    "head_centre_x_mm": _fmt(ph.head_centres_px[s, 0] * sx),
                    "head_centre_y_mm": _fmt(ph.head_centres_px[s, 1] * sy),
                    "head_radius_mm": _fmt(ph.head_radii_mm[s]),
                    "spacing_mm": _fmt(sx, 6),
                }
            )
        preview = None
        if task.preview:
            half = int(round(55.0 / sx))
            crops = []
            for s, side in enumerate(SIDES):
                image, masks, origin = _joint_crop(ph.image, ph.lesion_masks[s], ph.head_centres_px[s], half)
                lm = ph.landmarks_px[s * POINTS_PER_HIP : (s + 1) * POINTS_PER_HIP] - origin
                crops.append(
                    Crop(
                        title=f"{sid} {vid} {side} hip, grades {ph.grades[s].tolist()}",
                        image=image,
                        landmarks_px=lm,
                        zones={t: lm[groups.targets[t]] for t in TARGETS},
                        lesions=masks,
                        score=float(ph.grades[s].sum() + 0.5 * (ph.grades[s] > 0).sum()),
                        joint=f"{sid} {side}",
                    )
                )
            preview = _preview(sid, vid, acq, ph, crops)
        records.append(
            {
                "grades": grades,
                "truth": truth,
                "grade_array": ph.grades.copy(),
                "image": _image_record(sid, vid, ph, acq, paths),
                "preview": preview,
            }
        )
    return records


def _knee_task(task: _Task) -> list[dict]:
    """Render and write every visit of one knee subject; returns one record per image."""
    params: KneePhantomParams = task.params
    sid = subject_id(task.index)
    subject = draw_knee_subject(np.random.default_rng(subject_seed(task.seed, task.index)), params, task.visits)
    records = []
    for visit in range(task.visits):
        vid = visit_id(visit)
        ph = render_knee_radiograph(image_seed(task.seed, task.index, visit), params, subject=subject, visit=visit)
        acq = subject.acquisition
        paths = _write_image_files(task, sid, vid, visit, ph, subject, body_part="KNEE", view_position="PA")
        sx, sy = ph.spacing_xy_mm
        grades, truth = [], []
        for s, side in enumerate(SIDES):
            grades.append({"subject_id": sid, "visit": vid, "side": side, "kl": int(ph.kl[s])})
            centre = ph.landmarks_px[s * POINTS_PER_KNEE + 4]
            truth.append(
                {
                    "subject_id": sid,
                    "visit": vid,
                    "side": side,
                    "severity": _fmt(ph.severity[s]),
                    "kl": int(ph.kl[s]),
                    **{t: int(ph.osteophytes[s, k]) for k, t in enumerate(KNEE_TARGETS)},
                    "joint_space_medial_mm": _fmt(ph.joint_space_mm[s, 0]),
                    "joint_space_lateral_mm": _fmt(ph.joint_space_mm[s, 1]),
                    "tibial_centre_x_mm": _fmt(centre[0] * sx),
                    "tibial_centre_y_mm": _fmt(centre[1] * sy),
                    "spacing_mm": _fmt(sx, 6),
                }
            )
        preview = None
        if task.preview:
            half = int(round(55.0 / sx))
            crops = []
            for s, side in enumerate(SIDES):
                centre = ph.landmarks_px[s * POINTS_PER_KNEE + 4]
                image, masks, origin = _joint_crop(ph.image, ph.lesion_masks[s], centre, half)
                lm = ph.landmarks_px[s * POINTS_PER_KNEE : (s + 1) * POINTS_PER_KNEE] - origin
                zones = {t: lm[[KNEE_TARGET_LANDMARKS[t]]] for t in KNEE_TARGETS}
                crops.append(
                    Crop(
                        title=f"{sid} {vid} {side} knee, KL {int(ph.kl[s])}",
                        image=image,
                        landmarks_px=lm,
                        zones=zones,
                        lesions=masks,
                        score=float(ph.kl[s] + 0.1 * ph.osteophytes[s].sum()),
                        joint=f"{sid} {side}",
                    )
                )
            preview = _preview(sid, vid, acq, ph, crops)
        records.append(
            {
                "grades": grades,
                "truth": truth,
                "grade_array": ph.osteophytes.copy(),
                "kl": ph.kl.copy(),
                "image": _image_record(sid, vid, ph, acq, paths),
                "preview": preview,
            }
        )
    return records


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    present = [name for name in OUTPUTS if (out_dir / name).exists()]
    if present and not overwrite:
        raise InputError(
            f"{out_dir}: already holds a cohort ({', '.join(present)}); pass overwrite=True "
            "(CLI: --overwrite) to replace it"
        )
    for name in present:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _run_tasks(
    task_fn: Callable[[_Task], list[dict]], tasks: list[_Task], workers: int, progress: bool, desc: str
) -> list[list[dict]]:
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc=desc, unit="subject", disable=not progress, dynamic_ncols=True)
    results: list[list[dict]] = []
    try:
        if workers <= 1:
            for task in tasks:
                results.append(task_fn(task))
                bar.update()
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(processes=workers) as pool:
                for records in pool.imap(task_fn, tasks, chunksize=1):
                    results.append(records)
                    bar.update()
    finally:
        bar.close()
    return results


def _check_counts(n_subjects: int, seed: int, visits: int, workers: int) -> None:
    if not isinstance(n_subjects, (int, np.integer)) or n_subjects < 1:
        raise InputError(f"n_subjects must be a positive integer, got {n_subjects!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(visits, (int, np.integer)) or not 1 <= visits <= MAX_VISITS:
        raise InputError(f"visits must be an integer in 1..{MAX_VISITS}, got {visits!r}")
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")


def _matrix(m: np.ndarray) -> list[list[float | None]]:
    return [[None if not np.isfinite(v) else round(float(v), 4) for v in row] for row in m]


def _generate(
    kind: str,
    out_dir: str | os.PathLike,
    n_subjects: int,
    seed: int,
    visits: int,
    workers: int,
    params: Any,
    overwrite: bool,
    progress: bool,
) -> dict:
    _check_counts(n_subjects, seed, visits, workers)
    start = time.perf_counter()
    out = Path(out_dir)
    _prepare_out_dir(out, overwrite)
    tasks = [_Task(kind, int(seed), i, int(visits), params, str(out), i < PREVIEW_SUBJECTS) for i in range(n_subjects)]
    task_fn = _hip_task if kind == "hip" else _knee_task
    results = _run_tasks(task_fn, tasks, min(int(workers), n_subjects), progress, f"{kind} phantoms")
    records = [r for subject_records in results for r in subject_records]

    grade_rows = [row for r in records for row in r["grades"]]
    truth_rows = [row for r in records for row in r["truth"]]
    if kind == "hip":
        _write_csv(out / "grades.csv", ("subject_id", "visit", "side", *TARGETS), grade_rows)
        _write_csv(out / "truth.csv", HIP_TRUTH_COLUMNS, truth_rows)
        names: tuple[str, ...] = TARGETS
    else:
        _write_csv(out / "grades.csv", ("subject_id", "visit", "side", "kl"), grade_rows)
        _write_csv(out / "truth.csv", KNEE_TRUTH_COLUMNS, truth_rows)
        names = KNEE_TARGETS
    grades = np.concatenate([r["grade_array"].reshape(-1, len(names)) for r in records])
    images = [r["image"] for r in records]
    syntaxes: dict[str, int] = {}
    for im in images:
        syntaxes[im["transfer_syntax"]] = syntaxes.get(im["transfer_syntax"], 0) + 1
    summary: dict[str, Any] = {
        "generator": "hipmonai.phantoms",
        "generator_version": GENERATOR_VERSION,
        "kind": kind,
        "seed": int(seed),
        "n_subjects": int(n_subjects),
        "visits": int(visits),
        "parameters": json.loads(json.dumps(asdict(params))),
        "counts": {
            "subjects": int(n_subjects),
            "images": len(images),
            "joints": len(grade_rows),
            "monochrome1_images": sum(bool(im["monochrome1"]) for im in images),
            "transfer_syntaxes": dict(sorted(syntaxes.items())),
            "spacing_mm": [
                round(min(im["spacing_mm"] for im in images), 4),
                round(max(im["spacing_mm"] for im in images), 4),
            ],
            "pixels_mean": int(np.mean([im["rows"] * im["columns"] for im in images])),
            "bytes_images": int(sum(im["bytes"] for im in images)),
        },
        "targets": list(names),
        "grade_correlation": _matrix(grade_correlation(grades)),
        "binary_correlation": _matrix(grade_correlation(grades > 0)),
        "grade_distribution": grade_distribution(grades, names),
        "prevalence": {t: round(float((grades[:, k] > 0).mean()), 4) for k, t in enumerate(names)},
        "conventions": {
            "sides": "right joint first (.pts points and lesion bits); the patient's right is on the image's left",
            "pts_units": "mm = pixel (x, y) x spacing_xy_mm (PixelSpacing, object plane)",
            "lesion_bits": "bit side_index * 4 + target_index, side_index right=0 left=1, targets in 'targets' order",
            "lesion_array": "(W, H) = (columns, rows), affine diag(sx, sy, 1, 1)",
        },
    }
    if kind == "knee":
        kl = np.concatenate([r["kl"].reshape(-1) for r in records])
        summary["kl_distribution"] = np.bincount(kl, minlength=5).astype(int).tolist()
        summary["kl_osteophyte_correlation"] = [
            None if not np.isfinite(v) else round(float(v), 4)
            for v in grade_correlation(np.column_stack([kl, grades]))[0, 1:]
        ]
    write_text_atomic(out / "cohort.json", json.dumps(summary, indent=2) + "\n")
    previews = [r["preview"] for r in records if r["preview"] is not None]
    if previews:
        write_contact_sheet(
            out / "contact_sheet.png",
            previews,
            names,
            title=f"hipmonai {kind} phantom cohort (seed {seed}, {n_subjects} subjects)",
        )
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        **summary,
        "out_dir": str(out),
        "workers": int(workers),
        "elapsed_s": round(time.perf_counter() - start, 2),
        "bytes_total": int(total),
    }


def generate_hip_cohort(
    out_dir: str | os.PathLike,
    n_subjects: int = DEFAULT_HIP_SUBJECTS,
    seed: int = 0,
    visits: int = 1,
    workers: int = 2,
    *,
    overwrite: bool = False,
    progress: bool = True,
    **params: Any,
) -> dict:
    """Generate a bilateral AP pelvis phantom cohort (layout in the module docstring).

    Args:
        out_dir: destination folder (created; must not already hold a cohort unless ``overwrite``).
        n_subjects: number of subjects.
        seed: cohort seed; the same seed and parameters give byte-identical DICOM and ``.pts`` files.
        visits: visits per subject (severity only progresses).
        workers: worker processes (the output does not depend on it).
        overwrite: replace an existing cohort's files in ``out_dir``.
        progress: show a progress bar.
        **params: fields of :class:`~hipmonai.phantoms.hip.HipPhantomParams` (e.g. ``spacing_mm=0.5``).

    Returns:
        The summary written to ``cohort.json`` plus ``out_dir``, ``workers``, ``elapsed_s`` and ``bytes_total``.

    Raises:
        InputError: bad counts, or ``out_dir`` already holds a cohort.
        TypeError: an unknown parameter name.
    """
    return _generate(
        "hip", out_dir, n_subjects, seed, visits, workers, HipPhantomParams.from_kwargs(**params), overwrite, progress
    )


def generate_knee_cohort(
    out_dir: str | os.PathLike,
    n_subjects: int = DEFAULT_KNEE_SUBJECTS,
    seed: int = 0,
    visits: int = 1,
    workers: int = 2,
    *,
    overwrite: bool = False,
    progress: bool = True,
    **params: Any,
) -> dict:
    """Generate a bilateral PA knee phantom cohort; arguments as :func:`generate_hip_cohort`, ``params`` being
    fields of :class:`~hipmonai.phantoms.knee.KneePhantomParams`."""
    return _generate(
        "knee", out_dir, n_subjects, seed, visits, workers, KneePhantomParams.from_kwargs(**params), overwrite, progress
    )


def format_summary(summary: dict) -> str:
    """Human-readable realised correlation matrix and grade distribution of a cohort summary."""
    names = summary["targets"]
    width = max(len(n) for n in names) + 2
    lines = [
        f"{summary['kind']} cohort: {summary['counts']['subjects']} subjects, {summary['counts']['images']} images, "
        f"{summary['counts']['joints']} joints"
    ]
    lines.append("realised grade correlation (Pearson):")
    lines.append(" " * width + "".join(f"{n[6:]:>12}" for n in names))
    for name, row in zip(names, summary["grade_correlation"], strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{'nan' if v is None else f'{v:.3f}':>12}" for v in row))
    lines.append("grade distribution (counts of 0 / 1 / 2 / 3) and prevalence (grade > 0):")
    for name in names:
        counts = summary["grade_distribution"][name]
        lines.append(f"{name:<{width}}{' / '.join(str(c) for c in counts):>24}   {summary['prevalence'][name]:.3f}")
    if "kl_distribution" in summary:
        lines.append("KL distribution (0-4): " + " / ".join(str(c) for c in summary["kl_distribution"]))
    if "elapsed_s" in summary:
        lines.append(
            f"written to {summary['out_dir']} in {summary['elapsed_s']:.1f} s, {summary['bytes_total'] / 1e6:.1f} MB"
        )
    return "\n".join(lines)
