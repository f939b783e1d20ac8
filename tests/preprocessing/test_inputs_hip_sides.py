"""Right and left hips swapped in a ``.pts`` file are refused (patient right = image left = smaller x)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import check_hip_sides, load_landmark_groups
from hipmonai.io.pts import POINTS_PER_HIP, read_pts, write_pts
from hipmonai.preprocessing import preprocess_cohort
from hipmonai.preprocessing.detector import read_hip_pts

GROUPS = load_landmark_groups("hip")


def _swap(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points[POINTS_PER_HIP:], points[:POINTS_PER_HIP]])


@pytest.fixture
def phantom_pts(hip_cohort):
    return sorted((hip_cohort / "landmarks").rglob("*.pts"))[0]


def test_read_hip_pts_refuses_swapped_sides(phantom_pts, tmp_path):
    points = read_hip_pts(phantom_pts)  # the phantom's own file is in the right order
    swapped = write_pts(tmp_path / "swapped.pts", _swap(points))
    with pytest.raises(InputError, match=r"swapped.pts: right and left hips look swapped") as info:
        read_hip_pts(swapped)
    message = str(info.value)
    assert "femoral_head" in message and "smaller x" in message and "\n" not in message


def test_read_hip_pts_refuses_swapped_detector_subset(phantom_pts, tmp_path):
    subset = read_pts(phantom_pts)[GROUPS.bilateral_detection_subset]
    np.testing.assert_allclose(read_hip_pts(write_pts(tmp_path / "ok.pts", subset))[GROUPS.bilateral_detection_subset],
                               subset, atol=1e-4)
    half = len(subset) // 2
    swapped = write_pts(tmp_path / "swapped.pts", np.concatenate([subset[half:], subset[:half]]))
    with pytest.raises(InputError, match="right and left hips look swapped"):
        read_hip_pts(swapped)


def test_side_check_uses_the_femoral_head_group(phantom_pts):
    points = read_pts(phantom_pts)
    head = GROUPS.curves["femoral_head"]
    only_heads = points.copy()  # every other point in order, the two femoral heads exchanged
    only_heads[head], only_heads[[POINTS_PER_HIP + i for i in head]] = points[[POINTS_PER_HIP + i for i in head]], \
        points[head]
    with pytest.raises(InputError, match="swapped"):
        check_hip_sides(only_heads, GROUPS)
    others = _swap(points)  # every other point exchanged, the heads in order: the rule looks at the heads only
    others[head], others[[POINTS_PER_HIP + i for i in head]] = points[head], points[[POINTS_PER_HIP + i for i in head]]
    check_hip_sides(others, GROUPS)


def test_side_check_skips_a_hip_without_points(phantom_pts):
    points = _swap(read_pts(phantom_pts))
    points[:POINTS_PER_HIP] = np.nan  # the detector reports the right hip absent: nothing to compare
    check_hip_sides(points, GROUPS)
    with pytest.raises(ValueError, match=r"\(160, 2\)"):
        check_hip_sides(points[:10], GROUPS)


def test_swapped_pts_image_is_skipped_with_the_reason(hip_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(hip_cohort, cohort)
    pts = sorted((cohort / "landmarks").rglob("*.pts"))[0]
    write_pts(pts, _swap(read_pts(pts)))
    relative = pts.relative_to(cohort / "landmarks").with_suffix(".dcm").as_posix()
    summary = preprocess_cohort(cohort / "dicom", cohort / "landmarks", cohort / "grades.csv", tmp_path / "hip.h5",
                                crop_px=64, workers=1, progress=False)
    assert [(s["input"], s["side"]) for s in summary["skipped"]] == [(relative, "both")]
    assert "right and left hips look swapped" in summary["skipped"][0]["reason"]
    n_images = len(list((cohort / "dicom").rglob("*.dcm")))
    assert summary["hips_written"] == 2 * (n_images - 1)
