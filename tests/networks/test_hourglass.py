"""KNEEL hourglass network: HMP arithmetic, size checks, every option reaching its layer, TorchScript."""

from __future__ import annotations

import doctest

import pytest
import torch
from torch import nn

import hipmonai.networks.hourglass as hourglass_module
from hipmonai.networks.hourglass import HMPBlock, Hourglass, KneelHourglassNet, check_input_size, min_input_size


def _small(**kwargs) -> KneelHourglassNet:
    options = {"in_channels": 1, "n_landmarks": 16, "width": 8, "depth": 2}
    options.update(kwargs)
    torch.manual_seed(0)
    return KneelHourglassNet(**options)


def _conv(block: nn.Sequential) -> nn.Conv2d:
    return block[0]


@pytest.mark.parametrize("in_ch, out_ch", [(24, 48), (48, 48), (96, 192), (3, 8)])
def test_hmp_channel_arithmetic(in_ch, out_ch):
    block = HMPBlock(in_ch, out_ch)
    assert (_conv(block.stage1).in_channels, _conv(block.stage1).out_channels) == (in_ch, out_ch // 2)
    assert (_conv(block.stage2).in_channels, _conv(block.stage2).out_channels) == (out_ch // 2, out_ch // 4)
    assert (_conv(block.stage3).in_channels, _conv(block.stage3).out_channels) == (out_ch // 4, out_ch // 4)
    assert all(_conv(s).kernel_size == (3, 3) for s in (block.stage1, block.stage2, block.stage3))
    # ReLU after the first two stages only; the third is conv-norm.
    assert isinstance(block.stage1[-1], nn.ReLU) and isinstance(block.stage2[-1], nn.ReLU)
    assert not any(isinstance(m, nn.ReLU) for m in block.stage3)
    if in_ch == out_ch:
        assert isinstance(block.skip, nn.Identity)
    else:
        assert _conv(block.skip).kernel_size == (1, 1)
        assert (_conv(block.skip).in_channels, _conv(block.skip).out_channels) == (in_ch, out_ch)
    assert block(torch.zeros(2, in_ch, 9, 7)).shape == (2, out_ch, 9, 7)


def test_hmp_output_is_concatenation_plus_skip():
    torch.manual_seed(0)
    block = HMPBlock(8, 8).eval()
    x = torch.randn(1, 8, 5, 5)
    o1 = block.stage1(x)
    o2 = block.stage2(o1)
    o3 = block.stage3(o2)
    torch.testing.assert_close(block(x), torch.cat([o1, o2, o3], 1) + x)


@pytest.mark.parametrize("out_ch", [0, 2, 6, 10, 23])
def test_hmp_rejects_widths_not_divisible_by_four(out_ch):
    with pytest.raises(ValueError, match=rf"out_channels must be a positive multiple of 4.*got {out_ch}\."):
        HMPBlock(8, out_ch)


def test_hmp_rejects_empty_input():
    with pytest.raises(ValueError, match="in_channels must be positive, got 0"):
        HMPBlock(0, 8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 7}, "width must be a positive even number.*got 7"),
        ({"width": 0}, "width must be a positive even number.*got 0"),
        ({"depth": 0}, "depth must be >= 1, got 0"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, r"dropout must be in \[0, 1\), got -0.1"),
        ({"upsample_mode": "bicubic"}, "upsample_mode must be one of .*'bicubic'"),
        ({"n_landmarks": 0}, "n_landmarks must be positive, got 0"),
        ({"in_channels": 0}, "in_channels must be positive, got 0"),
        ({"beta": 0.0}, "beta must be positive, got 0.0"),
        ({"grid": "corner"}, "grid must be one of .*'corner'"),
    ],
)
def test_network_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _small(**kwargs)


def test_min_input_size_formula_matches_the_layers():
    assert [min_input_size(d) for d in (1, 2, 4, 6)] == [7, 15, 63, 255]
    net = _small(depth=2).eval()
    assert net(torch.zeros(1, 1, 15, 15)).shape == (1, 16, 2)
    with pytest.raises(ValueError, match=r"\(W, H\) = \(14, 40\) px is too small for hourglass depth 2.*>= 15 px"):
        net(torch.zeros(1, 1, 14, 40))
    with pytest.raises(ValueError, match=r"\(W, H\) = \(40, 14\)"):
        net(torch.zeros(1, 1, 40, 14))


def test_input_size_checked_at_construction():
    check_input_size((450, 450), 6)
    check_input_size((256, 256), 6)
    with pytest.raises(ValueError, match=r"\(W, H\) = \(200, 450\) px is too small for hourglass depth 6.*>= 255 px"):
        KneelHourglassNet(width=8, depth=6, input_size=(200, 450))
    with pytest.raises(ValueError, match=r"spatial size must be \(W, H\), got \[64\]"):
        check_input_size((64,), 2)


@pytest.mark.parametrize(
    "n_landmarks, size", [(1, (64, 64)), (16, (64, 64)), (16, (65, 50))], ids=["roi", "landmarks", "odd_size"]
)
def test_output_shapes(n_landmarks, size):
    net = _small(n_landmarks=n_landmarks, return_heatmaps=True).eval()
    with torch.no_grad():
        coords, heatmaps = net(torch.randn(3, 1, *size))
    assert coords.shape == (3, n_landmarks, 2)
    assert heatmaps.shape == (3, n_landmarks, -(-size[0] // 2) // 2, -(-size[1] // 2) // 2)
    assert float(coords.min()) >= 0.0 and float(coords.max()) <= 1.0
    torch.testing.assert_close(net.soft_argmax(heatmaps), coords)


def test_default_output_is_a_single_tensor():
    out = _small().eval()(torch.zeros(1, 1, 32, 32))
    assert isinstance(out, torch.Tensor) and out.shape == (1, 16, 2)


def test_structure_follows_width_depth_and_channels():
    net = _small(in_channels=3, n_landmarks=5, width=12, depth=3)
    entry_conv = net.entry[0][0]
    assert (entry_conv.in_channels, entry_conv.out_channels, entry_conv.kernel_size, entry_conv.stride) == (
        3, 12, (7, 7), (2, 2)
    )
    assert [m.out_channels for m in net.entry if isinstance(m, HMPBlock)] == [24, 24, 24, 48]
    levels = [m for m in net.modules() if isinstance(m, Hourglass)]
    assert [level.depth for level in levels] == [3, 2, 1]
    assert all(isinstance(level.lower[0], HMPBlock) and len(level.lower) == 3 for level in levels)
    assert net.hourglass.upper[-1].out_channels == 96
    mixer_convs = [m for m in net.mixer.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in mixer_convs] == [(96, 96, (1, 1)), (96, 48, (1, 1))]
    assert (net.out_block.in_channels, net.out_block.out_channels, net.out_block.kernel_size) == (48, 5, (1, 1))


def test_parameter_count_of_the_reference_configuration():
    net = KneelHourglassNet(in_channels=1, n_landmarks=16, width=24, depth=4)
    # Same layers as the released KNEEL code with true 1x1 skip/output convolutions and no bias before batch norm.
    assert sum(p.numel() for p in net.parameters()) == 3_019_048


def test_dropout_rate_reaches_the_output_block():
    net = _small(dropout=0.4)
    rates = [m.p for m in net.modules() if isinstance(m, nn.Dropout2d)]
    assert rates == [0.4, 0.4]
    x = torch.randn(2, 1, 32, 32)
    net.train()
    torch.manual_seed(1)
    a = net(x)
    torch.manual_seed(2)
    assert not torch.allclose(a, net(x))
    no_drop = _small(dropout=0.0).train()
    torch.testing.assert_close(no_drop(x), no_drop(x))


def test_upsample_mode_reaches_every_level():
    nearest, bilinear = _small(upsample_mode="nearest"), _small(upsample_mode="bilinear")
    bilinear.load_state_dict(nearest.state_dict())
    assert {m.upsample_mode for m in bilinear.modules() if isinstance(m, Hourglass)} == {"bilinear"}
    assert {m.upsample_mode for m in nearest.modules() if isinstance(m, Hourglass)} == {"nearest"}
    x = torch.randn(2, 1, 32, 32)
    assert not torch.allclose(nearest.eval()(x), bilinear.eval()(x))


def test_norm_and_act_reach_every_block():
    net = _small(norm="instance", act="prelu")
    kinds = {type(m) for m in net.modules()}
    assert nn.InstanceNorm2d in kinds and nn.BatchNorm2d not in kinds
    assert nn.PReLU in kinds and nn.ReLU not in kinds


def test_soft_argmax_options_reach_the_layer():
    net = _small(beta=2.5, learnable_beta=True, grid="paper")
    assert net.soft_argmax.grid == "paper" and float(net.soft_argmax.beta.detach()) == 2.5
    assert any(p is net.soft_argmax.beta for p in net.parameters())
    fixed = _small()
    assert not any(p is fixed.soft_argmax.beta for p in fixed.parameters())


def test_every_parameter_gets_a_gradient():
    net = _small(learnable_beta=True).train()
    coords = net(torch.randn(2, 1, 32, 32))
    (coords - 0.5).abs().mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
@pytest.mark.parametrize("return_heatmaps, upsample_mode", [(False, "nearest"), (True, "bilinear")])
def test_torchscript_script_and_trace(return_heatmaps, upsample_mode):
    net = _small(return_heatmaps=return_heatmaps, upsample_mode=upsample_mode, width=4, depth=1).eval()
    x = torch.randn(2, 1, 20, 18)
    expected = net(x)
    scripted = torch.jit.script(net)
    traced = torch.jit.trace(net, x, check_trace=False)
    for exported in (scripted, traced):
        got = exported(x)
        if return_heatmaps:
            torch.testing.assert_close(got[0], expected[0])
            torch.testing.assert_close(got[1], expected[1])
        else:
            torch.testing.assert_close(got, expected)
    with pytest.raises(torch.jit.Error, match=r"\(5, 40\) px is too small for hourglass depth 1"):
        scripted(torch.zeros(1, 1, 5, 40))


def test_torch_export():
    net = _small(width=4, depth=1).eval()
    x = torch.randn(2, 1, 20, 18)
    torch.testing.assert_close(torch.export.export(net, (x,)).module()(x), net(x))


def test_docstring_examples():
    assert doctest.testmod(hourglass_module).failed == 0
