"""ResNet-18 (MONAI, 2D, one input channel) that also returns its last convolutional feature map, and the
differentiable class activation maps of Chen et al. eq. (2).

Axes follow docs/conventions.md: images are ``(B, C, W, H)`` (dim -2 = x = columns, dim -1 = y = rows) and the
feature maps keep that order, ``(B, K, w, h)``, so a landmark ``(x, y)`` in input pixels sits near feature cell
``(x * w / W, y * h / H)``.

The backbone is MONAI's :class:`monai.networks.nets.ResNet` with the ResNet-18 layout (basic blocks ``[2, 2, 2, 2]``)
and, by default, the torchvision/ImageNet stem (7x7 stride-2 conv, max-pool, projection shortcuts without bias), so
a 224 x 224 crop gives a 7 x 7 feature map as in Chen et al. section 3.2 and torchvision weights map one-to-one.
MONAI 1.6.1's ``ResNet`` applies ``norm``/``act`` to the stem only, never inside the residual blocks, so those two
options are deliberately not offered here.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from monai.networks.nets.resnet import ResNet, get_inplanes

from hipmonai.errors import InputError
from hipmonai.networks.checkpoint import read_checkpoint

__all__ = [
    "BACKBONE_PREFIXES",
    "RESNET18_LAYERS",
    "ResNet18Backbone",
    "ResNet18CAM",
    "class_activation_maps",
    "load_torchvision_resnet18_weights",
]

#: Basic blocks per stage of ResNet-18.
RESNET18_LAYERS = (2, 2, 2, 2)
#: State-dict name prefixes of the shared backbone (identical in MONAI's ResNet and torchvision's resnet18).
BACKBONE_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


def class_activation_maps(
    features: torch.Tensor, fc_weight: torch.Tensor, fc_bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Class activation maps ``M_c = ReLU(sum_k w_ck F_k)`` (Zhou et al. 2016; Chen et al. eq. (2)).

    Differentiable with respect to ``features`` and ``fc_weight``, so a loss on the maps trains the network.

    Args:
        features: last convolutional feature maps ``F``, ``(B, K, w, h)`` (x before y).
        fc_weight: classifier weights ``w``, ``(C, K)`` (an ``nn.Linear(K, C).weight``).
        fc_bias: optional ``(C,)`` bias added inside the ReLU. Paper 001 eq. (2) has none (default ``None``).

    Returns:
        ``(B, C, w, h)`` non-negative maps; their spatial mean before the ReLU equals the logits minus the bias
        (global average pooling commutes with the linear layer).

    Example::

        >>> cams = class_activation_maps(torch.rand(2, 512, 7, 7), torch.randn(4, 512))
        >>> tuple(cams.shape)
        (2, 4, 7, 7)
    """
    if features.ndim != 4:
        raise ValueError(f"features must be (B, K, w, h), got shape {tuple(features.shape)}.")
    if fc_weight.ndim != 2 or fc_weight.shape[1] != features.shape[1]:
        raise ValueError(
            f"fc_weight must be (C, K) with K={features.shape[1]} feature channels, got shape {tuple(fc_weight.shape)}."
        )
    maps = torch.einsum("bkxy,ck->bcxy", features, fc_weight.to(features.dtype))
    if fc_bias is not None:
        if fc_bias.shape != (fc_weight.shape[0],):
            raise ValueError(f"fc_bias must be ({fc_weight.shape[0]},), got shape {tuple(fc_bias.shape)}.")
        maps = maps + fc_bias.to(features.dtype)[None, :, None, None]
    return F.relu(maps)


class ResNet18Backbone(ResNet):
    """MONAI ResNet-18 (2D) whose :meth:`forward_features` returns the last convolutional stage.

    Shared by :class:`ResNet18CAM` (Chen et al.) and :class:`hipmonai.networks.multitask_resnet.MultitaskResNet18`
    (Ye et al. 2026). Module names are MONAI's, which equal torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
    ``layer2.0.downsample.0``, ..., ``fc``), so ImageNet weights load by name.

    Args:
        n_input_channels: image channels (1 for radiographs).
        num_classes: outputs of MONAI's ``fc`` head (used when ``feed_forward``).
        feed_forward: whether to build the ``fc`` head.
        widen_factor: multiplies every stage width (features have ``int(512 * widen_factor)`` channels); 1.0 is
            ResNet-18, small values give tiny demo/test networks.
        conv1_t_size: stem convolution kernel size (7 in torchvision).
        conv1_t_stride: stem convolution stride (2 in torchvision; MONAI's ``resnet18`` default is 1).
        no_max_pool: skip the stem max-pool (halves the total stride).
        shortcut_type: ``"B"`` 1x1-conv projection shortcuts (torchvision) or ``"A"`` parameter-free zero padding.
        bias_downsample: bias in the projection shortcut convs (``False`` in torchvision).
        pretrained_path: optional torchvision-format ``resnet18`` state-dict file (e.g. ImageNet weights saved with
            ``torch.save(model.state_dict(), path)``); loaded by :func:`load_torchvision_resnet18_weights`.

    Example::

        >>> net = ResNet18Backbone(widen_factor=0.125)
        >>> tuple(net.forward_features(torch.rand(2, 1, 64, 96)).shape)
        (2, 64, 2, 3)
    """

    def __init__(
        self,
        n_input_channels: int = 1,
        num_classes: int = 4,
        feed_forward: bool = True,
        widen_factor: float = 1.0,
        conv1_t_size: int = 7,
        conv1_t_stride: int = 2,
        no_max_pool: bool = False,
        shortcut_type: str = "B",
        bias_downsample: bool = False,
        pretrained_path: str | os.PathLike | None = None,
    ) -> None:
        if n_input_channels < 1:
            raise ValueError(f"n_input_channels must be >= 1, got {n_input_channels}.")
        if feed_forward and num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}.")
        if not widen_factor > 0 or int(get_inplanes()[0] * widen_factor) < 1:
            raise ValueError(f"widen_factor must give at least one channel per stage, got {widen_factor}.")
        if shortcut_type not in ("A", "B"):
            raise ValueError(f"shortcut_type must be 'A' or 'B', got {shortcut_type!r}.")
        super().__init__(
            block="basic",
            layers=list(RESNET18_LAYERS),
            block_inplanes=get_inplanes(),
            spatial_dims=2,
            n_input_channels=n_input_channels,
            conv1_t_size=conv1_t_size,
            conv1_t_stride=conv1_t_stride,
            no_max_pool=no_max_pool,
            shortcut_type=shortcut_type,
            widen_factor=widen_factor,
            num_classes=num_classes,
            feed_forward=feed_forward,
            bias_downsample=bias_downsample,
        )
        self.feature_channels: int = int(get_inplanes()[-1] * widen_factor)
        if pretrained_path is not None:
            load_torchvision_resnet18_weights(self, pretrained_path)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and the four residual stages: ``(B, C_in, W, H) -> (B, feature_channels, w, h)``."""
        x = self.act(self.bn1(self.conv1(x)))
        if not self.no_max_pool:
            x = self.maxpool(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def pool_features(self, features: torch.Tensor) -> torch.Tensor:
        """Global average pooling ``(B, K, w, h) -> (B, K)``."""
        return torch.flatten(self.avgpool(features), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional feature map ``(B, feature_channels, w, h)``; subclasses add heads."""
        return self.forward_features(x)


class ResNet18CAM(ResNet18Backbone):
    """ResNet-18 classifier that returns its logits and last feature map, for the CAM prior of Chen et al.

    ``forward(x)`` gives ``(logits (B, num_classes), features (B, 512 * widen_factor, w, h))``; with
    ``return_features=False`` it gives the logits alone, a single tensor for ``verify_net_in_out``, TorchScript
    export and inference (the sigmoid of the logits is the per-target probability). :meth:`class_activation_maps`
    turns the features into ``(B, num_classes, w, h)`` CAMs inside the training graph (eq. (2), not Grad-CAM hooks).

    Args:
        num_classes: osteophyte targets (4, in :data:`hipmonai.io.TARGETS` order).
        return_features: return ``(logits, features)`` (training with the prior) or logits only.
        n_input_channels, widen_factor, conv1_t_size, conv1_t_stride, no_max_pool, shortcut_type, bias_downsample,
            pretrained_path: see :class:`ResNet18Backbone`.

    Example::

        >>> net = ResNet18CAM(widen_factor=0.125)
        >>> logits, features = net(torch.rand(2, 1, 224, 224))
        >>> tuple(logits.shape), tuple(features.shape), tuple(net.class_activation_maps(features).shape)
        ((2, 4), (2, 64, 7, 7), (2, 4, 7, 7))
    """

    __constants__ = ["return_features"]  # TorchScript compiles only the branch this flag keeps

    def __init__(
        self,
        num_classes: int = 4,
        return_features: bool = True,
        n_input_channels: int = 1,
        widen_factor: float = 1.0,
        conv1_t_size: int = 7,
        conv1_t_stride: int = 2,
        no_max_pool: bool = False,
        shortcut_type: str = "B",
        bias_downsample: bool = False,
        pretrained_path: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(
            n_input_channels=n_input_channels,
            num_classes=num_classes,
            feed_forward=True,
            widen_factor=widen_factor,
            conv1_t_size=conv1_t_size,
            conv1_t_stride=conv1_t_stride,
            no_max_pool=no_max_pool,
            shortcut_type=shortcut_type,
            bias_downsample=bias_downsample,
            pretrained_path=pretrained_path,
        )
        self.return_features = bool(return_features)

    def class_activation_maps(self, features: torch.Tensor) -> torch.Tensor:
        """CAMs of every class from this network's ``fc`` weights (no bias, eq. (2)): ``(B, num_classes, w, h)``."""
        return class_activation_maps(features, self.fc.weight)

    def forward(self, x: torch.Tensor):
        features = self.forward_features(x)
        logits = self.fc(self.pool_features(features))
        if self.return_features:
            return logits, features
        return logits


def load_torchvision_resnet18_weights(network: ResNet, path: str | os.PathLike) -> list[str]:
    """Initialise the backbone of ``network`` from a local torchvision-format ``resnet18`` state dict.

    Names map one-to-one (MONAI's ResNet uses torchvision's module names); the RGB stem kernel ``conv1.weight``
    ``(64, 3, 7, 7)`` is summed over its input channels for a one-channel network (a grey image replicated to RGB
    gives the same response), copied when the network has three channels. The classifier (``fc.*``) and any
    other head are left as initialised. No download happens: torchvision is not a dependency.

    Args:
        network: a :class:`ResNet18Backbone` (or any MONAI ``ResNet`` with the ResNet-18 layout).
        path: file written by ``torch.save(state_dict, path)``; a ``{"state_dict": ...}`` wrapper and a
            ``module.`` (DataParallel) prefix are accepted. Loaded with ``weights_only=True``.

    Returns:
        The names of the loaded parameters and buffers.

    Raises:
        InputError: the file is missing or unreadable, or its names/shapes do not match the backbone (e.g. a
            ``widen_factor`` other than 1, ``bias_downsample=True``, ``shortcut_type="A"`` or a 3x3 stem).
    """
    source, _ = read_checkpoint(path)
    own = network.state_dict()
    backbone = [name for name in own if name.startswith(BACKBONE_PREFIXES)]
    loaded: dict[str, torch.Tensor] = {}
    missing, mismatched = [], []
    for name in backbone:
        target = own[name]
        if name not in source:
            if not name.endswith("num_batches_tracked"):
                missing.append(name)
            continue
        value = source[name]
        if name == "conv1.weight" and value.ndim == 4 and value.shape[1] != target.shape[1]:
            if value.shape[1] == 3 and target.shape[1] == 1:
                value = value.sum(dim=1, keepdim=True)
            else:
                mismatched.append(f"{name} {tuple(value.shape)} (cannot adapt to {target.shape[1]} input channels)")
                continue
        if value.shape != target.shape:
            mismatched.append(f"{name} {tuple(value.shape)} != {tuple(target.shape)}")
            continue
        loaded[name] = value.to(dtype=target.dtype)
    unexpected = sorted(k for k in source if k.startswith(BACKBONE_PREFIXES) and k not in own)
    if missing or mismatched or unexpected:
        details = "; ".join(
            f"{what}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
            for what, items in (("missing", missing), ("shape mismatch", mismatched), ("unexpected", unexpected))
            if items
        )
        raise InputError(
            f"{path}: not a torchvision resnet18 state dict for this backbone ({details}). ImageNet weights need "
            "widen_factor=1, conv1_t_size=7, shortcut_type='B' and bias_downsample=False."
        )
    network.load_state_dict(loaded, strict=False)
    return sorted(loaded)
