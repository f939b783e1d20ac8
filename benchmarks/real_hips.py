"""Femoral head centres from the hip_landmark_labelaug detector on real radiographs, against labelled centres.

For every DICOM radiograph under ``--dicom`` (found and read as ``hipmonai preprocess`` does:
:func:`hipmonai.preprocessing.discover_images`, :func:`hipmonai.readers.load_radiograph`, which converts colour
images to grey with a warning), the detector is built exactly as ``hipmonai preprocess --detector-checkpoint`` builds it
(bundle configs and ``--set`` overrides through :func:`hipmonai.preprocessing.detector.build_detector`). For each hip it
reports whether the detector finds it (``present``, with the hip's confidence and, when absent, the reason), and the
distance in original-image pixels between the centre of the femoral head circle fitted to the detected points and
the labelled centre. A head counts as found within tolerance only when it is reported present and its centre lies
within ``--tolerance-px`` of the label.

Labels: ``--labels DIR/{stem}.json`` for ``{stem}.dcm``, ``{"landmark_list": [{"fem_r": [x, y], "fem_l": [x, y],
...}]}`` in pixels, ``_r`` the patient's right = the image left (smaller x), as the detector's ``"right"`` hip.

    .venv/bin/python benchmarks/real_hips.py --checkpoint outputs/hip_labelaug/model.pt --dicom REAL_DICOM_DIR \\
        --labels REAL_LABEL_DIR --config configs/inference.json configs/demo.json --out outputs/real_hips.json

Prints one row per hip and the summary line ``N/M femoral heads within T px; hips reported on K/L images`` (M: hips
with a label; L: radiographs read); ``--out`` writes the rows and the summary as JSON. The exit code is 0 whatever
the result: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hipmonai.atomic import write_text_atomic
from hipmonai.cli.bundle_options import parse_override
from hipmonai.errors import InputError
from hipmonai.inference import fit_head_circles
from hipmonai.preprocessing import discover_images
from hipmonai.preprocessing.detector import DEFAULT_DETECTOR_BUNDLE, DetectorSpec, build_detector
from hipmonai.readers import load_radiograph

SIDES = ("right", "left")
#: label key of each detector side: the patient's right hip is the image left
LABEL_KEYS = {"right": "fem_r", "left": "fem_l"}


def read_head_labels(path: str | os.PathLike) -> dict[str, tuple[float, float] | None]:
    """A label JSON -> ``{side: (x, y) px or None}`` of the femoral head centres (``fem_r`` = ``"right"``).

    Raises:
        InputError: unreadable JSON, no ``landmark_list`` entry, or a centre that is not two numbers.
    """
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        entry = spec["landmark_list"][0]
    except (OSError, json.JSONDecodeError, KeyError, IndexError, TypeError) as err:
        raise InputError(f"{path}: not a label file with a 'landmark_list' entry ({type(err).__name__})") from err
    centres: dict[str, tuple[float, float] | None] = {}
    for side, key in LABEL_KEYS.items():
        value = entry.get(key) if isinstance(entry, Mapping) else None
        if value is None:
            centres[side] = None
            continue
        if not (isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
            raise InputError(f"{path}: {key} must be [x, y] in pixels, got {value!r}")
        centres[side] = (float(value[0]), float(value[1]))
    return centres


def _centres_px(points_mm: np.ndarray, detector: Any, spacing_mm: np.ndarray) -> dict[str, tuple[float, float]]:
    """Head circle centres ``{side: (x, y)}`` in original pixels from detected ``(2 K, 2)`` mm points."""
    try:
        circles = fit_head_circles(detector.full_points_mm(points_mm))
    except InputError:  # collinear or coincident points: no circle
        return {}
    return {side: (cx / spacing_mm[0], cy / spacing_mm[1]) for side, (cx, cy, _) in circles.items()}


def measure_image(
    detector: Any, image: Any, labels: Mapping[str, tuple[float, float] | None] | None, tolerance_px: float
) -> list[dict[str, Any]]:
    """One radiograph's rows (one per hip) for the table.

    Args:
        detector: a :class:`hipmonai.inference.PelvisLandmarkDetector`.
        image: the radiograph ``MetaTensor`` ``(1, W, H)`` with its pixel-to-mm affine.
        labels: ``{side: (x, y) px or None}`` (:func:`read_head_labels`), or ``None`` without a label file.
        tolerance_px: the largest centre distance, in original pixels, that counts as found.

    Returns:
        Rows ``{"side", "present", "confidence", "reason", "head_centre_px", "label_px", "distance_px",
        "within_tolerance", "raw_distance_px"}``; ``head_centre_px`` and ``distance_px`` are ``None`` for a hip
        reported absent, ``raw_distance_px`` is the distance of the circle fitted to its points anyway.
    """
    result = detector.predict_image(image)
    spacing = np.asarray(result["spacing_mm"], dtype=np.float64)
    reported = _centres_px(result["landmarks_mm"], detector, spacing)
    raw = _centres_px(result["raw_landmarks_mm"], detector, spacing)
    rows = []
    for side in SIDES:
        hip = result["hips"][side]
        label = None if labels is None else labels.get(side)
        centre = reported.get(side) if hip["present"] else None
        d = _distance(centre, label)
        rows.append({
            "side": side, "present": bool(hip["present"]), "confidence": float(hip["confidence"]),
            "reason": hip["reason"], "head_centre_px": None if centre is None else [float(c) for c in centre],
            "label_px": None if label is None else list(label), "distance_px": d,
            "within_tolerance": d is not None and d <= tolerance_px, "raw_distance_px": _distance(raw.get(side), label),
        })
    return rows


def _distance(point: tuple[float, float] | None, label: tuple[float, float] | None) -> float | None:
    return None if point is None or label is None else math.dist(point, label)


def _format_row(row: Mapping[str, Any]) -> str:
    centre = "-" if row.get("head_centre_px") is None else "({:.0f}, {:.0f})".format(*row["head_centre_px"])
    distance = "-" if row.get("distance_px") is None else f"{row['distance_px']:.1f}"
    confidence = "-" if row.get("confidence") is None else f"{row['confidence']:.2f}"
    present = "-" if row.get("present") is None else ("yes" if row["present"] else "no")
    note = "; ".join(str(row[k]) for k in ("error", "reason", "note") if row.get(k))
    return (f"{row['image']:<32} {row['side']:<5} {present:<7} {confidence:>10} {centre:>14} {distance:>11} "
            f"{'yes' if row.get('within_tolerance') else 'no':<6}  {note}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="hip_landmark_labelaug checkpoint (model.pt)")
    parser.add_argument("--dicom", required=True, type=Path, help="folder of DICOM radiographs")
    parser.add_argument("--labels", required=True, type=Path, help="folder of {stem}.json label files")
    parser.add_argument("--bundle", default=str(DEFAULT_DETECTOR_BUNDLE), help="the landmark bundle folder")
    parser.add_argument("--config", nargs="+", default=["configs/inference.json"], metavar="FILE",
                        help="bundle configs, relative to --bundle (add configs/demo.json for the demo-scale model)")
    parser.add_argument("--set", dest="overrides", nargs="*", type=parse_override, default=[], metavar="ID=VALUE",
                        help="config id overrides, VALUE as JSON (e.g. min_confidence=0.3)")
    parser.add_argument("--tolerance-px", type=float, default=25.0, help="centre distance that counts as found")
    parser.add_argument("--fallback-spacing", type=float, nargs=2, metavar=("X_MM", "Y_MM"),
                        help="pixel spacing for DICOM files that carry none (otherwise they are reported as errors)")
    parser.add_argument("--device", default="cpu", help="where the network runs (e.g. cuda:0)")
    parser.add_argument("--out", type=Path, help="JSON file for the rows and the summary")
    args = parser.parse_args(argv)
    if args.tolerance_px <= 0:
        parser.error(f"--tolerance-px must be positive, got {args.tolerance_px}")

    from monai.data import MetaTensor

    spec = DetectorSpec(checkpoint=args.checkpoint, predicted_dir="", bundle_dir=args.bundle,  # writes no .pts
                        config_files=tuple(args.config), overrides=dict(args.overrides))
    try:
        detector = build_detector(spec, device=args.device)
        tasks, unkeyed = discover_images(args.dicom)
    except InputError as err:
        print(f"real_hips: {err}", file=sys.stderr)
        return 0
    rows: list[dict[str, Any]] = [{"image": s["input"], "side": "both", "error": s["reason"]} for s in unkeyed]
    images_read = images_with_hips = 0
    for task in tasks:
        label_path = args.labels / f"{task.dicom_path.stem}.json"
        try:
            labels = read_head_labels(label_path) if label_path.is_file() else None
            array_wh, meta = load_radiograph(task.dicom_path, spacing_xy_mm=args.fallback_spacing)
        except InputError as err:
            rows.append({"image": task.relative, "side": "both", "error": str(err)})
            continue
        note = None if labels is not None else f"no label file {label_path.name}"
        if labels and labels["right"] and labels["left"] and labels["right"][0] > labels["left"][0]:
            # the label file breaks its own convention (fem_r = patient right = image left): a side swap by whoever
            # labelled it, or a mirrored image; without a side marker the detector cannot tell, so compare by side
            # of the image and say so
            labels = {"right": labels["left"], "left": labels["right"]}
            note = "label sides swapped (fem_r lies right of fem_l): compared by image side"
        image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
        hips = measure_image(detector, image, labels, args.tolerance_px)
        images_read += 1
        images_with_hips += any(row["present"] for row in hips)
        rows += [{"image": task.relative, **row, **({"note": note} if note else {})} for row in hips]

    labelled = [r for r in rows if r.get("label_px") is not None]
    within = sum(r["within_tolerance"] for r in labelled)
    summary = {"heads_within_tolerance": within, "heads_labelled": len(labelled),
               "images_with_hips_reported": images_with_hips, "images_read": images_read,
               "tolerance_px": args.tolerance_px, "min_confidence": detector.min_confidence,
               "errors": sum(1 for r in rows if "error" in r)}
    print(f"{'image':<32} {'side':<5} {'present':<7} {'confidence':>10} {'centre px':>14} {'distance px':>11} "
          f"{'within':<6}  reason")
    for row in rows:
        print(_format_row(row))
    line = (f"{within}/{len(labelled)} femoral heads within {args.tolerance_px:g} px; "
            f"hips reported on {images_with_hips}/{images_read} images")
    print(line)
    if args.out is not None:
        report = {"summary": summary, "summary_line": line, "detector": spec.as_params(), "rows": rows}
        write_text_atomic(args.out, json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
