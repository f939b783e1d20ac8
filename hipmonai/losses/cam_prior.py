"""Landmark-based anatomical prior on class activation maps (Chen et al. section 2.2, eqs. (3)-(7)).

Axes follow docs/conventions.md: CAMs are ``(B, C, w, h)`` (x before y) and landmarks ``(..., P, 2)`` are ``(x, y)``
pixel coordinates of the *input image* ``(W, H)``; ``NaN`` marks a missing point or padding.

Geometry. Paper 001 scales the landmarks to the feature grid by ``s = fmap / input`` (7/224 for ResNet-18) and
applies the same ``s`` to the plateau radius ``r`` and width ``sigma``; feature cell ``(i, j)`` sits at ``(i, j)``
on that grid. Since ``(s d - s r) / (s sigma) = (d - r) / sigma``, this module measures everything in input pixels
instead — cell ``(i, j)`` at ``(i / s_x, j / s_y)`` px, ``r`` and ``sigma`` in px — which is the same number when
the grid is scaled equally in x and y. For a non-square input or grid (``s_x != s_y``) each axis is mapped back by
its own scale, so ``d``, ``r`` and ``sigma`` stay isotropic in input pixels (a circle of radius ``r`` px around a
landmark is never penalised); scaling ``r`` and ``sigma`` by one of the two factors would instead stretch the
plateau along the other axis. ``cell_centres=True`` places cell ``(i, j)`` at the centre of the input pixels it
summarises, ``((i + 0.5) / s_x - 0.5, (j + 0.5) / s_y - 0.5)``, instead of the paper's ``i / s_x``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

__all__ = [
    "LandmarkCAMPriorLoss",
    "feature_grid_points_px",
    "nearest_landmark_distance",
    "plateau_gaussian_penalty",
    "valid_landmark_groups",
]


def _pair(value: Sequence[int] | Sequence[float], name: str) -> tuple[float, float]:
    values = tuple(float(v) for v in value)
    if len(values) != 2 or not all(v > 0 for v in values):
        raise ValueError(f"{name} must be two positive numbers (x extent, y extent), got {value!r}.")
    return values  # type: ignore[return-value]


def valid_landmark_groups(landmarks: torch.Tensor) -> torch.Tensor:
    """Whether each group ``(..., P, 2)`` has at least one landmark with both coordinates finite: ``(...)`` bool."""
    return torch.isfinite(landmarks).all(dim=-1).any(dim=-1)


def nearest_landmark_distance(points: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
    """Euclidean distance from each point to the nearest valid landmark (Chen et al. eq. (3)).

    Args:
        points: ``(..., N, 2)`` ``(x, y)`` coordinates, broadcastable against ``landmarks``' leading dims.
        landmarks: ``(..., P, 2)`` ``(x, y)`` coordinates in the same unit; rows with a non-finite value are ignored.

    Returns:
        ``(..., N)`` distances; ``+inf`` where a group has no valid landmark, ``NaN`` where the point is ``NaN``.
    """
    if points.shape[-1] != 2 or landmarks.shape[-1] != 2:
        raise ValueError(
            f"points and landmarks must end in (x, y), got {tuple(points.shape)} and {tuple(landmarks.shape)}."
        )
    landmarks = landmarks.to(points.dtype)
    valid = torch.isfinite(landmarks).all(dim=-1)  # (..., P)
    safe = torch.where(valid[..., None], landmarks, torch.zeros_like(landmarks))
    dist = torch.linalg.vector_norm(points[..., :, None, :] - safe[..., None, :, :], dim=-1)  # (..., N, P)
    dist = torch.where(valid[..., None, :], dist, torch.full_like(dist, float("inf")))
    return dist.amin(dim=-1)


def feature_grid_points_px(
    grid_size: Sequence[int],
    input_size: Sequence[float],
    cell_centres: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Input-pixel ``(x, y)`` position of every feature-map cell, ``(w * h, 2)`` in ``(i, j)`` row-major order.

    Args:
        grid_size: feature map ``(w, h)``.
        input_size: input image ``(W, H)`` in pixels.
        cell_centres: ``False`` (Chen et al.): cell ``i`` at ``i / s`` with ``s = w / W``; ``True``: at the centre of
            the input pixels it covers, ``(i + 0.5) / s - 0.5``.
    """
    if len(grid_size) != 2 or min(int(v) for v in grid_size) < 1:
        raise ValueError(f"grid_size must be two positive integers (w, h), got {grid_size!r}.")
    w, h = (int(v) for v in grid_size)
    size_x, size_y = _pair(input_size, "input_size")
    offset = 0.5 if cell_centres else 0.0
    xs = (torch.arange(w, device=device, dtype=dtype) + offset) * (size_x / w) - offset
    ys = (torch.arange(h, device=device, dtype=dtype) + offset) * (size_y / h) - offset
    gx, gy = torch.meshgrid(xs, ys, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=-1)


def plateau_gaussian_penalty(
    grid_size: Sequence[int],
    landmarks_px: torch.Tensor,
    radius_px: float = 20.0,
    sigma_px: float = 30.0,
    input_size: Sequence[float] = (224, 224),
    cell_centres: bool = False,
) -> torch.Tensor:
    """Plateau Gaussian penalty map ``Q_c = 1 - exp(-max(0, d - r)^2 / (2 sigma^2))`` (Chen et al. eqs. (3)-(5)).

    ``d`` is the distance from a feature cell to the nearest valid landmark of the group (module docstring for
    the geometry). ``Q`` is 0 within ``r`` of a landmark and tends to 1 far away.

    Args:
        grid_size: feature map ``(w, h)`` the penalty is evaluated on (use the input size for a full-resolution
            map, e.g. for plots).
        landmarks_px: ``(..., P, 2)`` ``(x, y)`` input pixels, ``NaN`` = missing/padding.
        radius_px: plateau radius ``r`` in input pixels (>= 0).
        sigma_px: Gaussian width ``sigma`` in input pixels (> 0).
        input_size: input image ``(W, H)`` in pixels.
        cell_centres: see :func:`feature_grid_points_px`.

    Returns:
        ``(..., w, h)`` penalty in [0, 1], float32 (or the landmarks' floating dtype); all ones for a group without
        a valid landmark (infinitely far), which :class:`LandmarkCAMPriorLoss` excludes.
    """
    if radius_px < 0:
        raise ValueError(f"radius_px must be >= 0, got {radius_px}.")
    if not sigma_px > 0:
        raise ValueError(f"sigma_px must be positive, got {sigma_px}.")
    if landmarks_px.ndim < 2 or landmarks_px.shape[-1] != 2:
        raise ValueError(f"landmarks_px must be (..., P, 2), got shape {tuple(landmarks_px.shape)}.")
    dtype = landmarks_px.dtype if landmarks_px.is_floating_point() else torch.float32
    grid = feature_grid_points_px(grid_size, input_size, cell_centres, device=landmarks_px.device, dtype=dtype)
    d = nearest_landmark_distance(grid, landmarks_px.detach().to(dtype))  # (..., w*h)
    excess = torch.clamp(d - radius_px, min=0.0)
    penalty = 1.0 - torch.exp(-(excess**2) / (2.0 * sigma_px**2))
    return penalty.reshape(*landmarks_px.shape[:-2], int(grid_size[0]), int(grid_size[1]))


class LandmarkCAMPriorLoss(_Loss):
    """Expected plateau-Gaussian penalty under the normalised class activation maps (Chen et al. eqs. (6)-(7)).

    For each (sample, target) pair with at least one valid landmark::

        M_hat_c = M_c / (sum_xy M_c + eps)                      (eq. 6)
        term_c  = sum_xy M_hat_c(x, y) Q_c(x, y)                (eq. 7, inner sum)

    and ``L_prior = (1 / |C'|) sum_{c in C'} term_c`` (eq. 7) with ``C'`` the set of *(sample, target) pairs of the
    batch* whose target has a valid landmark — the batch-level mean over valid entries, as Chen et al. eq. (1) does
    for the masked BCE ("N is the number of valid labels in the batch"); a sample with four valid targets weighs
    four times one with a single valid target. Pairs without a valid landmark are excluded; with none at all the
    loss is 0 and still carries a (zero) gradient. All-zero CAMs give ``M_hat = 0`` and no NaN.

    Args:
        radius_px: plateau radius ``r`` in input pixels (paper default 20 at 224 px).
        sigma_px: Gaussian width ``sigma`` in input pixels (paper default 30 at 224 px).
        input_size: input image ``(W, H)`` in pixels, used when :meth:`forward` gets none.
        eps: ``epsilon`` of eq. (6), > 0.
        cell_centres: feature-cell placement, see the module docstring (``False`` = Chen et al.).
        reduction: ``"mean"`` (eq. 7 over valid pairs), ``"sum"`` (sum of the valid terms) or ``"none"``
            (``(B, C)`` terms, 0 for pairs without a valid landmark).

    Example::

        >>> loss = LandmarkCAMPriorLoss(radius_px=20, sigma_px=30, input_size=(224, 224))
        >>> cams = torch.rand(2, 4, 7, 7, requires_grad=True)
        >>> landmarks = torch.full((2, 4, 4, 2), float("nan"))
        >>> landmarks[:, :, 0] = torch.tensor([112.0, 60.0])
        >>> loss(cams, landmarks).backward()
    """

    def __init__(
        self,
        radius_px: float = 20.0,
        sigma_px: float = 30.0,
        input_size: Sequence[int] = (224, 224),
        eps: float = 1e-6,
        cell_centres: bool = False,
        reduction: LossReduction | str = LossReduction.MEAN,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        if radius_px < 0:
            raise ValueError(f"radius_px must be >= 0, got {radius_px}.")
        if not sigma_px > 0:
            raise ValueError(f"sigma_px must be positive, got {sigma_px}.")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}.")
        self.radius_px = float(radius_px)
        self.sigma_px = float(sigma_px)
        self.input_size = _pair(input_size, "input_size")
        self.eps = float(eps)
        self.cell_centres = bool(cell_centres)

    def penalty(self, grid_size: Sequence[int], landmarks_px: torch.Tensor, input_size: Sequence[float] | None = None):
        """``Q`` with this loss's settings: :func:`plateau_gaussian_penalty` ``-> (..., w, h)``."""
        return plateau_gaussian_penalty(
            grid_size,
            landmarks_px,
            radius_px=self.radius_px,
            sigma_px=self.sigma_px,
            input_size=self.input_size if input_size is None else input_size,
            cell_centres=self.cell_centres,
        )

    def terms(
        self, cams: torch.Tensor, landmarks_px: torch.Tensor, input_size: Sequence[float] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pair expected penalties ``(B, C)`` (0 where invalid) and the validity mask ``(B, C)`` bool."""
        if cams.ndim != 4:
            raise ValueError(f"cams must be (B, C, w, h), got shape {tuple(cams.shape)}.")
        if landmarks_px.ndim != 4 or landmarks_px.shape[:2] != cams.shape[:2] or landmarks_px.shape[-1] != 2:
            raise ValueError(
                f"landmarks_px must be (B, C, P, 2) = ({cams.shape[0]}, {cams.shape[1]}, P, 2) to match the CAMs, "
                f"got shape {tuple(landmarks_px.shape)}."
            )
        if bool((cams < 0).any()):
            raise ValueError("cams must be non-negative (ReLU class activation maps), got negative values.")
        q = self.penalty(cams.shape[-2:], landmarks_px.to(cams.device), input_size).to(cams.dtype)
        normalised = cams / (cams.sum(dim=(-2, -1), keepdim=True) + self.eps)
        valid = valid_landmark_groups(landmarks_px).to(cams.device)
        expected = (normalised * q).sum(dim=(-2, -1))
        return torch.where(valid, expected, torch.zeros_like(expected)), valid

    def forward(
        self, cams: torch.Tensor, landmarks_px: torch.Tensor, input_size: Sequence[float] | None = None
    ) -> torch.Tensor:
        """
        Args:
            cams: ``(B, C, w, h)`` non-negative class activation maps (e.g.
                :func:`hipmonai.networks.resnet_cam.class_activation_maps`).
            landmarks_px: ``(B, C, P, 2)`` ``(x, y)`` input-pixel landmarks of each target, ``NaN``-padded.
            input_size: input image ``(W, H)``; defaults to the constructor's.
        """
        terms, valid = self.terms(cams, landmarks_px, input_size)
        if self.reduction == LossReduction.NONE.value:
            return terms
        if self.reduction == LossReduction.SUM.value:
            return terms.sum()
        if self.reduction == LossReduction.MEAN.value:
            return terms.sum() / valid.sum().clamp_min(1).to(terms.dtype)
        raise ValueError(f'Unsupported reduction: {self.reduction}, available options are ["mean", "sum", "none"].')
