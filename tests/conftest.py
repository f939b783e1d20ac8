"""Shared fixtures: small phantom cohorts generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hip_cohort(tmp_path_factory) -> Path:
    """A 6-subject phantom hip cohort (one visit each) in a session temp folder; treat as read-only."""
    from hipmonai.phantoms import generate_hip_cohort

    out = tmp_path_factory.mktemp("hip_cohort")
    generate_hip_cohort(out, n_subjects=6, seed=7, workers=1, progress=False)
    return out


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run torch single-threaded: on the two shared CI cores, intra-op threads of tiny networks spin against each
    other and slow every forward pass by two orders of magnitude."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
