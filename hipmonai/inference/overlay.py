"""Overlay PNGs of predictions on their radiograph (``hipmonai predict``): points, circles and a note per group.

A group is one hip or one knee: its landmarks, optionally its femoral head circle, and a few lines of text (presence,
probabilities, grades) drawn in the image corner on the group's side. Coordinates are original-image ``(x, y)``
pixels, the units of :func:`hipmonai.readers.load_radiograph` and of the ``*_px`` values of the prediction JSON.
Nothing but the pixels and the given text reaches the file: no DICOM header value.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["OverlayGroup", "write_overlay"]

#: colours of the groups, in order (right side first)
GROUP_COLOURS = ("#ff4d4d", "#33ccff", "#66ff66", "#ffcc00")


@dataclass
class OverlayGroup:
    """What is drawn for one hip or knee.

    Attributes:
        label: short name drawn at the head of the note, e.g. ``"right hip"``.
        points_px: ``(N, 2)`` ``(x, y)`` original-image pixels; rows with ``NaN`` are not drawn.
        circle_px: ``(centre_x, centre_y, radius_x, radius_y)`` in pixels, or ``None`` (a circle in mm is an
            ellipse in pixels when the pixel spacing is anisotropic, hence two radii).
        note: further lines of text under the label (``"\\n"``-separated).
    """

    label: str
    points_px: np.ndarray
    circle_px: tuple[float, float, float, float] | None = None
    note: str = ""


def _display_image(image_wh: np.ndarray, max_width_px: int) -> tuple[np.ndarray, int, float, float]:
    """The radiograph as ``(rows, cols)``, block-averaged by the smallest integer factor that brings it to at most
    ``max_width_px`` columns; that factor; and its grey window ``low, high`` (1st and 99th percentiles)."""
    image = np.asarray(image_wh, dtype=np.float32).T
    factor = max(1, int(np.ceil(image.shape[1] / max_width_px)))
    rows, cols = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    small = image[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))
    finite = small[np.isfinite(small)]
    low, high = (float(v) for v in np.percentile(finite, [1.0, 99.0])) if finite.size else (0.0, 1.0)
    return small, factor, low, high if high > low else low + 1.0


def write_overlay(
    path: str | os.PathLike,
    image_wh: np.ndarray,
    groups: Sequence[OverlayGroup],
    title: str | None = None,
    max_width_px: int = 1200,
) -> Path:
    """Draw ``groups`` on the radiograph and save a PNG (atomically).

    Args:
        path: the PNG to write (parent folders are created).
        image_wh: the radiograph, ``(W, H)`` = (columns, rows), as :func:`hipmonai.readers.load_radiograph` gives it.
        groups: one per hip or knee; the notes of even-numbered groups go top-left, odd-numbered top-right (right
            side first = image left).
        title: optional text above the image (keep it free of identifying values).
        max_width_px: the image is block-averaged to at most this many columns before drawing.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    from hipmonai.atomic import atomic_path

    width, height = (int(n) for n in np.asarray(image_wh).shape[:2])
    display, factor, low, high = _display_image(image_wh, max_width_px)
    fig_w = 10.0
    fig, ax = plt.subplots(figsize=(fig_w, fig_w * height / max(width, 1)), dpi=max_width_px / fig_w)
    # the block-averaged image spans the same original-pixel extent, so points are drawn in original pixels
    ax.imshow(display, cmap="gray", vmin=low, vmax=high,
              extent=(-0.5, display.shape[1] * factor - 0.5, display.shape[0] * factor - 0.5, -0.5))
    marker = max(2.0, 6.0 * max_width_px / 1200)
    for index, group in enumerate(groups):
        colour = GROUP_COLOURS[index % len(GROUP_COLOURS)]
        points = np.asarray(group.points_px, dtype=np.float64).reshape(-1, 2)
        points = points[np.isfinite(points).all(axis=1)]
        if len(points):
            ax.plot(points[:, 0], points[:, 1], "o", ms=marker, mfc="none", mec=colour, mew=1.2)
        if group.circle_px is not None and np.isfinite(group.circle_px).all():
            cx, cy, rx, ry = group.circle_px
            ax.add_patch(Ellipse((cx, cy), 2 * rx, 2 * ry, fill=False, ec=colour, lw=1.5))
            ax.plot([cx], [cy], "+", ms=2 * marker, color=colour, mew=1.5)
        text = group.label + (f"\n{group.note}" if group.note else "")
        right = index % 2 == 1
        ax.text(0.99 if right else 0.01, 0.99, text, transform=ax.transAxes, ha="right" if right else "left",
                va="top", multialignment="left", fontsize=8, family="monospace", color=colour,
                bbox={"facecolor": "black", "alpha": 0.6, "edgecolor": "none", "pad": 3})
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=0.96 if title else 1)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
