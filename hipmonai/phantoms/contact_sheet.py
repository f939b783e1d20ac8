"""Contact sheet of a phantom cohort: a few radiographs with their landmarks, and joint crops with the target
zones and the ground-truth lesions drawn in."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipmonai.atomic import atomic_path

#: one colour per target (hip: fem_sup, fem_inf, acet_sup, acet_inf; knee: tib_lat, tib_med, fem_lat, fem_med)
TARGET_COLOURS = ("#ff4040", "#ffb000", "#20c0ff", "#40ff60")
LANDMARK_COLOUR = "#ffe000"


@dataclass
class Preview:
    """What the contact sheet needs of one image (kept small: a downsampled image and joint crops).

    Attributes:
        title: label of the image (subject and visit).
        image: ``(h, w)`` downsampled image, bone bright.
        factor: downsampling factor of ``image``.
        landmarks_px: ``(N, 2)`` ``(x, y)`` landmarks in full-resolution pixels.
        crops: per joint, :class:`Crop`.
    """

    title: str
    image: np.ndarray
    factor: int
    landmarks_px: np.ndarray
    crops: list[Crop] = field(default_factory=list)


@dataclass
class Crop:
    """A full-resolution crop around one joint.

    Attributes:
        title: label (subject, visit, side, grades).
        image: ``(h, w)`` crop, bone bright.
        landmarks_px: ``(n, 2)`` landmarks of this joint in crop pixels.
        zones: target name -> ``(k, 2)`` zone landmarks in crop pixels.
        lesions: ``(T, h, w)`` bool lesion masks per target.
        score: ordering key (larger = shown first), e.g. the sum of the grades.
        joint: identifies the joint (subject and side) so that it is shown once, at its best-scoring visit.
    """

    title: str
    image: np.ndarray
    landmarks_px: np.ndarray
    zones: dict[str, np.ndarray]
    lesions: np.ndarray
    score: float
    joint: str = ""


def _palette():
    """A PIL palette image: 232 grey levels, the target colours and the landmark yellow."""
    from matplotlib.colors import to_rgb
    from PIL import Image

    colours = [tuple(int(round(255 * c)) for c in to_rgb(name)) for name in (*TARGET_COLOURS, LANDMARK_COLOUR)]
    greys = [(int(v),) * 3 for v in np.linspace(0, 255, 256 - len(colours))]
    pal = Image.new("P", (1, 1))
    pal.putpalette([v for rgb in greys + colours for v in rgb])
    return pal


def downsample(image: np.ndarray, max_width: int = 640) -> tuple[np.ndarray, int]:
    """Block-average ``image`` by the smallest integer factor that brings its width to ``max_width`` or less."""
    factor = max(1, int(np.ceil(image.shape[1] / max_width)))
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    small = image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    return small.astype(np.float32), factor


def crop_around(image: np.ndarray, centre_px: np.ndarray, half_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Crop ``(2 half + 1)`` square pixels around ``centre_px`` (x, y), padding with the image minimum.

    Returns:
        ``(crop, origin)``: the crop and the full-image pixel ``(x, y)`` of its top-left pixel.
    """
    cx, cy = (int(round(v)) for v in centre_px)
    x0, y0 = cx - half_px, cy - half_px
    size = 2 * half_px + 1
    out = np.full((size, size), float(image.min()), dtype=np.float32)
    r0, r1 = max(y0, 0), min(y0 + size, image.shape[0])
    c0, c1 = max(x0, 0), min(x0 + size, image.shape[1])
    if r0 < r1 and c0 < c1:
        out[r0 - y0 : r1 - y0, c0 - x0 : c1 - x0] = image[r0:r1, c0:c1]
    return out, np.array([x0, y0], dtype=np.float64)


def write_contact_sheet(
    path: str | os.PathLike,
    previews: Sequence[Preview],
    target_names: Sequence[str],
    *,
    title: str,
    n_full: int = 3,
    n_crops: int = 4,
    dpi: int = 72,
) -> Path:
    """Draw ``n_full`` radiographs (landmarks) over ``n_crops`` joint crops (zones, lesions) into a PNG, atomically.

    Crops are the highest-scoring ones among all previews (most osteophytes first).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if not previews:
        raise ValueError("write_contact_sheet needs at least one preview.")
    full = list(previews[:n_full])
    crops, shown = [], set()
    for crop in sorted((c for p in previews for c in p.crops), key=lambda c: -c.score):
        if crop.joint and crop.joint in shown:
            continue
        shown.add(crop.joint)
        crops.append(crop)
    crops = crops[:n_crops]
    n_cols = max(len(full), len(crops), 1)
    fig, axes = plt.subplots(2, n_cols, figsize=(4.2 * n_cols, 7.6), squeeze=False, dpi=dpi)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, p in zip(axes[0], full, strict=False):
        lo, hi = np.percentile(p.image, [0.5, 99.8])
        ax.imshow(p.image, cmap="gray", vmin=lo, vmax=hi)
        pts = p.landmarks_px / p.factor
        ax.scatter(pts[:, 0], pts[:, 1], s=1.5, c=LANDMARK_COLOUR, linewidths=0)
        ax.set_title(p.title, fontsize=8)
    for ax, c in zip(axes[1], crops, strict=False):
        lo, hi = np.percentile(c.image, [0.5, 99.8])
        ax.imshow(c.image, cmap="gray", vmin=lo, vmax=hi)
        ax.scatter(c.landmarks_px[:, 0], c.landmarks_px[:, 1], s=3, c=LANDMARK_COLOUR, linewidths=0)
        for k, name in enumerate(target_names):
            colour = TARGET_COLOURS[k % len(TARGET_COLOURS)]
            zone = c.zones.get(name)
            if zone is not None and len(zone):
                ax.scatter(zone[:, 0], zone[:, 1], s=14, facecolors="none", edgecolors=colour, linewidths=0.9)
            if c.lesions[k].any():
                ax.contour(c.lesions[k].astype(np.float32), levels=[0.5], colors=[colour], linewidths=1.0)
        ax.set_xlim(-0.5, c.image.shape[1] - 0.5)
        ax.set_ylim(c.image.shape[0] - 0.5, -0.5)
        ax.set_title(c.title, fontsize=8)
    handles = [
        Line2D([], [], color=TARGET_COLOURS[k % len(TARGET_COLOURS)], marker="o", markerfacecolor="none", label=name)
        for k, name in enumerate(target_names)
    ]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=8,
        frameon=False,
        title="zone landmarks (circles) and lesion outlines per target",
        title_fontsize=8,
    )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    from PIL import Image

    # a palette of 232 greys plus the overlay colours keeps the sheet small without banding or colour shifts
    image = Image.fromarray(np.ascontiguousarray(rgba[..., :3])).quantize(palette=_palette(), dither=Image.Dither.NONE)
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return path
