from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from hipmonai.transforms.geometry import px_affine_between
from hipmonai.transforms.random_spatial import RandRotate2D, RandRotate2Dd, rotation_points_affine


def _meta(array: np.ndarray) -> MetaTensor:
    affine = torch.diag(torch.tensor([0.4, 0.7, 1.0, 1.0], dtype=torch.float64))
    return MetaTensor(torch.as_tensor(array), affine=affine)


@pytest.mark.parametrize("angle_deg", [-25.0, 10.0, 90.0])
def test_points_matrix_equals_the_image_affine_change(angle_deg):
    image = _meta(np.random.default_rng(0).random((1, 40, 30), dtype=np.float32))
    rotate = RandRotate2D(max_angle_deg=90, prob=1.0)
    rotate.randomize()
    rotate.angle_rad = np.deg2rad(angle_deg)
    out = rotate(image, randomize=False)
    np.testing.assert_allclose(rotate.points_affine((40, 30)), px_affine_between(image.affine, out.affine), atol=1e-9)


def test_a_bright_pixel_lands_where_the_landmark_goes():
    image = np.zeros((1, 41, 41), np.float32)
    image[0, 30, 12] = 1.0
    transform = RandRotate2Dd("image", max_angle_deg=40, prob=1.0, mode="bilinear", padding_mode="zeros")
    transform.set_random_state(5)
    out = transform({"image": _meta(image), "landmarks": np.array([[30.0, 12.0], [np.nan, np.nan]], np.float32)})
    peak = np.unravel_index(int(np.argmax(np.asarray(out["image"][0]))), (41, 41))
    assert abs(transform.rotator.angle_rad) > np.deg2rad(5)
    np.testing.assert_allclose(out["landmarks"][0], peak, atol=1.0)
    assert np.isnan(out["landmarks"][1]).all() and out["landmarks"].dtype == np.float32
    np.testing.assert_allclose(out["px_affine"], transform.rotator.points_affine((41, 41)))


def test_one_draw_for_image_mask_and_landmarks_and_masks_stay_integer():
    rng = np.random.default_rng(1)
    mask = np.zeros((4, 32, 32), np.uint8)
    mask[1, 20:24, 5:9] = 1
    data = {"image": _meta(rng.random((1, 32, 32), dtype=np.float32)), "lesion_mask": _meta(mask),
            "landmarks": np.array([[22.0, 7.0]], np.float32)}
    transform = RandRotate2Dd(["image", "lesion_mask"], max_angle_deg=30, mode=["bilinear", "nearest"],
                              padding_mode=["border", "zeros"]).set_random_state(3)
    out = transform(data)
    assert out["lesion_mask"].dtype == torch.uint8 and out["image"].dtype == torch.float32
    x, y = np.round(out["landmarks"][0]).astype(int)
    assert out["lesion_mask"][1, x, y] == 1  # the mask moved with the landmark


def test_prob_zero_and_zero_angle_leave_data_unchanged_but_record_identity():
    data = {"image": _meta(np.ones((1, 8, 8), np.float32)), "landmarks": np.array([[1.0, 2.0]], np.float32)}
    out = RandRotate2Dd("image", prob=0.0)(data)
    assert out["image"] is data["image"]
    np.testing.assert_array_equal(out["landmarks"], data["landmarks"])
    np.testing.assert_array_equal(out["px_affine"], np.eye(3))
    np.testing.assert_allclose(rotation_points_affine(0.0, (8, 8)), np.eye(3))


def test_invalid_arguments_name_the_value():
    with pytest.raises(ValueError, match="max_angle_deg"):
        RandRotate2D(max_angle_deg=-1)
    with pytest.raises(ValueError, match="prob"):
        RandRotate2D(prob=1.5)
    with pytest.raises(ValueError, match="spatial_shape"):
        rotation_points_affine(0.1, (8,))
