from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.networks.layers import separable_filtering
from transform_factories import centroids_px, radiograph

from hipmonai import InputError
from hipmonai.transforms import (
    CropAroundPoint,
    CropAroundPointd,
    FlipLeftHip,
    FlipLeftHipd,
    ResampleCropAroundPoint,
    ResampleCropAroundPointd,
    ResampleToSpacing,
    ResampleToSpacingd,
    apply_affine_to_points,
    px_affine_between,
)
from hipmonai.transforms.spatial import _smooth


def gaussian_blobs(points_px: np.ndarray, shape_wh: tuple[int, int], sigma_px: float = 2.5) -> np.ndarray:
    """``(N, W, H)`` float32: one isotropic Gaussian per point (pixel units)."""
    xx, yy = np.meshgrid(np.arange(shape_wh[0]), np.arange(shape_wh[1]), indexing="ij")
    blobs = [np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma_px**2)) for x, y in points_px]
    return np.stack(blobs).astype(np.float32)


# ---------------------------------------------------------------- resample


@pytest.mark.parametrize(
    ("shape_wh", "spacing", "target", "expected_wh"),
    [
        ((101, 87), (0.45, 0.5), 0.4, (114, 108)),  # np.round(113.5), np.round(108.5): half to even
        ((200, 150), (0.15, 0.15), (0.4, 0.3), (76, 76)),  # np.round(199 * 0.375 + 1), np.round(149 * 0.5 + 1)
    ],
)
def test_resample_shape_affine_and_points(shape_wh, spacing, target, expected_wh):
    image = radiograph(np.zeros((1, *shape_wh), np.float32), spacing)
    landmarks = np.array([[0.0, 0.0], [10.0, 20.5], [shape_wh[0] - 1, shape_wh[1] - 1], [np.nan, np.nan]])
    out = ResampleToSpacingd("image", spacing_mm=target)({"image": image, "landmarks": landmarks})
    target_xy = np.broadcast_to(np.asarray(target, dtype=np.float64), (2,))
    assert tuple(out["image"].shape) == (1, *expected_wh)
    np.testing.assert_allclose(out["image"].affine.numpy(), np.diag([*target_xy, 1.0, 1.0]))
    np.testing.assert_allclose(out["pixel_spacing_mm"], target_xy)
    expected = landmarks * np.asarray(spacing) / target_xy  # x' = x * sx / tx, y' = y * sy / ty
    np.testing.assert_allclose(out["landmarks"], expected, rtol=1e-6)
    assert out["landmarks"].dtype == np.float32 and np.isnan(out["landmarks"][3]).all()
    np.testing.assert_allclose(out["px_affine"], px_affine_between(image.affine, out["image"].affine))


def test_resampled_image_content_follows_the_points(rng):
    spacing, shape_wh = (0.45, 0.5), (90, 80)
    points = rng.uniform(12, 65, size=(6, 2))
    image = radiograph(gaussian_blobs(points, shape_wh), spacing)
    out = ResampleToSpacingd("image", spacing_mm=0.4)({"image": image, "landmarks": points})
    # each blob is an ellipse in mm after resampling; its intensity centroid is still the moved point
    np.testing.assert_allclose(centroids_px(out["image"].numpy()), out["landmarks"], atol=0.02)


def test_resample_masks_nearest_keep_dtype_and_values(rng):
    spacing, shape_wh = (0.45, 0.5), (60, 50)
    mask = (rng.uniform(size=(4, *shape_wh)) > 0.7).astype(np.uint8) * np.array([1, 2, 3, 4], np.uint8)[:, None, None]
    data = {"image": radiograph(rng.uniform(size=(1, *shape_wh)).astype(np.float32), spacing)}
    data["lesion_mask"] = radiograph(mask, spacing)
    out = ResampleToSpacingd(("image", "lesion_mask"), 0.4, mode=("bilinear", "nearest"), landmarks_key=None)(data)
    assert out["lesion_mask"].dtype == torch.uint8 and out["image"].dtype == torch.float32
    for channel in range(4):
        assert set(np.unique(out["lesion_mask"][channel].numpy())) <= {0, channel + 1}
    assert out["lesion_mask"].shape[1:] == out["image"].shape[1:]
    assert "landmarks" not in out


def test_anti_aliasing_smooths_only_when_shrinking():
    checker = (np.indices((120, 120)).sum(axis=0) % 2).astype(np.float32)[None]
    image = radiograph(checker, (0.15, 0.15))
    aliased = ResampleToSpacing(0.4, anti_aliasing=False)(image)
    smooth = ResampleToSpacing(0.4, anti_aliasing=True)(image)
    assert float(smooth.std()) < 0.2 * float(aliased.std())  # the 1-pixel pattern cannot survive 0.4 mm pixels
    np.testing.assert_allclose(smooth.affine.numpy(), aliased.affine.numpy())
    upsampled = [ResampleToSpacing(0.1, anti_aliasing=a)(image) for a in (False, True)]
    torch.testing.assert_close(upsampled[0].as_tensor(), upsampled[1].as_tensor())  # nothing to remove


def test_resample_rejects_unaligned_keys_and_plain_arrays():
    image = radiograph(np.zeros((1, 20, 10), np.float32), (0.5, 0.5))
    resample = ResampleToSpacingd(("image", "mask"), 0.4)
    with pytest.raises(InputError, match=r"data\['mask'\] spatial shape \(20, 11\) differs"):
        resample({"image": image, "mask": radiograph(np.zeros((1, 20, 11)), (0.5, 0.5))})
    with pytest.raises(InputError, match=r"data\['mask'\] affine differs"):
        resample({"image": image, "mask": radiograph(np.zeros((1, 20, 10)), (0.4, 0.4))})
    with pytest.raises(InputError, match="must be a MetaTensor"):
        ResampleToSpacing(0.4)(torch.zeros(1, 20, 10))
    with pytest.raises(ValueError, match=r"spacing_mm must be one positive number .*0\.0"):
        ResampleToSpacing((0.4, 0.0))


def test_resample_allow_missing_keys_and_config_default():
    image = radiograph(np.zeros((1, 21, 11), np.float32), (0.8, 0.8))
    transform = ResampleToSpacingd(("image", "lesion_mask"), landmarks_key=None, allow_missing_keys=True)
    out = transform({"image": image})
    assert tuple(out["image"].shape) == (1, 41, 21)  # configs/preprocessing.json: 0.4 mm
    with pytest.raises(KeyError, match="lesion_mask"):
        ResampleToSpacingd(("image", "lesion_mask"), 0.4, landmarks_key=None)({"image": image})


# ---------------------------------------------------------------- crop


def padded_reference(array: np.ndarray, offset: np.ndarray, size: int, value: float) -> np.ndarray:
    """What a crop of ``size`` at ``offset`` must hold: the array padded on all sides with ``value``."""
    pad = 2 * size
    big = np.pad(array, ((0, 0), (pad, pad), (pad, pad)), constant_values=value)
    return big[:, pad + offset[0] : pad + offset[0] + size, pad + offset[1] : pad + offset[1] + size]


@pytest.mark.parametrize(
    ("center", "expected_offset"),
    [
        ((9.0, 8.0), (7, 6)),  # inside: no padding
        ((0.4, 8.0), (-2, 6)),  # left border
        ((18.6, 8.0), (16, 6)),  # right border (W = 20)
        ((9.0, 0.0), (7, -2)),  # top border
        ((9.0, 14.0), (7, 12)),  # bottom border (H = 15), 11.5 rounds up
        ((-1.0, 16.2), (-3, 14)),  # corner, centre outside the image
    ],
)
def test_crop_pads_at_every_border_and_shifts_points_exactly(center, expected_offset):
    size = 6
    array = np.arange(1, 1 + 2 * 20 * 15, dtype=np.float32).reshape(2, 20, 15)
    image = radiograph(array, (0.4, 0.4))
    landmarks = np.array([[3.25, 4.5], [19.0, 0.0], [np.nan, np.nan]])
    data = {"image": image, "landmarks": landmarks, "femoral_head_center_px": np.array(center)}
    out = CropAroundPointd("image", roi_size_px=size, pad_value=-7.0)(data)
    np.testing.assert_array_equal(out["crop_offset_xy"], expected_offset)
    assert out["crop_offset_xy"].dtype == np.int64
    np.testing.assert_array_equal(out["image"].numpy(), padded_reference(array, np.array(expected_offset), size, -7.0))
    np.testing.assert_array_equal(out["landmarks"], (landmarks - np.array(expected_offset)).astype(np.float32))
    # the MetaTensor affine moved by the same offset: points and image agree in mm
    np.testing.assert_allclose(out["px_affine"], px_affine_between(image.affine, out["image"].affine), atol=1e-12)
    crop_center = np.asarray(center) - out["crop_offset_xy"]
    assert np.all(np.abs(crop_center - (size - 1) / 2) <= 0.5)


def test_crop_pad_value_min_by_default_and_per_key(rng):
    image = radiograph(rng.uniform(3.0, 9.0, size=(1, 12, 10)).astype(np.float32), (0.4, 0.4))
    mask = radiograph(np.ones((1, 12, 10), np.uint8), (0.4, 0.4))
    data = {"image": image, "mask": mask, "femoral_head_center_px": (0.0, 0.0)}
    out = CropAroundPointd(("image", "mask"), roi_size_px=(8, 6), pad_value=("min", 0), landmarks_key=None)(data)
    assert tuple(out["image"].shape) == (1, 8, 6) and out["mask"].dtype == torch.uint8
    assert float(out["image"][0, 0, 0]) == pytest.approx(float(image.min()))
    assert int(out["mask"][0, 0, 0]) == 0 and int(out["mask"][0, -1, -1]) == 1
    assert "landmarks" not in out
    plain = CropAroundPoint(4, pad_value=5.0)(np.zeros((1, 3, 3), np.float32), (0.0, 0.0))
    np.testing.assert_array_equal(plain[0, :, 0], [5.0, 5.0, 5.0, 5.0])


def test_crop_errors():
    image = radiograph(np.zeros((1, 10, 10), np.float32), (0.4, 0.4))
    with pytest.raises(InputError, match=r"lies entirely outside the image of spatial shape \(10, 10\)"):
        CropAroundPoint(4)(image, (40.0, 5.0))
    with pytest.raises(InputError, match=r"crop centre must be finite .*nan"):
        CropAroundPoint(4)(image, (np.nan, 5.0))
    with pytest.raises(ValueError, match="pad_value must be a finite number or 'min', got 'max'"):
        CropAroundPoint(4, pad_value="max")
    with pytest.raises(ValueError, match="roi_size_px must be a positive integer, got 0"):
        CropAroundPoint(0)


# ---------------------------------------------------------------- flip


@pytest.mark.parametrize(("side", "flipped"), [("right", False), ("left", True), (" Left ", True)])
def test_flip_left_hips_only(side, flipped):
    array = np.arange(2 * 7 * 5, dtype=np.float32).reshape(2, 7, 5)
    image = radiograph(array, (0.4, 0.4))
    landmarks = torch.tensor([[0.0, 1.0], [2.5, 4.0], [float("nan"), float("nan")]], dtype=torch.float64)
    out = FlipLeftHipd("image")({"image": image, "landmarks": landmarks, "side": side})
    assert out["flipped"] is flipped
    np.testing.assert_array_equal(out["image"].numpy(), array[:, ::-1] if flipped else array)
    expected = landmarks.numpy().copy()
    if flipped:
        expected[:, 0] = 7 - 1 - expected[:, 0]
    assert isinstance(out["landmarks"], torch.Tensor) and out["landmarks"].dtype == torch.float32
    np.testing.assert_array_equal(out["landmarks"].numpy(), expected.astype(np.float32))
    np.testing.assert_allclose(out["px_affine"], px_affine_between(image.affine, out["image"].affine), atol=1e-12)


def test_flip_rejects_unknown_sides():
    image = radiograph(np.zeros((1, 4, 4), np.float32), (0.4, 0.4))
    with pytest.raises(InputError, match="side must be 'right' or 'left', got 'L'"):
        FlipLeftHipd("image")({"image": image, "side": "L"})
    with pytest.raises(InputError, match="got None"):
        FlipLeftHip()(image, None)


def test_array_matrices_agree_with_the_dictionary_results():
    image = radiograph(np.zeros((1, 30, 20), np.float32), (0.45, 0.5))
    resampled = ResampleToSpacing(0.4)(image)
    cropper = CropAroundPoint(8)
    offset = cropper.offset((5.2, 3.7))
    cropped = cropper(resampled, (5.2, 3.7))
    flipped = FlipLeftHip()(cropped, "left")
    chain = (
        FlipLeftHip.points_affine("left", 8)
        @ CropAroundPoint.points_affine(offset)
        @ ResampleToSpacing.points_affine(image.affine, resampled.affine)
    )
    np.testing.assert_allclose(chain, px_affine_between(image.affine, flipped.affine), atol=1e-12)
    point = np.array([[4.0, 2.0]])
    np.testing.assert_allclose(
        apply_affine_to_points(point, chain), [[8 - 1 - (4.0 * 1.125 - offset[0]), 2.0 * 1.25 - offset[1]]]
    )
    assert isinstance(flipped, MetaTensor)


# ---------------------------------------------------------------- resample only the crop


def test_smoothing_is_monai_separable_filtering(rng):
    image = radiograph(rng.uniform(0, 4000, size=(2, 37, 29)).astype(np.float32), (0.15, 0.3))
    kernels = ResampleToSpacing(0.4).kernels(image)
    assert [len(k) for k in kernels] == [7, 3]  # sigma 0.83 and 0.17 input pixels, 4 sigma either side
    assert all(float(k.sum()) == pytest.approx(1.0, abs=1e-6) for k in kernels)  # a flat region keeps its value
    expected = separable_filtering(image.as_tensor()[None], kernels, mode="replicate")[0]
    torch.testing.assert_close(_smooth(image.as_tensor(), kernels), expected, rtol=1e-6, atol=1e-3)
    assert ResampleToSpacing(0.4, anti_aliasing=False).kernels(image) is None
    assert ResampleToSpacing(0.4).kernels(image, mode="nearest") is None
    assert ResampleToSpacing(0.1).kernels(image) is None  # nothing shrinks


def test_grid_is_the_resampled_images(rng):
    resampler = ResampleToSpacing((0.4, 0.3))
    for shape_wh, spacing in [((101, 87), (0.45, 0.5)), ((101, 87), (0.45, 0.5)), ((60, 87), (0.2, 0.5))]:
        image = radiograph(rng.uniform(size=(1, *shape_wh)).astype(np.float32), spacing)
        resampled = resampler(image)
        affine, shape = resampler.grid(image)  # the second image reuses the first's grid, the third must not
        assert shape == tuple(resampled.shape[1:]) and affine.dtype == torch.float64
        torch.testing.assert_close(affine, resampled.affine.to(torch.float64), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("spacing", "center", "padded"),
    [
        ((0.15, 0.18), (40.3, 35.6), False),  # both axes shrink: Gaussian margins
        ((0.15, 0.18), (3.2, 60.4), True),  # left and bottom borders
        ((0.3, 0.5), (70.0, 1.0), True),  # x shrinks, y enlarges; right and top borders
    ],
)
def test_resample_crop_equals_resample_then_crop(rng, spacing, center, padded):
    shape_wh = (int(30 / spacing[0]), int(26 / spacing[1]))
    array = np.round(rng.uniform(100, 4000, size=(1, *shape_wh)))  # integers, exact in uint16 and float32
    array[:, :12] = 50  # a flat darkest patch wider than the Gaussian: the minimum survives the smoothing
    size = 24
    expected = CropAroundPoint(size)(ResampleToSpacing(0.4)(radiograph(array.astype(np.float32), spacing)), center)
    for stored in (np.float32, np.uint16):  # integer pixels: only the region is converted, to float32
        out = ResampleCropAroundPoint(0.4, size)(radiograph(array.astype(stored), spacing), center)
        assert isinstance(out, MetaTensor) and out.dtype == torch.float32 and tuple(out.shape) == (1, size, size)
        torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), rtol=1e-6, atol=1e-3)
        torch.testing.assert_close(out.affine, expected.affine.to(out.affine.dtype), rtol=0, atol=1e-12)
    offset = CropAroundPoint(size).offset(center)
    resampled_wh = ResampleToSpacing(0.4).grid(radiograph(array, spacing))[1]
    assert padded is bool((offset < 0).any() or (offset + size > np.asarray(resampled_wh)).any())
    mask = (rng.uniform(size=(3, *shape_wh)) > 0.5).astype(np.uint8)
    nearest = ResampleCropAroundPoint(0.4, size, mode="nearest", pad_value=0)(radiograph(mask, spacing), center)
    reference = CropAroundPoint(size, pad_value=0)(
        ResampleToSpacing(0.4, mode="nearest")(radiograph(mask, spacing)), center
    )
    assert nearest.dtype == torch.uint8
    torch.testing.assert_close(nearest.as_tensor(), reference.as_tensor(), rtol=0, atol=0)


def test_resample_crop_pads_with_the_input_minimum_or_a_value(rng):
    array = rng.uniform(10, 20, size=(1, 80, 70)).astype(np.float32)
    array[0, 50, 40] = -5.0  # isolated: smoothing lifts it, the padding keeps it
    image = radiograph(array, (0.15, 0.15))
    out = ResampleCropAroundPoint(0.4, 16)(image, (0.0, 0.0))
    assert float(out[0, 0, 0]) == -5.0
    assert float(ResampleCropAroundPoint(0.4, 16, pad_value=-9.0)(image, (0.0, 0.0))[0, 0, 0]) == -9.0
    assert float(ResampleCropAroundPoint(0.4, 16)(image, (0.0, 0.0), pad_value=7.0)[0, 0, 0]) == 7.0


def test_resample_crop_dictionary_moves_points_and_records_the_crop(rng):
    spacing, shape_wh = (0.15, 0.18), (200, 170)
    points = np.column_stack((rng.uniform(60, 140, 6), rng.uniform(60, 110, 6)))
    points[5] = np.nan
    data = {
        "image": radiograph(rng.uniform(size=(1, *shape_wh)).astype(np.float32), spacing),
        "lesion_mask": radiograph((rng.uniform(size=(2, *shape_wh)) > 0.5).astype(np.uint8), spacing),
        "landmarks": points,
        "femoral_head_center_px": np.array([30.2, 35.7]),
    }
    keys = ("image", "lesion_mask")
    out = ResampleCropAroundPointd(keys, 0.4, 32, mode=("bilinear", "nearest"), pad_value=("min", 0))(data)
    expected = CropAroundPointd(keys, roi_size_px=32, pad_value=("min", 0))(
        ResampleToSpacingd(keys, 0.4, mode=("bilinear", "nearest"))(data)
    )
    for key in ("landmarks", "crop_offset_xy", "px_affine", "pixel_spacing_mm"):
        np.testing.assert_array_equal(out[key], expected[key], err_msg=key)
    assert out["landmarks"].dtype == np.float32 and out["crop_offset_xy"].dtype == np.int64
    torch.testing.assert_close(out["lesion_mask"].as_tensor(), expected["lesion_mask"].as_tensor(), rtol=0, atol=0)
    torch.testing.assert_close(out["image"].as_tensor(), expected["image"].as_tensor(), rtol=1e-6, atol=1e-6)
    matrix = ResampleCropAroundPoint.points_affine(data["image"].affine, expected["image"].affine, np.zeros(2))
    np.testing.assert_allclose(matrix, px_affine_between(data["image"].affine, expected["image"].affine), atol=1e-12)
    np.testing.assert_allclose(out["px_affine"], px_affine_between(data["image"].affine, out["image"].affine))


def test_resample_crop_errors_and_missing_keys():
    image = radiograph(np.zeros((1, 40, 30), np.float32), (0.2, 0.2))
    with pytest.raises(InputError, match=r"lies entirely outside the image of spatial shape \(20, 16\)"):
        ResampleCropAroundPoint(0.4, 8)(image, (60.0, 5.0))  # the resampled shape: 15.5 px rounds to 16
    with pytest.raises(InputError, match="must be a MetaTensor"):
        ResampleCropAroundPoint(0.4, 8)(torch.zeros(1, 40, 30), (5.0, 5.0))
    transform = ResampleCropAroundPointd(("image", "lesion_mask"), 0.4, 8, allow_missing_keys=True)
    with pytest.raises(KeyError, match="centre key 'femoral_head_center_px'"):
        transform({"image": image})
    out = transform({"image": image, "femoral_head_center_px": (5.0, 5.0)})
    assert tuple(out["image"].shape) == (1, 8, 8) and "lesion_mask" not in out
    with pytest.raises(KeyError, match="reference key 'image'"):
        transform({"lesion_mask": image, "femoral_head_center_px": (5.0, 5.0)})
    with pytest.raises(ValueError, match="ref_key 'mask' must be one of keys"):
        ResampleCropAroundPointd("image", ref_key="mask")
