"""Ablations of KNEEL (Tiulpin et al. 2019) Table 1 via the ``knee_landmark_kneel`` bundle: loss (L2, L1, wing),
MixUp on/off, cutout on/off, and initialisation from the ROI model versus training from scratch; plus, beyond
Table 1, MixUp as the authors' released code computes it (``mixup_weight_by="released_code"``,
:mod:`hipmonai.losses.mixup`).

Every arm is one landmark-stage training of the bundle (:func:`hipmonai.experiments.bundle.train_or_resume`, i.e.
``ConfigWorkflow`` with the bundle's own config files plus the arm's id overrides), its checkpoint selected on the
validation split by the bundle's key metric, then evaluated on ``split`` with the bundle's validation preprocessing
(crops around the true tibial centre, as the paper's ablations). The table reports PCK at 1, 1.5, 2, 2.5 mm on
landmarks 0, 8, 9, 15 (Table 1's choice; ``TABLE1_LANDMARKS``), the outlier rate (knees with any landmark ≥ 10 mm)
and the mean radial error. Arms that need the ROI model share one ROI training (``configs/roi.json``) unless a
checkpoint is given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hipmonai.errors import InputError
from hipmonai.networks.checkpoint import load_config_network

__all__ = ["ARMS", "TABLE1_LANDMARKS", "evaluate_landmark_checkpoint", "format_table", "run_kneel_ablation"]

TABLE1_LANDMARKS = (0, 8, 9, 15)

_WING = {"_target_": "hipmonai.losses.WingLoss", "w": "@wing_w", "epsilon": "@wing_epsilon"}
_NO_AUG = {"use_mixup": False, "cutout_prob": 0.0, "init_from_roi": False}
ARMS: dict[str, dict[str, Any]] = {
    "l2": {"loss": {"_target_": "torch.nn.MSELoss"}, **_NO_AUG},
    "l1": {"loss": {"_target_": "torch.nn.L1Loss"}, **_NO_AUG},
    "wing": {"loss": _WING, **_NO_AUG},
    "wing_mixup": {"loss": _WING, "use_mixup": True, "cutout_prob": 0.0, "init_from_roi": False},
    "wing_mixup_released": {"loss": _WING, "use_mixup": True, "mixup_weight_by": "released_code", "cutout_prob": 0.0,
                            "init_from_roi": False},
    "wing_mixup_cutout": {"loss": _WING, "use_mixup": True, "init_from_roi": False},
    "wing_mixup_cutout_roi_init": {"loss": _WING, "use_mixup": True, "init_from_roi": True},
}
"""Arm name -> id overrides of ``configs/train.json`` (anything not named keeps the config's value: cutout
probability and fraction, MixUp alpha, rotation, epochs ...)."""

_LABELS = {
    "l2": "L2 loss",
    "l1": "L1 loss",
    "wing": "Wing loss",
    "wing_mixup": "Wing + MixUp",
    "wing_mixup_released": "Wing + MixUp as the authors' released code (λ, not λ', mixes; beyond Table 1)",
    "wing_mixup_cutout": "Wing + MixUp + cutout (from scratch)",
    "wing_mixup_cutout_roi_init": "Wing + MixUp + cutout, initialised from the ROI model",
}


def evaluate_landmark_checkpoint(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    checkpoint: str | os.PathLike,
    split: str = "test",
    overrides: Mapping[str, Any] | None = None,
    landmarks: Sequence[int] = TABLE1_LANDMARKS,
) -> dict[str, Any]:
    """PCK, outliers and MRE of one landmark-stage checkpoint on a split of the bundle's cache.

    Returns:
        ``{"n_knees", "pck": {"1.0": %, ...}, "outliers_pct_knees", "mre_mm", "errors_mm": (N, 16) list}``.
    """
    from monai.data import DataLoader, Dataset

    from hipmonai.data.knee import load_knee_datalist
    from hipmonai.experiments.bundle import bundle_parser
    from hipmonai.metrics.landmark_error import (
        KNEEL_PCK_THRESHOLDS_MM,
        mean_radial_error,
        outlier_rate,
        pck,
        radial_errors,
    )
    from hipmonai.networks.soft_argmax import normalized_to_pixels

    parser = bundle_parser(bundle_dir, config_files, {**dict(overrides or {}), "init_from_roi": False})
    network = load_config_network(parser, checkpoint).eval()
    items = load_knee_datalist(parser.get_parsed_content("datalist"), split)
    if not items:
        raise InputError(f"the {split!r} split of {parser.get_parsed_content('datalist')} is empty")
    loader = DataLoader(Dataset(items, transform=parser.get_parsed_content("validate#preprocessing")),
                        batch_size=16, shuffle=False, num_workers=0)
    size = parser.get_parsed_content("input_size_px")
    spacing = float(parser.get_parsed_content("pixel_spacing_mm"))
    errors = []
    with torch.inference_mode():
        for batch in loader:
            pred = normalized_to_pixels(network(batch["image"].float()), size)
            truth = normalized_to_pixels(batch["label"].float(), size)
            errors.append(radial_errors(pred, truth, spacing))
    e = torch.cat(errors)
    return {
        "n_knees": int(e.shape[0]),
        "pck": {str(r): 100 * float(v) for r, v in zip(KNEEL_PCK_THRESHOLDS_MM, pck(e, landmarks=landmarks),
                                                        strict=True)},
        "outliers_pct_knees": 100 * float(outlier_rate(e, per="case")),
        "mre_mm": float(mean_radial_error(e, landmarks)),
        "errors_mm": e.tolist(),
    }


def _cell(value: Any, fmt: str) -> str:
    return "reused" if value is None else fmt.format(value)


def format_table(rows: Sequence[Mapping[str, Any]], landmarks: Sequence[int] = TABLE1_LANDMARKS) -> str:
    """Markdown table of ablation rows (as :func:`run_kneel_ablation` returns them)."""
    names = ", ".join(str(i) for i in landmarks)
    lines = [
        "| Setting | PCK@1 mm | PCK@1.5 mm | PCK@2 mm | PCK@2.5 mm | % out (knees) | MRE (mm) | best epoch | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["pck"]
        lines.append(
            f"| {r['label']} | {p['1.0']:.1f} | {p['1.5']:.1f} | {p['2.0']:.1f} | {p['2.5']:.1f} | "
            f"{r['outliers_pct_knees']:.1f} | {r['mre_mm']:.2f} | {_cell(r['best_epoch'], '{}')} | "
            f"{_cell(r['seconds'], '{:.0f}')} |"
        )
    note = f"PCK (%) on landmarks {names}; outliers: knees with any of the 16 landmarks ≥ 10 mm off."
    return "\n".join(lines) + f"\n\n{note}\n"


def run_kneel_ablation(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    arms: Sequence[str] | None = None,
    roi_checkpoint: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    split: str = "test",
    reuse: Mapping[str, str | os.PathLike] | None = None,
    resume: bool = True,
) -> list[dict[str, Any]]:
    """Train and evaluate the chosen arms; write ``ablation.json``, ``ablation.md`` and ``cumulative_errors.png`` (one
    curve per arm over ``TABLE1_LANDMARKS``, Tiulpin et al. 2019 Fig. 5 style) to ``out_dir``.

    Args:
        bundle_dir: the ``knee_landmark_kneel`` bundle folder.
        config_files: its landmark-stage config files, e.g. ``["configs/train.json", "configs/demo.json"]``.
        out_dir: one sub-folder per arm (checkpoint, logs) plus the tables.
        arms: names from :data:`ARMS` (default: all, in table order).
        roi_checkpoint: ROI model for the ``..._roi_init`` arm; ``None``: trained here once with
            ``configs/roi.json`` added to ``config_files`` (into ``out_dir/roi``).
        overrides: id overrides for every run (e.g. ``{"max_epochs": 5}``).
        split: manifest split the checkpoints are evaluated on.
        reuse: ``{arm: checkpoint}`` of arms already trained with exactly the arm's settings (e.g. the bundle's own
            ``models/model.pt`` for ``wing_mixup_cutout_roi_init``, or an arm of another ablation folder): evaluated,
            not trained again; its best epoch and training time come from a ``run.json`` beside the checkpoint.
        resume: reuse the arms (and the ROI training) that an earlier, interrupted call finished (their
            ``run.json``); ``False`` trains them again.

    Returns:
        One row per arm: ``{"arm", "label", "pck", "outliers_pct_knees", "mre_mm", "best_epoch", "seconds", ...}``.
    """
    from hipmonai.atomic import write_text_atomic
    from hipmonai.experiments.bundle import RUN_RECORD, read_training_run, train_or_resume
    from hipmonai.inference.knee_pipeline import plot_cumulative_errors

    names = list(ARMS) if arms is None else list(arms)
    unknown = [a for a in names if a not in ARMS]
    if unknown or not names:
        raise InputError(f"unknown ablation arms {unknown}; choose from {list(ARMS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    common = dict(overrides or {})
    reuse = {str(k): str(v) for k, v in (reuse or {}).items()}
    if [a for a in reuse if a not in names]:
        raise InputError(f"reused arms {sorted(set(reuse) - set(names))} are not among the arms {names}")
    if any(ARMS[a].get("init_from_roi") and a not in reuse for a in names) and roi_checkpoint is None:
        roi_run = train_or_resume(bundle_dir, [*config_files, "configs/roi.json"], out / "roi", common, name="roi",
                                  resume=resume)
        roi_checkpoint = str(Path(roi_run.run_dir) / "model_roi.pt")
    rows, curves = [], {}
    for arm in names:
        settings = {**common, **ARMS[arm]}
        if settings.get("init_from_roi"):
            settings["roi_checkpoint"] = str(roi_checkpoint)
        if arm in reuse:
            checkpoint, best_epoch, best_val, seconds = reuse[arm], None, None, None
            if not Path(checkpoint).is_file():
                raise InputError(f"{checkpoint}: checkpoint to reuse for arm {arm!r} not found")
            record = Path(checkpoint).parent / RUN_RECORD
            if record.is_file():
                run = read_training_run(record)
                best_epoch, best_val, seconds = run.best_epoch, run.best_val_loss, run.seconds
        else:
            run = train_or_resume(bundle_dir, config_files, out / arm, settings, name=arm, resume=resume)
            checkpoint, best_epoch, best_val, seconds = run.checkpoint, run.best_epoch, run.best_val_loss, run.seconds
        result = evaluate_landmark_checkpoint(bundle_dir, config_files, checkpoint, split, common)
        rows.append({"arm": arm, "label": _LABELS[arm], "split": split, "checkpoint": str(checkpoint),
                     "best_epoch": best_epoch, "best_val_mre_mm": best_val, "seconds": seconds,
                     **{k: v for k, v in result.items() if k != "errors_mm"}})
        (out / arm).mkdir(parents=True, exist_ok=True)
        errors = np.asarray(result["errors_mm"], dtype=np.float32)
        np.save(out / arm / "errors_mm.npy", errors)
        curves[arm] = errors[:, list(TABLE1_LANDMARKS)]
        plot_cumulative_errors(curves, out / "cumulative_errors.png")
        write_text_atomic(out / "ablation.json", json.dumps(rows, indent=1) + "\n")
        write_text_atomic(out / "ablation.md", format_table(rows))
    return rows
