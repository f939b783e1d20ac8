"""Experiments that drive the ``hip_osteophyte_prior`` bundle through ``monai.bundle.ConfigWorkflow``: the prior's
grid search (paper 001 section 3.2) and repeated runs over seeds (its Tables A1/A2)."""

from __future__ import annotations

from hipmonai.experiments.bundle import (
    TrainingRun,
    bundle_parser,
    config_paths,
    evaluate_checkpoint,
    load_checkpoint,
    split_loader,
    train_bundle,
)
from hipmonai.experiments.grid import PAPER_BOUNDARY, PAPER_GRID, PAPER_INPUT_PX, grid_points, run_grid
from hipmonai.experiments.repeats import ARMS, run_repeats

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
    "load_checkpoint",
    "run_grid",
    "run_repeats",
    "split_loader",
    "train_bundle",
]
