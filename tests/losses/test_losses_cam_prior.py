from __future__ import annotations

import math

import pytest
import torch

from hipmonai.losses.cam_prior import (
    LandmarkCAMPriorLoss,
    feature_grid_points_px,
    nearest_landmark_distance,
    plateau_gaussian_penalty,
    valid_landmark_groups,
)
from hipmonai.networks.resnet_cam import ResNet18CAM

NAN = float("nan")


def _landmarks(groups: list[list[tuple[float, float]]], p_max: int = 3) -> torch.Tensor:
    """(C, P_max, 2) NaN-padded landmark groups."""
    out = torch.full((len(groups), p_max, 2), NAN)
    for c, group in enumerate(groups):
        for p, point in enumerate(group):
            out[c, p] = torch.tensor(point)
    return out


def test_3x3_grid_by_hand():
    # input 3x3 -> grid 3x3 (s = 1), r = 0, sigma = 1, landmark at cell (0, 0); CAM mass 1 at (0, 0) and (2, 1)
    cams = torch.zeros(1, 1, 3, 3)
    cams[0, 0, 0, 0] = cams[0, 0, 2, 1] = 1.0
    landmarks = _landmarks([[(0.0, 0.0)]])[None]
    loss = LandmarkCAMPriorLoss(radius_px=0, sigma_px=1, input_size=(3, 3), eps=1e-6)(cams, landmarks)
    # Q(0,0) = 0; Q(2,1) = 1 - exp(-(sqrt(5))^2 / 2) = 1 - exp(-2.5) = 0.9179150013761012; M_hat = 1 / (2 + 1e-6)
    assert loss.item() == pytest.approx(0.9179150013761012 / (2 + 1e-6), rel=1e-6)


def test_224_input_7x7_grid_by_hand_in_feature_units():
    # s = 7/224 = 1/32: landmark (64, 96) px -> (2, 3); r = sigma = 32 px -> 1 cell
    landmarks = _landmarks([[(64.0, 96.0)]])[None]
    loss = LandmarkCAMPriorLoss(radius_px=32, sigma_px=32, input_size=(224, 224), eps=1e-6)
    far = torch.zeros(1, 1, 7, 7)
    far[0, 0, 5, 3] = 1.0  # d = 3 cells -> max(0, 3 - 1) = 2 -> Q = 1 - exp(-4 / 2)
    assert loss(far, landmarks).item() == pytest.approx(1 - math.exp(-2.0), rel=1e-5)
    near = torch.zeros(1, 1, 7, 7)
    near[0, 0, 2, 4] = 1.0  # d = 1 cell = r -> Q = 0
    assert loss(near, landmarks).item() == pytest.approx(0.0, abs=1e-7)
    # the full penalty map equals the plateau-Gaussian formula evaluated in feature-grid units
    q = plateau_gaussian_penalty((7, 7), landmarks[0, 0], 32, 32, (224, 224))
    i, j = torch.meshgrid(torch.arange(7.0), torch.arange(7.0), indexing="ij")
    d = torch.sqrt((i - 2) ** 2 + (j - 3) ** 2)
    torch.testing.assert_close(q, 1 - torch.exp(-torch.clamp(d - 1, min=0) ** 2 / 2))


def test_4x5_grid_uniform_cam_by_hand():
    # input (W, H) = (8, 10) -> grid (4, 5), s = 0.5; landmark (2, 6) px -> cell (1, 3); r = sigma = 2 px -> 1 cell
    cams = torch.ones(1, 1, 4, 5)
    landmarks = _landmarks([[(2.0, 6.0)]])[None]
    loss = LandmarkCAMPriorLoss(radius_px=2, sigma_px=2, input_size=(8, 10), eps=1e-6)(cams, landmarks)
    total = 0.0
    for i in range(4):
        for j in range(5):
            d = math.hypot(i - 1, j - 3)
            total += 1 - math.exp(-max(0.0, d - 1) ** 2 / 2)
    assert loss.item() == pytest.approx(total / (20 + 1e-6), rel=1e-6)


def test_non_square_scales_each_axis_and_keeps_distances_in_input_pixels():
    # input (8, 20) -> grid (4, 5): s_x = 0.5, s_y = 0.25; cell (i, j) sits at (2 i, 4 j) px
    landmarks = _landmarks([[(2.0, 8.0)]])
    q = plateau_gaussian_penalty((4, 5), landmarks, radius_px=1.0, sigma_px=3.0, input_size=(8, 20))
    for i in range(4):
        for j in range(5):
            d = math.hypot(2 * i - 2, 4 * j - 8)
            assert q[0, i, j].item() == pytest.approx(1 - math.exp(-max(0.0, d - 1) ** 2 / 18), abs=1e-6)


def test_nearest_valid_landmark_of_the_group_is_used():
    landmarks = _landmarks([[(NAN, NAN), (0.0, 0.0), (6.0, 4.0)]])
    d = nearest_landmark_distance(torch.tensor([[5.0, 4.0], [1.0, 0.0], [3.0, 2.0]]), landmarks[0])
    torch.testing.assert_close(d, torch.tensor([1.0, 1.0, math.hypot(3, 2)]))
    none_valid = nearest_landmark_distance(torch.zeros(2, 2), torch.full((3, 2), NAN))
    assert torch.isinf(none_valid).all()
    half_nan = nearest_landmark_distance(torch.zeros(1, 2), torch.tensor([[NAN, 1.0], [3.0, 4.0]]))
    assert half_nan.item() == 5.0  # a point with one NaN coordinate is missing


def test_penalty_is_zero_on_plateau_and_tends_to_one():
    landmarks = _landmarks([[(100.0, 100.0)]])
    q = plateau_gaussian_penalty((224, 224), landmarks, radius_px=20, sigma_px=30, input_size=(224, 224))[0]
    assert q[100, 100] == 0 and q[115, 110] == 0 and q[100, 120] == 0  # d <= r
    assert 0 < q[100, 121] < 1e-3 and q[0, 223] > 0.99 and (q >= 0).all() and (q <= 1).all()
    assert torch.all(plateau_gaussian_penalty((7, 7), torch.full((1, 2), NAN)) == 1)  # no landmark: infinitely far


def test_targets_without_landmarks_are_excluded_and_mean_is_over_valid_pairs():
    torch.manual_seed(0)
    cams = torch.rand(2, 4, 7, 7)
    landmarks = torch.full((2, 4, 3, 2), NAN)
    landmarks[0, 1, 0] = torch.tensor([30.0, 40.0])  # sample 0: one valid target
    landmarks[1, :, 1] = torch.tensor([[10.0, 10.0], [200.0, 20.0], [100.0, 100.0], [50.0, 180.0]])  # sample 1: four
    loss = LandmarkCAMPriorLoss()
    terms = LandmarkCAMPriorLoss(reduction="none")(cams, landmarks)
    valid = valid_landmark_groups(landmarks)
    assert valid.sum() == 5 and torch.all(terms[~valid] == 0) and torch.all(terms[valid] > 0)
    torch.testing.assert_close(loss(cams, landmarks), terms[valid].mean())  # (1/|C'|) over the 5 valid pairs
    per_sample_then_batch = (terms[0, 1] + terms[1].mean()) / 2
    assert not torch.isclose(loss(cams, landmarks), per_sample_then_batch)
    torch.testing.assert_close(LandmarkCAMPriorLoss(reduction="sum")(cams, landmarks), terms[valid].sum())
    # changing a CAM of an excluded target changes nothing
    other = cams.clone()
    other[0, 0] = torch.rand(7, 7)
    torch.testing.assert_close(loss(other, landmarks), loss(cams, landmarks))


def test_all_targets_invalid_gives_zero_with_gradient():
    cams = torch.rand(2, 4, 7, 7, requires_grad=True)
    loss = LandmarkCAMPriorLoss()(cams, torch.full((2, 4, 2, 2), NAN))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.all(cams.grad == 0)


def test_all_zero_cams_give_no_nan():
    cams = torch.zeros(2, 4, 7, 7, requires_grad=True)
    landmarks = torch.full((2, 4, 1, 2), 100.0)
    loss = LandmarkCAMPriorLoss()(cams, landmarks)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(cams.grad).all()


def test_gradient_reaches_features_through_the_cam():
    torch.manual_seed(0)
    net = ResNet18CAM(widen_factor=0.125)
    _, features = net(torch.rand(2, 1, 64, 64))
    features.retain_grad()
    landmarks = torch.full((2, 4, 1, 2), 5.0)
    loss = LandmarkCAMPriorLoss(radius_px=4, sigma_px=8, input_size=(64, 64))(
        net.class_activation_maps(features), landmarks
    )
    loss.backward()
    assert features.grad.abs().sum() > 0 and net.fc.weight.grad.abs().sum() > 0
    assert net.layer1[0].conv1.weight.grad.abs().sum() > 0


def test_invariant_to_input_resolution_and_cam_scale():
    torch.manual_seed(3)
    cams = torch.rand(3, 4, 7, 7)
    landmarks = torch.rand(3, 4, 2, 2) * 224
    landmarks[0, 2] = NAN
    base = LandmarkCAMPriorLoss(radius_px=20, sigma_px=30, input_size=(224, 224), eps=1e-12)(cams, landmarks)
    doubled = LandmarkCAMPriorLoss(radius_px=40, sigma_px=60, input_size=(448, 448), eps=1e-12)(cams, 2 * landmarks)
    torch.testing.assert_close(doubled, base)
    size_at_call = LandmarkCAMPriorLoss(radius_px=40, sigma_px=60, eps=1e-12)(cams, 2 * landmarks, (448, 448))
    torch.testing.assert_close(size_at_call, base)
    torch.testing.assert_close(LandmarkCAMPriorLoss(eps=1e-12)(5 * cams, landmarks), base)


def test_cell_centres_option_moves_the_grid():
    paper = feature_grid_points_px((2, 2), (64, 64))
    centres = feature_grid_points_px((2, 2), (64, 64), cell_centres=True)
    torch.testing.assert_close(paper, torch.tensor([[0.0, 0.0], [0.0, 32.0], [32.0, 0.0], [32.0, 32.0]]))
    torch.testing.assert_close(centres, torch.tensor([[15.5, 15.5], [15.5, 47.5], [47.5, 15.5], [47.5, 47.5]]))
    cams = torch.zeros(1, 1, 2, 2)
    cams[0, 0, 0, 0] = 1.0
    landmarks = torch.tensor([[[[15.5, 15.5]]]])
    assert LandmarkCAMPriorLoss(radius_px=0, sigma_px=4, input_size=(64, 64), cell_centres=True)(
        cams, landmarks
    ).item() == pytest.approx(0.0, abs=1e-6)
    assert LandmarkCAMPriorLoss(radius_px=0, sigma_px=4, input_size=(64, 64))(cams, landmarks).item() > 0.9


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: LandmarkCAMPriorLoss(sigma_px=0), "sigma_px"),
        (lambda: LandmarkCAMPriorLoss(radius_px=-1), "radius_px"),
        (lambda: LandmarkCAMPriorLoss(eps=0), "eps"),
        (lambda: LandmarkCAMPriorLoss(input_size=(224, 0)), "input_size"),
        (lambda: LandmarkCAMPriorLoss()(torch.rand(2, 4, 7), torch.zeros(2, 4, 1, 2)), "cams"),
        (lambda: LandmarkCAMPriorLoss()(torch.rand(2, 4, 7, 7), torch.zeros(2, 3, 1, 2)), "landmarks_px"),
        (lambda: LandmarkCAMPriorLoss()(-torch.rand(2, 4, 7, 7), torch.zeros(2, 4, 1, 2)), "non-negative"),
        (lambda: plateau_gaussian_penalty((7, 7), torch.zeros(3)), "landmarks_px"),
        (lambda: feature_grid_points_px((0, 7), (224, 224)), "grid_size"),
    ],
)
def test_bad_arguments_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
