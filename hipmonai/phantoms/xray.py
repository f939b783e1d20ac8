"""A simple projection radiograph simulator shared by the hip and knee phantoms.

Anatomy is drawn into three attenuation maps (soft tissue, cortical/plate bone, trabecular bone) on a pixel grid
of known spacing; :meth:`Film.expose` turns their sum into a 12-bit "for presentation" image: system blur, quantum
noise that grows where fewer photons arrive (bone, thick tissue), trabecular texture, unsharp-mask processing and a
tone curve, bone bright. All maps are ``(H, W)`` (rows, columns); geometry comes in mm and is divided by the spacing
(pixel ``(c, r)`` centre at ``(c, r) * spacing`` mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from hipmonai.phantoms.geometry import Patch, inside_distance_mm, polygon_window, polyline_normals, rasterise

MAX_VALUE_12BIT = 4095


@dataclass(frozen=True)
class BoneStyle:
    """How a bone polygon turns into attenuation (units: attenuation per projected bone; mm for widths).

    Attributes:
        plate: constant attenuation inside (a thin plate of bone).
        core: extra attenuation of the body, growing as ``sqrt(depth)`` up to ``core_depth_mm`` (rounded bone).
        core_depth_mm: depth at which the body reaches ``core``.
        rim: cortical rim added at the outline, decaying inwards over ``rim_width_mm``.
        rim_width_mm: e-folding width of the rim.
        textured: whether the body carries trabecular texture.
    """

    plate: float = 0.15
    core: float = 0.5
    core_depth_mm: float = 12.0
    rim: float = 0.35
    rim_width_mm: float = 1.2
    textured: bool = True

    def scaled(self, factor: float) -> BoneStyle:
        """The same style with every attenuation multiplied by ``factor``."""
        return BoneStyle(
            self.plate * factor,
            self.core * factor,
            self.core_depth_mm,
            self.rim * factor,
            self.rim_width_mm,
            self.textured,
        )


@dataclass(frozen=True)
class Exposure:
    """Acquisition and processing settings of one image.

    Attributes:
        blur_mm: standard deviation of the system blur (focal spot, detector).
        photons_per_mm2: unattenuated photon fluence; the quantum noise scales as ``1/sqrt`` of what arrives.
        texture: relative amplitude of the trabecular texture.
        latitude: dynamic-range compression (0 = none): subtracts this fraction of the large-scale signal.
        latitude_mm: scale of the large-scale signal.
        unsharp: unsharp-mask gain of the presentation processing (0 = none).
        unsharp_mm: width of the unsharp mask.
        window: output levels of the 0.5th and 99.8th signal percentiles (auto-windowing of the processing).
        gamma: tone-curve exponent applied to the windowed signal.
    """

    blur_mm: float = 0.4
    photons_per_mm2: float = 3.0e5
    texture: float = 0.25
    latitude: float = 0.4
    latitude_mm: float = 30.0
    unsharp: float = 0.4
    unsharp_mm: float = 4.0
    window: tuple[float, float] = (150.0, 3700.0)
    gamma: float = 1.0


def smooth(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur; wide kernels run on a block-averaged copy and are interpolated back (same result to ~1 %)."""
    if sigma_px <= 6.0:
        return ndimage.gaussian_filter(image, sigma_px)
    f = int(sigma_px // 3)
    h, w = image.shape
    hp, wp = -(-h // f) * f, -(-w // f) * f
    padded = np.pad(image, ((0, hp - h), (0, wp - w)), mode="edge")
    small = padded.reshape(hp // f, f, wp // f, f).mean(axis=(1, 3))
    small = ndimage.gaussian_filter(small, np.sqrt(max(sigma_px**2 - f**2 / 12.0, 1.0)) / f)
    return upsample(small, f, image.shape)


def upsample(small: np.ndarray, factor: int, shape_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a block-averaged map (block centres at ``(k + 0.5) * factor - 0.5``) to ``shape_hw``."""
    small = np.asarray(small, dtype=np.float32)

    def weights(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(n_out) + 0.5) / factor - 0.5
        lo = np.clip(np.floor(pos).astype(int), 0, n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, np.clip(pos - lo, 0.0, 1.0).astype(np.float32)

    r0, r1, fr = weights(shape_hw[0], small.shape[0])
    c0, c1, fc = weights(shape_hw[1], small.shape[1])
    rows = small[r0] * (1 - fr)[:, None] + small[r1] * fr[:, None]  # (H, w)
    return rows[:, c0] * (1 - fc)[None, :] + rows[:, c1] * fc[None, :]


class Film:
    """Attenuation maps on a pixel grid, and the exposure that turns them into an image.

    Args:
        shape_hw: ``(H, W)`` image size in pixels.
        spacing_mm: pixel spacing (square pixels).
    """

    def __init__(self, shape_hw: tuple[int, int], spacing_mm: float) -> None:
        if spacing_mm <= 0:
            raise ValueError(f"spacing_mm must be positive, got {spacing_mm}.")
        self.shape_hw = (int(shape_hw[0]), int(shape_hw[1]))
        self.spacing_mm = float(spacing_mm)
        self.soft = np.zeros(self.shape_hw, dtype=np.float32)
        self.cortex = np.zeros(self.shape_hw, dtype=np.float32)
        self.trabecular = np.zeros(self.shape_hw, dtype=np.float32)

    def grid_mm(self, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` mm coordinates of block centres of ``step`` x ``step`` pixels, shapes ``(1, W')``, ``(H', 1)``.

        With ``step > 1`` the grid matches :func:`upsample` (coarse maps of smooth quantities).
        """
        h, w = self.shape_hw
        cols = (np.arange(-(-w // step), dtype=np.float32) + 0.5) * step - 0.5
        rows = (np.arange(-(-h // step), dtype=np.float32) + 0.5) * step - 0.5
        return cols[None, :] * self.spacing_mm, rows[:, None] * self.spacing_mm

    def coverage(self, rings_mm: list[np.ndarray], pad_px: int = 2, subsamples: int = 4) -> Patch | None:
        """Anti-aliased coverage of a polygon (outline + holes, mm) in its bounding window, or ``None`` if off-image."""
        rings_px = [np.asarray(r, dtype=np.float64) / self.spacing_mm for r in rings_mm]
        window = polygon_window(rings_px, self.shape_hw, pad_px)
        if window is None:
            return None
        return Patch(*window, rasterise(rings_px, window, subsamples))

    def add_bone(self, rings_mm: list[np.ndarray], style: BoneStyle, weight: Patch | None = None) -> Patch | None:
        """Draw a bone: coverage x (plate + rim at the outline + rounded, textured body).

        Args:
            rings_mm: outline (and hole) rings in mm.
            style: attenuation profile.
            weight: optional multiplier on the same window (e.g. ``1 - host`` to draw only outside a host bone).

        Returns:
            The coverage patch (before ``weight``), or ``None`` when the bone is outside the image.
        """
        cov = self.coverage(rings_mm)
        if cov is None:
            return None
        depth = inside_distance_mm(cov.values, self.spacing_mm)
        c = cov.values if weight is None else cov.values * weight.values
        cortex = c * (style.plate + style.rim * np.exp(-depth / style.rim_width_mm))
        body = c * (style.core * np.sqrt(np.minimum(depth, style.core_depth_mm) / style.core_depth_mm))
        win = cov.window
        self.cortex[win] += cortex
        (self.trabecular if style.textured else self.cortex)[win] += body
        return cov

    def add_line(self, points_mm: np.ndarray, width_mm: float, density: float) -> None:
        """Draw a dense line (e.g. a cortical ridge seen edge-on) of given width along a polyline."""
        pts = np.asarray(points_mm, dtype=np.float64)
        normal = polyline_normals(pts)
        ring = np.concatenate([pts + normal * width_mm / 2, (pts - normal * width_mm / 2)[::-1]])
        cov = self.coverage([ring])
        if cov is not None:
            self.cortex[cov.window] += density * cov.values

    def expose(self, exposure: Exposure, rng: np.random.Generator) -> np.ndarray:
        """Project, blur, add noise and texture, process and quantise to 12 bits.

        Returns:
            ``(H, W)`` float32 image in ``[0, 4095]`` (bone bright), not yet rounded.
        """
        px = self.spacing_mm
        texture = rng.standard_normal(self.shape_hw, dtype=np.float32)
        fine = ndimage.gaussian_filter(texture, 0.35 / px)
        texture = fine - ndimage.gaussian_filter(fine, 1.2 / px)
        texture /= max(float(texture.std()), 1e-6)
        atten = self.soft + self.cortex + self.trabecular * (1.0 + exposure.texture * texture)
        atten = ndimage.gaussian_filter(atten, exposure.blur_mm / px)
        # quantum noise: photons reaching a pixel ~ fluence * area * exp(-attenuation)
        photons = exposure.photons_per_mm2 * px * px * np.exp(-atten)
        noise = rng.standard_normal(self.shape_hw, dtype=np.float32)
        atten = atten + noise / np.sqrt(np.maximum(photons, 1.0))
        if exposure.latitude > 0:
            atten = atten - exposure.latitude * smooth(atten, exposure.latitude_mm / px)
        if exposure.unsharp > 0:
            atten = atten + exposure.unsharp * (atten - smooth(atten, exposure.unsharp_mm / px))
        lo, hi = np.percentile(atten[::4, ::4], [0.5, 99.8])
        signal = np.clip((atten - lo) / max(hi - lo, 1e-6), 0.0, None) ** np.float32(exposure.gamma)
        image = exposure.window[0] + (exposure.window[1] - exposure.window[0]) * signal
        return np.clip(image, 0.0, MAX_VALUE_12BIT).astype(np.float32)
