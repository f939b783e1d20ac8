"""Soft tissue of the phantoms as path lengths: body outline, subcutaneous fat, pelvic fat, bladder and bowel gas.

Every map is an analytic chord length through an elliptical cross-section (a body of half width ``a`` and depth
``T`` is crossed by an AP ray at ``x`` over ``T sqrt(1 - (x / a)^2)``); the fat is the difference between the
outer outline and the same outline shrunk by the fat layer. Maps are computed on a coarse grid (these quantities
are smooth) and added to a :class:`~hipmonai.phantoms.xray.Film` in mm. Coordinates are the anatomy frame of the
caller (mm, ``x`` to the image right, ``y`` down), mapped from the image by ``to_frame``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from hipmonai.phantoms.xray import Film, upsample

__all__ = ["chord_mm", "draw_leg_soft_tissue", "draw_pelvis_soft_tissue"]

COARSE_STEP_PX = 4
Frame = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def chord_mm(x: np.ndarray, half_width_mm: float, depth_mm: float) -> np.ndarray:
    """AP chord length (mm) through an ellipse of half width ``half_width_mm`` and depth ``depth_mm`` at ``x``."""
    if half_width_mm <= 0 or depth_mm <= 0:
        return np.zeros_like(np.asarray(x, dtype=np.float32))
    return depth_mm * np.sqrt(np.clip(1.0 - (np.asarray(x) / half_width_mm) ** 2, 0.0, None))


def _layered(x: np.ndarray, half_width: float, depth: float, fat: float) -> tuple[np.ndarray, np.ndarray]:
    """(total, fat) chord lengths of an ellipse with a subcutaneous fat layer of thickness ``fat``."""
    total = chord_mm(x, half_width, depth)
    inner = chord_mm(x, half_width - fat, depth - 2.0 * fat)
    return total, total - inner


def _add(film: Film, coarse: np.ndarray, target: np.ndarray) -> None:
    target += upsample(np.clip(coarse, 0.0, None).astype(np.float32), COARSE_STEP_PX, film.shape_hw)


def bowel_gas(x: np.ndarray, y: np.ndarray, half_distance_mm: float, amount: float, rng: np.random.Generator,
              spacing_mm: float) -> np.ndarray:
    """Gas path length (mm) of a colon frame over the pelvis: mottled pockets along the ascending, transverse,
    descending and sigmoid colon and the rectum, more of them with ``amount`` (0-1).

    Args:
        x, y: coarse-grid coordinates (pelvis frame, mm; origin midway between the femoral heads, ``y`` down).
        half_distance_mm: midline to femoral head centre.
        amount: fraction of the colon holding gas.
        rng: draws the mottling.
        spacing_mm: spacing of the coarse grid (sets the filter widths).
    """
    k = half_distance_mm / 95.0
    side = 0.85 * half_distance_mm
    band = np.zeros(np.broadcast(x, y).shape, dtype=np.float32)

    def tube(d: np.ndarray, width: float) -> np.ndarray:
        return np.exp(-0.5 * (d / width) ** 2)

    top = -150.0 * k
    band = np.maximum(band, tube(x + side, 22 * k) * (y < -20 * k) * (y > top))  # ascending (patient right)
    band = np.maximum(band, tube(x - side, 20 * k) * (y < -30 * k) * (y > top))  # descending
    band = np.maximum(band, tube(y - top, 22 * k) * (np.abs(x) < side))  # transverse
    sig_y = -45 * k + 25 * k * np.sin((x - side) / (35 * k))  # sigmoid loop, from the left iliac fossa to midline
    band = np.maximum(band, tube(y - sig_y, 15 * k) * (x > -10 * k) * (x < side))
    band = np.maximum(band, tube(x, 14 * k) * (y > -40 * k) * (y < 35 * k))  # rectum
    noise = rng.standard_normal(band.shape).astype(np.float32)
    blobs = ndimage.gaussian_filter(noise, 9.0 / spacing_mm)
    blobs /= max(float(blobs.std()), 1e-6)
    mottle = ndimage.gaussian_filter(noise, 2.5 / spacing_mm)
    mottle /= max(float(mottle.std()), 1e-6)
    threshold = float(np.quantile(blobs[band > 0.5], 1.0 - amount)) if (band > 0.5).any() else 0.0
    pockets = np.clip((blobs - threshold) * 1.5, 0.0, 1.0) * band
    return (pockets * np.clip(22.0 + 9.0 * mottle, 0.0, None)).astype(np.float32)


def draw_pelvis_soft_tissue(film: Film, to_frame: Frame, soft: dict[str, float], half_distance_mm: float,
                            rng: np.random.Generator) -> None:
    """Trunk blending into two thighs below the crotch, fat layers, the bladder in pelvic fat, and bowel gas.

    Args:
        film: receives ``soft_mm``, ``fat_mm`` and ``gas_mm``.
        to_frame: image mm ``(x, y)`` -> pelvis frame mm.
        soft: the subject's ``trunk_half_width``, ``trunk_thickness``, ``thigh_radius``, ``crotch``, ``fat_mm``,
            ``pelvic_fat_mm``, ``bladder_mm`` (half width), ``gas`` (0-1).
        half_distance_mm: midline to femoral head centre.
        rng: draws the bowel-gas pattern of this image.
    """
    x_img, y_img = film.grid_mm(COARSE_STEP_PX)
    x, y = to_frame(x_img, y_img)
    hd = half_distance_mm
    fat = soft["fat_mm"]
    trunk, trunk_fat = _layered(x, soft["trunk_half_width"], soft["trunk_thickness"], fat)
    r = soft["thigh_radius"]
    thighs = np.zeros_like(trunk)
    thigh_fat = np.zeros_like(trunk)
    for c in (-hd - 5.0, hd + 5.0):
        t, f = _layered(x - c, r, 2 * r, 0.8 * fat)
        thighs, thigh_fat = thighs + t, thigh_fat + f
    w = np.clip((y - soft["crotch"]) / 45.0, 0.0, 1.0)
    w = w * w * (3 - 2 * w)
    total = (1 - w) * trunk + w * np.minimum(thighs, trunk * 1.05 + 1e-3)
    fat_map = (1 - w) * trunk_fat + w * np.minimum(thigh_fat, total)
    # pelvic fat around the bladder (the bladder, fluid, shows as a soft-tissue dome inside it)
    pelvic = soft["pelvic_fat_mm"] * np.exp(-(((x / (0.75 * hd)) ** 2 + ((y - 5.0) / 55.0) ** 2) ** 2))
    bw = soft["bladder_mm"]
    bladder = np.clip(1.0 - (x / bw) ** 2 - ((y - 25.0) / (0.75 * bw)) ** 2, 0.0, 1.0) ** 0.5
    fat_map = fat_map + pelvic * (1.0 - bladder)
    spacing = film.spacing_mm * COARSE_STEP_PX
    gas = bowel_gas(x, y, hd, soft["gas"], rng, spacing) * (1.0 - w)
    _add(film, total, film.soft_mm)
    _add(film, np.minimum(fat_map, 0.8 * total), film.fat_mm)
    _add(film, np.minimum(gas, 0.5 * total), film.gas_mm)


def draw_leg_soft_tissue(film: Film, to_frame: Frame, centres_mm: tuple[float, float],
                         radius_mm: Callable[[np.ndarray], np.ndarray], fat_mm: float) -> None:
    """Two legs as elliptical cylinders whose radius varies along the leg, each with a fat layer.

    Args:
        film: receives ``soft_mm`` and ``fat_mm``.
        to_frame: image mm -> leg frame mm (``x`` across, ``y`` along the legs).
        centres_mm: ``x`` of the two leg axes.
        radius_mm: radius as a function of ``y``.
        fat_mm: subcutaneous fat thickness.
    """
    x_img, y_img = film.grid_mm(COARSE_STEP_PX)
    x, y = to_frame(x_img, y_img)
    r = radius_mm(y)
    total = np.zeros(np.broadcast(x, y).shape, dtype=np.float64)
    fat = np.zeros_like(total)
    for c in centres_mm:
        outer = 2 * r * np.sqrt(np.clip(1.0 - ((x - c) / r) ** 2, 0.0, None))
        ri = np.maximum(r - fat_mm, 1.0)
        inner = 2 * ri * np.sqrt(np.clip(1.0 - ((x - c) / ri) ** 2, 0.0, None))
        total, fat = total + outer, fat + outer - inner
    _add(film, total, film.soft_mm)
    _add(film, fat, film.fat_mm)
