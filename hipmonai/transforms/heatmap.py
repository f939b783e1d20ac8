"""Landmark positions from per-landmark heatmaps (Suh et al. 2023: the argmax of each output channel).

``heatmap_argmax`` returns the ``(x, y)`` pixel of each channel's maximum; with ``refine_window = r`` (odd) it
returns instead the sigmoid-probability-weighted centroid of the ``r x r`` window around that maximum (clipped at
the border), a sub-pixel refinement beyond the paper, off by default. Heatmaps are ``(B, L, W, H)`` (x along the
first spatial axis, docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

__all__ = ["HeatmapArgmax", "HeatmapArgmaxd", "heatmap_argmax"]


def _check_window(refine_window: int) -> int:
    if isinstance(refine_window, bool) or int(refine_window) != refine_window or refine_window < 0:
        raise ValueError(f"refine_window must be 0 or a positive odd integer, got {refine_window!r}.")
    if refine_window and refine_window % 2 == 0:
        raise ValueError(f"refine_window must be odd, got {refine_window}.")
    return int(refine_window)


def heatmap_argmax(heatmaps: Any, refine_window: int = 0) -> torch.Tensor:
    """``(x, y)`` of each channel's maximum (first one in ``x``-major order on ties).

    Args:
        heatmaps: ``(B, L, W, H)`` or ``(L, W, H)`` logits or probabilities.
        refine_window: 0 (plain argmax) or an odd window side for the sub-pixel centroid of ``sigmoid(heatmaps)``.

    Returns:
        ``(B, L, 2)`` (or ``(L, 2)``) float32 pixel coordinates.
    """
    window = _check_window(refine_window)
    maps = torch.as_tensor(heatmaps)
    if hasattr(maps, "as_tensor"):
        maps = maps.as_tensor()
    squeeze = maps.ndim == 3
    if squeeze:
        maps = maps[None]
    if maps.ndim != 4:
        raise ValueError(f"heatmaps must be (B, L, W, H) or (L, W, H), got {list(maps.shape)}.")
    b, n, width, height = maps.shape
    flat = maps.reshape(b, n, -1).argmax(dim=-1)
    x = torch.div(flat, height, rounding_mode="floor")
    y = flat - x * height
    points = torch.stack([x, y], dim=-1).to(torch.float32)
    if window:
        half = window // 2
        offsets = torch.arange(-half, half + 1, device=maps.device)
        xs = (x[..., None] + offsets).clamp(0, width - 1)  # (B, L, r) clipped: border pixels repeat, so drop them
        ys = (y[..., None] + offsets).clamp(0, height - 1)
        valid_x = (x[..., None] + offsets >= 0) & (x[..., None] + offsets <= width - 1)
        valid_y = (y[..., None] + offsets >= 0) & (y[..., None] + offsets <= height - 1)
        bi = torch.arange(b, device=maps.device)[:, None, None, None]
        li = torch.arange(n, device=maps.device)[None, :, None, None]
        patch = torch.sigmoid(maps[bi, li, xs[..., :, None], ys[..., None, :]].float())
        patch = patch * (valid_x[..., :, None] & valid_y[..., None, :])
        total = patch.sum(dim=(-1, -2)).clamp_min(1e-12)
        cx = (patch * xs[..., :, None].float()).sum(dim=(-1, -2)) / total
        cy = (patch * ys[..., None, :].float()).sum(dim=(-1, -2)) / total
        points = torch.stack([cx, cy], dim=-1).to(torch.float32)
    return points[0] if squeeze else points


class HeatmapArgmax(Transform):
    """Array transform: ``(L, W, H)`` heatmaps -> ``(L, 2)`` ``(x, y)`` pixels (:func:`heatmap_argmax`)."""

    backend = [TransformBackends.TORCH]

    def __init__(self, refine_window: int = 0) -> None:
        self.refine_window = _check_window(refine_window)

    def __call__(self, heatmaps: Any) -> torch.Tensor:
        return heatmap_argmax(heatmaps, self.refine_window)


class HeatmapArgmaxd(MapTransform):
    """Dictionary twin of :class:`HeatmapArgmax`, e.g. bundle postprocessing of the decollated ``"pred"``.

    Args:
        keys: heatmap keys.
        refine_window: see :func:`heatmap_argmax`.
        output_keys: where to write the points (default: in place).
        allow_missing_keys: skip missing keys.
    """

    backend = HeatmapArgmax.backend

    def __init__(
        self,
        keys: KeysCollection,
        refine_window: int = 0,
        output_keys: Sequence[Hashable] | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = HeatmapArgmax(refine_window)
        self.output_keys = tuple(output_keys) if output_keys is not None else self.keys
        if len(self.output_keys) != len(self.keys):
            raise ValueError(f"need one output key per key, got {list(self.output_keys)} for {list(self.keys)}.")

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key, out_key in self.key_iterator(d, self.output_keys):
            d[out_key] = self.converter(d[key])
        return d
