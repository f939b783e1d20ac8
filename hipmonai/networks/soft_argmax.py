"""Soft-argmax: heatmaps to normalised landmark coordinates (KNEEL, Tiulpin et al. 2019, §3.1, Eqs. 1-3).

Layout (docs/conventions.md): heatmaps are ``(B, M, W, H)`` — spatial dim ``-2`` is x (image columns), dim ``-1``
is y (rows) — and coordinates are ``(B, M, 2)`` in ``(x, y)`` order.

Normalised coordinates live in ``[0, 1]`` per axis. Two grids map a heatmap index ``i`` along an axis of ``n`` cells
to a normalised value ``u``:

* ``"pixel_centre"`` (default): ``u = (i + 0.5) / n``. Cell ``i`` covers ``[i / n, (i + 1) / n)`` of the image and
  ``u`` is its centre, so ``u`` means the same point at every resolution. For an image of ``n_px`` pixels along that
  axis, pixel coordinate ``x_px = u * n_px - 0.5`` (pixel ``k`` has its centre at ``x_px = k``, the voxel-index
  convention of hipmonai). A heatmap at 1/4 of the input size therefore lands exactly on the centre of the 4 input
  pixels each heatmap cell summarises.
* ``"paper"``: ``u = i / n``, Eq. 3 of the paper (``W_ij^(x) = i / W``). With ``x_px = u * n_px`` this puts heatmap
  cell ``i`` at input pixel ``4 i`` for a 4x-downsampled heatmap, 1.5 px before the centre of the cell.

:func:`pixels_to_normalized` and :func:`normalized_to_pixels` are the one place that converts between the two unit
systems; targets, metrics and the network must use the same ``grid``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GRIDS",
    "SoftArgmax2D",
    "coordinate_grid",
    "normalized_to_pixels",
    "pixels_to_normalized",
    "soft_argmax_2d",
    "spatial_softmax",
]

GRIDS = ("pixel_centre", "paper")


def _check_grid(grid: str) -> None:
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}.")


def coordinate_grid(n: int, pixel_centre: bool, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Normalised coordinate of every cell along one axis of ``n`` cells (Eq. 3).

    Args:
        n: number of cells along the axis.
        pixel_centre: ``True`` for ``(i + 0.5) / n`` (grid ``"pixel_centre"``), ``False`` for ``i / n`` (``"paper"``).
        dtype: dtype of the result.
        device: device of the result.

    Returns:
        ``(n,)`` tensor of normalised coordinates.
    """
    index = torch.arange(n, dtype=dtype, device=device)
    if pixel_centre:
        index = index + 0.5
    return index / n


def spatial_softmax(heatmaps: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Spatial softmax of every heatmap, Eq. 1: ``exp(beta h_ij) / sum_kl exp(beta h_kl)``.

    Args:
        heatmaps: ``(B, M, W, H)`` unnormalised scores (logits).
        beta: scalar tensor, the inverse temperature ``beta`` of Eq. 1.

    Returns:
        ``(B, M, W, H)`` probabilities that sum to 1 over the two spatial dims of every ``(b, m)``.
    """
    b, m, w, h = heatmaps.shape
    flat = (heatmaps * beta).reshape(b, m, w * h)
    return F.softmax(flat, dim=-1).reshape(b, m, w, h)


def soft_argmax_2d(heatmaps: torch.Tensor, beta: torch.Tensor, pixel_centre: bool = True) -> torch.Tensor:
    """Expected normalised coordinate under the spatial softmax, Eqs. 1-3 (``Psi_d`` of Eq. 2).

    Args:
        heatmaps: ``(B, M, W, H)`` logits; dim ``-2`` is x, dim ``-1`` is y.
        beta: scalar tensor, the inverse temperature of Eq. 1.
        pixel_centre: grid of :func:`coordinate_grid` (``True``: ``"pixel_centre"``, ``False``: ``"paper"``).

    Returns:
        ``(B, M, 2)`` normalised ``(x, y)`` in ``[0, 1]``.
    """
    if heatmaps.dim() != 4:
        raise ValueError(f"heatmaps must be (B, M, W, H), got shape {list(heatmaps.shape)}.")
    probs = spatial_softmax(heatmaps, beta)
    grid_x = coordinate_grid(heatmaps.shape[-2], pixel_centre, probs.dtype, probs.device)
    grid_y = coordinate_grid(heatmaps.shape[-1], pixel_centre, probs.dtype, probs.device)
    x = (probs.sum(dim=-1) * grid_x).sum(dim=-1)
    y = (probs.sum(dim=-2) * grid_y).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


class SoftArgmax2D(nn.Module):
    """Soft-argmax layer (KNEEL §3.1, Eqs. 1-3): ``(B, M, W, H)`` heatmaps to ``(B, M, 2)`` normalised ``(x, y)``.

    Args:
        beta: inverse temperature of the spatial softmax (Eq. 1), positive. The paper and the authors' code use 1.
        learnable_beta: make ``beta`` a trained parameter instead of a fixed buffer.
        grid: ``"pixel_centre"`` (index ``i`` of ``n`` maps to ``(i + 0.5) / n``) or ``"paper"`` (``i / n``, Eq. 3);
            see the module docstring.

    Example:
        >>> import torch
        >>> heatmaps = torch.zeros(1, 1, 8, 4)
        >>> heatmaps[0, 0, 2, 1] = 100.0  # peak at x index 2 of 8, y index 1 of 4
        >>> SoftArgmax2D()(heatmaps)
        tensor([[[0.3125, 0.3750]]])
    """

    __constants__ = ["pixel_centre"]

    def __init__(self, beta: float = 1.0, learnable_beta: bool = False, grid: str = "pixel_centre") -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"beta must be positive, got {beta}.")
        _check_grid(grid)
        self.grid = grid
        self.pixel_centre = grid == "pixel_centre"
        self.learnable_beta = learnable_beta
        value = torch.tensor(float(beta))
        if learnable_beta:
            self.beta = nn.Parameter(value)
        else:
            self.register_buffer("beta", value)

    def forward(self, heatmaps: torch.Tensor) -> torch.Tensor:
        """Return ``(B, M, 2)`` normalised ``(x, y)`` for ``(B, M, W, H)`` heatmap logits."""
        return soft_argmax_2d(heatmaps, self.beta, self.pixel_centre)

    def extra_repr(self) -> str:
        return f"beta={float(self.beta.detach()):g}, learnable_beta={self.learnable_beta}, grid={self.grid!r}"


def _axis_sizes(points: torch.Tensor, spatial_size: Sequence[int]) -> torch.Tensor:
    sizes = [int(s) for s in spatial_size]
    if len(sizes) != 2 or min(sizes) < 1:
        raise ValueError(f"spatial_size must be two positive sizes (W, H) in pixels, got {list(spatial_size)}.")
    if points.shape[-1] != 2:
        raise ValueError(f"points must end in an (x, y) axis of length 2, got shape {list(points.shape)}.")
    return torch.tensor(sizes, dtype=points.dtype, device=points.device)


def pixels_to_normalized(
    points_px: torch.Tensor, spatial_size: Sequence[int], grid: str = "pixel_centre"
) -> torch.Tensor:
    """Pixel ``(x, y)`` (voxel index of a ``(C, W, H)`` image) to normalised ``[0, 1]`` coordinates.

    Args:
        points_px: ``(..., 2)`` float tensor of ``(x, y)`` pixel coordinates; ``NaN`` stays ``NaN``.
        spatial_size: ``(W, H)`` of the image in pixels.
        grid: ``"pixel_centre"``: ``u = (x + 0.5) / W``; ``"paper"``: ``u = x / W``.

    Returns:
        ``(..., 2)`` normalised ``(x, y)``.
    """
    _check_grid(grid)
    points_px = torch.as_tensor(points_px)
    if not points_px.is_floating_point():
        points_px = points_px.float()
    sizes = _axis_sizes(points_px, spatial_size)
    offset = 0.5 if grid == "pixel_centre" else 0.0
    return (points_px + offset) / sizes


def normalized_to_pixels(points: torch.Tensor, spatial_size: Sequence[int], grid: str = "pixel_centre") -> torch.Tensor:
    """Normalised ``[0, 1]`` ``(x, y)`` to pixel coordinates of a ``(C, W, H)`` image; inverse of
    :func:`pixels_to_normalized`.

    Args:
        points: ``(..., 2)`` float tensor of normalised ``(x, y)``.
        spatial_size: ``(W, H)`` of the image in pixels.
        grid: ``"pixel_centre"``: ``x = u W - 0.5``; ``"paper"``: ``x = u W``.

    Returns:
        ``(..., 2)`` pixel ``(x, y)``.
    """
    _check_grid(grid)
    points = torch.as_tensor(points)
    if not points.is_floating_point():
        points = points.float()
    sizes = _axis_sizes(points, spatial_size)
    offset = 0.5 if grid == "pixel_centre" else 0.0
    return points * sizes - offset
