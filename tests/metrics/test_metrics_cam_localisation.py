from __future__ import annotations

import math

import pytest
import torch
from monai.visualize import GradCAM

from hipmonai.metrics.cam_localisation import (
    GradCAMExtractor,
    centre_of_mass_distance,
    energy_inside_mask,
    grad_cam,
    heatmap_centre_of_mass,
    heatmap_peak,
    heatmap_spread,
    localisation_metrics,
    normalise_heatmaps,
    peak_distance,
    pointing_game,
)
from hipmonai.networks.multitask_resnet import MultitaskResNet18, ordinal_output_index
from hipmonai.networks.resnet_cam import ResNet18CAM

NAN = float("nan")


@pytest.fixture
def two_blobs() -> torch.Tensor:
    """(W, H) = (8, 6) heatmap: mass 1 at (x=2, y=3) and 3 at (x=6, y=3)."""
    m = torch.zeros(8, 6)
    m[2, 3], m[6, 3] = 1.0, 3.0
    return m


def test_centre_of_mass_peak_and_spread_by_hand(two_blobs):
    torch.testing.assert_close(heatmap_centre_of_mass(two_blobs), torch.tensor([5.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(heatmap_peak(two_blobs), torch.tensor([6.0, 3.0], dtype=torch.float64))
    # sum M d^2 = 1 * 3^2 + 3 * 1^2 = 12 over mass 4 -> sqrt(3)
    assert heatmap_spread(two_blobs, eps=0).item() == pytest.approx(math.sqrt(3))
    assert heatmap_spread(two_blobs).item() == pytest.approx(math.sqrt(12 / (4 + 1e-6)))
    single = torch.zeros(8, 6)
    single[1, 4] = 0.5
    assert heatmap_spread(single).item() == 0.0


def test_distances_to_the_nearest_valid_landmark(two_blobs):
    landmarks = torch.tensor([[5.0, 7.0], [NAN, NAN], [6.0, 0.0]])
    assert centre_of_mass_distance(two_blobs, landmarks).item() == pytest.approx(math.hypot(1, 3))
    assert peak_distance(two_blobs, landmarks).item() == pytest.approx(3.0)
    assert math.isnan(peak_distance(two_blobs, torch.full((2, 2), NAN)).item())


def test_undefined_cases_give_nan(two_blobs):
    zero = torch.zeros(8, 6)
    assert torch.isnan(heatmap_centre_of_mass(zero)).all() and torch.isnan(heatmap_peak(zero)).all()
    assert math.isnan(heatmap_spread(zero).item())
    assert math.isnan(centre_of_mass_distance(zero, torch.zeros(1, 2)).item())
    assert math.isnan(pointing_game(zero, torch.ones(8, 6)).item())
    assert math.isnan(energy_inside_mask(zero, torch.ones(8, 6)).item())
    assert math.isnan(pointing_game(two_blobs, torch.zeros(8, 6)).item())
    assert math.isnan(energy_inside_mask(two_blobs, torch.zeros(8, 6)).item())


def test_pointing_game_and_energy_inside_mask(two_blobs):
    around_peak = torch.zeros(8, 6)
    around_peak[5:8, 2:5] = 1
    around_small = torch.zeros(8, 6)
    around_small[2, 3] = 1
    assert pointing_game(two_blobs, around_peak).item() == 1.0
    assert pointing_game(two_blobs, around_small).item() == 0.0
    assert energy_inside_mask(two_blobs, around_small).item() == pytest.approx(0.25)
    assert energy_inside_mask(two_blobs, around_peak).item() == pytest.approx(0.75)


def test_batched_metrics_dictionary(two_blobs):
    heatmaps = torch.stack([two_blobs, torch.zeros(8, 6)])[None]  # (1, 2, 8, 6)
    landmarks = torch.tensor([[[[6.0, 3.0]], [[1.0, 1.0]]]])  # (1, 2, 1, 2)
    masks = torch.ones(1, 2, 8, 6)
    out = localisation_metrics(heatmaps, landmarks, masks)
    assert set(out) == {"com_distance_px", "peak_distance_px", "spread_px", "pointing_game", "energy_inside"}
    assert all(v.shape == (1, 2) for v in out.values())
    assert out["peak_distance_px"][0, 0] == 0.0 and out["com_distance_px"][0, 0] == 1.0
    assert all(torch.isnan(v[0, 1]) for v in out.values())
    assert set(localisation_metrics(heatmaps, landmarks)) == {"com_distance_px", "peak_distance_px", "spread_px"}


def test_normalisation_never_inverts():
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[2.0, 2.0], [2.0, 2.0]]])
    minmax = normalise_heatmaps(maps)
    torch.testing.assert_close(minmax[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    assert torch.all(minmax[1] == 0)  # constant map
    torch.testing.assert_close(normalise_heatmaps(maps, "max")[0], maps[0] / 5)
    assert normalise_heatmaps(maps, "none") is maps
    with pytest.raises(ValueError, match="normalisation"):
        normalise_heatmaps(maps, "inverse")


def test_grad_cam_is_upsampled_normalised_batched_and_leaves_the_model_alone():
    torch.manual_seed(0)
    net = ResNet18CAM(widen_factor=0.125)
    net.train()
    images = torch.rand(3, 1, 64, 48)
    maps = GradCAMExtractor(net)(images)
    assert maps.shape == (3, 4, 64, 48) and not maps.requires_grad
    assert maps.min() >= 0 and maps.max() <= 1
    flat = maps.flatten(-2)
    assert torch.all((flat.amax(-1) == 1) | (flat.amax(-1) == 0))
    assert net.training and not net.layer4._forward_hooks and not net.layer4._backward_hooks
    single = GradCAMExtractor(net)(images[1:2], class_indices=[2])
    torch.testing.assert_close(single[0, 0], maps[1, 2], rtol=1e-4, atol=1e-5)  # batch > 1 = one at a time
    # same maps as MONAI's GradCAM followed by a non-inverting min-max (its default would map max -> 0)
    reference_net = ResNet18CAM(widen_factor=0.125, return_features=False)
    reference_net.load_state_dict(net.state_dict())
    raw = GradCAM(reference_net, target_layers="layer4", postprocessing=lambda m: m)(x=images, class_idx=2)[:, 0]
    torch.testing.assert_close(maps[:, 2], normalise_heatmaps(raw.detach()), rtol=1e-4, atol=1e-5)
    assert torch.equal(maps[:, 2].flatten(-2).argmax(-1), raw.flatten(-2).argmax(-1))


def test_grad_cam_per_ordinal_head_of_the_multitask_network():
    torch.manual_seed(0)
    net = MultitaskResNet18(widen_factor=0.125)
    maps = grad_cam(net, torch.rand(2, 1, 32, 32), class_indices=[ordinal_output_index(0, 3)], normalisation="max")
    assert maps.shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="target_layer"):
        GradCAMExtractor(net, target_layer="layer9")
    with pytest.raises(ValueError, match="normalisation"):
        GradCAMExtractor(net, normalisation="inverted")
    with pytest.raises(ValueError, match=r"\(B, C, W, H\)"):
        GradCAMExtractor(net)(torch.rand(1, 32, 32))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: heatmap_peak(torch.zeros(4)), "\\(\\.\\.\\., W, H\\)"),
        (lambda: heatmap_spread(-torch.ones(3, 3)), "non-negative"),
        (lambda: pointing_game(torch.ones(3, 3), torch.ones(3, 4)), "mask shape"),
        (lambda: centre_of_mass_distance(torch.ones(2, 3, 3), torch.zeros(3, 1, 2)), "landmarks"),
        (lambda: heatmap_spread(torch.ones(3, 3), eps=-1), "eps"),
    ],
)
def test_bad_inputs_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
