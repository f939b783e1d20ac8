"""KNEEL hourglass network with HMP residual blocks and soft-argmax (Tiulpin et al. 2019 §3.1, Figs. 3-4).

Layout (docs/conventions.md): images ``(B, C, W, H)`` — spatial dim ``-2`` is x (columns), dim ``-1`` is y (rows);
landmarks ``(B, M, 2)`` as normalised ``(x, y)`` (see :mod:`hipmonai.networks.soft_argmax` for the grid).

Architecture at width ``N`` (channel counts as in the authors' released code, MIPT-Oulu/KNEEL):

* entry block: 7x7 conv stride 2 (``C -> N``) + norm + act, HMP ``N -> 2N``, 2x2 max-pool, HMP ``2N -> 2N``,
  HMP ``2N -> 2N``, HMP ``2N -> 4N`` (the image is now 4x smaller);
* hourglass of depth ``d`` (:class:`Hourglass`): per level a 2x2 max-pool and 3 HMP blocks on the lower path, the
  next level (or one HMP block at level ``d``), one HMP block after it, up-sampling to the level's size, and a sum
  with an upper path of 3 HMP blocks at the level's own resolution; ``4N`` channels in, ``8N`` out;
* output block: dropout, 1x1 conv ``8N -> 8N`` + norm + act, dropout, 1x1 conv ``8N -> 4N`` + norm + act,
  1x1 conv ``4N -> M`` heatmaps (at 1/4 of the input size);
* soft-argmax (:class:`~hipmonai.networks.soft_argmax.SoftArgmax2D`) to ``(B, M, 2)`` normalised coordinates.

Deliberate differences from the released code, both following the paper's text: the skip and output-block
convolutions are really 1x1 (the authors' ``conv_block_1x1`` helper builds a 3x3 convolution), and convolutions
followed by a normalisation layer have no bias (a bias before batch norm is cancelled by it). At ``N = 24``,
``d = 4``, 1 input channel and 16 landmarks this gives 3,019,048 parameters; the released network has 4.25 M, of which
about 1.23 M come from its 3x3 "1x1" convolutions (a rebuild of it with true 1x1 convolutions, biases and 3 input
channels has 3,026,704).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from torch import nn

from hipmonai.networks.soft_argmax import SoftArgmax2D

__all__ = ["UPSAMPLE_MODES", "HMPBlock", "Hourglass", "KneelHourglassNet", "check_input_size", "min_input_size"]

UPSAMPLE_MODES = ("nearest", "bilinear")
_NORM = ("batch", {})
_ACT = ("relu", {"inplace": True})


def _conv_norm_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    norm: str | tuple,
    act: str | tuple | None,
    stride: int = 1,
) -> nn.Sequential:
    """``kernel_size`` conv (same padding, no bias) -> norm -> act (``act=None``: no activation)."""
    conv = Conv[Conv.CONV, 2](
        in_channels, out_channels, kernel_size=kernel_size, stride=stride, padding=kernel_size // 2, bias=False
    )
    layers: list[nn.Module] = [conv, get_norm_layer(name=norm, spatial_dims=2, channels=out_channels)]
    if act is not None:
        layers.append(get_act_layer(act))
    return nn.Sequential(*layers)


class HMPBlock(nn.Module):
    """Hierarchical multi-scale parallel (HMP) residual block (Bulat & Tzimiropoulos 2017; Tiulpin et al. 2019 Fig. 3b).

    Three chained 3x3 conv-norm stages with ``out/2``, ``out/4`` and ``out/4`` channels (act after the first two, as
    in the authors' code), concatenated to ``out`` channels, plus a skip that is the identity when
    ``in_channels == out_channels`` and a 1x1 conv-norm otherwise. Spatial size is kept.

    Args:
        in_channels: ``n`` input feature maps.
        out_channels: ``m`` output feature maps; a positive multiple of 4.
        norm: normalisation layer, as :func:`monai.networks.layers.utils.get_norm_layer` takes it.
        act: activation layer, as :func:`monai.networks.layers.utils.get_act_layer` takes it.

    Example:
        >>> import torch
        >>> HMPBlock(24, 48)(torch.zeros(2, 24, 16, 12)).shape
        torch.Size([2, 48, 16, 12])
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str | tuple = _NORM, act: str | tuple = _ACT):
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"HMP block in_channels must be positive, got {in_channels}.")
        if out_channels < 4 or out_channels % 4:
            raise ValueError(
                f"HMP block out_channels must be a positive multiple of 4 (stages of out/2, out/4, out/4 channels), "
                f"got {out_channels}."
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stage1 = _conv_norm_act(in_channels, out_channels // 2, 3, norm, act)
        self.stage2 = _conv_norm_act(out_channels // 2, out_channels // 4, 3, norm, act)
        self.stage3 = _conv_norm_act(out_channels // 4, out_channels // 4, 3, norm, None)
        self.skip: nn.Module = (
            nn.Identity() if in_channels == out_channels else _conv_norm_act(in_channels, out_channels, 1, norm, None)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, W, H)`` -> ``(B, out_channels, W, H)``."""
        o1 = self.stage1(x)
        o2 = self.stage2(o1)
        o3 = self.stage3(o2)
        return torch.cat([o1, o2, o3], dim=1) + self.skip(x)


class Hourglass(nn.Module):
    """One hourglass level and, recursively, the ``depth - 1`` levels below it (Tiulpin et al. 2019 §3.1, Fig. 4).

    ``out = upper(x) + upsample(after(inner(lower(maxpool2x2(x)))))`` where ``lower`` and ``upper`` are 3 HMP blocks
    each, ``inner`` is the next level (``depth > 1``) or one HMP block (``depth == 1``), and ``after`` one HMP block.
    The up-sampling goes to the exact size of ``x``, so odd sizes are handled.

    Args:
        depth: number of 2x2 max-pool levels, ``>= 1``.
        in_channels: channels of ``x``.
        width: channels inside the hourglass (multiple of 4).
        out_channels: channels of the output (multiple of 4).
        upsample_mode: ``"nearest"`` (paper) or ``"bilinear"`` (authors' released code; ``align_corners=False``).
        norm: normalisation layer for every HMP block.
        act: activation layer for every HMP block.
    """

    __constants__ = ["upsample_mode", "align_corners"]

    def __init__(
        self,
        depth: int,
        in_channels: int,
        width: int,
        out_channels: int,
        upsample_mode: str = "nearest",
        norm: str | tuple = _NORM,
        act: str | tuple = _ACT,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"hourglass depth must be >= 1, got {depth}.")
        if upsample_mode not in UPSAMPLE_MODES:
            raise ValueError(f"upsample_mode must be one of {UPSAMPLE_MODES}, got {upsample_mode!r}.")
        self.depth = depth
        self.upsample_mode = upsample_mode
        self.align_corners: bool | None = None if upsample_mode == "nearest" else False
        self.lower = nn.Sequential(
            HMPBlock(in_channels, width, norm, act),
            HMPBlock(width, width, norm, act),
            HMPBlock(width, width, norm, act),
        )
        self.inner: nn.Module = (
            Hourglass(depth - 1, width, width, out_channels, upsample_mode, norm, act)
            if depth > 1
            else HMPBlock(width, out_channels, norm, act)
        )
        self.after = HMPBlock(out_channels, out_channels, norm, act)
        self.upper = nn.Sequential(
            HMPBlock(in_channels, width, norm, act),
            HMPBlock(width, width, norm, act),
            HMPBlock(width, out_channels, norm, act),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, W, H)`` -> ``(B, out_channels, W, H)``."""
        low = self.after(self.inner(self.lower(F.max_pool2d(x, 2))))
        size = [x.shape[-2], x.shape[-1]]
        up = F.interpolate(low, size=size, mode=self.upsample_mode, align_corners=self.align_corners)
        return self.upper(x) + up


def min_input_size(depth: int) -> int:
    """Smallest side in pixels that a network of hourglass ``depth`` accepts.

    The entry block maps a side ``n`` to ``floor(ceil(n / 2) / 2)`` (stride-2 conv, 2x2 max-pool) and each hourglass
    level halves it again (floor); the deepest level needs at least one cell: ``n >= 2 ** (depth + 2) - 1``.
    """
    return 2 ** (depth + 2) - 1


def check_input_size(spatial_size: Sequence[int], depth: int) -> None:
    """Raise ``ValueError`` naming the sizes when an image of ``spatial_size`` ``(W, H)`` px is too small for
    ``depth``."""
    sizes = [int(s) for s in spatial_size]
    if len(sizes) != 2:
        raise ValueError(f"spatial size must be (W, H), got {list(spatial_size)}.")
    need = min_input_size(depth)
    if min(sizes) < need:
        raise ValueError(
            f"input spatial size (W, H) = {tuple(sizes)} px is too small for hourglass depth {depth}: every side needs "
            f">= {need} px (entry block /4, then {depth} 2x2 max-pools)."
        )


class KneelHourglassNet(nn.Module):
    """KNEEL landmark network: entry block, hourglass, output block, soft-argmax (Tiulpin et al. 2019 §3.1, Fig. 4).

    Args:
        in_channels: image channels ``C``.
        n_landmarks: ``M`` heatmaps / landmarks (1 for the ROI stage, 16 for the landmark stage).
        width: network width ``N`` (paper: 24); a positive even number, since HMP blocks of ``2N`` channels need a
            multiple of 4.
        depth: hourglass depth ``d`` (paper: 6; the released code: 4). The input needs every side
            ``>= 2 ** (depth + 2) - 1`` px (:func:`min_input_size`).
        upsample_mode: ``"nearest"`` (paper) or ``"bilinear"`` (released code).
        dropout: channel dropout (``nn.Dropout2d``) probability before each 1x1 block of the output block (paper: 0.25).
        norm: normalisation layer of every conv block (MONAI ``get_norm_layer`` spec).
        act: activation layer of every conv block (MONAI ``get_act_layer`` spec).
        beta: inverse temperature of the soft-argmax (Eq. 1).
        learnable_beta: train ``beta``.
        grid: soft-argmax grid, ``"pixel_centre"`` or ``"paper"`` (see :mod:`hipmonai.networks.soft_argmax`).
        return_heatmaps: ``forward`` returns ``(coordinates, heatmaps)`` instead of coordinates only. The default
            single-tensor output is what TorchScript export and MONAI's ``verify_net_in_out`` expect.
        input_size: optional ``(W, H)`` the network will see; checked against ``depth`` now rather than at the first
            forward pass.

    Input ``(B, C, W, H)``; output ``(B, M, 2)`` normalised ``(x, y)`` and, with ``return_heatmaps``, the
    ``(B, M, ceil(W/2)//2, ceil(H/2)//2)`` heatmap logits.

    Example:
        >>> import torch
        >>> net = KneelHourglassNet(in_channels=1, n_landmarks=16, width=8, depth=2).eval()
        >>> net(torch.zeros(2, 1, 64, 48)).shape
        torch.Size([2, 16, 2])
    """

    __constants__ = ["return_heatmaps", "depth", "min_size"]

    def __init__(
        self,
        in_channels: int = 1,
        n_landmarks: int = 16,
        width: int = 24,
        depth: int = 6,
        upsample_mode: str = "nearest",
        dropout: float = 0.25,
        norm: str | tuple = _NORM,
        act: str | tuple = _ACT,
        beta: float = 1.0,
        learnable_beta: bool = False,
        grid: str = "pixel_centre",
        return_heatmaps: bool = False,
        input_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be positive, got {in_channels}.")
        if n_landmarks < 1:
            raise ValueError(f"n_landmarks must be positive, got {n_landmarks}.")
        if width < 2 or width % 2:
            raise ValueError(f"width must be a positive even number (HMP blocks of 2*width channels), got {width}.")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        if upsample_mode not in UPSAMPLE_MODES:
            raise ValueError(f"upsample_mode must be one of {UPSAMPLE_MODES}, got {upsample_mode!r}.")
        if input_size is not None:
            check_input_size(input_size, depth)
        self.in_channels = in_channels
        self.n_landmarks = n_landmarks
        self.width = width
        self.depth = depth
        self.min_size = min_input_size(depth)
        self.upsample_mode = upsample_mode
        self.return_heatmaps = return_heatmaps
        n = width
        self.entry = nn.Sequential(
            _conv_norm_act(in_channels, n, 7, norm, act, stride=2),
            HMPBlock(n, 2 * n, norm, act),
            nn.MaxPool2d(2),
            HMPBlock(2 * n, 2 * n, norm, act),
            HMPBlock(2 * n, 2 * n, norm, act),
            HMPBlock(2 * n, 4 * n, norm, act),
        )
        self.hourglass = Hourglass(depth, 4 * n, 4 * n, 8 * n, upsample_mode, norm, act)
        self.mixer = nn.Sequential(
            nn.Dropout2d(p=dropout),
            _conv_norm_act(8 * n, 8 * n, 1, norm, act),
            nn.Dropout2d(p=dropout),
            _conv_norm_act(8 * n, 4 * n, 1, norm, act),
        )
        self.out_block = Conv[Conv.CONV, 2](4 * n, n_landmarks, kernel_size=1)
        self.soft_argmax = SoftArgmax2D(beta=beta, learnable_beta=learnable_beta, grid=grid)

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, W, H)`` image -> ``(B, M, W', H')`` heatmap logits at 1/4 of the input size."""
        if not torch.jit.is_tracing() and (x.shape[-2] < self.min_size or x.shape[-1] < self.min_size):
            raise ValueError(
                f"input spatial size (W, H) = ({x.shape[-2]}, {x.shape[-1]}) px is too small for hourglass depth "
                f"{self.depth}: every side needs >= {self.min_size} px."
            )
        return self.out_block(self.mixer(self.hourglass(self.entry(x))))

    def forward(self, x: torch.Tensor):
        """``(B, C, W, H)`` -> ``(B, M, 2)`` normalised ``(x, y)``; with ``return_heatmaps`` also the heatmaps."""
        heatmaps = self.heatmaps(x)
        coordinates = self.soft_argmax(heatmaps)
        if self.return_heatmaps:
            return coordinates, heatmaps
        return coordinates
