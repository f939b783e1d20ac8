from __future__ import annotations

import numpy as np
import pytest

from hipmonai.errors import InputError
from hipmonai.io.pts import POINTS_PER_HIP, mm_to_px, px_to_mm, read_pts, split_bilateral, write_pts


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 300, size=(160, 2))
    path = write_pts(tmp_path / "sub" / "a.pts", points)
    text = path.read_text().splitlines()
    assert text[:3] == ["version: 1", "n_points: 160", "{"] and text[-1] == "}"
    np.testing.assert_allclose(read_pts(path, n_points=160), points, atol=1e-4)
    assert not list(tmp_path.rglob(".*tmp*"))


def test_mm_px_conversion_uses_x_and_y_spacing():
    points_mm = np.array([[12.0, 10.0], [0.0, 5.0]])
    px = mm_to_px(points_mm, (0.4, 0.5))
    np.testing.assert_allclose(px, [[30.0, 20.0], [0.0, 10.0]])
    np.testing.assert_allclose(px_to_mm(px, (0.4, 0.5)), points_mm)
    with pytest.raises(ValueError, match="spacing_xy_mm"):
        mm_to_px(points_mm, (0.4, 0.0))


def test_split_bilateral():
    points = np.arange(320, dtype=float).reshape(160, 2)
    sides = split_bilateral(points)
    np.testing.assert_array_equal(sides["right"], points[:POINTS_PER_HIP])
    np.testing.assert_array_equal(sides["left"], points[POINTS_PER_HIP:])
    with pytest.raises(InputError, match="expected 160 points"):
        split_bilateral(points[:100])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n", "n_points=3 but the file holds 2"),
        ("version: 1\nn_points: 2\n1 2\n3 4\n", "no '{'"),
        ("version: 1\n{\n1 2\n}\n", "n_points"),
        ("version: 1\nn_points: 1\n{\n1 x\n}\n", "invalid coordinate"),
        ("version: 1\nn_points: 1\n{\nnan 2\n}\n", "non-finite"),
    ],
)
def test_malformed_files_name_file_and_reason(tmp_path, content, message):
    path = tmp_path / "bad.pts"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        read_pts(path)
    assert "bad.pts" in str(info.value)


def test_wrong_point_count(tmp_path):
    path = write_pts(tmp_path / "a.pts", np.zeros((79, 2)))
    with pytest.raises(InputError, match="expected 80 points, found 79"):
        read_pts(path, n_points=80)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_pts(tmp_path / "none.pts")
