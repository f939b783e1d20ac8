from __future__ import annotations

import pytest
import torch
from monai.networks.nets.resnet import ResNet

from hipmonai import InputError
from hipmonai.networks.resnet_cam import (
    ResNet18Backbone,
    ResNet18CAM,
    class_activation_maps,
    load_torchvision_resnet18_weights,
)

TINY = {"widen_factor": 0.125}


def _torchvision_like_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with torchvision resnet18's names and shapes (3-channel stem, 1000-class fc), random values."""
    gen = torch.Generator().manual_seed(seed)
    reference = ResNet18CAM(num_classes=1000, n_input_channels=3)
    return {k: (torch.randn(v.shape, generator=gen) if v.is_floating_point() else v.clone())
            for k, v in reference.state_dict().items()}


def test_is_monai_resnet18_with_torchvision_layout():
    net = ResNet18CAM()
    assert isinstance(net, ResNet)
    assert net.conv1.weight.shape == (64, 1, 7, 7) and net.conv1.stride == (2, 2)
    assert net.fc.weight.shape == (4, 512) and net.feature_channels == 512
    assert [len(getattr(net, f"layer{i}")) for i in range(1, 5)] == [2, 2, 2, 2]
    assert net.layer2[0].downsample[0].bias is None  # torchvision: projection shortcut without bias
    logits, features = net(torch.rand(1, 1, 224, 224))
    assert logits.shape == (1, 4) and features.shape == (1, 512, 7, 7)  # Chen et al.: 7x7 at 224


def test_forward_returns_logits_and_last_features_in_x_y_order():
    torch.manual_seed(0)
    net = ResNet18CAM(**TINY).eval()
    x = torch.rand(2, 1, 64, 96)  # W=64, H=96 -> w=2, h=3
    logits, features = net(x)
    assert features.shape == (2, 64, 2, 3)
    torch.testing.assert_close(features, net.forward_features(x))
    torch.testing.assert_close(logits, net.fc(features.mean(dim=(-2, -1))))


@pytest.mark.parametrize(
    ("option", "value", "check"),
    [
        ("widen_factor", 0.25, lambda net, f: f.shape[1] == 128 and net.conv1.out_channels == 16),
        ("n_input_channels", 3, lambda net, f: net.conv1.in_channels == 3),
        ("num_classes", 7, lambda net, f: net.fc.out_features == 7),
        ("conv1_t_size", 3, lambda net, f: net.conv1.kernel_size == (3, 3)),
        ("conv1_t_stride", 1, lambda net, f: f.shape[-2:] == (4, 4)),
        ("no_max_pool", True, lambda net, f: f.shape[-2:] == (4, 4)),
        ("shortcut_type", "A", lambda net, f: not isinstance(net.layer2[0].downsample, torch.nn.Sequential)),
        ("bias_downsample", True, lambda net, f: net.layer2[0].downsample[0].bias is not None),
    ],
)
def test_every_option_reaches_the_network(option, value, check):
    kwargs = {**TINY, option: value}
    net = ResNet18CAM(**kwargs).eval()
    channels = kwargs.get("n_input_channels", 1)
    _, features = net(torch.rand(1, channels, 64, 64))
    default_net = ResNet18CAM(**TINY)
    _, default_features = default_net(torch.rand(1, 1, 64, 64))
    assert default_features.shape[-2:] == (2, 2)
    assert check(net, features)


def test_return_features_false_gives_single_tensor_and_scripts():
    net = ResNet18CAM(return_features=False, **TINY).eval()
    x = torch.rand(2, 1, 64, 64)
    out = net(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 4)
    scripted = torch.jit.script(net)
    torch.testing.assert_close(scripted(x), out)
    with_features = ResNet18CAM(**TINY).eval()
    with_features.load_state_dict(net.state_dict())
    torch.testing.assert_close(with_features(x)[0], out)


def test_class_activation_maps_match_definition_and_logits():
    torch.manual_seed(1)
    features = torch.rand(2, 5, 3, 4)
    weight, bias = torch.randn(4, 5), torch.randn(4)
    cams = class_activation_maps(features, weight)
    expected = torch.relu(torch.einsum("bkxy,ck->bcxy", features, weight))
    torch.testing.assert_close(cams, expected)
    assert (cams >= 0).all() and cams.shape == (2, 4, 3, 4)
    with_bias = class_activation_maps(features, weight, bias)
    torch.testing.assert_close(with_bias, torch.relu(expected.new_tensor(0) + torch.einsum(
        "bkxy,ck->bcxy", features, weight) + bias[None, :, None, None]))
    # before the ReLU, the spatial mean of the map is the logit (GAP commutes with the linear layer)
    pre_relu = torch.einsum("bkxy,ck->bcxy", features, weight).mean(dim=(-2, -1)) + bias
    torch.testing.assert_close(pre_relu, features.mean(dim=(-2, -1)) @ weight.T + bias)


def test_class_activation_maps_are_differentiable_to_features_and_weights():
    net = ResNet18CAM(**TINY)
    x = torch.rand(2, 1, 64, 64)
    _, features = net(x)
    cams = net.class_activation_maps(features)
    cams.sum().backward()
    assert net.fc.weight.grad is not None and net.fc.weight.grad.abs().sum() > 0
    assert net.layer4[1].conv2.weight.grad.abs().sum() > 0 and net.conv1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("features", "weight", "bias", "message"),
    [
        (torch.rand(2, 5, 3), torch.rand(4, 5), None, "features"),
        (torch.rand(2, 5, 3, 3), torch.rand(4, 6), None, "fc_weight"),
        (torch.rand(2, 5, 3, 3), torch.rand(4, 5), torch.rand(3), "fc_bias"),
    ],
)
def test_class_activation_maps_reject_bad_shapes(features, weight, bias, message):
    with pytest.raises(ValueError, match=message):
        class_activation_maps(features, weight, bias)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"widen_factor": 0.001}, "widen_factor"), ({"shortcut_type": "C"}, "shortcut_type"),
     ({"n_input_channels": 0}, "n_input_channels"), ({"num_classes": 0}, "num_classes")],
)
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNet18CAM(**kwargs)


def test_torchvision_weights_map_by_name_and_sum_rgb_stem(tmp_path):
    state = _torchvision_like_state_dict()
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save(state, path)
    net = ResNet18CAM(pretrained_path=path)
    own = net.state_dict()
    torch.testing.assert_close(own["conv1.weight"], state["conv1.weight"].sum(dim=1, keepdim=True))
    for name in ("bn1.running_mean", "layer1.0.conv1.weight", "layer3.1.bn2.bias", "layer4.0.downsample.0.weight",
                 "layer4.0.downsample.1.running_var"):
        torch.testing.assert_close(own[name], state[name])
    assert own["fc.weight"].shape == (4, 512) and not torch.equal(own["fc.weight"], state["fc.weight"][:4])
    rgb = ResNet18CAM(n_input_channels=3, pretrained_path=path)
    torch.testing.assert_close(rgb.state_dict()["conv1.weight"], state["conv1.weight"])
    # a grey image replicated to RGB gives the same stem response as the summed one-channel kernel
    grey = torch.rand(1, 1, 32, 32)
    torch.testing.assert_close(net.conv1(grey), rgb.conv1(grey.expand(1, 3, 32, 32)), rtol=1e-4, atol=1e-4)


def test_torchvision_weights_accept_wrapped_and_prefixed_dicts(tmp_path):
    state = _torchvision_like_state_dict(seed=3)
    path = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    net = ResNet18Backbone(feed_forward=False)
    loaded = load_torchvision_resnet18_weights(net, path)
    assert "layer2.0.downsample.0.weight" in loaded and not any(k.startswith("fc.") for k in loaded)
    torch.testing.assert_close(net.state_dict()["layer2.1.conv1.weight"], state["layer2.1.conv1.weight"])


def test_torchvision_weights_missing_or_mismatched_file_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        ResNet18CAM(pretrained_path=tmp_path / "absent.pth")
    path = tmp_path / "resnet18.pth"
    torch.save(_torchvision_like_state_dict(), path)
    with pytest.raises(InputError, match="shape mismatch.*widen_factor=1"):
        ResNet18CAM(widen_factor=0.5, pretrained_path=path)
    with pytest.raises(InputError, match="missing: layer2.0.downsample.0.bias"):
        ResNet18CAM(bias_downsample=True, pretrained_path=path)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="cannot read"):
        ResNet18CAM(pretrained_path=garbage)
    not_a_state = tmp_path / "list.pth"
    torch.save([1, 2, 3], not_a_state)
    with pytest.raises(InputError, match="state dict of tensors"):
        ResNet18CAM(pretrained_path=not_a_state)
