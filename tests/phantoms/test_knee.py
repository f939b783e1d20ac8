from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from hipmonai.io.landmark_groups import load_landmark_groups
from hipmonai.phantoms import KNEE_TARGET_LANDMARKS, KNEE_TARGETS, KneePhantomParams, render_knee_radiograph
from hipmonai.phantoms.geometry import distance_to_points


@pytest.fixture(scope="module")
def knees():
    return [render_knee_radiograph(seed) for seed in range(5)]


def test_kneel_numbering_and_sides(knees):
    groups = load_landmark_groups("knee")
    assert groups.n_points == 16
    for ph in knees:
        assert ph.landmarks_px.shape == (32, 2)
        right, left = ph.landmarks_px[:16], ph.landmarks_px[16:]
        assert right[:, 0].mean() < left[:, 0].mean()  # right knee on the image left
        # lateral -> medial: towards the midline, i.e. increasing x on the right knee, decreasing on the left
        for knee, sign in ((right, 1), (left, -1)):
            tibia, femur = knee[groups.curves["tibia"]], knee[groups.curves["femur"]]
            assert np.all(sign * np.diff(tibia[:, 0]) > 0) and np.all(sign * np.diff(femur[:, 0]) > 0)
            assert femur[:, 1].mean() < tibia[:, 1].mean()  # femur above the tibia
            assert knee[12, 1] < knee[[11, 13], 1].min()  # the notch top is the highest femoral point


def test_knee_landmarks_on_edges_and_lesions_in_zones(knees):
    rng = np.random.default_rng(0)
    radius = KneePhantomParams().zone_radius_mm
    for ph in knees:
        grad = ndimage.maximum_filter(ndimage.gaussian_gradient_magnitude(ph.image.astype(np.float64), 1.0), size=3)
        h, w = ph.image.shape
        pts = np.round(ph.landmarks_px).astype(int)
        rand = np.stack([rng.integers(0, w, 2000), rng.integers(0, h, 2000)], axis=1)
        assert np.median(grad[pts[:, 1], pts[:, 0]]) > 4 * np.median(grad[rand[:, 1], rand[:, 0]])
        for side in range(2):
            for k, target in enumerate(KNEE_TARGETS):
                mask = ph.lesion_masks[side, k]
                assert mask.any() == (ph.osteophytes[side, k] > 0)
                if mask.any():
                    yy, xx = np.nonzero(mask)
                    root = ph.landmarks_mm[side * 16 + KNEE_TARGET_LANDMARKS[target]][None, :]
                    assert distance_to_points(root, np.stack([xx, yy], 1) * ph.spacing_xy_mm[0]).max() <= radius + 1


def test_kl_zero_knees_have_no_osteophytes_and_wider_joint_space(knees):
    kl = np.concatenate([ph.kl for ph in knees])
    assert kl.min() == 0 and kl.max() >= 2
    for ph in knees:
        for side in range(2):
            if ph.kl[side] == 0:
                assert not ph.lesion_masks[side].any()


def test_knee_determinism_and_resolution():
    a, b = render_knee_radiograph(7), render_knee_radiograph(7)
    np.testing.assert_array_equal(a.image, b.image)
    c = render_knee_radiograph(7, spacing_mm=0.8)
    np.testing.assert_allclose(a.landmarks_mm, c.landmarks_mm, atol=1e-9)
    np.testing.assert_array_equal(a.kl, c.kl)
