"""Deployment fixtures: a models folder of three random-weight, narrow checkpoints (plumbing, not accuracy), as the
MONAI Deploy app expects it, and the arguments that build the same analyser without the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hipmonai.networks import save_checkpoint
from hipmonai.paths import bundle_template_dir

BUNDLES = {"landmarks": "hip_landmark_labelaug", "prior": "hip_osteophyte_prior", "grading": "hip_osteophyte_grading"}
CONFIGS = {key: ["configs/inference.json"] for key in BUNDLES}
#: the narrow networks of the checkpoints; the checkpoints record them, so models.json needs none of them
OVERRIDES = {"landmarks": {"channels": [4, 8, 16, 32, 64], "strides": [2, 2, 2, 2], "num_res_units": 0,
                           "image_size_px": 64, "n_landmarks": 28},
             "prior": {"widen_factor": 0.125}, "grading": {"widen_factor": 0.125}}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """``hip_landmark_labelaug.pt``, ``hip_osteophyte_prior.pt``, ``hip_osteophyte_grading.pt`` and ``models.json``."""
    from hipmonai.deploy import CHECKPOINT_NAMES
    from hipmonai.experiments.bundle import bundle_parser

    folder = tmp_path_factory.mktemp("deploy_models")
    torch.manual_seed(0)
    for key, bundle in BUNDLES.items():
        parser = bundle_parser(bundle_template_dir(bundle), CONFIGS[key], OVERRIDES[key])
        save_checkpoint(parser.get_parsed_content("network_def"), folder / CHECKPOINT_NAMES[key],
                        parser.get_parsed_content("trained_with#settings"))
    (folder / "models.json").write_text(json.dumps({k: {"configs": CONFIGS[k]} for k in BUNDLES}))
    return folder


@pytest.fixture(scope="session")
def tiny_analyzer_kwargs(tiny_models) -> dict:
    """``HipRadiographAnalyzer.from_bundles(**tiny_analyzer_kwargs)`` builds the analyser of :func:`tiny_models`."""
    from hipmonai.deploy import CHECKPOINT_NAMES

    return {"models": {k: tiny_models / CHECKPOINT_NAMES[k] for k in BUNDLES}, "configs": CONFIGS}
