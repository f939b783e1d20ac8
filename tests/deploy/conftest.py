"""Deployment fixtures: a models folder of three random-weight, narrow checkpoints (plumbing, not accuracy), as the
MONAI Deploy app expects it, and the arguments that build the same analyser without the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hipmonai.paths import repo_root

BUNDLES = {"landmarks": "hip_landmark_labelaug", "prior": "hip_osteophyte_prior", "grading": "hip_osteophyte_grading"}
CONFIGS = {key: ["configs/inference.json"] for key in BUNDLES}
OVERRIDES = {"landmarks": {"channels": [4, 8, 16, 32, 64], "num_res_units": 0, "image_size_px": 64},
             "prior": {"widen_factor": 0.125}, "grading": {"widen_factor": 0.125}}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """``hip_landmark_labelaug.pt``, ``hip_osteophyte_prior.pt``, ``hip_osteophyte_grading.pt`` and ``models.json``."""
    from hipmonai.deploy import CHECKPOINT_NAMES
    from hipmonai.experiments.bundle import bundle_parser

    folder = tmp_path_factory.mktemp("deploy_models")
    torch.manual_seed(0)
    for key, bundle in BUNDLES.items():
        parser = bundle_parser(repo_root() / "bundles" / bundle, CONFIGS[key], OVERRIDES[key])
        torch.save({"model": parser.get_parsed_content("network_def").state_dict()}, folder / CHECKPOINT_NAMES[key])
    (folder / "models.json").write_text(json.dumps({k: {"configs": CONFIGS[k], "overrides": OVERRIDES[k]}
                                                    for k in BUNDLES}))
    return folder


@pytest.fixture(scope="session")
def tiny_analyzer_kwargs(tiny_models) -> dict:
    """``HipRadiographAnalyzer.from_bundles(**tiny_analyzer_kwargs)`` builds the analyser of :func:`tiny_models`."""
    from hipmonai.deploy import CHECKPOINT_NAMES

    return {"models": {k: tiny_models / CHECKPOINT_NAMES[k] for k in BUNDLES}, "configs": CONFIGS,
            "overrides": OVERRIDES}
