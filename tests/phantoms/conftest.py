"""Shared small phantom cohorts (generated once per test session; each takes a few seconds)."""

from __future__ import annotations

import pytest

from hipmonai.phantoms import generate_hip_cohort, generate_knee_cohort

# every transfer syntax and both photometric interpretations are likely in a few subjects
VARIED = {"transfer_syntaxes": (("j2k", 1.0), ("explicit", 1.0), ("rle", 1.0)), "monochrome1_fraction": 0.5}
HIP_COHORT = {"n_subjects": 3, "seed": 11, "visits": 2, **VARIED}


@pytest.fixture(scope="session")
def phantom_hip_cohort_args():
    """The arguments :func:`phantom_hip_cohort` was generated with (besides ``workers``)."""
    return dict(HIP_COHORT)


@pytest.fixture(scope="session")
def phantom_hip_cohort(tmp_path_factory):
    """A 3-subject x 2-visit hip cohort written with 2 worker processes: ``(out_dir, summary)``."""
    out = tmp_path_factory.mktemp("hip_cohort_w2")
    return out, generate_hip_cohort(out, workers=2, progress=False, **HIP_COHORT)


@pytest.fixture(scope="session")
def phantom_hip_cohort_serial(tmp_path_factory):
    """The same cohort as :func:`phantom_hip_cohort`, written in-process (``workers=1``)."""
    out = tmp_path_factory.mktemp("hip_cohort_w1")
    return out, generate_hip_cohort(out, workers=1, progress=False, **HIP_COHORT)


@pytest.fixture(scope="session")
def phantom_knee_cohort(tmp_path_factory):
    """A 2-subject knee cohort: ``(out_dir, summary)``."""
    out = tmp_path_factory.mktemp("phantom_knee_cohort")
    return out, generate_knee_cohort(out, n_subjects=2, seed=5, workers=1, progress=False, **VARIED)
