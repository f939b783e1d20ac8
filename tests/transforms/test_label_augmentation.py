"""Label augmentation (Suh et al. 2023): dilated landmark maps and argmax landmark read-out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from hipmonai.transforms import (
    DilatedLandmarkLabels,
    DilatedLandmarkLabelsd,
    HeatmapArgmaxd,
    dilated_landmark_labels,
    dilated_pixel_count,
    heatmap_argmax,
)


def _scipy_dilation(x: int, y: int, size: tuple[int, int], k: int) -> np.ndarray:
    seed = np.zeros(size, dtype=bool)
    seed[x, y] = True
    if k == 0:
        return seed
    return ndimage.binary_dilation(seed, structure=ndimage.generate_binary_structure(2, 1), iterations=k)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("point", [(7.2, 6.8), (0.0, 0.0), (12.0, 3.4), (1.0, 9.0)])
def test_dilation_equals_iterated_4_connected_binary_dilation(k, point):
    size = (13, 10)
    maps = dilated_landmark_labels(torch.tensor([point]), size, k)
    expected = _scipy_dilation(round(point[0]), round(point[1]), size, k)
    np.testing.assert_array_equal(maps[0].numpy().astype(bool), expected)


@pytest.mark.parametrize("k", [0, 1, 4, 10])
def test_interior_pixel_count_is_2k2_plus_2k_plus_1(k):
    maps = dilated_landmark_labels(torch.tensor([[[30.0, 30.0]]]), (61, 61), k)
    assert maps.shape == (1, 1, 61, 61) and int(maps.sum()) == dilated_pixel_count(k) == 2 * k * k + 2 * k + 1


def test_missing_or_outside_landmarks_give_empty_channels_and_bad_k_is_refused():
    maps = dilated_landmark_labels(torch.tensor([[float("nan"), 2.0], [20.0, 1.0], [1.0, 1.0]]), (8, 8), 2)
    assert maps[0].sum() == 0 and maps[1].sum() == 0 and maps[2].sum() > 0
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="dilation"):
            dilated_landmark_labels(torch.zeros(1, 2), (4, 4), bad)


def test_array_and_dictionary_twins_follow_a_changed_dilation():
    renderer = DilatedLandmarkLabels((9, 9), dilation=3)
    assert int(renderer(np.array([[4.0, 4.0]])).sum()) == 25
    twin = DilatedLandmarkLabelsd("landmarks", dilation=3)
    twin.dilation = 1
    out = twin({"image": torch.zeros(1, 9, 7), "landmarks": np.array([[4.0, 4.0]])})
    assert out["label_map"].shape == (1, 9, 7) and int(out["label_map"].sum()) == 5


def test_argmax_returns_the_peak_in_x_y_order_and_refinement_is_subpixel():
    maps = torch.full((2, 11, 9), -10.0)
    maps[0, 7, 2] = 5.0
    maps[1, 3, 4] = 5.0
    maps[1, 4, 4] = 5.0  # tie: the first in x-major order wins, the refinement averages both
    np.testing.assert_array_equal(heatmap_argmax(maps).numpy(), [[7, 2], [3, 4]])
    refined = heatmap_argmax(maps[None], refine_window=3)[0]
    np.testing.assert_allclose(refined[0].numpy(), [7, 2], atol=1e-3)
    np.testing.assert_allclose(refined[1].numpy(), [3.5, 4], atol=1e-3)
    border = torch.full((1, 5, 5), -10.0)
    border[0, 0, 0] = 5.0
    np.testing.assert_allclose(heatmap_argmax(border, refine_window=5)[0].numpy(), [0, 0], atol=1e-3)
    with pytest.raises(ValueError, match="odd"):
        heatmap_argmax(maps, refine_window=2)
    out = HeatmapArgmaxd("pred")({"pred": maps})
    assert out["pred"].shape == (2, 2)


def test_landmarks_outside_the_image_are_masked_for_scoring():
    from hipmonai.transforms import MaskLandmarksOutside, MaskLandmarksOutsided

    points = np.array([[0.0, 0.0], [9.4, 4.0], [9.6, 4.0], [-0.6, 2.0], [3.0, np.nan]], dtype=np.float32)
    masked = MaskLandmarksOutside((10, 5))(points)
    assert isinstance(masked, np.ndarray)
    np.testing.assert_array_equal(np.isnan(masked).any(axis=1), [False, False, True, True, True])
    np.testing.assert_array_equal(masked[:2], points[:2])
    out = MaskLandmarksOutsided("label", image_key="image")({"image": torch.zeros(1, 10, 5), "label": points})
    np.testing.assert_array_equal(np.isnan(out["label"]).any(axis=1), [False, False, True, True, True])
    with pytest.raises(ValueError, match="spatial_size must be"):
        MaskLandmarksOutside()(points)
