from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from hipmonai.io.landmark_groups import TARGETS, load_landmark_groups
from hipmonai.phantoms import (
    HIP_NAMED_LANDMARKS,
    HipPhantomParams,
    build_hip,
    draw_hip_subject,
    image_seed,
    render_hip_radiograph,
)
from hipmonai.phantoms.geometry import distance_to_points

GROUPS = load_landmark_groups("hip")


@pytest.fixture(scope="module")
def phantoms():
    """Six hips x 2 sides of varied anatomy and grades."""
    return [render_hip_radiograph(seed) for seed in range(6)]


def _edge_strength(image: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    grad = ndimage.maximum_filter(ndimage.gaussian_gradient_magnitude(image.astype(np.float64), 1.0), size=3)
    x = np.clip(np.round(points_px[:, 0]).astype(int), 0, image.shape[1] - 1)
    y = np.clip(np.round(points_px[:, 1]).astype(int), 0, image.shape[0] - 1)
    return grad[y, x]


def test_output_shapes_and_ranges(phantoms):
    ph = phantoms[0]
    h, w = ph.image.shape
    assert ph.image.dtype == np.float32 and ph.image.min() >= 0 and ph.image.max() <= 4095
    assert ph.landmarks_px.shape == (160, 2) and np.isfinite(ph.landmarks_px).all()
    assert (ph.landmarks_px[:, 0] > 0).all() and (ph.landmarks_px[:, 0] < w - 1).all()
    assert (ph.landmarks_px[:, 1] > 0).all() and (ph.landmarks_px[:, 1] < h - 1).all()
    assert ph.grades.shape == (2, 4) and ph.lesion_masks.shape == (2, 4, h, w)
    assert ph.lesion_bitmask().shape == (w, h)
    np.testing.assert_allclose(ph.landmarks_mm, ph.landmarks_px * ph.spacing_xy_mm[0])


def test_same_seed_same_image_and_annotations():
    a, b = render_hip_radiograph(3), render_hip_radiograph(3)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.landmarks_px, b.landmarks_px)
    np.testing.assert_array_equal(a.lesion_masks, b.lesion_masks)
    assert not np.array_equal(a.image[:50, :50], render_hip_radiograph(4).image[:50, :50])


def test_right_hip_is_on_the_image_left(phantoms):
    for ph in phantoms:
        right, left = ph.landmarks_px[:80], ph.landmarks_px[80:]
        assert right[:, 0].mean() < left[:, 0].mean()
        assert ph.head_centres_px[0, 0] < ph.head_centres_px[1, 0]
        # greater trochanter lateral to the head on both sides
        assert right[8, 0] < ph.head_centres_px[0, 0] < left[8, 0] - (left[8, 0] - ph.head_centres_px[1, 0]) * 2


def test_landmarks_lie_on_high_gradient_bone_edges(phantoms):
    rng = np.random.default_rng(0)
    for ph in phantoms:
        h, w = ph.image.shape
        at_landmarks = _edge_strength(ph.image, ph.landmarks_px)
        random = _edge_strength(ph.image, np.stack([rng.uniform(0, w, 2000), rng.uniform(0, h, 2000)], axis=1))
        assert np.median(at_landmarks) > 4 * np.median(random)
        assert (at_landmarks > np.percentile(random, 75)).mean() > 0.95


def test_femoral_head_points_lie_on_the_true_head_circle(phantoms):
    head = GROUPS.curves["femoral_head"]
    for ph in phantoms:
        for side in range(2):
            pts_mm = ph.landmarks_mm[side * 80 + np.array(head)]
            centre_mm = ph.head_centres_px[side] * ph.spacing_xy_mm[0]
            np.testing.assert_allclose(np.linalg.norm(pts_mm - centre_mm, axis=1), ph.head_radii_mm[side], atol=1e-6)
            assert 21.0 <= ph.head_radii_mm[side] <= 28.0


def test_every_lesion_lies_inside_its_zone_and_only_graded_targets_have_one(phantoms):
    params = HipPhantomParams()
    seen = 0
    for ph in phantoms:
        sx = ph.spacing_xy_mm[0]
        for side in range(2):
            lm_mm = ph.landmarks_mm[side * 80 : (side + 1) * 80]
            for k, target in enumerate(TARGETS):
                mask = ph.lesion_masks[side, k]
                assert mask.any() == (ph.grades[side, k] > 0), (target, ph.grades[side, k])
                if not mask.any():
                    continue
                seen += 1
                yy, xx = np.nonzero(mask)
                d = distance_to_points(lm_mm[GROUPS.targets[target]], np.stack([xx, yy], axis=1) * sx)
                assert d.max() <= params.zone_radius_mm + sx, (target, d.max())
    assert seen >= 8


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def test_spurs_grow_with_grade_in_every_zone():
    params = HipPhantomParams()
    for seed in range(8):
        subject = draw_hip_subject(np.random.default_rng(seed), params)
        args = (subject.shapes[0], 4.0, 0.0, subject.half_head_distance_mm)
        areas = [build_hip(*args, np.full(4, g), subject.spurs[0], params).spurs for g in (1, 2, 3)]
        for target in TARGETS:
            a1, a2, a3 = (_area(a[target]) for a in areas)
            assert a1 < a2 < a3 and a3 > 3 * a1, (target, a1, a2, a3)


def test_any_resolution_keeps_anatomy_grades_and_landmarks_in_mm():
    coarse = render_hip_radiograph(image_seed(2, 0, 0), spacing_mm=0.6)
    fine = render_hip_radiograph(image_seed(2, 0, 0), spacing_mm=0.25)
    assert fine.image.shape[0] > 2 * coarse.image.shape[0] - 2
    np.testing.assert_array_equal(coarse.grades, fine.grades)
    np.testing.assert_allclose(coarse.landmarks_mm, fine.landmarks_mm, atol=1e-9)
    with pytest.raises(ValueError, match="spacing_mm"):
        render_hip_radiograph(2, spacing_mm=0.0)


def test_conspicuity_scales_the_spur_density():
    base = render_hip_radiograph(5)
    assert base.lesion_masks.any()
    faint = render_hip_radiograph(5, HipPhantomParams(conspicuity=(0.1, 0.1, 0.1, 0.1)))
    np.testing.assert_array_equal(base.lesion_masks, faint.lesion_masks)
    mask = base.lesion_masks.any(axis=(0, 1))
    assert base.image[mask].mean() > faint.image[mask].mean() + 50


def test_named_landmarks_are_indices_of_one_hip():
    assert all(0 <= i < 80 for i in HIP_NAMED_LANDMARKS.values())
    ph = render_hip_radiograph(1)
    right = ph.landmarks_px[:80]
    assert right[HIP_NAMED_LANDMARKS["ischial_tuberosity_bottom"], 1] > ph.head_centres_px[0, 1]
    assert right[HIP_NAMED_LANDMARKS["anterior_superior_iliac_spine"], 1] < ph.head_centres_px[0, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spacing_mm": 5.0}, "spacing_mm"),
        ({"conspicuity": (1.0, 1.0)}, "conspicuity"),
        ({"transfer_syntaxes": (("jpeg-xl", 1.0),)}, "transfer_syntaxes"),
        ({"spur_height_mm": ((3.0, 2.0), (3.3, 4.5), (5.0, 7.0))}, "spur_height_mm"),
    ],
)
def test_params_validation_names_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HipPhantomParams(**kwargs)


def test_unknown_parameter_is_named():
    with pytest.raises(TypeError, match="spacingmm"):
        HipPhantomParams.from_kwargs(spacingmm=0.5)


def test_normal_variants_are_drawn_but_are_no_lesions():
    plain = render_hip_radiograph(0, HipPhantomParams(normal_variant_rate=0.0))
    varied = render_hip_radiograph(0, HipPhantomParams(normal_variant_rate=1.0))
    assert (plain.grades == 0).any()
    np.testing.assert_array_equal(plain.lesion_masks, varied.lesion_masks)
    assert np.abs(plain.image - varied.image).max() > 100
