from __future__ import annotations

import numpy as np
import pytest
from transform_factories import radiograph

from hipmonai import InputError
from hipmonai.io import load_landmark_groups
from hipmonai.transforms import FemoralHeadCircle, FemoralHeadCircled, ResampleToSpacingd

HEAD = load_landmark_groups("hip").curves["femoral_head"]


def hip_landmarks(cx: float, cy: float, r: float, rng: np.random.Generator) -> np.ndarray:
    """80 random points, with the head sub-curve on a circle of radius ``r`` around ``(cx, cy)`` (pixels)."""
    landmarks = rng.uniform(0, 500, size=(80, 2))
    angles = np.linspace(-2.6, 0.9, len(HEAD))
    landmarks[HEAD] = np.column_stack((cx + r * np.cos(angles), cy + r * np.sin(angles)))
    return landmarks


def test_default_head_curve_and_radius_range_come_from_configs():
    fitter = FemoralHeadCircle()
    assert fitter.head_indices == [13, 78, 14, 15, 16, 17, 18, 19, 20, 21]
    assert fitter.radius_range_mm == (10.0, 40.0)


def test_dictionary_fit_reads_spacing_from_the_affine(rng):
    landmarks = hip_landmarks(210.5, 180.25, 60.0, rng)
    landmarks[[13, 17]] = np.nan  # missing head points are ignored
    data = {"image": radiograph(np.zeros((1, 400, 400), np.float32), (0.4, 0.4)), "landmarks": landmarks}
    out = FemoralHeadCircled()(data)
    np.testing.assert_allclose(out["femoral_head_center_px"], (210.5, 180.25), atol=1e-9)
    assert out["femoral_head_radius_px"] == pytest.approx(60.0)
    assert out["femoral_head_center_px"].dtype == np.float64


def test_head_indices_override(rng):
    landmarks = rng.uniform(0, 100, size=(80, 2))
    landmarks[[0, 1, 2, 3]] = [[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0], [0.0, -10.0]]
    center, radius = FemoralHeadCircle(head_indices=[0, 1, 2, 3], radius_range_mm=(1, 5))(landmarks, 0.4)
    np.testing.assert_allclose(center, (0.0, 0.0), atol=1e-12)
    assert radius == pytest.approx(10.0)


@pytest.mark.parametrize(("spacing", "radius_mm"), [(0.4, 4.0), (0.4, 48.0), (0.1, 6.0)])
def test_bad_radius_is_rejected_with_its_value(rng, spacing, radius_mm):
    landmarks = hip_landmarks(300.0, 300.0, radius_mm / spacing, rng)
    with pytest.raises(InputError, match=rf"femoral head radius {radius_mm:.2f} mm .* outside .*\[10, 40\] mm"):
        FemoralHeadCircle()(landmarks, spacing)


def test_too_few_head_points_anisotropic_spacing_and_short_landmarks(rng):
    landmarks = hip_landmarks(200.0, 200.0, 60.0, rng)
    landmarks[HEAD[2:]] = np.nan
    with pytest.raises(InputError, match=r"at least 3 of the head points .* 2 are present"):
        FemoralHeadCircle()(landmarks, 0.4)
    with pytest.raises(InputError, match=r"isotropic pixels, got spacing \(0.45, 0.5\) mm"):
        FemoralHeadCircle()(hip_landmarks(200.0, 200.0, 60.0, rng), (0.45, 0.5))
    with pytest.raises(InputError, match="do not fit landmarks of 16 points"):
        FemoralHeadCircle()(np.zeros((16, 2)), 0.4)
    with pytest.raises(InputError, match="must be a MetaTensor"):
        FemoralHeadCircled()({"image": np.zeros((1, 4, 4)), "landmarks": np.zeros((80, 2))})
    with pytest.raises(ValueError, match=r"head_indices must be at least 3 .*\[1, 2\]"):
        FemoralHeadCircle(head_indices=[1, 2])


def test_fit_on_the_resampled_grid_needs_no_resampled_image(rng):
    spacing_xy_mm = (0.15, 0.18)
    landmarks_mm = hip_landmarks(40.0, 45.0, 22.0, rng)  # a 22 mm head: a circle in mm, an ellipse in pixels
    data = {
        "image": radiograph(np.zeros((1, 600, 500), np.uint16), spacing_xy_mm),
        "landmarks": landmarks_mm / np.asarray(spacing_xy_mm),
    }
    expected = FemoralHeadCircled()(ResampleToSpacingd("image", 0.4)(data))
    out = FemoralHeadCircled(spacing_mm=0.4)(data)
    np.testing.assert_array_equal(out["femoral_head_center_px"], expected["femoral_head_center_px"])
    assert out["femoral_head_radius_px"] == expected["femoral_head_radius_px"] == pytest.approx(22.0 / 0.4)
    assert out["landmarks"] is data["landmarks"] and out["image"] is data["image"]  # nothing resampled or moved
    with pytest.raises(InputError, match="isotropic pixels"):
        FemoralHeadCircled()(data)  # in its own anisotropic pixels a circle cannot be fitted
