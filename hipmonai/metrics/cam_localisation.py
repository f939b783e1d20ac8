"""Grad-CAM heatmaps and their localisation metrics (Chen et al. section 3.3).

Axes follow docs/conventions.md: heatmaps are ``(..., W, H)`` with dim -2 = x (columns) and dim -1 = y (rows), so
the heatmap value at landmark ``(x, y)`` is ``heatmap[..., x, y]``; coordinates and distances are input pixels.
Every metric returns ``NaN`` where it is undefined (an all-zero heatmap, a target without a valid landmark, an
empty lesion mask), so paired statistics can drop those cases as Chen et al. do ("images with undefined metric
values are excluded").

Grad-CAM comes from :class:`monai.visualize.GradCAM` on the last convolutional stage with MONAI's (inverting)
default normaliser replaced: maps are upsampled bilinearly to the input size, then scaled per map with a
non-inverting normalisation.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.visualize import GradCAM

from hipmonai.losses.cam_prior import nearest_landmark_distance

__all__ = [
    "NORMALISATIONS",
    "GradCAMExtractor",
    "centre_of_mass_distance",
    "energy_inside_mask",
    "grad_cam",
    "heatmap_centre_of_mass",
    "heatmap_peak",
    "heatmap_spread",
    "localisation_metrics",
    "normalise_heatmaps",
    "peak_distance",
    "pointing_game",
]

#: Per-map normalisations: ``"minmax"`` (min -> 0, max -> 1), ``"max"`` (divide by the max), ``"none"``.
NORMALISATIONS = ("minmax", "max", "none")


def normalise_heatmaps(maps: torch.Tensor, mode: str = "minmax") -> torch.Tensor:
    """Scale every map ``(..., W, H)`` on its own without inverting it; a constant map becomes all zeros.

    ``"minmax"``: ``(M - min) / (max - min)``, the usual Grad-CAM display scaling (the opposite of MONAI's default
    ``(min, max) -> (1, 0)``); ``"max"``: ``M / max`` (keeps zero at zero); ``"none"``: unchanged.
    """
    if mode not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {list(NORMALISATIONS)}, got {mode!r}.")
    if mode == "none":
        return maps
    flat = maps.reshape(*maps.shape[:-2], -1)
    high = flat.amax(dim=-1)[..., None, None]
    low = flat.amin(dim=-1)[..., None, None] if mode == "minmax" else torch.zeros_like(high)
    span = high - low
    safe = torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, (maps - low) / safe, torch.zeros_like(maps))


class _FirstOutput(nn.Module):
    """Logits only, for networks that return ``(logits, features)`` (Grad-CAM needs one tensor)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out[0] if isinstance(out, tuple | list) else out


class GradCAMExtractor:
    """Grad-CAM of chosen output columns for a batch, upsampled to the input and normalised per map.

    MONAI's ``GradCAM`` registers hooks it never removes and switches the model to eval mode; by default this
    class works on a private copy of ``network`` taken at construction, so the caller's model is left untouched
    (build the extractor after loading the weights to explain). Works for batches > 1 (each sample's map comes
    from the gradient of its own score; batch norm is in eval mode).

    Args:
        network: classifier returning logits ``(B, N)`` or ``(logits, features)``.
        target_layer: name of the last convolutional stage (``"layer4"`` for the ResNets here).
        normalisation: one of :data:`NORMALISATIONS`.
        copy_network: work on a deep copy (default) instead of hooking ``network`` itself.

    Example::

        >>> from hipmonai.networks.resnet_cam import ResNet18CAM
        >>> extractor = GradCAMExtractor(ResNet18CAM(widen_factor=0.125))
        >>> tuple(extractor(torch.rand(2, 1, 64, 64), class_indices=[0, 3]).shape)
        (2, 2, 64, 64)
    """

    def __init__(
        self,
        network: nn.Module,
        target_layer: str = "layer4",
        normalisation: str = "minmax",
        copy_network: bool = True,
    ) -> None:
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {list(NORMALISATIONS)}, got {normalisation!r}.")
        layer_names = {name for name, _ in network.named_modules()}
        if target_layer not in layer_names:
            raise ValueError(f"target_layer {target_layer!r} is not a module of the network.")
        net = copy.deepcopy(network) if copy_network else network
        for parameter in net.parameters():
            parameter.requires_grad_(True)
        self.model = _FirstOutput(net)
        self.normalisation = normalisation
        self.cam = GradCAM(nn_module=self.model, target_layers=f"net.{target_layer}", postprocessing=lambda m: m)

    def __call__(self, images: torch.Tensor, class_indices: Sequence[int] | None = None) -> torch.Tensor:
        """
        Args:
            images: ``(B, C, W, H)`` network input.
            class_indices: output columns to explain (default: every column).

        Returns:
            ``(B, len(class_indices), W, H)`` float32 heatmaps, detached, normalised per map.
        """
        if images.ndim != 4:
            raise ValueError(f"images must be (B, C, W, H), got shape {tuple(images.shape)}.")
        if class_indices is None:
            with torch.no_grad():
                was_training = self.model.training
                self.model.eval()
                n_out = self.model(images[:1]).shape[1]
                self.model.train(was_training)
            class_indices = range(n_out)
        maps = [self.cam(x=images, class_idx=int(index)).detach()[:, 0] for index in class_indices]
        return normalise_heatmaps(torch.stack(maps, dim=1).float(), self.normalisation)


def grad_cam(
    network: nn.Module,
    images: torch.Tensor,
    class_indices: Sequence[int] | None = None,
    target_layer: str = "layer4",
    normalisation: str = "minmax",
) -> torch.Tensor:
    """One-off :class:`GradCAMExtractor` call: ``(B, C, W, H)`` images -> ``(B, n, W, H)`` heatmaps."""
    return GradCAMExtractor(network, target_layer, normalisation)(images, class_indices)


def _check_heatmap(heatmap: torch.Tensor) -> torch.Tensor:
    if heatmap.ndim < 2:
        raise ValueError(f"heatmap must be (..., W, H), got shape {tuple(heatmap.shape)}.")
    if bool((heatmap < 0).any()):
        raise ValueError("heatmap must be non-negative (ReLU Grad-CAM), got negative values.")
    return heatmap.double()


def _coordinates(heatmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    w, h = heatmap.shape[-2:]
    xs = torch.arange(w, dtype=torch.float64, device=heatmap.device)[:, None].expand(w, h)
    ys = torch.arange(h, dtype=torch.float64, device=heatmap.device)[None, :].expand(w, h)
    return xs, ys


def heatmap_centre_of_mass(heatmap: torch.Tensor) -> torch.Tensor:
    """Centre of mass ``(x_bar, y_bar) = sum M (x, y) / sum M`` of ``(..., W, H)`` heatmaps: ``(..., 2)`` px.

    ``NaN`` for an all-zero heatmap.
    """
    m = _check_heatmap(heatmap)
    xs, ys = _coordinates(m)
    mass = m.sum(dim=(-2, -1))
    safe = torch.where(mass > 0, mass, torch.ones_like(mass))
    com = torch.stack([(m * xs).sum(dim=(-2, -1)) / safe, (m * ys).sum(dim=(-2, -1)) / safe], dim=-1)
    return torch.where((mass > 0)[..., None], com, torch.full_like(com, float("nan")))


def heatmap_peak(heatmap: torch.Tensor) -> torch.Tensor:
    """Position ``(x, y)`` of the maximum of ``(..., W, H)`` heatmaps (first in x-major order on ties): ``(..., 2)``.

    ``NaN`` for a constant heatmap (no peak).
    """
    m = _check_heatmap(heatmap)
    h = m.shape[-1]
    flat = m.reshape(*m.shape[:-2], -1)
    index = flat.argmax(dim=-1)
    peak = torch.stack([torch.div(index, h, rounding_mode="floor"), index % h], dim=-1).double()
    constant = flat.amax(dim=-1) == flat.amin(dim=-1)
    return torch.where(constant[..., None], torch.full_like(peak, float("nan")), peak)


def heatmap_spread(heatmap: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Weighted spatial standard deviation around the centre of mass (Chen et al. section 3.3), ``(...)`` px.

    ``sqrt(sum M ((x - x_bar)^2 + (y - y_bar)^2) / (sum M + eps))``; ``NaN`` for an all-zero heatmap.
    """
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}.")
    m = _check_heatmap(heatmap)
    xs, ys = _coordinates(m)
    com = heatmap_centre_of_mass(heatmap)
    sq = (xs - com[..., 0, None, None]) ** 2 + (ys - com[..., 1, None, None]) ** 2
    mass = m.sum(dim=(-2, -1))
    return torch.sqrt((m * torch.nan_to_num(sq)).sum(dim=(-2, -1)) / (mass + eps)).where(
        mass > 0, torch.full_like(mass, float("nan"))
    )


def _distance(points: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
    if landmarks.ndim < 2 or landmarks.shape[-1] != 2 or landmarks.shape[:-2] != points.shape[:-1]:
        raise ValueError(
            f"landmarks must be (..., P, 2) with leading dims {tuple(points.shape[:-1])}, got {tuple(landmarks.shape)}."
        )
    d = nearest_landmark_distance(points[..., None, :], landmarks.to(points.device).double())[..., 0]
    return torch.where(torch.isinf(d), torch.full_like(d, float("nan")), d)


def centre_of_mass_distance(heatmap: torch.Tensor, landmarks_px: torch.Tensor) -> torch.Tensor:
    """Distance from the heatmap centre of mass to the nearest valid target landmark ``(..., P, 2)``: ``(...)`` px."""
    return _distance(heatmap_centre_of_mass(heatmap), landmarks_px)


def peak_distance(heatmap: torch.Tensor, landmarks_px: torch.Tensor) -> torch.Tensor:
    """Distance from the heatmap peak to the nearest valid target landmark ``(..., P, 2)``: ``(...)`` px."""
    return _distance(heatmap_peak(heatmap), landmarks_px)


def _check_mask(heatmap: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if mask.shape != heatmap.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} differs from heatmap shape {tuple(heatmap.shape)}.")
    return mask.to(heatmap.device) > 0


def pointing_game(heatmap: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1.0 where the heatmap peak lies inside the mask, else 0.0: ``(...)``; ``NaN`` for no peak or an empty mask."""
    inside = _check_mask(heatmap, mask)
    peak = heatmap_peak(heatmap)
    h = heatmap.shape[-1]
    defined = ~torch.isnan(peak[..., 0]) & inside.flatten(-2).any(dim=-1)
    index = torch.nan_to_num(peak[..., 0] * h + peak[..., 1]).long()
    hit = inside.flatten(-2).gather(-1, index[..., None])[..., 0].double()
    return torch.where(defined, hit, torch.full_like(hit, float("nan")))


def energy_inside_mask(heatmap: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fraction ``sum M [mask] / sum M`` of the heatmap energy inside the mask: ``(...)``.

    ``NaN`` for an all-zero heatmap or an empty mask.
    """
    inside = _check_mask(heatmap, mask)
    m = _check_heatmap(heatmap)
    mass = m.sum(dim=(-2, -1))
    defined = (mass > 0) & inside.flatten(-2).any(dim=-1)
    fraction = (m * inside).sum(dim=(-2, -1)) / torch.where(mass > 0, mass, torch.ones_like(mass))
    return torch.where(defined, fraction, torch.full_like(fraction, float("nan")))


def localisation_metrics(
    heatmaps: torch.Tensor, landmarks_px: torch.Tensor, masks: torch.Tensor | None = None, eps: float = 1e-6
) -> dict[str, torch.Tensor]:
    """Every metric for ``(B, C, W, H)`` heatmaps and ``(B, C, P, 2)`` target landmarks (and lesion masks).

    Returns:
        ``{"com_distance_px", "peak_distance_px", "spread_px"}`` and, with ``masks`` ``(B, C, W, H)``,
        ``{"pointing_game", "energy_inside"}``; each ``(B, C)`` float64 with NaN where undefined.
    """
    out = {
        "com_distance_px": centre_of_mass_distance(heatmaps, landmarks_px),
        "peak_distance_px": peak_distance(heatmaps, landmarks_px),
        "spread_px": heatmap_spread(heatmaps, eps),
    }
    if masks is not None:
        out["pointing_game"] = pointing_game(heatmaps, masks)
        out["energy_inside"] = energy_inside_mask(heatmaps, masks)
    return out
