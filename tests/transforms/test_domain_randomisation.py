"""Domain randomisation transforms: types, shapes and seeded draws of every array/dictionary twin, the effect of
each option, landmarks that follow the field of view, and argument validation."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

import hipmonai.transforms.domain_randomisation as dr_module
from hipmonai.transforms import (
    RandBlurSharpen,
    RandBlurSharpend,
    RandCollimation,
    RandCollimationd,
    RandFieldOfView,
    RandFieldOfViewd,
    RandIntensityCurve,
    RandIntensityCurved,
    RandMarkers,
    RandMarkersd,
    RandRadiographNoise,
    RandRadiographNoised,
    block_letter_mask,
    text_line_mask,
)

ARRAY = [RandIntensityCurve, RandBlurSharpen, RandRadiographNoise, RandFieldOfView, RandCollimation, RandMarkers]
DICT = [RandIntensityCurved, RandBlurSharpend, RandRadiographNoised, RandFieldOfViewd, RandCollimationd, RandMarkersd]
# options that keep only the effect under test (identity elsewhere)
NO_TONE = {"curve_types": ["none"], "gamma_range": (1, 1), "contrast_range": (1, 1), "brightness_range": (0, 0)}
HARD_FIELD = {"angle_range_deg": (0, 0), "noise_std": 0.0, "edge_softness_range_px": (0, 0)}


@pytest.fixture
def image() -> np.ndarray:
    """``(1, 48, 40)`` float32 radiograph-like image in about ``[0, 1]``: a smooth background, a disc, ridges."""
    x, y = np.meshgrid(np.arange(48), np.arange(40), indexing="ij")
    disc = np.hypot(x - 30, y - 18) < 8
    img = 0.3 + 0.3 * np.exp(-((x - 14) ** 2 + (y - 22) ** 2) / 60.0) + 0.5 * disc + 0.1 * np.sin(x / 2.0)
    return img.astype(np.float32)[None]


def _neighbour_correlation(residual: np.ndarray) -> float:
    return float(np.corrcoef(residual[0, 1:, :].ravel(), residual[0, :-1, :].ravel())[0, 1])


# ------------------------------------------------------------------------------------------------ shared contract
def test_module_doctest():
    assert doctest.testmod(dr_module, raise_on_error=False).failed == 0


@pytest.mark.parametrize("cls", ARRAY)
@pytest.mark.parametrize("kind", ["numpy", "torch64", "meta"])
def test_array_transforms_keep_type_shape_dtype_and_change_the_image(cls, kind, image):
    img = {"numpy": image, "torch64": torch.as_tensor(image, dtype=torch.float64), "meta": MetaTensor(image)}[kind]
    before = np.asarray(img).copy()
    out = cls(prob=1.0).set_random_state(3)(img)
    assert type(out) is type(img) and tuple(out.shape) == tuple(img.shape) and out.dtype == img.dtype
    assert not np.allclose(np.asarray(out), before)
    assert np.array_equal(np.asarray(img), before)  # input untouched
    if kind == "meta":
        assert out.meta is not img.meta and torch.equal(out.affine, img.affine) == (cls is not RandFieldOfView)


@pytest.mark.parametrize("cls", ARRAY)
def test_array_transforms_are_seeded_probabilistic_and_reuse_draws(cls, image):
    first, second = cls(prob=1.0).set_random_state(7), cls(prob=1.0).set_random_state(7)
    outs = [first(image) for _ in range(3)]
    np.testing.assert_array_equal(np.stack(outs), np.stack([second(image) for _ in range(3)]))
    assert not np.allclose(outs[0], outs[1])  # new draws each call
    np.testing.assert_array_equal(first(image, randomize=False), first(image, randomize=False))
    assert cls(prob=0.0)(image) is image
    sometimes = cls(prob=0.5).set_random_state(0)
    applied = sum(sometimes(image) is not image for _ in range(40))
    assert 10 < applied < 30
    with pytest.raises(ValueError, match=r"channel-first 2D image \(C, W, H\), got shape \(48, 40\)"):
        cls(prob=1.0)(image[0])


@pytest.mark.parametrize("cls", DICT)
def test_dictionary_twins_draw_once_for_all_keys(cls, image):
    data = {"image": image, "copy": image.copy(), "landmarks": np.array([[10.0, 12.0]], np.float32)}
    out = cls(["image", "copy"], prob=1.0).set_random_state(2)(data)
    assert not np.allclose(out["image"], image)
    np.testing.assert_allclose(out["image"], out["copy"])
    again = cls(["image", "copy"], prob=1.0).set_random_state(2)(data)
    np.testing.assert_array_equal(again["image"], out["image"])
    assert cls("image", prob=0.0)(data)["image"] is image
    assert cls(["image", "absent"], prob=1.0, allow_missing_keys=True)(data)["image"].shape == image.shape
    with pytest.raises(KeyError, match="absent"):
        cls(["image", "absent"], prob=1.0)(data)
    with pytest.raises(ValueError, match=r"differ in spatial shape \[\(40, 48\), \(48, 40\)\]"):
        cls(["image", "other"], prob=1.0)({"image": image, "other": image.transpose(0, 2, 1).copy()})


def test_dictionary_twin_matches_its_array_transform(image):
    twin = RandCollimationd("image", prob=1.0).set_random_state(5)
    array = RandCollimation(prob=1.0).set_random_state(5)  # the twin's inner transform has its own seeded state
    np.testing.assert_array_equal(twin({"image": image})["image"], array(image))


# -------------------------------------------------------------------------------------------------- intensity curve
def test_intensity_curve_identity_settings_and_inversion(image):
    np.testing.assert_allclose(RandIntensityCurve(prob=1.0, **NO_TONE)(image), image, atol=1e-6)
    kept = RandIntensityCurve(prob=1.0, invert_prob=0.0).set_random_state(0)(image)
    inverted = RandIntensityCurve(prob=1.0, invert_prob=1.0, **NO_TONE)(image)
    order = np.argsort(image.ravel())
    assert np.all(np.diff(kept.ravel()[order]) >= -1e-6)  # monotone increasing, also beyond the robust range
    lo, hi = np.percentile(image, [1, 99])
    np.testing.assert_allclose(inverted, lo + hi - image, atol=1e-5)  # MONOCHROME1-like, robust range kept


@pytest.mark.parametrize("curve", ["sigmoid", "lut"])
def test_intensity_curve_types_are_monotone_and_keep_the_robust_range(curve, image):
    transform = RandIntensityCurve(prob=1.0, **{**NO_TONE, "curve_types": [curve]}).set_random_state(1)
    out = transform(image)
    assert not np.allclose(out, image, atol=1e-3)
    order = np.argsort(image.ravel())
    assert np.all(np.diff(out.ravel()[order]) >= -1e-6)
    lo, hi = np.percentile(image, [1, 99])
    ends = transform.tone(torch.tensor([0.0, 1.0], dtype=torch.float64))
    np.testing.assert_allclose(ends.numpy(), [0.0, 1.0], atol=1e-9)
    assert lo - 0.05 < out.min() and out.max() < hi + 0.5


def test_intensity_curve_parameters_pass_through(image):
    def run(**options):
        return RandIntensityCurve(prob=1.0, **{**NO_TONE, **options}).set_random_state(4)(image)

    lo, hi = np.percentile(image, [1, 99])
    t = (image - lo) / (hi - lo)
    inside = (t >= 0) & (t <= 1)
    np.testing.assert_allclose(run(gamma_range=(2, 2))[inside], (lo + (hi - lo) * t**2)[inside], atol=1e-5)
    np.testing.assert_allclose(run(contrast_range=(2, 2)), lo + (hi - lo) * (2 * (t - 0.5) + 0.5), atol=1e-5)
    np.testing.assert_allclose(run(brightness_range=(0.1, 0.1)), image + 0.1 * (hi - lo), atol=1e-5)
    full_lo, full_hi = image.min(), image.max()
    stretched = run(gamma_range=(2, 2), percentiles=(0, 100))
    np.testing.assert_allclose([stretched.min(), stretched.max()], [full_lo, full_hi], atol=1e-5)
    sigmoid = {"curve_types": ["sigmoid"]}
    assert not np.allclose(run(**sigmoid, sigmoid_gain_range=(3, 3)), run(**sigmoid, sigmoid_gain_range=(12, 12)))
    assert not np.allclose(
        run(**sigmoid, sigmoid_centre_range=(0.3, 0.3)), run(**sigmoid, sigmoid_centre_range=(0.7, 0.7))
    )
    lut = {"curve_types": ["lut"]}
    assert not np.allclose(run(**lut, lut_knots=1), run(**lut, lut_knots=6))
    draw = RandIntensityCurve(prob=1.0, lut_knots=6).set_random_state(0)
    draw.randomize()
    assert draw.lut_values.shape == (8,) and np.all(np.diff(draw.lut_values) > 0)
    mixed = RandIntensityCurve(prob=1.0, invert_prob=0.5).set_random_state(0)
    inversions = [mixed.randomize() or mixed.invert for _ in range(100)]
    assert 30 < sum(inversions) < 70


# ----------------------------------------------------------------------------------------------------- blur/sharpen
def _roughness(img: np.ndarray) -> float:
    return float(np.abs(np.diff(img, axis=1)).mean() + np.abs(np.diff(img, axis=2)).mean())


def test_blur_sharpen_modes_and_parameters(image):
    blurred = RandBlurSharpen(prob=1.0, blur_prob=1.0, blur_sigma_range_px=(1, 1))(image)
    more = RandBlurSharpen(prob=1.0, blur_prob=1.0, blur_sigma_range_px=(3, 3))(image)
    assert _roughness(more) < _roughness(blurred) < _roughness(image)
    np.testing.assert_allclose(blurred.mean(), image.mean(), atol=1e-3)  # replicated edges: no darkening
    assert np.array_equal(RandBlurSharpen(prob=1.0, blur_prob=1.0, blur_sigma_range_px=(0, 0))(image), image)
    sharpened = RandBlurSharpen(prob=1.0, blur_prob=0.0, sharpen_gain_range=(1, 1))(image)
    stronger = RandBlurSharpen(prob=1.0, blur_prob=0.0, sharpen_gain_range=(2, 2))(image)
    assert _roughness(image) < _roughness(sharpened) < _roughness(stronger)
    none = RandBlurSharpen(prob=1.0, blur_prob=0.0, sharpen_gain_range=(0, 0))(image)
    np.testing.assert_allclose(none, image, atol=1e-6)
    fine = RandBlurSharpen(prob=1.0, blur_prob=0.0, sharpen_sigma_range_px=(1, 1))(image)
    coarse = RandBlurSharpen(prob=1.0, blur_prob=0.0, sharpen_sigma_range_px=(4, 4))(image)
    assert not np.allclose(fine, coarse)
    multi = RandBlurSharpen(prob=1.0, blur_prob=0.0, sharpen_scales=3).set_random_state(0)
    out = multi(image)
    assert len(multi.gains) == 3 and not np.allclose(
        out, RandBlurSharpen(prob=1.0, blur_prob=0.0).set_random_state(0)(image)
    )
    both = RandBlurSharpen(prob=1.0, blur_prob=0.5).set_random_state(0)
    blurs = [both.randomize() or both.blur for _ in range(100)]
    assert 30 < sum(blurs) < 70


# ------------------------------------------------------------- the fast paths against the previous implementation
# Reference of the implementation before the fast paths (torch.quantile; MONAI gaussian_1d + separable_filtering),
# kept here to pin the new code to it. Tolerance: max abs difference <= 1e-4 of the image's intensity range.
def _reference_quantiles(x: torch.Tensor, percentiles) -> torch.Tensor:
    return torch.quantile(x.reshape(-1), torch.tensor(percentiles, dtype=x.dtype) / 100.0)


def _reference_blur(data: torch.Tensor, sigma_px: float) -> torch.Tensor:
    from monai.networks.layers.convutils import gaussian_1d
    from monai.networks.layers.simplelayers import separable_filtering

    if sigma_px <= 0:
        return data
    kernel = gaussian_1d(torch.tensor(float(sigma_px)), truncated=4.0, approx="erf").to(data)
    return separable_filtering(data.unsqueeze(0), [kernel, kernel], mode="replicate").squeeze(0)


def _reference_blur_sharpen(transform: RandBlurSharpen, img: np.ndarray) -> np.ndarray:
    x = torch.as_tensor(img)
    if transform.blur:
        return _reference_blur(x, transform.sigma_px).numpy()
    out, coarser = x.clone(), x
    for k, gain in enumerate(transform.gains):
        finer, coarser = coarser, _reference_blur(x, transform.sigma_px * 2**k)
        out = out + gain * (finer - coarser)
    return out.numpy()


def _reference_intensity_curve(transform: RandIntensityCurve, img: np.ndarray) -> np.ndarray:
    x = torch.as_tensor(img)
    lo, hi = _reference_quantiles(x, transform.percentiles)
    scale = hi - lo if hi > lo else torch.ones_like(hi)
    t = transform.tone((x - lo) / scale)
    t = 1.0 - t if transform.invert else t
    return (lo + scale * (transform.contrast * (t - 0.5) + 0.5 + transform.brightness)).numpy()


@pytest.mark.parametrize(
    "percentiles", [(1.0, 99.0), (0.0, 100.0), (5.0, 95.0), (50.0, 50.5), (0.3, 2.0), (98.0, 99.9)]
)
@pytest.mark.parametrize("shape", [(1, 128, 128), (2, 37, 53), (1, 1, 3)])
def test_quantiles_are_torch_quantile_bit_for_bit(percentiles, shape, rng):
    for dtype in (torch.float32, torch.float64):
        x = torch.as_tensor(rng.random(shape)).to(dtype)
        x[..., ::7] = 0.25  # ties
        assert torch.equal(dr_module._quantiles(x, percentiles), _reference_quantiles(x, percentiles))
    x[0, 0, 0] = float("nan")
    assert torch.isnan(dr_module._quantiles(x, percentiles)).all()
    assert torch.isnan(_reference_quantiles(x, percentiles)).all()


@pytest.mark.parametrize("sigma_px", [0.3, 0.5, 1.0, 1.37, 4.0, 8.0, 30.0])
def test_matrix_blur_matches_the_monai_separable_filter(sigma_px, rng):
    for shape, dtype in [((1, 128, 128), torch.float32), ((2, 45, 70), torch.float64)]:
        x = torch.as_tensor(rng.random(shape)).to(dtype)
        new, old = dr_module._gaussian_blur(x, sigma_px), _reference_blur(x, sigma_px)
        assert new.dtype == dtype and new.shape == x.shape
        assert float((new - old).abs().max()) <= 1e-4 * float(x.max() - x.min())  # measured <= 5e-7
    kernel = dr_module._gaussian_kernel(sigma_px)
    assert len(kernel) % 2 == 1 and 0.999 < kernel.sum() <= 1.0 and np.allclose(kernel, kernel[::-1])


@pytest.mark.parametrize("seed", range(8))
def test_blur_sharpen_and_intensity_curve_match_the_previous_implementation(seed, image):
    image = image * 1000.0 - 200.0  # any intensity range
    tolerance = 1e-4 * float(image.max() - image.min())
    blur = RandBlurSharpen(prob=1.0, sharpen_scales=2).set_random_state(seed)
    curve = RandIntensityCurve(prob=1.0, invert_prob=0.2).set_random_state(seed)
    for transform, reference in [(blur, _reference_blur_sharpen), (curve, _reference_intensity_curve)]:
        for _ in range(3):
            out = transform(image)
            assert np.abs(out - reference(transform, image)).max() <= tolerance


def test_meta_tensor_outputs_get_their_own_meta(image):
    img = MetaTensor(image, meta={"spacing_mm": 0.3})
    out = RandBlurSharpen(prob=1.0).set_random_state(0)(img)
    assert type(out) is MetaTensor and out.meta is not img.meta and out.meta["spacing_mm"] == 0.3
    assert out.applied_operations is not img.applied_operations and torch.equal(out.affine, img.affine)
    out.meta["spacing_mm"] = 1.0
    assert img.meta["spacing_mm"] == 0.3


# ------------------------------------------------------------------------------------------------------------ noise
def test_noise_levels_signal_dependence_and_correlation():
    flat = np.zeros((1, 128, 128), np.float32)
    flat[:, 64:] = 1.0
    gaussian = RandRadiographNoise(
        prob=1.0, poisson_gain_range=(0, 0), gaussian_std_range=(0.1, 0.1), correlated_prob=0.0
    ).set_random_state(0)
    residual = gaussian(flat) - flat
    assert abs(residual.std() - 0.1) < 0.005 and abs(_neighbour_correlation(residual)) < 0.05
    poisson = RandRadiographNoise(
        prob=1.0, poisson_gain_range=(0.01, 0.01), gaussian_std_range=(0, 0), correlated_prob=0.0
    ).set_random_state(0)
    residual = poisson(flat) - flat
    assert np.all(residual[:, :64] == 0) and abs(residual[:, 64:].std() - 0.1) < 0.005
    correlated = RandRadiographNoise(
        prob=1.0,
        poisson_gain_range=(0, 0),
        gaussian_std_range=(0.1, 0.1),
        correlated_prob=1.0,
        correlation_sigma_range_px=(1, 1),
    ).set_random_state(0)
    residual = correlated(flat) - flat
    assert abs(residual.std() - 0.1) < 0.01 and _neighbour_correlation(residual) > 0.5
    wider = RandRadiographNoise(
        prob=1.0,
        poisson_gain_range=(0, 0),
        gaussian_std_range=(0.1, 0.1),
        correlated_prob=1.0,
        correlation_sigma_range_px=(3, 3),
    ).set_random_state(0)
    assert _neighbour_correlation(wider(flat) - flat) > _neighbour_correlation(residual)
    with pytest.raises(ValueError, match=r"noise field \(1, 128, 128\) does not fit an image of shape \(1, 8, 8\)"):
        gaussian(np.zeros((1, 8, 8), np.float32), randomize=False)


# ---------------------------------------------------------------------------------------------------- field of view
def _dot_image(points: np.ndarray, shape=(64, 56)) -> np.ndarray:
    img = np.zeros((1, *shape), np.float32)
    for x, y in points.astype(int):
        img[0, x - 1 : x + 2, y - 1 : y + 2] = 1.0
    return img


@pytest.mark.parametrize("scale_range", [(0.5, 0.8), (1.2, 1.6)])
def test_field_of_view_moves_landmarks_with_the_image(scale_range):
    points = np.array([[20.0, 15.0], [44.0, 40.0], [np.nan, np.nan]], np.float32)
    transform = RandFieldOfViewd("image", prob=1.0, scale_range=scale_range, anti_aliasing=False)
    transform.set_random_state(11)
    checked = 0
    for _ in range(5):
        out = transform({"image": _dot_image(points[:2]), "landmarks": points})
        moved = out["landmarks"]
        assert moved.dtype == np.float32 and np.isnan(moved[2]).all()
        assert scale_range[0] <= transform.transform.scale <= scale_range[1]
        for x, y in moved[:2]:
            if 2 <= x < 62 and 2 <= y < 54:  # in view: the dot's brightness-weighted centre is the landmark
                window = np.asarray(out["image"][0])
                xs, ys = np.meshgrid(np.arange(64), np.arange(56), indexing="ij")
                near = (np.abs(xs - x) < 4) & (np.abs(ys - y) < 4)
                weight = window * near
                centre = np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()
                np.testing.assert_allclose(centre, [x, y], atol=0.35)
                checked += 1
    assert checked >= 5


def test_field_of_view_keeps_points_outside_and_updates_affines():
    points = np.array([[1.0, 1.0], [32.0, 28.0]], np.float32)
    transform = RandFieldOfViewd("image", prob=1.0, scale_range=(0.4, 0.4), px_affine_key="px_affine")
    transform.set_random_state(0)
    img = MetaTensor(_dot_image(points[1:]), affine=torch.diag(torch.tensor([0.5, 0.5, 1.0, 1.0])))
    out = transform({"image": img, "landmarks": points, "px_affine": np.eye(3)})
    matrix = transform.transform.points_affine()
    np.testing.assert_allclose(out["px_affine"], matrix)
    np.testing.assert_allclose(out["landmarks"], (matrix[:2, :2] @ points.T).T + matrix[:2, 2], rtol=1e-6)
    assert np.isfinite(out["landmarks"]).all() and (out["landmarks"][0] < 0).any()  # cut off, kept
    world_before = img.affine.numpy() @ np.array([32.0, 28.0, 0.0, 1.0])
    u, v = out["landmarks"][1]
    np.testing.assert_allclose(out["image"].affine.numpy() @ np.array([u, v, 0.0, 1.0]), world_before, atol=1e-5)
    unchanged = RandFieldOfViewd("image", prob=0.0, px_affine_key="px_affine")({"image": img, "landmarks": points})
    np.testing.assert_array_equal(unchanged["px_affine"], np.eye(3))


def test_field_of_view_options(image):
    np.testing.assert_allclose(
        RandFieldOfView(prob=1.0, scale_range=(1, 1)).set_random_state(0)(image), image, atol=1e-5
    )

    def zoom_out(**options):
        return RandFieldOfView(prob=1.0, scale_range=(1.5, 1.5), **options).set_random_state(1)(image)

    assert zoom_out().min() == 0.0 and zoom_out(padding_mode="border").min() > 0.15
    assert not np.allclose(zoom_out(padding_mode="border"), zoom_out(padding_mode="reflection"))
    assert not np.allclose(zoom_out(anti_aliasing=True), zoom_out(anti_aliasing=False))
    assert not np.allclose(zoom_out(mode="bicubic"), zoom_out())
    labels = (image > 0.6).astype(np.uint8)
    nearest = RandFieldOfView(prob=1.0, scale_range=(0.6, 1.4), mode="nearest").set_random_state(2)(labels)
    assert nearest.dtype == np.uint8 and set(np.unique(nearest)) <= {0, 1}
    per_key = RandFieldOfViewd(["image", "labels"], prob=1.0, mode=["bilinear", "nearest"], landmarks_key=None)
    out = per_key.set_random_state(3)({"image": image, "labels": labels})
    assert out["labels"].dtype == np.uint8 and out["image"].dtype == np.float32 and "landmarks" not in out


# ------------------------------------------------------------------------------------------------------ collimation
def test_collimation_levels_margins_and_edges(image):
    bright = RandCollimation(prob=1.0, bright_prob=1.0, bright_range=(2, 2), **HARD_FIELD).set_random_state(0)
    out = bright(image)
    mask = bright.field_mask(image.shape[1:]).numpy()
    assert set(np.unique(mask)) == {0.0, 1.0} and (mask == 0).any()
    assert np.all(out[0][mask == 0] == 2.0) and np.array_equal(out[0][mask == 1], image[0][mask == 1])
    dark = RandCollimation(prob=1.0, bright_prob=0.0, dark_range=(-1, -1), **HARD_FIELD).set_random_state(0)
    assert np.all(dark(image)[0][mask == 0] == -1.0)
    left = RandCollimation(prob=1.0, side_prob=0.0, margin_range=(0.2, 0.2), **HARD_FIELD).set_random_state(0)
    left.randomize(image)
    left.margins = (0.2, 0.0, 0.0, 0.0)
    weight = left.field_mask((50, 40)).numpy()
    assert np.all(weight[:10] == 0) and np.all(weight[10:] == 1)  # 20 % of 50 columns
    all_sides = RandCollimation(prob=1.0, side_prob=1.0).set_random_state(0)
    one_side = RandCollimation(prob=1.0, side_prob=0.0).set_random_state(0)
    for _ in range(5):
        all_sides.randomize(image)
        one_side.randomize(image)
        assert all(0.02 <= m <= 0.2 for m in all_sides.margins) and sum(m > 0 for m in one_side.margins) == 1
    tilted = RandCollimation(prob=1.0, side_prob=1.0, angle_range_deg=(20, 20), edge_softness_range_px=(0, 0))
    tilted.set_random_state(0).randomize(image)
    assert abs(tilted.angle_rad - np.radians(20)) < 1e-12
    border = tilted.field_mask(image.shape[1:]).numpy()
    assert len({int(np.argmax(row > 0)) for row in border.T[10:30]}) > 1  # the left edge is not a column
    soft = RandCollimation(prob=1.0, edge_softness_range_px=(3, 3)).set_random_state(0)
    soft.randomize(image)
    assert ((soft.field_mask(image.shape[1:]) > 0.05) & (soft.field_mask(image.shape[1:]) < 0.95)).sum() > 20
    noisy = RandCollimation(prob=1.0, bright_prob=1.0, bright_range=(2, 2), **{**HARD_FIELD, "noise_std": 0.1})
    noisy.set_random_state(0)
    outside = noisy(image)[0][mask == 0]
    assert abs(outside.mean() - 2.0) < 0.05 and 0.05 < outside.std() < 0.15


# --------------------------------------------------------------------------------------------------------- markers
def test_glyph_and_text_masks():
    letter_l = block_letter_mask("L", 14)
    assert letter_l.shape == (10, 14) and letter_l[0].all() and letter_l[:, -1].all()  # left bar, bottom bar
    assert not letter_l[-1, :-2].any()
    assert not np.array_equal(block_letter_mask("R", 14), letter_l)
    line = text_line_mask("L 12", 20)
    assert line.shape[1] == 20 and line.shape[0] > 20 and line.any() and not line.all()
    assert text_line_mask("ABCDEFGH", 20).shape[0] > line.shape[0]
    with pytest.raises(ValueError, match=r"letter must be one of \['A', 'L', 'P', 'R'\], got 'Q'"):
        block_letter_mask("Q", 10)
    with pytest.raises(ValueError, match="height_px must be >= 1, got 0"):
        text_line_mask("A", 0)


def test_marker_options(image):
    def draw(**options):
        markers = RandMarkers(prob=1.0, **options).set_random_state(6)
        return markers, markers(image)

    markers, out = draw(bright_prob=1.0, bright_range=(5, 5), n_letters_range=(2, 2), n_text_lines_range=(1, 1))
    changed = out != image
    assert changed.any() and np.all(out[changed] == 5.0) and len(markers.overlays) == 3
    np.testing.assert_array_equal(changed[0], markers.overlay_mask(image.shape[1:]))
    _, dark = draw(bright_prob=0.0, dark_range=(-3, -3))
    assert np.all(dark[dark != image] == -3.0)
    markers, out = draw(n_letters_range=(0, 0), n_text_lines_range=(0, 0))
    assert markers.overlays == [] and np.array_equal(out, image)
    markers, _ = draw(
        letters=["A"], n_letters_range=(3, 3), n_text_lines_range=(0, 0), letter_height_range=(0.25, 0.25)
    )
    assert all(np.array_equal(m, block_letter_mask("A", 10)) for m, *_ in markers.overlays)  # 0.25 * 40 rows
    for mask, x0, y0, _ in markers.overlays:
        assert x0 + mask.shape[0] <= 48 and y0 + mask.shape[1] <= 40
    short, _ = draw(
        n_letters_range=(0, 0), n_text_lines_range=(1, 1), text_length_range=(2, 2), text_height_range=(0.2, 0.2)
    )
    long, _ = draw(
        n_letters_range=(0, 0), n_text_lines_range=(1, 1), text_length_range=(6, 6), text_height_range=(0.2, 0.2)
    )
    assert short.overlays[0][0].shape[1] == long.overlays[0][0].shape[1] == 8
    assert short.overlays[0][0].shape[0] < long.overlays[0][0].shape[0]
    many, _ = draw(n_letters_range=(0, 0), n_text_lines_range=(4, 4))
    assert len(many.overlays) == 4


# ------------------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "cls, options, message",
    [
        (RandIntensityCurve, {"prob": 1.5}, r"prob must be a probability in \[0, 1\], got 1.5"),
        (RandIntensityCurve, {"curve_types": ["spline"]}, r"curve_types must be a non-empty subset .* \['spline'\]"),
        (RandIntensityCurve, {"gamma_range": (0, 1)}, r"gamma_range must be a pair \(min, max\) with 0 < min"),
        (RandIntensityCurve, {"contrast_range": (2, 1)}, r"contrast_range must be a pair .* got \(2, 1\)"),
        (RandIntensityCurve, {"lut_knots": 0}, "lut_knots must be an integer >= 1, got 0"),
        (RandIntensityCurve, {"invert_prob": -0.1}, "invert_prob must be a probability"),
        (RandIntensityCurve, {"percentiles": (5, 5)}, r"percentiles must be an increasing pair, got \(5, 5\)"),
        (RandIntensityCurve, {"sigmoid_centre_range": (0.5, 1.5)}, "sigmoid_centre_range must be a pair"),
        (RandBlurSharpen, {"blur_sigma_range_px": (-1, 1)}, r"blur_sigma_range_px must be a pair .* got \(-1, 1\)"),
        (RandBlurSharpen, {"sharpen_scales": 0}, "sharpen_scales must be an integer >= 1, got 0"),
        (RandBlurSharpen, {"sharpen_sigma_range_px": (0, 2)}, "sharpen_sigma_range_px must be a pair"),
        (RandRadiographNoise, {"gaussian_std_range": 0.1}, "gaussian_std_range must be a pair .* got 0.1"),
        (RandRadiographNoise, {"correlated_prob": 2}, "correlated_prob must be a probability .* got 2"),
        (RandFieldOfView, {"scale_range": (0, 1)}, r"scale_range must be a pair \(min, max\) with 0 < min"),
        (RandFieldOfView, {"mode": "area"}, r"mode must be one of .* got 'area'"),
        (RandFieldOfView, {"padding_mode": "wrap"}, r"padding_mode must be one of .* got 'wrap'"),
        (RandFieldOfView, {"anti_aliasing": "yes"}, "anti_aliasing must be True or False, got 'yes'"),
        (RandCollimation, {"margin_range": (0.1, 0.5)}, r"margin_range must stay below 0.5 .* got \(0.1, 0.5\)"),
        (RandCollimation, {"angle_range_deg": (-60, 0)}, r"angle_range_deg must be a pair .* -45.0 <= min"),
        (RandCollimation, {"noise_std": -1}, "noise_std must be a finite number >= 0, got -1"),
        (RandMarkers, {"letters": ["X"]}, r"letters must be a non-empty subset of .* got \['X'\]"),
        (RandMarkers, {"n_letters_range": (1.5, 2)}, r"n_letters_range must be a pair of integers .* \(1.5, 2\)"),
        (RandMarkers, {"text_height_range": (0.5, 2)}, r"text_height_range must be fractions in \(0, 1\]"),
        (RandMarkers, {"text_length_range": (0, 3)}, r"text_length_range must be a pair of integers .* 1 <= min"),
    ],
)
def test_invalid_arguments_raise(cls, options, message):
    with pytest.raises(ValueError, match=message):
        cls(**options)


def test_invalid_dictionary_arguments_raise():
    with pytest.raises(ValueError, match=r"mode must be one of .* got 'area'"):
        RandFieldOfViewd(["image", "mask"], mode=["bilinear", "area"])
    with pytest.raises(ValueError, match=r"prob must be a probability in \[0, 1\], got -1"):
        RandMarkersd("image", prob=-1)
