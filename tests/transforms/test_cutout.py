"""RandCutout / RandCutoutd: patch size from the area fraction, fill values, probability, shared seeded draws."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

import hipmonai.transforms.cutout as cutout_module
from hipmonai.transforms.cutout import RandCutout, RandCutoutd, cutout_patch_size


def _cut_mask(before: torch.Tensor, after: torch.Tensor) -> np.ndarray:
    return np.asarray((before != after).any(dim=0))


@pytest.mark.parametrize(
    "size, fraction, expected",
    [((100, 100), 0.1, (32, 32)), ((64, 48), 0.1, (18, 18)), ((10, 1000), 0.1, (10, 32)), ((8, 8), 1.0, (8, 8))],
)
def test_patch_size(size, fraction, expected):
    assert cutout_patch_size(size, fraction) == expected


def test_cuts_one_square_of_the_requested_area_in_every_channel():
    img = torch.ones(2, 100, 100)
    out = RandCutout(area_fraction=0.1, prob=1.0).set_random_state(seed=0)(img)
    mask = _cut_mask(img, out)
    assert mask.sum() == 32 * 32
    xs, ys = np.nonzero(mask)
    assert (xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) == (32, 32)
    assert float(out[0][mask].abs().sum()) == 0.0 and float(out[1][mask].abs().sum()) == 0.0
    assert torch.equal(img, torch.ones(2, 100, 100))  # input untouched


def test_fill_values():
    img = torch.stack([torch.full((20, 20), 2.0), torch.arange(400.0).reshape(20, 20)])
    out = RandCutout(area_fraction=0.25, fill_value=7.5, prob=1.0).set_random_state(seed=1)(img)
    assert set(out[0][_cut_mask(img, out)].tolist()) == {7.5}
    mean_cut = RandCutout(area_fraction=0.25, fill_value="mean", prob=1.0).set_random_state(seed=1)
    out = mean_cut(img)
    region = _cut_mask(img[1:], out[1:])
    assert region.sum() == 100
    assert set(out[1][region].tolist()) == {199.5}  # channel mean
    assert float(out[0].min()) == 2.0  # channel 0's mean equals its values


def test_probability():
    img = torch.ones(1, 16, 16)
    assert torch.equal(RandCutout(prob=0.0)(img), img)
    cut = RandCutout(prob=0.5).set_random_state(seed=0)
    applied = [not torch.equal(cut(img), img) for _ in range(200)]
    assert 70 < sum(applied) < 130


def test_seeded_draws_repeat():
    img = torch.ones(1, 64, 64)
    masks = [_cut_mask(img, RandCutout(prob=1.0).set_random_state(seed=s)(img)) for s in (4, 4, 5)]
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], masks[2])


def test_meta_tensor_and_numpy_inputs():
    img = MetaTensor(torch.ones(1, 32, 32), meta={"spacing_xy_mm": (0.3, 0.3)})
    out = RandCutout(prob=1.0).set_random_state(seed=0)(img)
    assert isinstance(out, MetaTensor) and out.meta["spacing_xy_mm"] == (0.3, 0.3)
    out_np = RandCutout(prob=1.0).set_random_state(seed=0)(np.ones((1, 32, 32), dtype=np.float32))
    assert isinstance(out_np, torch.Tensor) and int((out_np == 0).sum()) == 10 * 10


def test_randomize_false_reuses_the_last_draw():
    cut = RandCutout(prob=1.0).set_random_state(seed=2)
    a = cut(torch.ones(1, 40, 40))
    b = cut(torch.full((1, 40, 40), 3.0), randomize=False)
    np.testing.assert_array_equal(np.asarray(a[0] == 0), np.asarray(b[0] == 0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"area_fraction": 0.0}, r"area_fraction must be in \(0, 1\], got 0.0"),
        ({"area_fraction": 1.5}, r"area_fraction must be in \(0, 1\], got 1.5"),
        ({"fill_value": "median"}, "fill_value must be a number or 'mean', got 'median'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RandCutout(**kwargs)


def test_bad_image():
    with pytest.raises(ValueError, match=r"channel-first \(C, W, H\), got shape \(5,\)"):
        RandCutout(prob=1.0)(torch.ones(5))


def test_dictionary_twin_shares_one_draw_and_leaves_landmarks():
    landmarks = torch.tensor([[3.0, 4.0], [10.0, 12.0]])
    data = {"image": torch.ones(1, 50, 40), "heatmap": torch.full((2, 50, 40), 5.0), "landmarks": landmarks}
    out = RandCutoutd(keys=("image", "heatmap"), area_fraction=0.1, prob=1.0).set_random_state(seed=3)(data)
    image_mask = _cut_mask(data["image"], out["image"])
    assert image_mask.sum() == 14 * 14
    np.testing.assert_array_equal(image_mask, _cut_mask(data["heatmap"], out["heatmap"]))
    assert out["landmarks"] is landmarks
    again = RandCutoutd(keys=("image", "heatmap"), area_fraction=0.1, prob=1.0).set_random_state(seed=3)(data)
    np.testing.assert_array_equal(image_mask, _cut_mask(data["image"], again["image"]))


def test_dictionary_twin_probability_missing_keys_and_shape_check():
    data = {"image": torch.ones(1, 20, 20)}
    untouched = RandCutoutd(keys="image", prob=0.0)(data)
    assert torch.equal(untouched["image"], data["image"])
    out = RandCutoutd(keys=("image", "mask"), prob=1.0, allow_missing_keys=True).set_random_state(seed=0)(data)
    assert int((out["image"] == 0).sum()) == 6 * 6
    with pytest.raises(KeyError):
        RandCutoutd(keys=("image", "mask"), prob=1.0)(data)
    mismatched = {"image": torch.ones(1, 20, 20), "other": torch.ones(1, 10, 20)}
    with pytest.raises(ValueError, match=r"share one spatial size: 'other' has \(10, 20\), 'image' has \(20, 20\)"):
        RandCutoutd(keys=("image", "other"), prob=1.0)(mismatched)


def test_docstring_examples():
    assert doctest.testmod(cutout_module).failed == 0
