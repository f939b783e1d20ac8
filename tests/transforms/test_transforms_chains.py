"""The whole hip chain on a painted phantom: every landmark must land on its own transformed blob; and the chain,
which resamples only the crop, against a reference that resamples the whole radiograph first."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.networks.layers import separable_filtering
from monai.networks.layers.convutils import gaussian_1d
from monai.transforms import Compose, MapTransform, ScaleIntensityRangePercentilesd, Spacing
from transform_factories import centroids_px, paint_discs, pixel_grid_mm, radiograph

from hipmonai.io import load_landmark_groups
from hipmonai.transforms import (
    CropAroundPointd,
    FemoralHeadCircled,
    FlipLeftHipd,
    apply_affine_to_points,
    hip_preprocessing,
    px_affine_between,
)

SPACING_XY_MM = (0.45, 0.5)  # anisotropic on purpose
SHAPE_WH = (240, 220)  # 107.55 x 109.5 mm between the first and last pixel centres
TARGET_MM = 0.4
CROP_PX = 96  # 38.4 mm
HEAD_RADIUS_MM = 12.0
BLOB_RADIUS_MM = 3.5  # 8.75 px at 0.4 mm: large enough that pixelation moves a centroid < 0.35 px
LESION_RADIUS_MM = 2.5
MISSING = [30, 31]
GROUPS = load_landmark_groups("hip")
HEAD = GROUPS.curves["femoral_head"]
LESION_CENTRES = [indices[0] for indices in GROUPS.targets.values()]  # one lesion per osteophyte target zone


def build_hip(side: str, center_mm: tuple[float, float], arc: tuple[float, float], seed: int) -> dict:
    """One hip: image with a bright femoral head disc, 80 landmarks (head sub-curve on the disc contour), masks."""
    rng = np.random.default_rng(seed)
    extent = (np.asarray(SHAPE_WH) - 1) * np.asarray(SPACING_XY_MM)
    margin = BLOB_RADIUS_MM + 1.0
    low = np.maximum(np.asarray(center_mm) - 14.0, margin)  # blobs inside the crop (+-19 mm) and the image
    high = np.minimum(np.asarray(center_mm) + 14.0, extent - margin)
    landmarks_mm = rng.uniform(low, high, size=(80, 2))
    angles = np.linspace(arc[0], arc[1], len(HEAD))
    landmarks_mm[HEAD] = np.column_stack(
        (center_mm[0] + HEAD_RADIUS_MM * np.cos(angles), center_mm[1] + HEAD_RADIUS_MM * np.sin(angles))
    )
    landmarks_mm[MISSING] = np.nan
    x_mm, y_mm = pixel_grid_mm(SHAPE_WH, SPACING_XY_MM)
    head = (x_mm - center_mm[0]) ** 2 + (y_mm - center_mm[1]) ** 2 <= HEAD_RADIUS_MM**2
    image = 0.2 + 0.05 * x_mm / extent[0] + 0.8 * head + rng.normal(0.0, 0.02, size=SHAPE_WH)
    return {
        "image": radiograph(image[None].astype(np.float32), SPACING_XY_MM),
        "landmark_blobs": radiograph(paint_discs(landmarks_mm, BLOB_RADIUS_MM, SHAPE_WH, SPACING_XY_MM), SPACING_XY_MM),
        "lesion_mask": radiograph(
            paint_discs(landmarks_mm[LESION_CENTRES], LESION_RADIUS_MM, SHAPE_WH, SPACING_XY_MM), SPACING_XY_MM
        ),
        "inside": radiograph(np.ones((1, *SHAPE_WH), np.uint8), SPACING_XY_MM),
        "landmarks": landmarks_mm / np.asarray(SPACING_XY_MM),  # pixels of the original image
        "side": side,
        "head_center_mm": np.asarray(center_mm),
    }


CASES = {
    "right_interior": ("right", (54.0, 55.0), (-2.6, 0.9)),
    "left_interior": ("left", (60.0, 50.0), (2.2, 5.7)),
    "left_top_left_border": ("left", (8.0, 10.0), (0.0, np.pi / 2)),
    "right_bottom_right_border": ("right", (100.0, 103.0), (np.pi, 1.5 * np.pi)),
}


@pytest.fixture(scope="module")
def chain():
    return hip_preprocessing(
        spacing_mm=TARGET_MM, crop_px=CROP_PX, mask_keys=("landmark_blobs", "lesion_mask", "inside")
    )


@pytest.mark.parametrize("case", list(CASES))
def test_every_landmark_lands_on_its_blob(chain, case):
    side, center_mm, arc = CASES[case]
    data = build_hip(side, center_mm, arc, seed=len(case))
    out = chain(dict(data))

    # output contract
    assert tuple(out["image"].shape) == (1, CROP_PX, CROP_PX) and out["image"].dtype == torch.float32
    assert out["landmarks"].shape == (80, 2) and out["landmarks"].dtype == np.float32
    assert out["flipped"] is (side == "left")
    np.testing.assert_allclose(out["pixel_spacing_mm"], (TARGET_MM, TARGET_MM))
    assert out["femoral_head_radius_px"] == pytest.approx(HEAD_RADIUS_MM / TARGET_MM, rel=1e-5)
    np.testing.assert_allclose(out["femoral_head_center_px"], np.asarray(center_mm) / TARGET_MM, atol=1e-3)
    assert np.isnan(out["landmarks"][MISSING]).all()
    valid = np.setdiff1d(np.arange(80), MISSING)
    assert np.isfinite(out["landmarks"][valid]).all()

    # every landmark within 0.5 px of the centroid of its own transformed blob
    blobs = out["landmark_blobs"]
    assert blobs.dtype == torch.uint8 and set(np.unique(blobs.numpy())) <= {0, 1}
    errors = np.linalg.norm(centroids_px(blobs.numpy())[valid] - out["landmarks"][valid], axis=1)
    assert errors.max() < 0.5, f"worst landmark {valid[errors.argmax()]} is {errors.max():.3f} px off its blob"
    assert blobs[MISSING].sum() == 0

    # lesion masks stay binary and aligned with their landmarks, with their area in mm^2 kept
    lesion = out["lesion_mask"]
    assert tuple(lesion.shape) == (4, CROP_PX, CROP_PX) and lesion.dtype == torch.uint8
    assert set(np.unique(lesion.numpy())) <= {0, 1}
    lesion_errors = np.linalg.norm(centroids_px(lesion.numpy()) - out["landmarks"][LESION_CENTRES], axis=1)
    assert lesion_errors.max() < 0.5
    areas_mm2 = lesion.numpy().sum(axis=(1, 2)) * TARGET_MM**2
    np.testing.assert_allclose(areas_mm2, np.pi * LESION_RADIUS_MM**2, rtol=0.1)

    # the documented mapping: resample through the affines, subtract the offset, flip left hips
    offset = out["crop_offset_xy"]
    expected = data["landmarks"] * np.asarray(SPACING_XY_MM) / TARGET_MM - offset
    if side == "left":
        expected[:, 0] = CROP_PX - 1 - expected[:, 0]
    np.testing.assert_allclose(out["landmarks"], expected, atol=1e-3)
    np.testing.assert_allclose(apply_affine_to_points(data["landmarks"], out["px_affine"]), expected, atol=1e-9)

    # the head centre sits at the crop centre; where the image had no pixels the crop holds its minimum
    head_in_crop = apply_affine_to_points(np.asarray(center_mm)[None] / np.asarray(SPACING_XY_MM), out["px_affine"])
    assert np.abs(head_in_crop - (CROP_PX - 1) / 2).max() <= 0.5
    inside = out["inside"][0].numpy().astype(bool)
    image = out["image"][0].numpy()
    resampled_wh = np.round((np.asarray(SHAPE_WH) - 1) * np.asarray(SPACING_XY_MM) / TARGET_MM + 1)
    covered_wh = np.minimum(offset + CROP_PX, resampled_wh) - np.maximum(offset, 0)
    assert inside.sum() == np.prod(covered_wh)
    if "border" in case:
        assert (offset < 0).any() or (offset + CROP_PX > resampled_wh).any()
        assert not inside.all()
        np.testing.assert_allclose(image[~inside], image.min())
    else:
        assert inside.all()
        head_pixels = (image > 0.5 * (image.max() + np.median(image))).astype(np.float64)
        np.testing.assert_allclose(centroids_px(head_pixels[None])[0], head_in_crop[0], atol=0.5)
    p5, p95 = np.percentile(image, (5, 95))
    assert p5 == pytest.approx(0.0, abs=1e-5) and p95 == pytest.approx(1.0, abs=1e-5)


def test_offsets_are_negative_where_the_crop_is_padded(chain):
    out = chain(build_hip(*CASES["left_top_left_border"], seed=3))
    assert (out["crop_offset_xy"] < 0).all()
    assert out["crop_offset_xy"].dtype == np.int64


def test_docstring_example_runs():
    import doctest

    from hipmonai.transforms import chains

    result = doctest.testmod(chains, verbose=False)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------- crop first = the whole-image chain


class WholeImageResampled(MapTransform):
    """Reference only: the chain's old first step, every key resampled whole (MONAI Gaussian + ``Spacing``).

    Anti-aliasing as before (``separable_filtering`` with ``gaussian_1d``, ``sigma = (target / input - 1) / 2``
    input pixels, edges replicated) then ``Spacing`` onto the target grid; landmarks moved and stored as float32.
    """

    def __init__(self, keys: tuple[str, ...], modes: tuple[str, ...], spacing_mm: float) -> None:
        super().__init__(keys)
        self.modes, self.spacing_mm = modes, spacing_mm

    def __call__(self, data: dict) -> dict:
        d = dict(data)
        in_affine = d[self.keys[0]].affine.clone()
        for key, mode in zip(self.keys, self.modes, strict=True):
            img, in_dtype = d[key], d[key].dtype
            if mode == "bilinear":
                spacing = affine_to_spacing(img.affine, r=2, suppress_zeros=False)
                sigmas = [max(0.0, (self.spacing_mm / float(s) - 1.0) / 2.0) for s in spacing]
                if max(sigmas) > 0:
                    kernels = [gaussian_1d(torch.tensor(s), truncated=4.0, approx="erf") if s > 0 else torch.ones(1)
                               for s in sigmas]
                    smoothed = separable_filtering(img.as_tensor().float()[None], kernels, mode="replicate")[0]
                    img = MetaTensor(smoothed, affine=img.affine)
            out = Spacing(pixdim=(self.spacing_mm,) * 2, mode=mode, padding_mode="border")(img)
            d[key] = out.to(in_dtype) if mode == "nearest" else out.to(torch.float32)
        matrix = px_affine_between(in_affine, d[self.keys[0]].affine)
        d["landmarks"] = apply_affine_to_points(d["landmarks"], matrix, dtype=np.float32)
        d["px_affine"] = matrix
        d["pixel_spacing_mm"] = np.full(2, self.spacing_mm)
        return d


def whole_image_chain(mask_keys: tuple[str, ...]) -> Compose:
    """Reference only: resample the whole radiograph, fit, crop (MONAI percentiles, torch.quantile), scale, flip."""
    keys = ("image", *mask_keys)
    return Compose([
        WholeImageResampled(keys, ("bilinear",) + ("nearest",) * len(mask_keys), TARGET_MM),
        FemoralHeadCircled(),
        CropAroundPointd(keys, roi_size_px=CROP_PX, pad_value=("min",) + (0,) * len(mask_keys)),
        ScaleIntensityRangePercentilesd("image", lower=5, upper=95, b_min=0.0, b_max=1.0, clip=False),
        FlipLeftHipd(keys),
    ])


def collimated_hip(side: str, spacing_xy_mm: tuple[float, float], center_mm: tuple[float, float], seed: int) -> dict:
    """A noisy hip with a flat zero collimation band along the left and bottom edges, 80 landmarks, 4 lesion discs.

    The band makes the darkest value a flat patch, as collimation or air is on a radiograph: the one case where the
    whole-image chain's padding (the resampled image's minimum) and the crop-first chain's (the input's) agree.
    """
    rng = np.random.default_rng(seed)
    extent_mm = np.array([60.0, 55.0])
    shape_wh = tuple(int(n) for n in np.round(extent_mm / spacing_xy_mm) + 1)
    x_mm, y_mm = pixel_grid_mm(shape_wh, spacing_xy_mm)
    head = (x_mm - center_mm[0]) ** 2 + (y_mm - center_mm[1]) ** 2 <= HEAD_RADIUS_MM**2
    image = 0.3 + 0.1 * x_mm / extent_mm[0] + 0.5 * head + rng.normal(0.0, 0.03, size=shape_wh)
    image[(x_mm < 2.5) | (y_mm > extent_mm[1] - 2.5)] = 0.0
    landmarks_mm = np.asarray(center_mm) + rng.uniform(-14.0, 14.0, size=(80, 2))
    angles = np.linspace(0.3, 2.0, len(HEAD))
    landmarks_mm[HEAD] = np.asarray(center_mm) + HEAD_RADIUS_MM * np.column_stack((np.cos(angles), np.sin(angles)))
    landmarks_mm[MISSING] = np.nan
    lesions = paint_discs(landmarks_mm[LESION_CENTRES], LESION_RADIUS_MM, shape_wh, spacing_xy_mm)
    return {
        "image": radiograph(np.clip(image, 0.0, None)[None].astype(np.float32), spacing_xy_mm),
        "lesion_mask": radiograph(lesions, spacing_xy_mm),
        "landmarks": landmarks_mm / np.asarray(spacing_xy_mm),
        "side": side,
    }


EQUIVALENCE_CASES = {  # spacing (x, y) mm: smaller than 0.4 mm shrinks (Gaussian margin), larger enlarges
    "shrink_interior_right": ("right", (0.15, 0.18), (30.0, 28.0)),
    "shrink_top_left_border_left": ("left", (0.15, 0.18), (6.0, 5.0)),
    "shrink_x_enlarge_y_bottom_right_border_right": ("right", (0.3, 0.5), (55.0, 52.0)),
    "enlarge_interior_left": ("left", (0.45, 0.5), (28.0, 30.0)),
}
# Image tolerance after percentile scaling: the two chains differ only in float32 rounding (the Gaussian summed in
# another order, grid coordinates from a shifted float64 affine, numpy's instead of torch's percentile), a few ulp of
# values ~1, i.e. ~1e-7; 1e-5 leaves room for other BLAS builds and still catches any shifted or missing pixel,
# which moves values by the image's contrast (~0.1 and more).
IMAGE_ATOL = 1e-5


@pytest.mark.parametrize("stored_dtype", [np.float32, np.uint16])
@pytest.mark.parametrize("case", list(EQUIVALENCE_CASES))
def test_crop_first_chain_equals_the_whole_image_chain(case, stored_dtype):
    side, spacing_xy_mm, center_mm = EQUIVALENCE_CASES[case]
    data = collimated_hip(side, spacing_xy_mm, center_mm, seed=len(case))
    expected = whole_image_chain(("lesion_mask",))(dict(data))
    if stored_dtype is np.uint16:  # integer pixels as a radiograph stores them: the same values, never made float
        stored = np.round(data["image"].numpy() * 4000.0)
        data["image"] = radiograph(stored.astype(np.uint16), spacing_xy_mm)
        expected = whole_image_chain(("lesion_mask",))({**data, "image": radiograph(stored.astype(np.float32),
                                                                                     spacing_xy_mm)})
    out = hip_preprocessing(spacing_mm=TARGET_MM, crop_px=CROP_PX, mask_keys=("lesion_mask",))(dict(data))

    offset = expected["crop_offset_xy"]
    resampled_wh = np.round((np.asarray(data["image"].shape[1:]) - 1) * np.asarray(spacing_xy_mm) / TARGET_MM + 1)
    padded = bool((offset < 0).any() or (offset + CROP_PX > resampled_wh).any())
    assert padded is ("border" in case)
    assert expected["lesion_mask"].sum() > 0
    assert set(out) == set(expected)
    assert out["image"].dtype == torch.float32 and out["lesion_mask"].dtype == torch.uint8
    np.testing.assert_allclose(out["image"].numpy(), expected["image"].numpy(), rtol=0, atol=IMAGE_ATOL)
    np.testing.assert_array_equal(out["lesion_mask"].numpy(), expected["lesion_mask"].numpy())
    for key in ("landmarks", "crop_offset_xy", "femoral_head_center_px", "px_affine", "pixel_spacing_mm"):
        np.testing.assert_array_equal(out[key], expected[key], err_msg=key)
        assert np.asarray(out[key]).dtype == np.asarray(expected[key]).dtype, key
    assert out["femoral_head_radius_px"] == expected["femoral_head_radius_px"]
    assert out["flipped"] is expected["flipped"]
    np.testing.assert_allclose(out["image"].affine, expected["image"].affine, atol=1e-12)


def test_crop_first_padding_is_the_input_minimum():
    """Without a flat darkest patch the smoothed minimum is higher; the crop-first chain pads with the input's."""
    data = collimated_hip("right", (0.15, 0.18), (6.0, 5.0), seed=1)
    data["image"][0, 0, -1] = -1.0  # one isolated darkest pixel, which anti-aliasing lifts
    out = hip_preprocessing(spacing_mm=TARGET_MM, crop_px=CROP_PX, percentiles=(0, 100))(dict(data))
    assert (out["crop_offset_xy"] < 0).all()
    assert float(out["image"][0, 0, 0]) == pytest.approx(0.0)  # the minimum maps to 0: the padding is -1.0
