"""Shared factories for the hipmonai.data tests: small, seeded scan records."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from hipmonai.data import ScanRecord


def build_record(
    subject_id: str = "S0001",
    visit: str = "V00",
    side: str = "right",
    shape_hw: tuple[int, int] = (6, 5),
    n_points: int = 4,
    grades: tuple[int, ...] = (0, 1, -1, 3),
    lesion: bool = False,
    seed: int = 0,
    **overrides,
) -> ScanRecord:
    """A valid record with seeded random image and landmarks (one landmark missing)."""
    rng = np.random.default_rng(seed)
    landmarks = rng.uniform(0, min(shape_hw), size=(n_points, 2))
    landmarks[-1] = np.nan
    fields = {
        "subject_id": subject_id,
        "visit": visit,
        "side": side,
        "image": rng.normal(size=shape_hw),
        "landmarks": landmarks,
        "grades": np.array(grades),
        "lesion_mask": (rng.uniform(size=(4, *shape_hw)) > 0.7).astype(np.uint8) if lesion else None,
        "pixel_spacing": (0.4, 0.5),
        "crop_offset_x": 120,
        "crop_offset_y": -3,
        "femoral_head_radius": 21.5,
        "flipped": side == "left",
        "source_uid_hash": hashlib.sha256(f"1.2.3.{subject_id}.{visit}".encode()).hexdigest()[:16],
    }
    fields.update(overrides)
    return ScanRecord(**fields)


def cohort_records(n_subjects: int, seed: int = 0, shape_hw: tuple[int, int] = (4, 3)) -> Iterator[ScanRecord]:
    """``n_subjects`` subjects with 1-3 visits each and both hips per visit, random grades."""
    rng = np.random.default_rng(seed)
    for s in range(n_subjects):
        for v in range(int(rng.integers(1, 4))):
            for side in ("right", "left"):
                yield build_record(
                    f"S{s:04d}", f"V{v:02d}", side, shape_hw=shape_hw, n_points=3,
                    grades=tuple(int(g) for g in rng.integers(-1, 4, size=4)), seed=int(rng.integers(1 << 30)),
                )


@pytest.fixture
def make_record() -> Callable[..., ScanRecord]:
    return build_record


@pytest.fixture(scope="session")
def cohort_store(tmp_path_factory: pytest.TempPathFactory):
    """A store of 100 subjects (1-3 visits x 2 hips), written once per session; returns its path."""
    from hipmonai.data import write_store

    path = tmp_path_factory.mktemp("cohort") / "stores" / "cohort.h5"
    return write_store(path, cohort_records(100, seed=7), attrs={"created_by": "tests"})


@pytest.fixture
def make_cohort() -> Callable[..., Iterator[ScanRecord]]:
    return cohort_records
