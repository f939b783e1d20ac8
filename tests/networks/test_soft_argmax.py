"""Soft-argmax (Tiulpin et al. 2019 Eqs. 1-3): peak location, grids, axis order, beta, pixel conversions."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import hipmonai.networks.soft_argmax as soft_argmax_module
from hipmonai.networks.soft_argmax import (
    SoftArgmax2D,
    normalized_to_pixels,
    pixels_to_normalized,
    soft_argmax_2d,
    spatial_softmax,
)


def _peaks(batch: int, n_points: int, w: int, h: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    index = np.stack([rng.integers(0, w, (batch, n_points)), rng.integers(0, h, (batch, n_points))], axis=-1)
    heatmaps = torch.full((batch, n_points, w, h), -5.0)
    for b in range(batch):
        for m in range(n_points):
            heatmaps[b, m, index[b, m, 0], index[b, m, 1]] = 20.0
    return heatmaps, index


@pytest.mark.parametrize(
    "n_points, w, h", [(1, 64, 64), (16, 64, 64), (16, 112, 112)], ids=["roi_256px", "landmarks", "landmarks_450px"]
)
def test_sharp_peak_returns_its_pixel_centre(n_points, w, h):
    heatmaps, index = _peaks(2, n_points, w, h, seed=3)
    coords = SoftArgmax2D()(heatmaps)
    assert coords.shape == (2, n_points, 2)
    expected = (index + 0.5) / np.array([w, h])
    np.testing.assert_allclose(coords.numpy(), expected, atol=1e-3)


def test_paper_grid_is_eq3():
    heatmaps, index = _peaks(1, 4, 32, 16, seed=5)
    coords = SoftArgmax2D(grid="paper")(heatmaps)
    np.testing.assert_allclose(coords.numpy(), index / np.array([32, 16]), atol=1e-3)


def test_axis_order_is_x_then_y():
    heatmaps = torch.zeros(1, 1, 8, 4)  # W = 8 columns (x), H = 4 rows (y)
    heatmaps[0, 0, 6, 1] = 100.0
    torch.testing.assert_close(SoftArgmax2D()(heatmaps), torch.tensor([[[6.5 / 8, 1.5 / 4]]]))


def test_expectation_between_two_equal_peaks():
    heatmaps = torch.full((1, 1, 10, 10), -1e4)
    heatmaps[0, 0, 2, 5] = 0.0
    heatmaps[0, 0, 6, 5] = 0.0
    torch.testing.assert_close(SoftArgmax2D()(heatmaps), torch.tensor([[[4.5 / 10, 5.5 / 10]]]))


def test_spatial_softmax_sums_to_one():
    probs = spatial_softmax(torch.randn(2, 3, 7, 5, generator=torch.Generator().manual_seed(0)), torch.tensor(1.0))
    torch.testing.assert_close(probs.sum(dim=(-2, -1)), torch.ones(2, 3))


def test_beta_sharpens_towards_the_peak():
    heatmaps = torch.zeros(1, 1, 16, 16)
    heatmaps[0, 0, 12, 3] = 1.0
    peak = torch.tensor([12.5 / 16, 3.5 / 16])
    distances = [float((SoftArgmax2D(beta=b)(heatmaps)[0, 0] - peak).norm()) for b in (1.0, 5.0, 50.0)]
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < 1e-3


def test_learnable_beta_is_a_parameter_with_gradient():
    layer = SoftArgmax2D(beta=2.0, learnable_beta=True)
    assert [name for name, _ in layer.named_parameters()] == ["beta"]
    layer(torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(0))).sum().backward()
    assert layer.beta.grad is not None
    fixed = SoftArgmax2D(beta=2.0)
    assert list(fixed.parameters()) == [] and "beta" in dict(fixed.named_buffers())


@pytest.mark.parametrize("kwargs, message", [({"beta": 0.0}, "beta must be positive"), ({"grid": "x"}, "grid must")])
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SoftArgmax2D(**kwargs)


def test_rejects_non_4d_heatmaps():
    with pytest.raises(ValueError, match=r"heatmaps must be \(B, M, W, H\), got shape \[2, 8, 8\]"):
        soft_argmax_2d(torch.zeros(2, 8, 8), torch.tensor(1.0))


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_scriptable():
    layer = SoftArgmax2D(grid="paper")
    x = torch.randn(2, 3, 8, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(torch.jit.script(layer)(x), layer(x))


def test_pixel_conversions():
    points = torch.tensor([[0.0, 0.0], [63.0, 31.0], [float("nan"), 2.0]])
    normalised = pixels_to_normalized(points, (64, 32))
    torch.testing.assert_close(normalised[:2], torch.tensor([[0.5 / 64, 0.5 / 32], [63.5 / 64, 31.5 / 32]]))
    assert torch.isnan(normalised[2, 0])
    torch.testing.assert_close(normalized_to_pixels(normalised, (64, 32)), points, equal_nan=True)
    paper = pixels_to_normalized(points[:2], (64, 32), grid="paper")
    torch.testing.assert_close(paper, torch.tensor([[0.0, 0.0], [63 / 64, 31 / 32]]))
    torch.testing.assert_close(normalized_to_pixels(paper, (64, 32), grid="paper"), points[:2])


def test_quarter_resolution_heatmap_lands_on_the_input_pixel_centre():
    heatmaps = torch.full((1, 1, 16, 16), -1e4)
    heatmaps[0, 0, 5, 9] = 0.0  # heatmap cell k covers input pixels 4k..4k+3 of a 64 px image
    pixels = normalized_to_pixels(SoftArgmax2D()(heatmaps), (64, 64))
    torch.testing.assert_close(pixels, torch.tensor([[[4 * 5 + 1.5, 4 * 9 + 1.5]]]))


def test_conversion_errors():
    with pytest.raises(ValueError, match=r"spatial_size must be two positive sizes \(W, H\).*\[64\]"):
        pixels_to_normalized(torch.zeros(3, 2), (64,))
    with pytest.raises(ValueError, match="length 2, got shape \\[3, 3\\]"):
        normalized_to_pixels(torch.zeros(3, 3), (64, 64))
    with pytest.raises(ValueError, match="grid must be one of"):
        normalized_to_pixels(torch.zeros(3, 2), (64, 64), grid="centre")


def test_docstring_examples():
    assert doctest.testmod(soft_argmax_module).failed == 0
