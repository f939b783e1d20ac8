from __future__ import annotations

import pytest
import torch

from hipmonai.networks.multitask_resnet import (
    MultitaskResNet18,
    ordinal_output_index,
    predicted_grades,
    split_multitask_logits,
)
from hipmonai.networks.resnet_cam import ResNet18Backbone, ResNet18CAM


def test_packed_layout_matches_heads():
    torch.manual_seed(0)
    net = MultitaskResNet18(widen_factor=0.125).eval()
    x = torch.rand(3, 1, 64, 64)
    out = net(x)
    assert out.shape == (3, 17)
    pooled = net.pool_features(net.forward_features(x))
    global_logit, ordinal = split_multitask_logits(out)
    torch.testing.assert_close(global_logit, net.global_head(pooled)[:, 0])
    for q in range(4):
        torch.testing.assert_close(ordinal[:, q], net.ordinal_heads[q](pooled))
        for k in range(4):
            torch.testing.assert_close(out[:, ordinal_output_index(q, k)], net.ordinal_heads[q](pooled)[:, k])
    torch.testing.assert_close(predicted_grades(out), ordinal.argmax(-1))


def test_shares_the_part_a_backbone():
    net = MultitaskResNet18(widen_factor=0.125)
    assert isinstance(net, ResNet18Backbone) and net.fc is None
    cam = ResNet18CAM(widen_factor=0.125)
    backbone = {k: v.shape for k, v in cam.state_dict().items() if not k.startswith("fc.")}
    assert backbone == {k: v.shape for k, v in net.state_dict().items() if not k.endswith(("_head.weight",
                        "_head.bias")) and not k.startswith("ordinal_heads")}


@pytest.mark.parametrize(("num_quadrants", "num_grades"), [(4, 4), (2, 3)])
def test_head_counts_follow_options(num_quadrants, num_grades):
    net = MultitaskResNet18(num_quadrants=num_quadrants, num_grades=num_grades, widen_factor=0.125)
    out = net(torch.rand(2, 1, 32, 32))
    assert out.shape == (2, 1 + num_quadrants * num_grades) and len(net.ordinal_heads) == num_quadrants
    assert split_multitask_logits(out, num_quadrants)[1].shape == (2, num_quadrants, num_grades)


def test_backbone_options_are_passed_through():
    net = MultitaskResNet18(widen_factor=0.25, no_max_pool=True, conv1_t_size=5, n_input_channels=2)
    assert net.conv1.kernel_size == (5, 5) and net.conv1.in_channels == 2 and net.feature_channels == 128
    assert net.forward_features(torch.rand(1, 2, 64, 64)).shape == (1, 128, 4, 4)
    assert net.global_head.in_features == 128


def test_scripts_to_a_single_tensor():
    net = MultitaskResNet18(widen_factor=0.125).eval()
    x = torch.rand(1, 1, 32, 32)
    torch.testing.assert_close(torch.jit.script(net)(x), net(x))


def test_pretrained_backbone_keeps_heads(tmp_path):
    source = ResNet18CAM(num_classes=1000, n_input_channels=3)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    torch.manual_seed(0)
    net = MultitaskResNet18(pretrained_path=path)
    torch.testing.assert_close(net.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    assert net.global_head.weight.shape == (1, 512)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: split_multitask_logits(torch.zeros(2, 16)), "1 \\+ 4 \\* K"),
        (lambda: split_multitask_logits(torch.zeros(2, 3, 17)), "1 \\+ 4 \\* K"),
        (lambda: ordinal_output_index(0, 4), "grade"),
        (lambda: MultitaskResNet18(num_grades=1), "num_grades"),
        (lambda: MultitaskResNet18(num_quadrants=0), "num_quadrants"),
    ],
)
def test_bad_layouts_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
