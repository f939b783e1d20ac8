"""Experiments that drive the bundles through ``monai.bundle.ConfigWorkflow``: the prior's grid search (Chen et al.
section 3.2) and repeated runs (its Tables A1/A2), the weak-to-strong sweep (Ye et al. 2026), the label augmentation
ablation (Suh et al. 2023) and the KNEEL ablation (Tiulpin et al. 2019)."""

from __future__ import annotations

from hipmonai.experiments.bundle import (
    TrainingRun,
    bundle_parser,
    config_paths,
    evaluate_checkpoint,
    split_loader,
    train_bundle,
)
from hipmonai.experiments.grid import PAPER_BOUNDARY, PAPER_GRID, PAPER_INPUT_PX, grid_points, run_grid
from hipmonai.experiments.kneel_ablation import run_kneel_ablation
from hipmonai.experiments.labelaug_ablation import run_labelaug_ablation
from hipmonai.experiments.repeats import ARMS, run_repeats
from hipmonai.experiments.weak_strong_sweep import run_sweep, sweep_points

__all__ = [
    "ARMS",
    "PAPER_BOUNDARY",
    "PAPER_GRID",
    "PAPER_INPUT_PX",
    "TrainingRun",
    "bundle_parser",
    "config_paths",
    "evaluate_checkpoint",
    "grid_points",
    "run_grid",
    "run_kneel_ablation",
    "run_labelaug_ablation",
    "run_repeats",
    "run_sweep",
    "split_loader",
    "sweep_points",
    "train_bundle",
]
