from __future__ import annotations

import numpy as np
import pytest

from hipmonai.phantoms.geometry import arc, catmull_rom, distance_to_points, polygon_window, rasterise


def test_rasterise_matches_the_exact_area_of_a_disc_and_an_annulus():
    ring = arc((50.3, 40.7), 20.2, np.linspace(0, 360, 720, endpoint=False))
    hole = arc((50.3, 40.7), 8.0, np.linspace(0, 360, 360, endpoint=False))
    window = (0, 100, 0, 120)
    assert rasterise([ring], window).sum() == pytest.approx(np.pi * 20.2**2, rel=2e-3)
    assert rasterise([ring, hole], window).sum() == pytest.approx(np.pi * (20.2**2 - 64.0), rel=2e-3)


def test_rasterise_agrees_with_a_point_in_polygon_test_away_from_the_edge():
    rng = np.random.default_rng(0)
    ring = arc((30.0, 30.0), 10.0 + 4.0 * rng.random(36), np.arange(0, 360, 10))
    cov = rasterise([ring], (0, 60, 0, 60))
    from matplotlib.path import Path

    yy, xx = np.mgrid[0:60, 0:60]
    inside = Path(ring).contains_points(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(60, 60)
    certain = (cov < 0.01) | (cov > 0.99)
    assert np.array_equal((cov > 0.5)[certain], inside[certain])


def test_rasterise_window_offsets_and_clipping():
    ring = arc((10.0, 10.0), 5.0, np.linspace(0, 360, 200, endpoint=False))
    full = rasterise([ring], (0, 30, 0, 30))
    part = rasterise([ring], (8, 30, 5, 30))
    np.testing.assert_allclose(part, full[8:, 5:], atol=1e-6)
    assert polygon_window([ring + 100.0], (30, 30), pad=1) is None


def test_catmull_rom_passes_through_its_control_points_and_follows_a_circle():
    pts = arc((0.0, 0.0), 10.0, np.arange(0, 360, 30))
    curve, rows = catmull_rom(pts, 10, closed=True)
    np.testing.assert_array_equal(curve[rows], pts)
    assert np.abs(np.linalg.norm(curve, axis=1) - 10.0).max() < 0.05
    with pytest.raises(ValueError, match="points"):
        catmull_rom(pts[:1])


def test_distance_to_points():
    d = distance_to_points(np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[3.0, 4.0], [10.0, 1.0]]))
    np.testing.assert_allclose(d, [5.0, 1.0])
