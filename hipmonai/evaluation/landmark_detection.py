"""Evaluation of the pelvis landmark detector (Suh et al. 2023).

:func:`evaluate_detector` runs a :class:`hipmonai.inference.PelvisLandmarkDetector` on whole radiographs of a pelvis
manifest split and compares with their BoneFinder-format ``.pts``:

* landmark errors in **model pixels** (the paper's unit: pixels of the padded, resized input) and in **mm**: mean
  radial error, RMSE, success detection rate at 2, 2.5, 3 and 4 (``e < r``), per-landmark mean error;
* **femoral head circles** — the Taubin circle preprocessing fits to the ``femoral_head`` points, from predicted
  and from true points: centre error (mm) and absolute radius error (mm) of the predicted circle against the
  circle of the true points and, for phantoms (``truth.csv``), against the ground-truth circle (with the true
  points' own circle error beside it, the reference's floor);
* **presence**: every hip of the split is labelled, so ``hips_reported_present`` is the fraction the detector
  reports present (:meth:`hipmonai.inference.PelvisLandmarkDetector.assess_hips`); the errors above use the raw
  points of every hip (``raw_landmarks_mm``), present or not, so they measure localisation alone;
* files: ``results.json``, ``errors.csv`` (image, landmark, px, mm), ``head_circles.csv`` (with each hip's
  presence, confidence and reason), ``predicted_pts/`` (one editable ``.pts`` per image whose hips are both reported
  present, as ``hipmonai preprocess`` writes them), ``cumulative_errors.png`` and ``gallery.png``.

Only keys (``subject/visit``) name images in outputs; no DICOM header value is written.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.atomic import atomic_path, write_text_atomic
from hipmonai.errors import InputError

__all__ = ["evaluate_detector", "head_circle_errors", "read_truth_circles", "summarize_errors"]

SDR_THRESHOLDS = (2.0, 2.5, 3.0, 4.0)


def read_truth_circles(path: str | os.PathLike) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    """Phantom ``truth.csv`` -> ``{(subject, visit, side): (centre_x_mm, centre_y_mm, radius_mm)}``.

    Raises:
        InputError: the file is missing or lacks the head circle columns.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise InputError(f"{path}: cannot read the truth file ({err})") from err
    needed = {"subject_id", "visit", "side", "head_centre_x_mm", "head_centre_y_mm", "head_radius_mm"}
    if rows and not needed <= set(rows[0]):
        raise InputError(f"{path}: needs columns {sorted(needed)}")
    return {(r["subject_id"], r["visit"], r["side"]): (float(r["head_centre_x_mm"]), float(r["head_centre_y_mm"]),
                                                       float(r["head_radius_mm"])) for r in rows}


def head_circle_errors(
    predicted: Mapping[str, Sequence[float]], reference: Mapping[str, Sequence[float]]
) -> dict[str, tuple[float, float]]:
    """Per side: ``(centre distance, |radius difference|)`` between two ``{side: (cx, cy, r)}`` circle sets (same
    unit); a side missing from either is left out."""
    out = {}
    for side, (cx, cy, r) in predicted.items():
        if side in reference:
            rx, ry, rr = reference[side]
            out[side] = (float(np.hypot(cx - rx, cy - ry)), float(abs(r - rr)))
    return out


def summarize_errors(errors: np.ndarray, thresholds: Sequence[float] = SDR_THRESHOLDS) -> dict[str, Any]:
    """``(N, L)`` radial errors (``NaN`` = missing) -> ``{"mre", "rmse", "sdr": {r: fraction with e < r}, "n"}``."""
    values = np.asarray(errors, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"n": 0, "mre": float("nan"), "rmse": float("nan"), "sdr": {f"{t:g}": float("nan") for t in thresholds}}
    return {"n": int(values.size), "mre": float(values.mean()), "rmse": float(np.sqrt((values**2).mean())),
            "sdr": {f"{t:g}": float((values < t).mean()) for t in thresholds}}


def _fit_in_view(points_mm: np.ndarray, in_view: Mapping[str, bool]) -> dict[str, tuple[float, float, float]]:
    """Head circles of the raw detected points of the hips in view; a side whose points cannot define a circle
    (collinear or coinciding: the detector collapsed them) is left out, so its centre error is ``NaN``."""
    from hipmonai.transforms.geometry import fit_head_circle

    circles = {}
    for side, seen in in_view.items():
        try:
            circle = fit_head_circle(points_mm, side) if seen else None
        except InputError:
            circle = None
        if circle is not None:
            circles[side] = circle
    return circles


def _inside(point_xy: np.ndarray, shape_wh: Sequence[int]) -> bool:
    """Whether an ``(x, y)`` pixel point lies inside an image of ``(W, H)`` pixels."""
    return bool(0 <= point_xy[0] <= shape_wh[0] - 1 and 0 <= point_xy[1] <= shape_wh[1] - 1)


def _count(flags: Sequence[bool]) -> dict[str, float | None]:
    """``{"n": true count, "of": total, "fraction": n / of}`` (fraction ``None`` when empty: strict JSON)."""
    n, total = int(sum(flags)), len(flags)
    return {"n": n, "of": total, "fraction": n / total if total else None}


def _stats(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"n": 0}
    return {"n": int(v.size), "median": float(np.median(v)), "mean": float(v.mean()),
            "p90": float(np.percentile(v, 90)), "max": float(v.max())}


def _gallery(cases: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(cases))
    rows = -(-len(cases) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), dpi=110, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, case in zip(axes.ravel(), cases, strict=False):
        ax.imshow(np.asarray(case["image"]).T, cmap="gray", vmin=0, vmax=1.2)
        true, pred = case["true"], case["pred"]
        ax.plot(true[:, 0], true[:, 1], "o", ms=3, mfc="none", mec="lime", label="true")
        ax.plot(pred[:, 0], pred[:, 1], "+", ms=4, color="red", label="predicted")
        ax.set_title(f"{case['key']}  MRE {case['mre_mm']:.1f} mm", fontsize=9)
    axes.ravel()[0].legend(loc="lower left", fontsize=7)
    fig.suptitle("Landmarks on the model input: true (green) and predicted (red)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def evaluate_detector(
    detector: Any,
    items: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike,
    truth_csv: str | os.PathLike | None = None,
    gallery: int = 6,
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``detector`` on every item and write the evaluation (module docstring).

    Args:
        detector: a :class:`hipmonai.inference.PelvisLandmarkDetector`.
        items: pelvis manifest items (:func:`hipmonai.data.pelvis.load_pelvis_datalist`) with absolute ``dicom``,
            ``pts`` (160 points, mm), ``key``, ``subject_id``, ``visit``.
        out_dir: output folder.
        truth_csv: phantom ground truth (``truth.csv``) for the head circle comparison; ``None``: skipped.
        gallery: cases drawn in ``gallery.png`` (0: none).
        progress: show a progress bar.

    Returns:
        The summary written to ``results.json``.
    """
    from monai.data import MetaTensor
    from tqdm.auto import tqdm

    from hipmonai.inference.knee_pipeline import plot_cumulative_errors
    from hipmonai.inference.pelvis_landmarks import write_detection_pts
    from hipmonai.io.pts import read_pts
    from hipmonai.readers import load_radiograph
    from hipmonai.transforms.geometry import apply_affine_to_points, fit_head_circles

    if not items:
        raise InputError("no images to evaluate")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth = read_truth_circles(truth_csv) if truth_csv is not None else None
    index = detector.groups.bilateral_detection_subset
    names = [f"{side}_{i}" for side in ("right", "left") for i in detector.groups.detection_subset]
    err_px, err_mm, rows, circle_rows, cases = [], [], [], [], []
    for item in tqdm(items, desc="evaluate detector", unit="img", disable=not progress):
        import torch

        array_wh, meta = load_radiograph(item["dicom"])
        image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
        result = detector.predict_image(image)
        spacing = result["spacing_mm"]
        true_full_mm = read_pts(item["pts"], n_points=2 * detector.groups.n_points)
        true_mm = true_full_mm[index]
        true_model = apply_affine_to_points(true_mm / spacing, result["px_affine"], dtype=np.float64)
        e_px = np.linalg.norm(result["model_px"] - true_model, axis=1)
        e_mm = np.linalg.norm(result["raw_landmarks_mm"] - true_mm, axis=1)
        from_pts = fit_head_circles(true_full_mm)
        # a hip whose true head centre lies outside the image (a single-hip view) is not in view: the detector
        # should call it absent, and its points are not scored as landmark errors
        in_view = {side: side in from_pts and _inside(np.asarray(from_pts[side][:2]) / spacing, array_wh.shape)
                   for side in ("right", "left")}
        half = len(index) // 2
        for k, side in enumerate(("right", "left")):
            if not in_view[side]:
                e_px[k * half : (k + 1) * half] = np.nan
                e_mm[k * half : (k + 1) * half] = np.nan
        err_px.append(e_px)
        err_mm.append(e_mm)
        rows += [{"key": item["key"], "landmark": n, "err_px": f"{a:.3f}", "err_mm": f"{b:.3f}"}
                 for n, a, b in zip(names, e_px, e_mm, strict=True)]
        if all(hip["present"] for hip in result["hips"].values()):
            write_detection_pts(out / "predicted_pts" / f"{item['key']}.pts", result["landmarks_mm"])
        predicted = _fit_in_view(detector.full_points_mm(result["raw_landmarks_mm"]), in_view)
        vs_pts = head_circle_errors(predicted, from_pts)
        truth_sides = {s: truth[(item["subject_id"], item["visit"], s)] for s in ("right", "left")
                       if truth is not None and (item["subject_id"], item["visit"], s) in truth}
        vs_truth = head_circle_errors(predicted, truth_sides)
        pts_vs_truth = head_circle_errors(from_pts, truth_sides)
        for side in ("right", "left"):
            hip = result["hips"][side]
            circle_rows.append({
                "key": item["key"], "side": side, "in_view": in_view[side], "present": hip["present"],
                "confidence": hip["confidence"],
                "reason": hip["reason"] or "",
                "centre_err_vs_pts_mm": vs_pts.get(side, (np.nan, np.nan))[0],
                "radius_err_vs_pts_mm": vs_pts.get(side, (np.nan, np.nan))[1],
                "centre_err_vs_truth_mm": vs_truth.get(side, (np.nan, np.nan))[0],
                "radius_err_vs_truth_mm": vs_truth.get(side, (np.nan, np.nan))[1],
                "pts_centre_err_vs_truth_mm": pts_vs_truth.get(side, (np.nan, np.nan))[0],
                "pts_radius_err_vs_truth_mm": pts_vs_truth.get(side, (np.nan, np.nan))[1],
            })
        if len(cases) < gallery:
            sample = detector.chain({"image": image})
            cases.append({"key": item["key"], "image": np.asarray(sample["image"][0]), "true": true_model,
                          "pred": result["model_px"], "mre_mm": float(np.nanmean(e_mm))})
    err_px_arr, err_mm_arr = np.stack(err_px), np.stack(err_mm)

    def column(name: str) -> list[float]:
        return [float(r[name]) for r in circle_rows]

    summary: dict[str, Any] = {
        "n_images": len(items),
        "n_landmarks": len(index),
        "size_px": detector.size_px,
        "refine_window": detector.refine_window,
        "model_px": summarize_errors(err_px_arr),
        "mm": summarize_errors(err_mm_arr),
        "per_landmark_mre_mm": {n: float(np.nanmean(err_mm_arr[:, i])) for i, n in enumerate(names)},
        "head_centre_error_vs_pts_mm": _stats(column("centre_err_vs_pts_mm")),
        "head_radius_error_vs_pts_mm": _stats(column("radius_err_vs_pts_mm")),
        "min_confidence": detector.min_confidence,
        "hips_reported_present": {"n": sum(r["present"] for r in circle_rows), "of": len(circle_rows),
                                  "fraction": float(np.mean([r["present"] for r in circle_rows]))},
        "hips_in_view_reported_present": _count([r["present"] for r in circle_rows if r["in_view"]]),
        "hips_out_of_view_reported_absent": _count([not r["present"] for r in circle_rows if not r["in_view"]]),
        "hip_confidence": _stats([r["confidence"] for r in circle_rows]),
    }
    if truth is not None:
        summary["head_centre_error_vs_truth_mm"] = _stats(column("centre_err_vs_truth_mm"))
        summary["head_radius_error_vs_truth_mm"] = _stats(column("radius_err_vs_truth_mm"))
        summary["pts_head_centre_error_vs_truth_mm"] = _stats(column("pts_centre_err_vs_truth_mm"))
        summary["pts_head_radius_error_vs_truth_mm"] = _stats(column("pts_radius_err_vs_truth_mm"))
    write_text_atomic(out / "results.json", json.dumps(summary, indent=1) + "\n")
    _write_csv(out / "errors.csv", rows)
    _write_csv(out / "head_circles.csv", [{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()}
                                          for r in circle_rows])
    curves = {"all landmarks": err_mm_arr.ravel()}
    centre = np.asarray(column("centre_err_vs_truth_mm" if truth is not None else "centre_err_vs_pts_mm"))
    curves["femoral head centre"] = centre
    plot_cumulative_errors(curves, out / "cumulative_errors.png", max_mm=10.0)
    if cases:
        _gallery(cases, out / "gallery.png")
    return summary


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
