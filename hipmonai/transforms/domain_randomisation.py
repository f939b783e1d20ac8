"""Domain randomisation for landmark detectors trained on simulated radiographs and applied to real ones (sim-to-real).

Real radiographs differ from the phantoms in their display curve (other LUTs, MONOCHROME1 inversion), sharpness (blur
or the vendor's edge enhancement), noise, field of view, collimation borders and burned-in overlays (lead L/R
markers, text). Each difference has a random transform here; the bundles append them to ``train#random_transforms``
behind a ``domain_randomisation`` switch, validation never sees them.

Axes and units follow docs/conventions.md: images are channel-first ``(C, W, H)`` (spatial axis 0 = x = columns, axis
1 = y = rows), numpy or torch (a ``MetaTensor`` keeps its meta), returned as the type they came in, floating dtypes
kept (integer images come back float32, except :class:`RandFieldOfView` with ``"nearest"``, which keeps the dtype).
Intensities are those of the percentile-scaled images (``configs/preprocessing.json``: 5th/95th percentiles -> 0/1,
values may run beyond), so levels such as ``bright_range`` are in those units. Lengths are pixels (``_px``) or
fractions of an image side. Landmarks are ``(N, 2)`` ``(x, y)`` pixel coordinates, ``NaN`` = missing; only
:class:`RandFieldOfViewd` moves them, and it keeps points that leave the image (the training step turns them into
empty label maps, which teaches the network that a structure can be absent).

Every array transform draws with ``randomize(img)`` and applies with ``__call__(img, randomize=False)``; the
dictionary twins draw once per call and apply that draw to every key (MONAI's ``RandShiftIntensityd`` pattern).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor, ensure_tuple_rep, optional_import

from hipmonai.transforms.spatial import move_landmarks

ImageFont, _has_pil_font = optional_import("PIL.ImageFont")
ImageDraw, _has_pil_draw = optional_import("PIL.ImageDraw")
Image, _has_pil_image = optional_import("PIL.Image")

__all__ = [
    "RandBlurSharpen",
    "RandBlurSharpend",
    "RandCollimation",
    "RandCollimationd",
    "RandFieldOfView",
    "RandFieldOfViewd",
    "RandIntensityCurve",
    "RandIntensityCurved",
    "RandMarkers",
    "RandMarkersd",
    "RandRadiographNoise",
    "RandRadiographNoised",
    "block_letter_mask",
    "text_line_mask",
]

_BACKEND = [TransformBackends.TORCH, TransformBackends.NUMPY]

#: 5 x 7 block glyphs, rows top (small y) to bottom, columns left (small x) to right.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
}
_TEXT_CHARS = "ABCDEFGHIJKLMNOPRSTUVWXYZ0123456789 :/.-"


# ---------------------------------------------------------------------------------------------------------- arguments
def _probability(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}.")
    return float(value)


def _pair(value: Sequence[float], name: str, low: float = -math.inf, high: float = math.inf) -> tuple[float, float]:
    """``value`` as ``(min, max)`` with ``low <= min <= max <= high`` (``min == max`` fixes the value)."""
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []
    ok = len(values) == 2 and all(
        isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v)) for v in values
    )
    if not ok or not low <= float(values[0]) <= float(values[1]) <= high:
        raise ValueError(f"{name} must be a pair (min, max) with {low} <= min <= max <= {high}, got {value!r}.")
    return float(values[0]), float(values[1])


def _int_pair(value: Sequence[int], name: str, low: int = 0) -> tuple[int, int]:
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []
    ok = len(values) == 2 and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values)
    if not ok or not low <= values[0] <= values[1]:
        raise ValueError(f"{name} must be a pair of integers (min, max) with {low} <= min <= max, got {value!r}.")
    return int(values[0]), int(values[1])


def _positive_pair(value: Sequence[float], name: str) -> tuple[float, float]:
    lo, hi = _pair(value, name, 0.0)
    if lo <= 0:
        raise ValueError(f"{name} must be a pair (min, max) with 0 < min <= max, got {value!r}.")
    return lo, hi


def _check_image(img: NdarrayOrTensor, name: str) -> None:
    if img.ndim != 3:
        raise ValueError(f"{name} needs a channel-first 2D image (C, W, H), got shape {tuple(img.shape)}.")


# ------------------------------------------------------------------------------------------------------------ helpers
def _float_tensor(img: NdarrayOrTensor) -> torch.Tensor:
    """``img`` as a plain floating torch tensor (integer images as float32)."""
    data = convert_to_tensor(img, track_meta=False)
    return data if data.is_floating_point() else data.to(torch.float32)


def _like(out: torch.Tensor, img: NdarrayOrTensor) -> NdarrayOrTensor:
    """``out`` as the type of ``img`` (numpy, tensor, ``MetaTensor`` with a copy of its meta), ``out``'s dtype.

    A ``MetaTensor`` gets shallow copies of ``img``'s meta dictionary and ``applied_operations`` (what
    ``convert_to_dst_type`` copies, without its generic conversion path).
    """
    if isinstance(img, MetaTensor) and type(out) is torch.Tensor:
        return MetaTensor(out, meta=dict(img.meta), applied_operations=list(img.applied_operations))
    return convert_to_dst_type(out, dst=img, dtype=out.dtype)[0]


def _log_uniform(rng: np.random.RandomState, bounds: tuple[float, float]) -> float:
    return float(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))


def _gaussian_kernel(sigma_px: float) -> np.ndarray:
    """1D Gaussian of ``sigma_px`` pixels integrated over each pixel, truncated at 4 sigma, not renormalised.

    ``k[j] = (erf((j + 0.5) / (sqrt(2) s)) - erf((j - 0.5) / (sqrt(2) s))) / 2`` for ``|j| <= tail``,
    ``tail = int(max(4 s, 0.5) + 0.5)``: MONAI's ``gaussian_1d(sigma, truncated=4.0, approx="erf")`` (with ``s`` and
    ``1 / sqrt(2)`` rounded as there), evaluated in float64.

    Returns:
        ``(2 tail + 1,)`` float64 weights, centre in the middle.
    """
    sigma = float(np.float32(sigma_px))
    tail = int(max(sigma * 4.0, 0.5) + 0.5)
    scale = 0.70710678 / abs(sigma)
    edges = np.array([math.erf(scale * (j + 0.5)) for j in range(-tail - 1, tail + 1)])
    return 0.5 * np.diff(edges)


def _blur_matrix(kernel: np.ndarray, size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(size, size)`` matrix of the 1D filter ``kernel`` (odd length, centred) along an axis of ``size`` pixels with
    replicated edges: ``(M @ v)[i] = sum_j kernel[j + tail] * v[clamp(i + j, 0, size - 1)]``."""
    tail = (len(kernel) - 1) // 2
    offsets = torch.arange(-tail, tail + 1, device=device)
    index = (torch.arange(size, device=device)[:, None] + offsets).clamp_(0, size - 1)
    weights = torch.as_tensor(kernel, dtype=dtype, device=device).expand(size, -1)
    return torch.zeros(size, size, dtype=dtype, device=device).scatter_add_(1, index, weights)


def _gaussian_blur(data: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """``(C, W, H)`` floating tensor smoothed by an isotropic Gaussian of ``sigma_px`` pixels, edges replicated.

    Separable: ``M_W @ x @ M_H^T`` per channel with the banded matrices of :func:`_blur_matrix` (two matrix products
    cost the same for any sigma; a 1D convolution with edge padding along each axis gives the same to float rounding).
    """
    if sigma_px <= 0:
        return data
    kernel = _gaussian_kernel(sigma_px)
    width, height = data.shape[1:]
    along_w = _blur_matrix(kernel, width, data.dtype, data.device)
    along_h = along_w if height == width else _blur_matrix(kernel, height, data.dtype, data.device)
    return along_w @ data @ along_h.T


def _quantiles(x: torch.Tensor, percentiles: tuple[float, float]) -> torch.Tensor:
    """The two ``percentiles`` (in ``[0, 100]``) of all of ``x``'s values, as ``torch.quantile`` (linear) gives them.

    Same ranks (``q * (n - 1)`` in ``x``'s dtype), the same two neighbours and the same ``lerp``, so the same bits, but
    with partial selections (``topk``) instead of a full sort. More than ``2 ** 24`` values (``torch.quantile``'s limit)
    are subsampled regularly; any ``NaN`` gives ``NaN``.

    Returns:
        ``(2,)`` tensor of ``x``'s dtype.
    """
    q = torch.tensor(percentiles, dtype=x.dtype, device=x.device) / 100.0
    flat = x.reshape(-1)
    if flat.numel() > 2**24:
        flat = flat[:: math.ceil(flat.numel() / 2**24)]
    n = flat.numel()
    if bool(flat.isnan().any()):
        return torch.full((2,), math.nan, dtype=x.dtype, device=x.device)
    ranks = q * (n - 1)
    below = ranks.to(torch.long)
    above = ranks.ceil().to(torch.long)
    values = []
    for lo_rank, hi_rank in zip(below.tolist(), above.tolist(), strict=True):
        if hi_rank < n // 2:  # sorted[:hi_rank + 1] from the smallest values, ascending
            smallest = flat.topk(hi_rank + 1, largest=False).values
            values.append((smallest[lo_rank], smallest[hi_rank]))
        else:  # sorted[lo_rank:] from the largest values, descending
            largest = flat.topk(n - lo_rank).values
            values.append((largest[n - 1 - lo_rank], largest[n - 1 - hi_rank]))
    lows = torch.stack([v[0] for v in values])
    highs = torch.stack([v[1] for v in values])
    return torch.lerp(lows, highs, ranks - below.to(x.dtype))


def _resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a 2D array to ``size`` (same axis order)."""
    rows = np.minimum((np.arange(size[0]) * mask.shape[0] / size[0]).astype(int), mask.shape[0] - 1)
    cols = np.minimum((np.arange(size[1]) * mask.shape[1] / size[1]).astype(int), mask.shape[1] - 1)
    return mask[np.ix_(rows, cols)]


def block_letter_mask(letter: str, height_px: int) -> np.ndarray:
    """Boolean ``(w, h)`` mask (axis 0 = x, axis 1 = y) of a 5 x 7 block ``letter`` scaled to ``height_px`` rows.

    Args:
        letter: one of ``"L"``, ``"R"``, ``"A"``, ``"P"``.
        height_px: glyph height in pixels (>= 1); the width is ``5/7`` of it (at least 1).
    """
    if letter not in _GLYPHS:
        raise ValueError(f"letter must be one of {sorted(_GLYPHS)}, got {letter!r}.")
    if height_px < 1:
        raise ValueError(f"height_px must be >= 1, got {height_px}.")
    glyph_yx = np.array([[c == "#" for c in row] for row in _GLYPHS[letter]])
    width_px = max(1, round(height_px * 5 / 7))
    return _resize_nearest(glyph_yx.T, (width_px, int(height_px)))


def text_line_mask(text: str, height_px: int) -> np.ndarray:
    """Boolean ``(w, h)`` mask (axis 0 = x, axis 1 = y) of one line of ``text``, ``height_px`` rows high.

    Drawn with Pillow's built-in bitmap font (``ImageFont.load_default_imagefont``) and scaled up nearest-neighbour,
    as burned-in annotation looks; without Pillow each character is a solid block and each space a gap.
    """
    if height_px < 1:
        raise ValueError(f"height_px must be >= 1, got {height_px}.")
    if _has_pil_font and _has_pil_draw and _has_pil_image:
        font = ImageFont.load_default_imagefont() if hasattr(ImageFont, "load_default_imagefont") else None
        font = ImageFont.load_default() if font is None else font
        _, _, right, bottom = font.getbbox(text)
        canvas = Image.new("L", (max(1, right), max(1, bottom)))
        ImageDraw.Draw(canvas).text((0, 0), text, fill=255, font=font)
        ink_yx = np.asarray(canvas) > 127
        rows = np.flatnonzero(ink_yx.any(axis=1))
        if rows.size:
            ink_yx = ink_yx[rows[0] : rows[-1] + 1]
    else:
        cell = np.ones((7, 6), dtype=bool)
        cell[:, -1] = False
        ink_yx = np.concatenate([cell if c != " " else np.zeros_like(cell) for c in text or " "], axis=1)
    width_px = max(1, round(ink_yx.shape[1] * height_px / ink_yx.shape[0]))
    return _resize_nearest(ink_yx.T, (width_px, int(height_px)))


# ---------------------------------------------------------------------------------------------------- intensity curve
class RandIntensityCurve(RandomizableTransform):
    """Random monotone display curve, gamma, contrast/brightness and (optionally) inversion of a ``(C, W, H)`` image.

    With ``lo, hi`` the image's ``percentiles`` (all channels together) and ``t = (x - lo) / (hi - lo)``, the output is
    ``lo + (hi - lo) * (c * (T(t) - 0.5) + 0.5 + b)`` where ``T`` is the drawn tone curve, then gamma ``t ** g``, then
    ``1 - t`` when inverting (a MONOCHROME1-like image). ``T`` maps ``[0, 1]`` onto ``[0, 1]`` monotonically and
    continues linearly (with its end slopes) outside, so values beyond the robust range keep their order and the
    output keeps roughly the input's range.

    Args:
        prob: probability of changing the image at all.
        curve_types: tone curves drawn among uniformly per call: ``"sigmoid"`` (S-curve
            ``sigmoid(gain * (t - centre))`` rescaled to pass through 0 and 1), ``"lut"`` (piecewise-linear
            lookup table through ``lut_knots`` equally spaced interior knots, random strictly increasing values;
            segment slopes differ up to ~3x) and ``"none"`` (identity).
        sigmoid_gain_range: S-curve gain ``(min, max)`` (> 0; larger = more contrast in the mid-tones).
        sigmoid_centre_range: S-curve centre ``(min, max)`` in ``[0, 1]`` of the robust range.
        lut_knots: number of interior knots of the lookup table (>= 1).
        gamma_range: gamma ``(min, max)`` (> 0), drawn log-uniformly; ``(1, 1)``: no gamma.
        contrast_range: contrast factor ``c`` ``(min, max)`` (> 0) about mid-grey, drawn log-uniformly.
        brightness_range: offset ``b`` ``(min, max)`` in fractions of the robust range.
        invert_prob: probability of inverting (``t -> 1 - t``) when the transform applies.
        percentiles: ``(lower, upper)`` percentiles in ``[0, 100]`` defining the robust range.

    Example::

        >>> curve = RandIntensityCurve(prob=1.0, invert_prob=1.0).set_random_state(0)
        >>> img = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 8, 8)
        >>> out = curve(img)
        >>> bool(out[0, 0, 0] > out[0, -1, -1]), out.shape, out.dtype
        (True, (1, 8, 8), dtype('float32'))
    """

    backend = _BACKEND
    CURVES = ("sigmoid", "lut", "none")

    def __init__(
        self,
        prob: float = 1.0,
        curve_types: Sequence[str] = CURVES,
        sigmoid_gain_range: Sequence[float] = (3.0, 10.0),
        sigmoid_centre_range: Sequence[float] = (0.35, 0.65),
        lut_knots: int = 3,
        gamma_range: Sequence[float] = (0.7, 1.5),
        contrast_range: Sequence[float] = (0.8, 1.25),
        brightness_range: Sequence[float] = (-0.1, 0.1),
        invert_prob: float = 0.0,
        percentiles: Sequence[float] = (1.0, 99.0),
    ) -> None:
        RandomizableTransform.__init__(self, _probability(prob, "prob"))
        types = [curve_types] if isinstance(curve_types, str) else list(curve_types)
        if not types or any(t not in self.CURVES for t in types):
            raise ValueError(f"curve_types must be a non-empty subset of {self.CURVES}, got {curve_types!r}.")
        if isinstance(lut_knots, bool) or not isinstance(lut_knots, int) or lut_knots < 1:
            raise ValueError(f"lut_knots must be an integer >= 1, got {lut_knots!r}.")
        self.curve_types = tuple(types)
        self.sigmoid_gain_range = _positive_pair(sigmoid_gain_range, "sigmoid_gain_range")
        self.sigmoid_centre_range = _pair(sigmoid_centre_range, "sigmoid_centre_range", 0.0, 1.0)
        self.lut_knots = lut_knots
        self.gamma_range = _positive_pair(gamma_range, "gamma_range")
        self.contrast_range = _positive_pair(contrast_range, "contrast_range")
        self.brightness_range = _pair(brightness_range, "brightness_range")
        self.invert_prob = _probability(invert_prob, "invert_prob")
        lower, upper = _pair(percentiles, "percentiles", 0.0, 100.0)
        if lower == upper:
            raise ValueError(f"percentiles must be an increasing pair, got {percentiles!r}.")
        self.percentiles = (lower, upper)
        self.curve = "none"
        self.gain, self.centre, self.gamma, self.contrast, self.brightness = 1.0, 0.5, 1.0, 1.0, 0.0
        self.lut_values = np.linspace(0.0, 1.0, lut_knots + 2)
        self.invert = False

    def randomize(self, data: Any = None) -> None:
        """Draw whether to apply, the curve and its parameters, gamma, contrast, brightness and inversion."""
        super().randomize(None)
        if not self._do_transform:
            return
        self.curve = self.curve_types[self.R.randint(len(self.curve_types))]
        self.gain = float(self.R.uniform(*self.sigmoid_gain_range))
        self.centre = float(self.R.uniform(*self.sigmoid_centre_range))
        widths = self.R.uniform(0.3, 1.0, self.lut_knots + 1)
        self.lut_values = np.concatenate([[0.0], np.cumsum(widths) / widths.sum()])
        self.gamma = _log_uniform(self.R, self.gamma_range)
        self.contrast = _log_uniform(self.R, self.contrast_range)
        self.brightness = float(self.R.uniform(*self.brightness_range))
        self.invert = bool(self.R.uniform() < self.invert_prob)

    def tone(self, t: torch.Tensor) -> torch.Tensor:
        """The drawn curve then gamma on ``[0, 1]``, continued linearly with its end slopes outside."""

        def unit(u: torch.Tensor) -> torch.Tensor:
            if self.curve == "sigmoid":
                lo, hi = (1.0 / (1.0 + math.exp(-self.gain * v)) for v in (-self.centre, 1.0 - self.centre))
                u = (torch.sigmoid(self.gain * (u - self.centre)) - lo) / (hi - lo)
            elif self.curve == "lut":
                knots = torch.linspace(0.0, 1.0, self.lut_knots + 2, dtype=u.dtype, device=u.device)
                values = torch.as_tensor(self.lut_values, dtype=u.dtype, device=u.device)
                idx = (torch.searchsorted(knots, u.contiguous(), right=True) - 1).clamp(0, self.lut_knots)
                slope = (values[1:] - values[:-1]) / (knots[1:] - knots[:-1])
                u = values[idx] + (u - knots[idx]) * slope[idx]
            return u.clamp(0.0, 1.0) ** self.gamma

        delta = 0.05
        ends = unit(torch.tensor([0.0, delta, 1.0 - delta, 1.0], dtype=t.dtype, device=t.device))
        low_slope, high_slope = (ends[1] - ends[0]) / delta, (ends[3] - ends[2]) / delta
        inside = t.clamp(0.0, 1.0)
        return unit(inside) + (t - inside).clamp(max=0.0) * low_slope + (t - inside).clamp(min=0.0) * high_slope

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Apply to ``img`` ``(C, W, H)``; ``randomize=False`` reuses the last draw. Returns ``img`` when not drawn."""
        _check_image(img, type(self).__name__)
        if randomize:
            self.randomize()
        if not self._do_transform:
            return img
        x = _float_tensor(img)
        lo, hi = _quantiles(x, self.percentiles)
        scale = hi - lo if hi > lo else torch.ones_like(hi)
        t = self.tone((x - lo) / scale)
        if self.invert:
            t = 1.0 - t
        t = self.contrast * (t - 0.5) + 0.5 + self.brightness
        return _like(lo + scale * t, img)


# ------------------------------------------------------------------------------------------------------- blur/sharpen
class RandBlurSharpen(RandomizableTransform):
    """Either a Gaussian blur or an (multi-scale) unsharp-mask edge enhancement of a ``(C, W, H)`` image.

    Blur: ``G_s * x`` with ``s`` drawn from ``blur_sigma_range_px``. Sharpen: with ``s_k = s * 2 ** k`` for
    ``k < sharpen_scales`` (``s`` from ``sharpen_sigma_range_px``), ``x + sum_k g_k (G_{s_(k-1)} * x - G_{s_k} * x)``
    with ``G_{s_-1} * x = x`` and each gain ``g_k`` drawn from ``sharpen_gain_range``: one scale is the classic unsharp
    mask, several boost detail bands independently as vendors' multi-scale processing does. Edges are replicated.

    Args:
        prob: probability of changing the image at all.
        blur_prob: probability that a draw blurs (otherwise it sharpens).
        blur_sigma_range_px: Gaussian sigma ``(min, max)`` in pixels (>= 0).
        sharpen_gain_range: gain ``(min, max)`` of each detail band (>= 0).
        sharpen_sigma_range_px: sigma ``(min, max)`` in pixels (> 0) of the finest band.
        sharpen_scales: number of detail bands (>= 1).
    """

    backend = _BACKEND

    def __init__(
        self,
        prob: float = 1.0,
        blur_prob: float = 0.5,
        blur_sigma_range_px: Sequence[float] = (0.5, 1.5),
        sharpen_gain_range: Sequence[float] = (0.3, 1.5),
        sharpen_sigma_range_px: Sequence[float] = (1.0, 4.0),
        sharpen_scales: int = 1,
    ) -> None:
        RandomizableTransform.__init__(self, _probability(prob, "prob"))
        if isinstance(sharpen_scales, bool) or not isinstance(sharpen_scales, int) or sharpen_scales < 1:
            raise ValueError(f"sharpen_scales must be an integer >= 1, got {sharpen_scales!r}.")
        self.blur_prob = _probability(blur_prob, "blur_prob")
        self.blur_sigma_range_px = _pair(blur_sigma_range_px, "blur_sigma_range_px", 0.0)
        self.sharpen_gain_range = _pair(sharpen_gain_range, "sharpen_gain_range", 0.0)
        self.sharpen_sigma_range_px = _positive_pair(sharpen_sigma_range_px, "sharpen_sigma_range_px")
        self.sharpen_scales = sharpen_scales
        self.blur = True
        self.sigma_px = 0.0
        self.gains: tuple[float, ...] = ()

    def randomize(self, data: Any = None) -> None:
        """Draw whether to apply, blur or sharpen, the sigma and the band gains."""
        super().randomize(None)
        if not self._do_transform:
            return
        self.blur = bool(self.R.uniform() < self.blur_prob)
        sigma_range = self.blur_sigma_range_px if self.blur else self.sharpen_sigma_range_px
        self.sigma_px = float(self.R.uniform(*sigma_range))
        self.gains = tuple(float(g) for g in self.R.uniform(*self.sharpen_gain_range, self.sharpen_scales))

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Apply to ``img`` ``(C, W, H)``; ``randomize=False`` reuses the last draw. Returns ``img`` when not drawn."""
        _check_image(img, type(self).__name__)
        if randomize:
            self.randomize()
        if not self._do_transform:
            return img
        x = _float_tensor(img)
        if self.blur:
            return _like(_gaussian_blur(x, self.sigma_px), img)
        out, coarser = x.clone(), x
        for k, gain in enumerate(self.gains):
            finer, coarser = coarser, _gaussian_blur(x, self.sigma_px * 2**k)
            out = out + gain * (finer - coarser)
        return _like(out, img)


# --------------------------------------------------------------------------------------------------------------- noise
class RandRadiographNoise(RandomizableTransform):
    """Signal-dependent (Poisson-like) plus additive Gaussian noise, optionally spatially correlated.

    ``out = x + n * sqrt(a * max(x, 0) + s ** 2)`` with ``a`` from ``poisson_gain_range`` (variance per unit
    intensity, the quantum noise of a linear detector), ``s`` from ``gaussian_std_range`` (electronic noise) and ``n``
    a unit-variance field: white, or with probability ``correlated_prob`` white noise blurred by a Gaussian of sigma
    from ``correlation_sigma_range_px`` and rescaled to unit variance (the detector's and the processing's blur).

    Args:
        prob: probability of adding noise at all.
        poisson_gain_range: ``a`` ``(min, max)`` (>= 0), intensity units.
        gaussian_std_range: ``s`` ``(min, max)`` (>= 0), intensity units.
        correlated_prob: probability that the field is correlated.
        correlation_sigma_range_px: blur sigma ``(min, max)`` in pixels (> 0) of a correlated field.
    """

    backend = _BACKEND

    def __init__(
        self,
        prob: float = 1.0,
        poisson_gain_range: Sequence[float] = (0.0, 0.002),
        gaussian_std_range: Sequence[float] = (0.0, 0.03),
        correlated_prob: float = 0.5,
        correlation_sigma_range_px: Sequence[float] = (0.5, 1.5),
    ) -> None:
        RandomizableTransform.__init__(self, _probability(prob, "prob"))
        self.poisson_gain_range = _pair(poisson_gain_range, "poisson_gain_range", 0.0)
        self.gaussian_std_range = _pair(gaussian_std_range, "gaussian_std_range", 0.0)
        self.correlated_prob = _probability(correlated_prob, "correlated_prob")
        self.correlation_sigma_range_px = _positive_pair(correlation_sigma_range_px, "correlation_sigma_range_px")
        self.poisson_gain, self.gaussian_std, self.sigma_px = 0.0, 0.0, 0.0
        self.field: np.ndarray | None = None

    def randomize(self, data: NdarrayOrTensor | None = None) -> None:
        """Draw whether to apply, the noise levels and a unit-normal field of ``data``'s shape ``(C, W, H)``."""
        super().randomize(None)
        if not self._do_transform:
            return
        if data is None:
            raise ValueError("RandRadiographNoise.randomize needs the image (its shape sizes the noise field).")
        self.poisson_gain = float(self.R.uniform(*self.poisson_gain_range))
        self.gaussian_std = float(self.R.uniform(*self.gaussian_std_range))
        correlated = self.R.uniform() < self.correlated_prob
        sigma = float(self.R.uniform(*self.correlation_sigma_range_px))
        self.sigma_px = sigma if correlated else 0.0
        self.field = self.R.standard_normal(tuple(data.shape)).astype(np.float32)

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Apply to ``img`` ``(C, W, H)``; ``randomize=False`` reuses the last draw (field of the same shape)."""
        _check_image(img, type(self).__name__)
        if randomize:
            self.randomize(img)
        if not self._do_transform:
            return img
        if self.field is None or self.field.shape != tuple(img.shape):
            raise ValueError(
                f"the drawn noise field {None if self.field is None else self.field.shape} does not "
                f"fit an image of shape {tuple(img.shape)}; call randomize(img) first."
            )
        x = _float_tensor(img)
        field = torch.as_tensor(self.field, device=x.device).to(x.dtype)
        if self.sigma_px > 0:
            field = _gaussian_blur(field, self.sigma_px)
            field = field / field.std(dim=(1, 2), keepdim=True).clamp(min=1e-6)
        std = torch.sqrt(self.poisson_gain * x.clamp(min=0.0) + self.gaussian_std**2)
        return _like(x + field * std, img)


# ------------------------------------------------------------------------------------------------------- field of view
class RandFieldOfView(RandomizableTransform):
    """Zoom in (crop) or out (shrink and pad) about a random box, resampled back to the same ``(W, H)``.

    A scale ``s`` is drawn log-uniformly from ``scale_range``; the box has sides ``(s W, s H)`` and its corner is
    uniform among the positions where it lies inside the image (``s < 1``: zoom in, anatomy may be cut off) or holds
    the whole image (``s > 1``: zoom out, the rest is padded). Output pixel ``u`` shows input position
    ``s (u + 0.5) + x0 - 0.5`` per axis (pixel-centre convention, box corner ``x0`` in pixel-edge units); the
    ``3 x 3`` matrix from input to output pixels is :meth:`points_affine`. A ``MetaTensor``'s affine is updated.

    Args:
        prob: probability of changing the field of view.
        scale_range: ``(min, max)`` box side as a fraction of the image side (> 0): below 1 zooms in, above 1 out.
        mode: interpolation, ``"bilinear"``, ``"nearest"`` (keeps the dtype: masks) or ``"bicubic"``.
        padding_mode: fill outside the input when zooming out: ``"zeros"`` (0, the dark end of a percentile-scaled
            radiograph), ``"border"`` or ``"reflection"`` (mirrored anatomy: unlabelled false landmarks).
        anti_aliasing: when zooming out, smooth first with a Gaussian of ``sigma = (s - 1) / 2`` input pixels (not
            with ``"nearest"``).
    """

    backend = _BACKEND
    MODES = ("bilinear", "nearest", "bicubic")
    PADDING_MODES = ("zeros", "border", "reflection")

    def __init__(
        self,
        prob: float = 1.0,
        scale_range: Sequence[float] = (0.7, 1.3),
        mode: str = "bilinear",
        padding_mode: str = "zeros",
        anti_aliasing: bool = True,
    ) -> None:
        RandomizableTransform.__init__(self, _probability(prob, "prob"))
        self.scale_range = _positive_pair(scale_range, "scale_range")
        self.mode = self._check_mode(mode)
        self.padding_mode = self._check_padding_mode(padding_mode)
        if not isinstance(anti_aliasing, bool):
            raise ValueError(f"anti_aliasing must be True or False, got {anti_aliasing!r}.")
        self.anti_aliasing = anti_aliasing
        self.scale = 1.0
        self.corner_px = (0.0, 0.0)

    @classmethod
    def _check_mode(cls, mode: str) -> str:
        if mode not in cls.MODES:
            raise ValueError(f"mode must be one of {cls.MODES}, got {mode!r}.")
        return mode

    @classmethod
    def _check_padding_mode(cls, padding_mode: str) -> str:
        if padding_mode not in cls.PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {cls.PADDING_MODES}, got {padding_mode!r}.")
        return padding_mode

    def randomize(self, data: NdarrayOrTensor | None = None) -> None:
        """Draw whether to apply, the scale and the box corner for the ``(C, W, H)`` image ``data``."""
        super().randomize(None)
        if not self._do_transform:
            self.scale, self.corner_px = 1.0, (0.0, 0.0)
            return
        if data is None:
            raise ValueError("RandFieldOfView.randomize needs the image (its size places the box).")
        self.scale = _log_uniform(self.R, self.scale_range)
        corner = []
        for size in data.shape[1:]:
            free = float(size) * (1.0 - self.scale)
            corner.append(float(self.R.uniform(min(0.0, free), max(0.0, free))))
        self.corner_px = (corner[0], corner[1])

    def points_affine(self) -> np.ndarray:
        """``3 x 3`` matrix of the current draw from input to output pixels (identity when not drawn)."""
        mat = np.eye(3)
        mat[0, 0] = mat[1, 1] = 1.0 / self.scale
        mat[:2, 2] = [(0.5 - c) / self.scale - 0.5 for c in self.corner_px]
        return mat

    def __call__(
        self, img: NdarrayOrTensor, randomize: bool = True, mode: str | None = None, padding_mode: str | None = None
    ) -> NdarrayOrTensor:
        """Resample ``img`` ``(C, W, H)`` to the drawn box; ``randomize=False`` reuses the last draw.

        Returns:
            The same shape, ``img`` itself when not drawn; ``"nearest"`` keeps the input dtype, other modes give
            float32 for integer input.
        """
        _check_image(img, type(self).__name__)
        mode = self.mode if mode is None else self._check_mode(mode)
        padding_mode = self.padding_mode if padding_mode is None else self._check_padding_mode(padding_mode)
        if randomize:
            self.randomize(img)
        if not self._do_transform:
            return img
        data = convert_to_tensor(img, track_meta=False)
        x = data.to(torch.float32) if not data.is_floating_point() or mode == "nearest" else data
        if self.anti_aliasing and mode != "nearest" and self.scale > 1.0:
            x = _gaussian_blur(x, (self.scale - 1.0) / 2.0)
        # grid_sample sees (N, C, W, H) as (N, C, rows, cols): grid[..., 0] indexes H (y), grid[..., 1] W (x)
        axes = []
        for size, corner in zip(x.shape[1:], self.corner_px, strict=True):
            u = torch.arange(size, dtype=x.dtype, device=x.device)
            axes.append((2.0 * self.scale * (u + 0.5) + 2.0 * corner) / size - 1.0)
        gx, gy = torch.meshgrid(axes[0], axes[1], indexing="ij")
        grid = torch.stack([gy, gx], dim=-1).unsqueeze(0)
        out = F.grid_sample(x.unsqueeze(0), grid, mode=mode, padding_mode=padding_mode, align_corners=False)[0]
        if mode == "nearest":
            out = out.to(data.dtype)
        result = _like(out, img)
        if isinstance(result, MetaTensor):
            inverse = np.linalg.inv(self.points_affine())
            n = result.affine.shape[-1]
            step = np.eye(n)
            step[:2, :2], step[:2, n - 1] = inverse[:2, :2], inverse[:2, 2]
            result.affine = result.affine @ torch.as_tensor(step, dtype=result.affine.dtype)
        return result


# --------------------------------------------------------------------------------------------------------- collimation
class RandCollimation(RandomizableTransform):
    """A rotated rectangular collimation field: outside it the image becomes a flat level plus light noise.

    The field is a rectangle about the image centre rotated by an angle from ``angle_range_deg``; each side (left =
    small x, right, top = small y, bottom) is collimated with probability ``side_prob`` (at least one always is),
    its edge a margin drawn from ``margin_range`` (fraction of the image side) inside the image border, measured in the
    rotated frame. Outside, the level is bright (unexposed film/plate, probability ``bright_prob``, from
    ``bright_range``) or dark (electronic shutter, from ``dark_range``), plus white noise of std ``noise_std``; the
    edge is a Gaussian-blurred step of sigma from ``edge_softness_range_px``.

    Args:
        prob: probability of collimating at all.
        angle_range_deg: rotation ``(min, max)`` of the field in degrees, within ``[-45, 45]``.
        margin_range: ``(min, max)`` margin of a collimated side, fraction of the image side in ``[0, 0.5)``.
        side_prob: probability that a side is collimated.
        bright_prob: probability of a bright (rather than dark) outside level.
        bright_range: ``(min, max)`` bright level, intensity units.
        dark_range: ``(min, max)`` dark level, intensity units.
        noise_std: std of the noise outside (>= 0), intensity units.
        edge_softness_range_px: ``(min, max)`` sigma in pixels (>= 0) of the edge; 0 = a hard edge.
    """

    backend = _BACKEND
    SIDES = ("left", "right", "top", "bottom")

    def __init__(
        self,
        prob: float = 1.0,
        angle_range_deg: Sequence[float] = (-10.0, 10.0),
        margin_range: Sequence[float] = (0.02, 0.2),
        side_prob: float = 0.5,
        bright_prob: float = 0.5,
        bright_range: Sequence[float] = (0.9, 1.3),
        dark_range: Sequence[float] = (-0.2, 0.05),
        noise_std: float = 0.02,
        edge_softness_range_px: Sequence[float] = (0.5, 3.0),
    ) -> None:
        RandomizableTransform.__init__(self, _probability(prob, "prob"))
        self.angle_range_deg = _pair(angle_range_deg, "angle_range_deg", -45.0, 45.0)
        self.margin_range = _pair(margin_range, "margin_range", 0.0, 0.5)
        if self.margin_range[1] >= 0.5:
            raise ValueError(f"margin_range must stay below 0.5 (opposite margins would meet), got {margin_range!r}.")
        self.side_prob = _probability(side_prob, "side_prob")
        self.bright_prob = _probability(bright_prob, "bright_prob")
        self.bright_range = _pair(bright_range, "bright_range")
        self.dark_range = _pair(dark_range, "dark_range")
        if isinstance(noise_std, bool) or not isinstance(noise_std, Real) or not 0 <= noise_std < math.inf:
            raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std!r}.")
        self.noise_std = float(noise_std)
        self.edge_softness_range_px = _pair(edge_softness_range_px, "edge_softness_range_px", 0.0)
        self.angle_rad = 0.0
        self.margins = (0.0, 0.0, 0.0, 0.0)
        self.level = 0.0
        self.softness_px = 0.0
        self.field: np.ndarray | None = None

    def randomize(self, data: NdarrayOrTensor | None = None) -> None:
        """Draw whether to apply, angle, margins (left, right, top, bottom), level, softness and the noise field."""
        super().randomize(None)
        if not self._do_transform:
            return
        if data is None:
            raise ValueError("RandCollimation.randomize needs the image (its size shapes the noise field).")
        self.angle_rad = math.radians(self.R.uniform(*self.angle_range_deg))
        sides = self.R.uniform(size=4) < self.side_prob
        if not sides.any():
            sides[self.R.randint(4)] = True
        margins = self.R.uniform(*self.margin_range, size=4)
        self.margins = tuple(float(m) if s else 0.0 for m, s in zip(margins, sides, strict=True))
        bright = self.R.uniform() < self.bright_prob
        levels = (self.R.uniform(*self.bright_range), self.R.uniform(*self.dark_range))
        self.level = float(levels[0] if bright else levels[1])
        self.softness_px = float(self.R.uniform(*self.edge_softness_range_px))
        self.field = self.R.standard_normal(tuple(data.shape[1:])).astype(np.float32)

    def field_mask(self, spatial_shape: Sequence[int], device: torch.device | None = None) -> torch.Tensor:
        """``(W, H)`` float32 weight of the image, 1 inside the drawn field and 0 outside (soft at the edge)."""
        width, height = (int(s) for s in spatial_shape)
        x = torch.arange(width, dtype=torch.float32, device=device)[:, None] - (width - 1) / 2.0
        y = torch.arange(height, dtype=torch.float32, device=device)[None, :] - (height - 1) / 2.0
        cos, sin = math.cos(self.angle_rad), math.sin(self.angle_rad)
        qx, qy = cos * x + sin * y, -sin * x + cos * y  # the rotated frame of the field
        mask = torch.ones(width, height, dtype=torch.float32, device=device)
        half = (width / 2.0, width / 2.0, height / 2.0, height / 2.0)
        sizes = (width, width, height, height)
        inside = (qx, -qx, qy, -qy)
        for margin, h, size, q in zip(self.margins, half, sizes, inside, strict=True):
            if margin <= 0:
                continue
            distance = q + h - margin * size  # > 0 inside this side's edge, in pixels
            if self.softness_px > 0:
                mask = mask * 0.5 * (1.0 + torch.erf(distance / (math.sqrt(2.0) * self.softness_px)))
            else:
                mask = mask * (distance >= 0).to(torch.float32)
        return mask

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Apply to ``img`` ``(C, W, H)``; ``randomize=False`` reuses the last draw. Returns ``img`` when not drawn."""
        _check_image(img, type(self).__name__)
        if randomize:
            self.randomize(img)
        if not self._do_transform:
            return img
        if self.field is None or self.field.shape != tuple(img.shape[1:]):
            raise ValueError(
                f"the drawn noise field {None if self.field is None else self.field.shape} does not "
                f"fit an image of shape {tuple(img.shape)}; call randomize(img) first."
            )
        x = _float_tensor(img)
        mask = self.field_mask(x.shape[1:], x.device).to(x.dtype)
        fill = self.level + self.noise_std * torch.as_tensor(self.field, device=x.device).to(x.dtype)
        return _like(mask * x + (1.0 - mask) * fill, img)


# ------------------------------------------------------------------------------------------------------------ overlays
class RandMarkers(RandomizableTransform):
    """Burned-in overlays: block letters (lead L/R side markers) and lines of text at random places and sizes.

    Each overlay is drawn opaque with one level: bright (probability ``bright_prob``, from ``bright_range``) or dark
    (from ``dark_range``). Letters are 5 x 7 block glyphs (:func:`block_letter_mask`); text lines are random strings
    of capitals, digits and ``" :/.-"`` in Pillow's bitmap font (:func:`text_line_mask`). Heights are fractions of
    the image's smaller side; an overlay lies inside the image when it fits (else it is clipped).

    Args:
        prob: probability of drawing overlays at all.
        letters: glyphs drawn among (``"L"``, ``"R"``, ``"A"``, ``"P"``).
        n_letters_range: ``(min, max)`` number of letters (integers, inclusive).
        letter_height_range: ``(min, max)`` letter height, fraction of the smaller side in ``(0, 1]``.
        n_text_lines_range: ``(min, max)`` number of text lines (integers, inclusive).
        text_height_range: ``(min, max)`` text line height, fraction of the smaller side in ``(0, 1]``.
        text_length_range: ``(min, max)`` characters per line (integers >= 1, inclusive).
        bright_prob: probability that an overlay is bright.
        bright_range: ``(min, max)`` bright level, intensity units.
        dark_range: ``(min, max)`` dark level, intensity units.
    """

    backend = _BACKEND

    def __init__(
        self,
        prob: float = 1.0,
        letters: Sequence[str] = ("L", "R"),
        n_letters_range: Sequence[int] = (1, 2),
        letter_height_range: Sequence[float] = (0.04, 0.1),
        n_text_lines_range: Sequence[int] = (0, 3),
        text_height_range: Sequence[float] = (0.015, 0.035),
        text_length_range: Sequence[int] = (4, 16),
        bright_prob: float = 0.8,
        bright_range: Sequence[float] = (1.0, 1.5),
        dark_range: Sequence[float] = (-0.2, 0.0),
    ) -> None:
        RandomizableTransform.__init__(self, _probability(prob, "prob"))
        chosen = [letters] if isinstance(letters, str) else list(letters)
        if not chosen or any(c not in _GLYPHS for c in chosen):
            raise ValueError(f"letters must be a non-empty subset of {sorted(_GLYPHS)}, got {letters!r}.")
        self.letters = tuple(chosen)
        self.n_letters_range = _int_pair(n_letters_range, "n_letters_range")
        self.letter_height_range = _positive_pair(letter_height_range, "letter_height_range")
        self.n_text_lines_range = _int_pair(n_text_lines_range, "n_text_lines_range")
        self.text_height_range = _positive_pair(text_height_range, "text_height_range")
        for name, (_, hi) in (
            ("letter_height_range", self.letter_height_range),
            ("text_height_range", self.text_height_range),
        ):
            if hi > 1.0:
                raise ValueError(f"{name} must be fractions in (0, 1], got {getattr(self, name)!r}.")
        self.text_length_range = _int_pair(text_length_range, "text_length_range", low=1)
        self.bright_prob = _probability(bright_prob, "bright_prob")
        self.bright_range = _pair(bright_range, "bright_range")
        self.dark_range = _pair(dark_range, "dark_range")
        #: the current draw: ``(mask (w, h) bool, x0, y0, level)`` per overlay
        self.overlays: list[tuple[np.ndarray, int, int, float]] = []

    def _level(self) -> float:
        bright = self.R.uniform() < self.bright_prob
        levels = (self.R.uniform(*self.bright_range), self.R.uniform(*self.dark_range))
        return float(levels[0] if bright else levels[1])

    def randomize(self, data: NdarrayOrTensor | None = None) -> None:
        """Draw whether to apply and the overlays (masks, corners, levels) for the ``(C, W, H)`` image ``data``."""
        super().randomize(None)
        self.overlays = []
        if not self._do_transform:
            return
        if data is None:
            raise ValueError("RandMarkers.randomize needs the image (its size places the overlays).")
        width, height = (int(s) for s in data.shape[1:])
        side = min(width, height)
        masks = []
        for _ in range(self.R.randint(self.n_letters_range[0], self.n_letters_range[1] + 1)):
            letter = self.letters[self.R.randint(len(self.letters))]
            height_px = max(1, round(self.R.uniform(*self.letter_height_range) * side))
            masks.append(block_letter_mask(letter, height_px))
        for _ in range(self.R.randint(self.n_text_lines_range[0], self.n_text_lines_range[1] + 1)):
            length = self.R.randint(self.text_length_range[0], self.text_length_range[1] + 1)
            text = "".join(_TEXT_CHARS[i] for i in self.R.randint(len(_TEXT_CHARS), size=length))
            height_px = max(1, round(self.R.uniform(*self.text_height_range) * side))
            masks.append(text_line_mask(text, height_px))
        for mask in masks:
            x0 = int(self.R.randint(0, max(0, width - mask.shape[0]) + 1))
            y0 = int(self.R.randint(0, max(0, height - mask.shape[1]) + 1))
            self.overlays.append((mask, x0, y0, self._level()))

    def overlay_mask(self, spatial_shape: Sequence[int]) -> np.ndarray:
        """``(W, H)`` boolean union of the drawn overlays (where the image is overwritten)."""
        union = np.zeros(tuple(int(s) for s in spatial_shape), dtype=bool)
        for mask, x0, y0, _ in self.overlays:
            w, h = min(mask.shape[0], union.shape[0] - x0), min(mask.shape[1], union.shape[1] - y0)
            union[x0 : x0 + w, y0 : y0 + h] |= mask[:w, :h]
        return union

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Apply to ``img`` ``(C, W, H)``; ``randomize=False`` reuses the last draw. Returns ``img`` when not drawn."""
        _check_image(img, type(self).__name__)
        if randomize:
            self.randomize(img)
        if not self._do_transform:
            return img
        out = _float_tensor(img).clone()
        for mask, x0, y0, level in self.overlays:
            w, h = min(mask.shape[0], out.shape[1] - x0), min(mask.shape[1], out.shape[2] - y0)
            if w <= 0 or h <= 0:
                continue
            where = torch.as_tensor(np.ascontiguousarray(mask[:w, :h]), device=out.device)
            region = out[:, x0 : x0 + w, y0 : y0 + h]
            region[:, where] = level
        return _like(out, img)


# ------------------------------------------------------------------------------------------------- dictionary twins
class _SharedDrawd(RandomizableTransform, MapTransform):
    """Base of the intensity-type dictionary twins: one draw of ``self.transform`` (``prob=1``) for every key.

    All present keys must share one spatial shape; missing keys raise unless ``allow_missing_keys``.
    """

    backend = _BACKEND

    def __init__(
        self, keys: KeysCollection, transform: RandomizableTransform, prob: float, allow_missing_keys: bool
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, _probability(prob, "prob"))
        self.transform = transform

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> _SharedDrawd:
        super().set_random_state(seed, state)
        self.transform.set_random_state(seed, state)
        return self

    def _present(self, d: Mapping[Hashable, Any]) -> list[Hashable]:
        present = list(self.key_iterator(d))
        shapes = {tuple(d[key].shape[1:]) for key in present}
        if len(shapes) > 1:
            raise ValueError(f"{type(self).__name__}: keys {present} differ in spatial shape {sorted(shapes)}.")
        return present

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        present = self._present(d)
        self.randomize(None)
        if not present or not self._do_transform:
            return d
        self.transform.randomize(d[present[0]])
        for key in present:
            d[key] = self.transform(d[key], randomize=False)
        return d


class RandIntensityCurved(_SharedDrawd):
    """Dictionary twin of :class:`RandIntensityCurve`: one draw for every key (each on its own percentiles).

    Args:
        keys: image keys ``(C, W, H)``.
        prob, curve_types, sigmoid_gain_range, sigmoid_centre_range, lut_knots, gamma_range, contrast_range,
            brightness_range, invert_prob, percentiles: see :class:`RandIntensityCurve`.
        allow_missing_keys: skip missing keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 1.0,
        curve_types: Sequence[str] = RandIntensityCurve.CURVES,
        sigmoid_gain_range: Sequence[float] = (3.0, 10.0),
        sigmoid_centre_range: Sequence[float] = (0.35, 0.65),
        lut_knots: int = 3,
        gamma_range: Sequence[float] = (0.7, 1.5),
        contrast_range: Sequence[float] = (0.8, 1.25),
        brightness_range: Sequence[float] = (-0.1, 0.1),
        invert_prob: float = 0.0,
        percentiles: Sequence[float] = (1.0, 99.0),
        allow_missing_keys: bool = False,
    ) -> None:
        transform = RandIntensityCurve(
            prob=1.0,
            curve_types=curve_types,
            sigmoid_gain_range=sigmoid_gain_range,
            sigmoid_centre_range=sigmoid_centre_range,
            lut_knots=lut_knots,
            gamma_range=gamma_range,
            contrast_range=contrast_range,
            brightness_range=brightness_range,
            invert_prob=invert_prob,
            percentiles=percentiles,
        )
        super().__init__(keys, transform, prob, allow_missing_keys)


class RandBlurSharpend(_SharedDrawd):
    """Dictionary twin of :class:`RandBlurSharpen`: one draw for every key.

    Args:
        keys: image keys ``(C, W, H)``.
        prob, blur_prob, blur_sigma_range_px, sharpen_gain_range, sharpen_sigma_range_px, sharpen_scales: see
            :class:`RandBlurSharpen`.
        allow_missing_keys: skip missing keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 1.0,
        blur_prob: float = 0.5,
        blur_sigma_range_px: Sequence[float] = (0.5, 1.5),
        sharpen_gain_range: Sequence[float] = (0.3, 1.5),
        sharpen_sigma_range_px: Sequence[float] = (1.0, 4.0),
        sharpen_scales: int = 1,
        allow_missing_keys: bool = False,
    ) -> None:
        transform = RandBlurSharpen(
            prob=1.0,
            blur_prob=blur_prob,
            blur_sigma_range_px=blur_sigma_range_px,
            sharpen_gain_range=sharpen_gain_range,
            sharpen_sigma_range_px=sharpen_sigma_range_px,
            sharpen_scales=sharpen_scales,
        )
        super().__init__(keys, transform, prob, allow_missing_keys)


class RandRadiographNoised(_SharedDrawd):
    """Dictionary twin of :class:`RandRadiographNoise`: one draw (levels and field) for every key.

    Args:
        keys: image keys ``(C, W, H)`` of one shape.
        prob, poisson_gain_range, gaussian_std_range, correlated_prob, correlation_sigma_range_px: see
            :class:`RandRadiographNoise`.
        allow_missing_keys: skip missing keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 1.0,
        poisson_gain_range: Sequence[float] = (0.0, 0.002),
        gaussian_std_range: Sequence[float] = (0.0, 0.03),
        correlated_prob: float = 0.5,
        correlation_sigma_range_px: Sequence[float] = (0.5, 1.5),
        allow_missing_keys: bool = False,
    ) -> None:
        transform = RandRadiographNoise(
            prob=1.0,
            poisson_gain_range=poisson_gain_range,
            gaussian_std_range=gaussian_std_range,
            correlated_prob=correlated_prob,
            correlation_sigma_range_px=correlation_sigma_range_px,
        )
        super().__init__(keys, transform, prob, allow_missing_keys)


class RandCollimationd(_SharedDrawd):
    """Dictionary twin of :class:`RandCollimation`: one field for every key.

    Args:
        keys: image keys ``(C, W, H)`` of one spatial shape (not masks or labels).
        prob, angle_range_deg, margin_range, side_prob, bright_prob, bright_range, dark_range, noise_std,
            edge_softness_range_px: see :class:`RandCollimation`.
        allow_missing_keys: skip missing keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 1.0,
        angle_range_deg: Sequence[float] = (-10.0, 10.0),
        margin_range: Sequence[float] = (0.02, 0.2),
        side_prob: float = 0.5,
        bright_prob: float = 0.5,
        bright_range: Sequence[float] = (0.9, 1.3),
        dark_range: Sequence[float] = (-0.2, 0.05),
        noise_std: float = 0.02,
        edge_softness_range_px: Sequence[float] = (0.5, 3.0),
        allow_missing_keys: bool = False,
    ) -> None:
        transform = RandCollimation(
            prob=1.0,
            angle_range_deg=angle_range_deg,
            margin_range=margin_range,
            side_prob=side_prob,
            bright_prob=bright_prob,
            bright_range=bright_range,
            dark_range=dark_range,
            noise_std=noise_std,
            edge_softness_range_px=edge_softness_range_px,
        )
        super().__init__(keys, transform, prob, allow_missing_keys)


class RandMarkersd(_SharedDrawd):
    """Dictionary twin of :class:`RandMarkers`: the same overlays on every key.

    Args:
        keys: image keys ``(C, W, H)`` of one spatial shape (not masks or labels).
        prob, letters, n_letters_range, letter_height_range, n_text_lines_range, text_height_range,
            text_length_range, bright_prob, bright_range, dark_range: see :class:`RandMarkers`.
        allow_missing_keys: skip missing keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 1.0,
        letters: Sequence[str] = ("L", "R"),
        n_letters_range: Sequence[int] = (1, 2),
        letter_height_range: Sequence[float] = (0.04, 0.1),
        n_text_lines_range: Sequence[int] = (0, 3),
        text_height_range: Sequence[float] = (0.015, 0.035),
        text_length_range: Sequence[int] = (4, 16),
        bright_prob: float = 0.8,
        bright_range: Sequence[float] = (1.0, 1.5),
        dark_range: Sequence[float] = (-0.2, 0.0),
        allow_missing_keys: bool = False,
    ) -> None:
        transform = RandMarkers(
            prob=1.0,
            letters=letters,
            n_letters_range=n_letters_range,
            letter_height_range=letter_height_range,
            n_text_lines_range=n_text_lines_range,
            text_height_range=text_height_range,
            text_length_range=text_length_range,
            bright_prob=bright_prob,
            bright_range=bright_range,
            dark_range=dark_range,
        )
        super().__init__(keys, transform, prob, allow_missing_keys)


class RandFieldOfViewd(_SharedDrawd):
    """Dictionary twin of :class:`RandFieldOfView`: one box for every image key, landmarks moved into the new frame.

    Landmarks leaving the image are kept (not set to ``NaN``); ``NaN`` rows stay ``NaN``.

    Args:
        keys: image-like keys ``(C, W, H)`` of one spatial shape (e.g. ``["image", "mask"]``).
        prob, scale_range, anti_aliasing: see :class:`RandFieldOfView`.
        mode: one interpolation or one per key (e.g. ``["bilinear", "nearest"]``).
        padding_mode: one padding mode or one per key.
        landmarks_key: ``(N, 2)`` ``(x, y)`` pixel landmarks moved with the image (``None``: none); float32.
        px_affine_key: where to compose the ``3 x 3`` input-to-output pixel matrix (``None``: not recorded).
        allow_missing_keys: skip missing image keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 1.0,
        scale_range: Sequence[float] = (0.7, 1.3),
        mode: str | Sequence[str] = "bilinear",
        padding_mode: str | Sequence[str] = "zeros",
        anti_aliasing: bool = True,
        landmarks_key: Hashable | None = "landmarks",
        px_affine_key: Hashable | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        transform = RandFieldOfView(prob=1.0, scale_range=scale_range, anti_aliasing=anti_aliasing)
        super().__init__(keys, transform, prob, allow_missing_keys)
        self.mode = tuple(transform._check_mode(m) for m in ensure_tuple_rep(mode, len(self.keys)))
        self.padding_mode = tuple(
            transform._check_padding_mode(p) for p in ensure_tuple_rep(padding_mode, len(self.keys))
        )
        self.landmarks_key = landmarks_key
        self.px_affine_key = px_affine_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        present = list(self.key_iterator(d, self.mode, self.padding_mode))
        shapes = {tuple(d[key].shape[1:]) for key, _, _ in present}
        if len(shapes) > 1:
            raise ValueError(
                f"{type(self).__name__}: keys {[k for k, _, _ in present]} differ in spatial shape {sorted(shapes)}."
            )
        self.randomize(None)
        if not present:
            return d
        if self._do_transform:
            self.transform.randomize(d[present[0][0]])
            for key, mode, padding_mode in present:
                d[key] = self.transform(d[key], randomize=False, mode=mode, padding_mode=padding_mode)
        # also without a draw (identity), so every item of a batch carries the same keys and landmark dtype
        matrix = self.transform.points_affine() if self._do_transform else np.eye(3)
        move_landmarks(d, self.landmarks_key, matrix, self.px_affine_key)
        return d
