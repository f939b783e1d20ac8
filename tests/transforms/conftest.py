"""Fixtures of the hipmonai.transforms tests (helpers live in transform_factories.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)
