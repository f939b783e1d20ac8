"""Ablations of Suh et al. 2023 Table 1 through the ``hip_landmark_labelaug`` bundle: plain U-Net, with training-set
rotation augmentation (TA, ≤ 20°), with label augmentation (LA), and with both.

Every arm is one training of the bundle (:func:`hipmonai.experiments.bundle.train_bundle`: ``ConfigWorkflow`` with
the bundle's config files plus the arm's id overrides), its checkpoint selected by the bundle's key metric
(validation RMSE in model px), then evaluated on whole radiographs of ``split``
(:func:`hipmonai.evaluation.landmark_detection.evaluate_detector`). Finished arms (``run.json``) are reused, and
``reuse`` evaluates an arm trained elsewhere with exactly the arm's settings (e.g. by ``python -m monai.bundle run``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hipmonai.atomic import write_text_atomic
from hipmonai.errors import InputError

__all__ = ["ARMS", "format_table", "run_labelaug_ablation"]

ARMS: dict[str, dict[str, Any]] = {
    "plain": {"label_augmentation": False, "max_rotation_deg": 0.0},
    "plain_rotation": {"label_augmentation": False, "max_rotation_deg": 20.0},
    "label_augmentation": {"label_augmentation": True, "max_rotation_deg": 0.0},
    "label_augmentation_rotation": {"label_augmentation": True, "max_rotation_deg": 20.0},
}
"""Arm name -> id overrides of ``configs/train.json`` (everything else keeps the configs' values)."""

LABELS = {
    "plain": "U-Net",
    "plain_rotation": "U-Net + TA (rotation ≤ 20°)",
    "label_augmentation": "U-Net + LA (label augmentation)",
    "label_augmentation_rotation": "U-Net + TA + LA",
}


def _fmt(value: Any, digits: int = 2) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "—"


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table of the arms: MRE/RMSE in model px and mm, SDR (model px), head centre error, training time."""
    head = ("| Arm | MRE px | RMSE px | MRE mm | RMSE mm | SDR 2 px | SDR 2.5 px | SDR 3 px | SDR 4 px | "
            "head centre median mm | training s |")
    lines = [head, "|" + "---|" * 11]
    for row in rows:
        r = row["results"]
        px, mm = r["model_px"], r["mm"]
        centre = r.get("head_centre_error_vs_truth_mm", r["head_centre_error_vs_pts_mm"])
        lines.append("| " + " | ".join([
            LABELS.get(row["arm"], row["arm"]), _fmt(px["mre"]), _fmt(px["rmse"]), _fmt(mm["mre"]), _fmt(mm["rmse"]),
            *(_fmt(100 * px["sdr"][t], 1) + " %" for t in ("2", "2.5", "3", "4")),
            _fmt(centre.get("median")), _fmt(row.get("seconds"), 0),
        ]) + " |")
    return "\n".join(lines)


def run_labelaug_ablation(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    arms: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    split: str = "test",
    truth_csv: str | os.PathLike | None = None,
    reuse: Mapping[str, str | os.PathLike] | None = None,
    commands: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Train (or reuse) and evaluate each arm; write ``ablation.md`` and ``ablation.json`` under ``out_dir``.

    Raises:
        InputError: an unknown arm, or a reused checkpoint that does not exist.
    """
    from hipmonai.data.pelvis import load_pelvis_datalist
    from hipmonai.evaluation.landmark_detection import evaluate_detector
    from hipmonai.experiments.bundle import bundle_parser, train_or_resume
    from hipmonai.preprocessing.detector import detector_from_parser

    chosen = list(arms or ARMS)
    unknown = [a for a in chosen if a not in ARMS]
    if unknown:
        raise InputError(f"unknown arms {unknown}; choose from {list(ARMS)}")
    reuse = dict(reuse or {})
    out = Path(out_dir)
    rows = []
    for arm in chosen:
        settings = {**dict(overrides or {}), **ARMS[arm]}
        run_dir = out / arm
        if arm in reuse:
            checkpoint = Path(reuse[arm])
            if not checkpoint.is_file():
                raise InputError(f"{checkpoint}: checkpoint to reuse for arm {arm!r} not found")
            seconds = None
        else:
            run = train_or_resume(bundle_dir, config_files, run_dir, settings, name=arm)
            checkpoint, seconds = Path(run.checkpoint), run.seconds
        parser = bundle_parser(bundle_dir, config_files, settings)
        detector = detector_from_parser(parser, checkpoint)
        items = load_pelvis_datalist(parser.get_parsed_content("datalist"), split)
        results = evaluate_detector(detector, items, run_dir / "eval", truth_csv=truth_csv)
        rows.append({"arm": arm, "label": LABELS[arm], "settings": settings, "checkpoint": str(checkpoint),
                     "seconds": seconds, "results": results})
    parts = ["# Label augmentation ablation (Suh et al. 2023 Table 1 layout)", ""]
    if commands:
        parts += ["```bash", *commands, "```", ""]
    parts += [f"Split: {split}; errors of the argmax in model-input pixels (px) and in mm.", "", format_table(rows), ""]
    write_text_atomic(out / "ablation.md", "\n".join(parts))
    write_text_atomic(out / "ablation.json", json.dumps(rows, indent=1))
    return rows
