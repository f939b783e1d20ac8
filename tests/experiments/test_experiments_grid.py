from __future__ import annotations

import pytest

from hipmonai.experiments import PAPER_BOUNDARY, PAPER_GRID, grid_points


def test_paper_grid_and_its_boundary_extension():
    points = grid_points()
    assert len(points) == 27 + 4
    assert points[:27] == [(a, b, c) for a in PAPER_GRID["lambda_prior"] for b in PAPER_GRID["radius_px"]
                           for c in PAPER_GRID["sigma_px"]]
    assert points[27:] == [tuple(p) for p in PAPER_BOUNDARY]
    assert (2.0, 20.0, 30.0) in points  # the paper's selection


def test_extra_points_already_in_the_grid_are_not_repeated():
    assert grid_points([2], [20], [30], extra=[(2, 20, 30), (3, 20, 30)]) == [(2.0, 20.0, 30.0), (3.0, 20.0, 30.0)]


@pytest.mark.parametrize("kwargs, match", [
    ({"lambdas": []}, "lambdas"),
    ({"sigmas_px": [0.0]}, "sigma"),
    ({"extra": [(1, 2)]}, "extra"),
])
def test_bad_grids_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        grid_points(**kwargs)
