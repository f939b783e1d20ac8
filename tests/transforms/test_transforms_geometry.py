from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import least_squares

from hipmonai import InputError
from hipmonai.transforms import apply_affine_to_points, fit_circle_taubin, px_affine_between, translation_2d


def circle_points(cx: float, cy: float, r: float, start: float, stop: float, n: int) -> np.ndarray:
    angles = np.linspace(start, stop, n)
    return np.column_stack((cx + r * np.cos(angles), cy + r * np.sin(angles)))


@pytest.mark.parametrize(
    ("cx", "cy", "r", "start", "stop", "n"),
    [
        (0.0, 0.0, 1.0, 0.0, 2 * np.pi, 12),
        (312.4, -87.1, 61.25, -0.3, 2.9, 10),  # femoral-head-like arc of ~185 degrees
        (1500.0, 2100.0, 150.0, 1.0, 1.7, 5),  # short arc far from the origin
        (5.0, 6.0, 2.0, 0.0, 2.0, 3),  # the minimum: three points
    ],
)
def test_taubin_is_exact_on_a_circle(cx, cy, r, start, stop, n):
    fit = fit_circle_taubin(circle_points(cx, cy, r, start, stop, n))
    np.testing.assert_allclose(fit, (cx, cy, r), rtol=1e-9, atol=1e-7)


def test_taubin_matches_geometric_least_squares_on_noisy_points(rng):
    cx, cy, r = 120.0, 95.0, 55.0
    points = circle_points(cx, cy, r, -0.4, 3.0, 10) + rng.normal(0.0, 0.8, size=(10, 2))

    def residuals(params: np.ndarray) -> np.ndarray:
        return np.hypot(points[:, 0] - params[0], points[:, 1] - params[1]) - params[2]

    geometric = least_squares(residuals, x0=(points[:, 0].mean(), points[:, 1].mean(), 1.0)).x
    taubin = np.array(fit_circle_taubin(points))
    np.testing.assert_allclose(taubin, geometric, atol=0.05)
    np.testing.assert_allclose(taubin, (cx, cy, r), atol=1.5)


def test_taubin_ignores_nan_rows_and_accepts_tensors():
    points = circle_points(3.0, 4.0, 5.0, 0.0, 3.0, 6)
    with_nan = np.vstack((points[:3], [np.nan, np.nan], points[3:], [np.nan, 1.0]))
    np.testing.assert_allclose(fit_circle_taubin(torch.as_tensor(with_nan)), (3.0, 4.0, 5.0), atol=1e-9)


@pytest.mark.parametrize("n_valid", [0, 1, 2])
def test_taubin_needs_three_valid_points(n_valid):
    points = np.full((5, 2), np.nan)
    if n_valid:
        points[:n_valid] = circle_points(0.0, 0.0, 1.0, 0.0, 1.0, n_valid)
    with pytest.raises(InputError, match=rf"at least 3 valid .* got {n_valid}"):
        fit_circle_taubin(points)


def test_taubin_rejects_collinear_and_coincident_points():
    with pytest.raises(InputError, match="4 points are collinear"):
        fit_circle_taubin([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    with pytest.raises(InputError, match="coincide"):
        fit_circle_taubin([[2.0, 1.0]] * 3)


@pytest.mark.parametrize("shape", [(3,), (4, 3), (2, 2, 2)])
def test_points_must_be_n_by_2(shape):
    with pytest.raises(InputError, match=rf"shape \(N, 2\).*{shape[-1]}"):
        fit_circle_taubin(np.zeros(shape))


def test_apply_affine_maps_points_and_keeps_missing_rows_missing():
    angle = np.deg2rad(30.0)
    matrix = translation_2d((5.0, -2.0)) @ np.array(
        [[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]]
    )
    points = np.array([[1.0, 0.0], [np.nan, 3.0], [0.0, 2.0]])
    out = apply_affine_to_points(points, matrix)
    expected = np.array(
        [
            [5.0 + np.cos(angle), -2.0 + np.sin(angle)],
            [np.nan, np.nan],
            [5.0 - 2.0 * np.sin(angle), -2.0 + 2.0 * np.cos(angle)],
        ]
    )
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert out.dtype == np.float64 and isinstance(out, np.ndarray)


def test_apply_affine_keeps_the_container_and_casts_on_request():
    points = torch.tensor([[1.0, 2.0]], dtype=torch.float32)
    out = apply_affine_to_points(points, translation_2d((0.5, 0.25)))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[1.5, 2.25]]))
    out64 = apply_affine_to_points(np.array([[1, 2]]), np.eye(3))
    assert out64.dtype == np.float32
    assert apply_affine_to_points(points, np.eye(3), dtype=np.float64).dtype == torch.float64


def test_apply_affine_rejects_a_non_affine_matrix():
    with pytest.raises(InputError, match="3x3 matrix with last row"):
        apply_affine_to_points(np.zeros((1, 2)), np.ones((3, 3)))
    with pytest.raises(InputError, match="3x3"):
        apply_affine_to_points(np.zeros((1, 2)), np.eye(4))


def test_px_affine_between_reads_2d_and_4x4_affines():
    src = np.diag([0.45, 0.5, 1.0, 1.0])
    dst = np.diag([0.4, 0.4, 1.0, 1.0])
    dst[:2, 3] = (-4.0, 2.0)  # origin of the destination at (-4, 2) mm
    matrix = px_affine_between(src, dst)
    np.testing.assert_allclose(matrix, [[1.125, 0, 10.0], [0, 1.25, -5.0], [0, 0, 1]])
    np.testing.assert_allclose(px_affine_between(src[np.ix_((0, 1, 3), (0, 1, 3))], dst), matrix)
    coupled = np.eye(4)
    coupled[0, 2] = 1.0
    with pytest.raises(InputError, match="src_affine couples the third axis"):
        px_affine_between(coupled, dst)
    with pytest.raises(InputError, match="dst_affine is singular"):
        px_affine_between(src, np.zeros((3, 3)))
