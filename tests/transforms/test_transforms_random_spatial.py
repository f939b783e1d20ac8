from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

import hipmonai.transforms.random_spatial as random_spatial_module
from hipmonai.transforms.geometry import px_affine_between
from hipmonai.transforms.random_spatial import (
    RandRotate2D,
    RandRotate2Dd,
    rotation_points_affine,
    rotation_sampling_theta,
)


def _meta(array: np.ndarray) -> MetaTensor:
    affine = torch.diag(torch.tensor([0.4, 0.7, 1.0, 1.0], dtype=torch.float64))
    return MetaTensor(torch.as_tensor(array), affine=affine)


def test_module_doctest():
    assert doctest.testmod(random_spatial_module, raise_on_error=False).failed == 0


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
    data = {
        "image": _meta(rng.random((1, 32, 32), dtype=np.float32)),
        "lesion_mask": _meta(mask),
        "landmarks": np.array([[22.0, 7.0]], np.float32),
    }
    transform = RandRotate2Dd(
        ["image", "lesion_mask"], max_angle_deg=30, mode=["bilinear", "nearest"], padding_mode=["border", "zeros"]
    ).set_random_state(3)
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
    with pytest.raises(ValueError, match=r"spatial_shape .* got \(8,\)"):
        rotation_sampling_theta(np.eye(3), (8,))


# ------------------------------------------------------------------- the plain-tensor path against MONAI's Rotate
def _monai_rotate_reference(img: MetaTensor, angle_rad: float, mode: str, padding_mode: str) -> MetaTensor:
    """The implementation before the plain-tensor path (MONAI ``Rotate`` on a ``MetaTensor``), kept as reference."""
    from monai.transforms import Rotate

    return Rotate(angle=angle_rad, keep_size=True, mode=mode, padding_mode=padding_mode, dtype=np.float32)(img)


@pytest.fixture
def recorded_grids(monkeypatch) -> list[torch.Tensor]:
    """Every grid handed to ``torch.nn.functional.grid_sample`` (MONAI's and ours look it up at call time)."""
    grids: list[torch.Tensor] = []
    sample = torch.nn.functional.grid_sample

    def recording(*args, **kwargs):
        grids.append(kwargs["grid"] if "grid" in kwargs else args[1])
        return sample(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "grid_sample", recording)
    return grids


@pytest.mark.parametrize("shape", [(128, 128), (140, 140), (41, 97)])
@pytest.mark.parametrize("angle_deg", [-10.0, -3.3, 0.7, 10.0, 45.0, 170.0])
def test_sampling_grid_and_image_match_monai_rotate(shape, angle_deg, recorded_grids, rng):
    """Grid: equal to MONAI's to float32 rounding (<= 1e-6 in grid_sample's [-1, 1] units, measured 4.8e-7, i.e.
    < 4e-5 px); bilinear/bicubic images within 1e-4 of the intensity range (measured 3.7e-5, bicubic)."""
    image = MetaTensor(torch.as_tensor(rng.random((2, *shape), dtype=np.float32)))
    rotate = RandRotate2D(max_angle_deg=180, prob=1.0)
    rotate.randomize()
    rotate.angle_rad = float(np.deg2rad(angle_deg))
    for mode, padding_mode in [("bilinear", "border"), ("bilinear", "zeros"), ("bicubic", "reflection")]:
        new = rotate(image, randomize=False, mode=mode, padding_mode=padding_mode)
        new_grid = recorded_grids[-1]
        old = _monai_rotate_reference(image, rotate.angle_rad, mode, padding_mode)
        assert recorded_grids[-1] is not new_grid
        old_grid = recorded_grids[-1]  # (a MetaTensor input passes through grid_sample's torch-function hook twice)
        assert new_grid.shape == old_grid.shape == (1, *shape, 2)
        assert float((new_grid - old_grid).abs().max()) <= 1e-6
        assert new.dtype == old.dtype == torch.float32 and new.shape == old.shape
        assert float((new - old).abs().max()) <= 1e-4
        np.testing.assert_allclose(new.affine, old.affine, atol=1e-12)


def test_nearest_matches_monai_rotate_and_keeps_the_dtype():
    """Nearest picks the same pixels except where a sample lies within float rounding of a pixel edge (none here; at
    exactly 45 degrees, where many samples fall on edges, ~1 % of the pixels differ by one position)."""
    mask = torch.as_tensor(np.random.default_rng(2).integers(0, 5, (3, 128, 96), dtype=np.uint8))
    rotate = RandRotate2D(max_angle_deg=180, prob=1.0)
    rotate.randomize()
    for angle_deg in (-10.0, 3.0, 10.0):
        rotate.angle_rad = float(np.deg2rad(angle_deg))
        new = rotate(MetaTensor(mask), randomize=False, mode="nearest", padding_mode="zeros")
        old = _monai_rotate_reference(MetaTensor(mask), rotate.angle_rad, "nearest", "zeros")
        assert new.dtype == torch.uint8
        assert torch.equal(new.as_tensor(), old.as_tensor().to(torch.uint8))


def _blob(shape: tuple[int, int], point: np.ndarray, sigma_px: float = 1.5) -> np.ndarray:
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return np.exp(-((x - point[0]) ** 2 + (y - point[1]) ** 2) / (2 * sigma_px**2)).astype(np.float32)[None]


@pytest.mark.parametrize("seed", range(6))
def test_a_bright_dot_lands_within_half_a_pixel_of_its_moved_landmark(seed):
    shape = (57, 41)
    point = np.array([38.3, 11.6])
    transform = RandRotate2Dd("image", max_angle_deg=40, prob=1.0, padding_mode="zeros").set_random_state(seed)
    out = transform({"image": _meta(_blob(shape, point)), "landmarks": point[None].astype(np.float32)})
    image = np.asarray(out["image"][0])
    moved = out["landmarks"][0]
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    near = np.hypot(x - moved[0], y - moved[1]) < 6  # the blob's mass, clear of the borders
    weights = image * near
    centroid = np.array([(weights * x).sum(), (weights * y).sum()]) / weights.sum()
    assert abs(transform.rotator.angle_rad) > 0
    assert np.hypot(*(centroid - moved)) <= 0.5


def test_the_draw_stream_is_unchanged_for_a_seed():
    """One ``rand`` (apply?) of the dictionary transform, then ``rand`` + ``uniform`` of its rotator, per item."""
    transform = RandRotate2Dd("image", max_angle_deg=10, prob=1.0).set_random_state(11)
    outer, inner = np.random.RandomState(11), np.random.RandomState(11)
    data = {"image": _meta(np.zeros((1, 16, 16), np.float32))}
    for _ in range(5):
        transform(data)
        outer.rand()
        inner.rand()
        assert transform.rotator.angle_rad == np.deg2rad(inner.uniform(-10, 10))


def test_output_types_and_no_trace():
    from monai.data import set_track_meta

    image = np.random.default_rng(0).random((1, 20, 16), dtype=np.float32)
    rotate = RandRotate2D(max_angle_deg=30, prob=1.0).set_random_state(1)
    rotate.randomize()
    for img in (image, torch.as_tensor(image, dtype=torch.float64), _meta(image)):
        out = rotate(img, randomize=False)
        assert type(out) is MetaTensor and out.dtype == torch.float32 and len(out.applied_operations) == 0
    np.testing.assert_allclose(rotate(image, randomize=False), rotate(_meta(image), randomize=False))
    set_track_meta(False)
    try:
        out = rotate(_meta(image), randomize=False)
    finally:
        set_track_meta(True)
    assert type(out) is torch.Tensor
    with pytest.raises(ValueError, match="cubic"):
        RandRotate2D(mode="cubic")
    with pytest.raises(ValueError, match="mirror"):
        RandRotate2Dd("image", padding_mode="mirror")
