"""Multitask ResNet-18 of Ye et al. 2026: a shared backbone, a global head and four ordinal heads.

Output layout (one tensor, so the same network trains, exports to TorchScript and passes ``verify_net_in_out``):
``(B, 1 + Q * K)`` logits with ``Q`` quadrants (4, in :data:`hipmonai.io.TARGETS` order) and ``K`` grades (4,
OARSI 0-3)::

    column 0                      global logit (osteophyte anywhere in the hip; sigmoid -> probability)
    column 1 + q * K + k          logit of grade k for quadrant q (softmax over k -> grade probabilities)

:func:`split_multitask_logits` and :func:`predicted_grades` read that layout; Grad-CAM of "quadrant q, grade k"
targets output index ``1 + q * K + k`` (:func:`ordinal_output_index`).
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn

from hipmonai.networks.resnet_cam import ResNet18Backbone, load_torchvision_resnet18_weights

__all__ = ["MultitaskResNet18", "ordinal_output_index", "predicted_grades", "split_multitask_logits"]


def _layout(pred: torch.Tensor, num_quadrants: int) -> int:
    if pred.ndim != 2 or num_quadrants < 1 or (pred.shape[1] - 1) % num_quadrants or pred.shape[1] < 1 + num_quadrants:
        raise ValueError(
            f"multitask output must be (B, 1 + {num_quadrants} * K) with K >= 1 grades, got shape {tuple(pred.shape)}."
        )
    return (pred.shape[1] - 1) // num_quadrants


def split_multitask_logits(pred: torch.Tensor, num_quadrants: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Split the packed output ``(B, 1 + Q * K)`` into the global logit ``(B,)`` and ordinal logits ``(B, Q, K)``.

    ``K`` is inferred from the width. Views, no copy; gradients flow through both parts.
    """
    num_grades = _layout(pred, num_quadrants)
    return pred[:, 0], pred[:, 1:].reshape(pred.shape[0], num_quadrants, num_grades)


def predicted_grades(pred: torch.Tensor, num_quadrants: int = 4) -> torch.Tensor:
    """Most probable grade per quadrant, ``(B, Q)`` int64, from the packed output ``(B, 1 + Q * K)``."""
    return split_multitask_logits(pred, num_quadrants)[1].argmax(dim=-1)


def ordinal_output_index(quadrant: int, grade: int, num_grades: int = 4) -> int:
    """Column of the packed output holding the logit of ``grade`` for ``quadrant`` (for Grad-CAM ``class_idx``)."""
    if not 0 <= grade < num_grades or quadrant < 0:
        raise ValueError(f"need quadrant >= 0 and 0 <= grade < {num_grades}, got quadrant={quadrant}, grade={grade}.")
    return 1 + quadrant * num_grades + grade


class MultitaskResNet18(ResNet18Backbone):
    """Shared ResNet-18 backbone with a global binary head and ``num_quadrants`` ordinal heads (Ye et al. 2026 Fig. 1).

    Every head is a linear layer on the globally average-pooled last feature map ``(B, 512 * widen_factor)``:
    ``global_head`` gives one logit, ``ordinal_heads[q]`` gives ``num_grades`` logits for quadrant ``q``. The
    forward output is the packed ``(B, 1 + Q * K)`` tensor of the module docstring.

    Args:
        num_quadrants: ordinal heads (4: osteo_fem_sup, osteo_fem_inf, osteo_acet_sup, osteo_acet_inf).
        num_grades: classes per ordinal head (4: OARSI 0-3).
        n_input_channels, widen_factor, conv1_t_size, conv1_t_stride, no_max_pool, shortcut_type, bias_downsample,
            pretrained_path: see :class:`~hipmonai.networks.resnet_cam.ResNet18Backbone` (the backbone code is
            shared with :class:`~hipmonai.networks.resnet_cam.ResNet18CAM`).

    Example::

        >>> net = MultitaskResNet18(widen_factor=0.125)
        >>> out = net(torch.rand(2, 1, 224, 224))
        >>> tuple(out.shape), [tuple(t.shape) for t in split_multitask_logits(out)]
        ((2, 17), [(2,), (2, 4, 4)])
    """

    def __init__(
        self,
        num_quadrants: int = 4,
        num_grades: int = 4,
        n_input_channels: int = 1,
        widen_factor: float = 1.0,
        conv1_t_size: int = 7,
        conv1_t_stride: int = 2,
        no_max_pool: bool = False,
        shortcut_type: str = "B",
        bias_downsample: bool = False,
        pretrained_path: str | os.PathLike | None = None,
    ) -> None:
        if num_quadrants < 1:
            raise ValueError(f"num_quadrants must be >= 1, got {num_quadrants}.")
        if num_grades < 2:
            raise ValueError(f"num_grades must be >= 2 for an ordinal head, got {num_grades}.")
        super().__init__(
            n_input_channels=n_input_channels,
            feed_forward=False,
            widen_factor=widen_factor,
            conv1_t_size=conv1_t_size,
            conv1_t_stride=conv1_t_stride,
            no_max_pool=no_max_pool,
            shortcut_type=shortcut_type,
            bias_downsample=bias_downsample,
        )
        self.num_quadrants = num_quadrants
        self.num_grades = num_grades
        self.global_head = nn.Linear(self.feature_channels, 1)
        self.ordinal_heads = nn.ModuleList(nn.Linear(self.feature_channels, num_grades) for _ in range(num_quadrants))
        for head in [self.global_head, *self.ordinal_heads]:
            nn.init.constant_(head.bias, 0.0)
        if pretrained_path is not None:  # after the heads exist, so only the backbone is replaced
            load_torchvision_resnet18_weights(self, pretrained_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool_features(self.forward_features(x))
        outputs = [self.global_head(pooled)]
        for head in self.ordinal_heads:
            outputs.append(head(pooled))
        return torch.cat(outputs, dim=1)
