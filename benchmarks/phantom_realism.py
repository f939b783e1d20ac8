"""How close do the phantom radiographs come to real ones? Intensity histogram, noise power spectrum and edge
sharpness of simulated hip and knee radiographs next to real radiographs, at the same physical scale.

For every image (simulated or real) the script measures, in a square field of ``--field-mm`` around the joint (the
first femoral head of a hip phantom, the right tibiofemoral joint of a knee phantom, the image centre of a real
file):

- the intensity histogram after 1st-99th percentile scaling (64 bins over [0, 1]) and its Shannon entropy (bits);
- the normalised noise power spectrum (NNPS, mm^2): the ``--rois`` 64 x 64 pixel regions of the whole image with
  the lowest mean gradient magnitude (no clipped or constant pixels, no air, not overlapping by more than half), each
  detrended by a fitted plane, periodograms averaged, radially averaged in cycles/mm and divided by the squared mean
  signal so that images of different bit depths compare;
- the profile across the strongest edges of the field (highest gradient magnitude at a 0.5 mm scale, at least
  10 mm apart, away from clipped pixels), averaged over 2 mm along the edge, in mm over +-5 mm, scaled so that the
  mean of its outer 1.5 mm on the dark side reads 0 and its peak within 3 mm on the bright side reads 1 (a cortical
  rim or an edge-enhancement overshoot is the peak; the bright side's interior then reads below 1), and the 10-90 %
  width of that rise (mm); the table gives it for the strongest edge and as the median over the five strongest.

It writes one figure (the fields side by side with a common mm axis, then the histograms, spectra and edge profiles
overlaid, simulated solid and real dashed) and prints a table. The two CR files of the ``pydicom-data`` package are
included by default (their spacing is missing or zero and is *assumed*: RG1_UNCI chest 0.168 mm, the usual Agfa CR
value; RG3_UNCI leg 0.2 mm); further files come with ``--real PATH[:SPACING_MM]`` (a given spacing overrides the
file's, and is reported as assumed). Run (about 25 s on one core; DDH is a folder of images of the Fraiwan et al.
2022 DDH dataset as DICOM, doi:10.17632/jf3pv98m9g.2, whose spacing is unknown; docs/phantoms.md has the full
command with the attribution line)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phantom_realism.py --spacing 0.2 --seeds 0 1 2 \\
        --real DDH/331_DDH_1.dcm:0.7 tests/data/dicom/highdicom_dx_dog/dx_image.dcm \\
        --credit "Real images: ..." --out docs/img/phantom_realism.png
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from hipmonai.phantoms import HipPhantomParams, render_hip_radiograph, render_knee_radiograph
from hipmonai.phantoms.knee import POINTS_PER_KNEE
from hipmonai.readers import load_radiograph

#: the CR radiographs of pydicom-data with the spacing assumed for them (mm): neither file has a usable spacing tag
PYDICOM_DATA_FILES = (("RG1_UNCI.dcm", 0.168), ("RG3_UNCI.dcm", 0.2))
HISTOGRAM_BINS = 64
ROI_PX = 64
EDGE_HALF_WIDTH_MM = 5.0
EDGE_SCALE_MM = 0.5
EDGE_ALONG_MM = 1.0
PLATEAU_MM = 1.5
PEAK_MM = 3.0


@dataclass
class Radiograph:
    """One image to compare.

    Attributes:
        name: short label for the figure and the table.
        simulated: a phantom (True) or a real file (False).
        image: ``(H, W)`` float64, bone bright.
        spacing_xy_mm: ``(x, y)`` pixel spacing (mm).
        spacing_note: where the spacing comes from: ``phantom``, ``assumed`` (given on the command line or by
            :data:`PYDICOM_DATA_FILES`), or the reader's ``spacing_source`` (the DICOM tag).
        centre_xy_px: ``(x, y)`` pixel centre of the field that is shown and measured.
    """

    name: str
    simulated: bool
    image: np.ndarray
    spacing_xy_mm: tuple[float, float]
    spacing_note: str
    centre_xy_px: tuple[float, float]


@dataclass
class Measures:
    """What :func:`measure` finds for one :class:`Radiograph` (frequencies in cycles/mm, distances in mm).

    Attributes:
        field: ``(h, w)`` crop of the image (``NaN`` where the field runs off the image).
        extent_mm: ``(left, right, bottom, top)`` of ``field`` in mm from the field centre (for ``imshow``).
        hist_centres, hist_density: histogram of the 1st-99th percentile scaled field (density over [0, 1]).
        entropy_bits: Shannon entropy of that histogram.
        nps_freq, nnps_mm2: radially averaged normalised noise power spectrum.
        n_rois: regions averaged in the spectrum.
        edge_mm, edge_profile: profile across the strongest edge (``NaN`` when no edge was found).
        edge_widths_mm: 10-90 % widths of the strongest edges, strongest first (``NaN`` where undefined).
        edge_lines_mm: ``(K, 2, 2)`` end points ``(x, y)`` of those profiles in field mm (for drawing them).
    """

    field: np.ndarray
    extent_mm: tuple[float, float, float, float]
    hist_centres: np.ndarray
    hist_density: np.ndarray
    entropy_bits: float
    nps_freq: np.ndarray
    nnps_mm2: np.ndarray
    n_rois: int
    edge_mm: np.ndarray
    edge_profile: np.ndarray
    edge_widths_mm: np.ndarray
    edge_lines_mm: np.ndarray

    @property
    def edge_width_mm(self) -> float:
        """10-90 % width (mm) of the strongest edge."""
        return float(self.edge_widths_mm[0]) if len(self.edge_widths_mm) else float("nan")

    @property
    def median_edge_width_mm(self) -> float:
        """Median 10-90 % width (mm) over the edges with a defined width."""
        finite = self.edge_widths_mm[np.isfinite(self.edge_widths_mm)]
        return float(np.median(finite)) if len(finite) else float("nan")

    def nnps_at(self, frequency: float) -> float:
        """NNPS (mm^2) at ``frequency`` cycles/mm, ``NaN`` beyond the measured range (e.g. above Nyquist)."""
        f = self.nps_freq
        if len(f) == 0 or not f[0] <= frequency <= f[-1]:
            return float("nan")
        return float(np.interp(frequency, f, self.nnps_mm2))


def simulated_radiographs(
    seeds: list[int], spacing_mm: float, knee: bool = True, mesh_seeds: Sequence[int] = ()
) -> list[Radiograph]:
    """Hip phantoms for ``seeds`` (drawn bones) and ``mesh_seeds`` (mesh anatomy), and one knee phantom (the first
    seed), fields centred on a joint."""
    out = []
    mesh = HipPhantomParams(mesh_anatomy_fraction=1.0)
    for seed, params, name in [*((s, None, "sim hip") for s in seeds), *((s, mesh, "sim mesh") for s in mesh_seeds)]:
        ph = render_hip_radiograph(seed, params, spacing_mm=spacing_mm)
        centre = tuple(float(v) for v in ph.head_centres_px[0])
        out.append(
            Radiograph(f"{name} {seed}", True, ph.image.astype(np.float64), ph.spacing_xy_mm, "phantom", centre)
        )
    if knee and seeds:
        ph = render_knee_radiograph(seeds[0], spacing_mm=spacing_mm)
        right = ph.landmarks_px[:POINTS_PER_KNEE]
        centre = tuple(float(v) for v in (right[4] + right[12]) / 2)  # tibial centre and top of the notch
        out.append(
            Radiograph(f"sim knee {seeds[0]}", True, ph.image.astype(np.float64), ph.spacing_xy_mm, "phantom", centre)
        )
    return out


def parse_real(spec: str) -> tuple[Path, float | None]:
    """``PATH[:SPACING_MM]`` -> ``(path, spacing_mm or None)``."""
    head, sep, tail = spec.rpartition(":")
    if sep:
        try:
            spacing = float(tail)
        except ValueError:
            return Path(spec), None
        if spacing <= 0:
            raise ValueError(f"the spacing in {spec!r} must be positive, got {spacing}.")
        return Path(head), spacing
    return Path(spec), None


def real_radiograph(path: Path, spacing_mm: float | None, name: str | None = None) -> Radiograph:
    """Read a DICOM radiograph through the package reader (bone bright); ``spacing_mm`` overrides the file's."""
    if spacing_mm is None:
        array_wh, meta = load_radiograph(path)
        note = str(meta.get("spacing_source", "tag"))
    else:
        array_wh, meta = load_radiograph(path, (spacing_mm, spacing_mm), force_spacing=True)
        note = "assumed"
    image = np.asarray(array_wh, dtype=np.float64).T  # (W, H) x first -> (H, W)
    sx, sy = (float(v) for v in meta["spacing_xy_mm"])
    h, w = image.shape
    return Radiograph(name or path.stem, False, image, (sx, sy), note, ((w - 1) / 2, (h - 1) / 2))


def crop_field(rad: Radiograph, field_mm: float) -> tuple[np.ndarray, tuple[float, float, float, float], np.ndarray]:
    """The ``field_mm`` square around ``rad.centre_xy_px`` (NaN outside the image), its mm extent, and its
    ``(row0, col0)`` offset in the image (pixels)."""
    sx, sy = rad.spacing_xy_mm
    nw, nh = int(round(field_mm / sx)), int(round(field_mm / sy))
    c0 = int(round(rad.centre_xy_px[0] - nw / 2))
    r0 = int(round(rad.centre_xy_px[1] - nh / 2))
    out = np.full((nh, nw), np.nan)
    h, w = rad.image.shape
    rs, re = max(r0, 0), min(r0 + nh, h)
    cs, ce = max(c0, 0), min(c0 + nw, w)
    if rs < re and cs < ce:
        out[rs - r0 : re - r0, cs - c0 : ce - c0] = rad.image[rs:re, cs:ce]
    extent = (-nw * sx / 2, nw * sx / 2, nh * sy / 2, -nh * sy / 2)
    return out, extent, np.array([r0, c0])


def normalised_histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, np.ndarray, float]:
    """Histogram (density over [0, 1]) of ``values`` scaled by their 1st-99th percentiles, and its entropy (bits).

    ``NaN`` values are ignored; integer-valued data are dithered by a uniform +-0.5 level (seeded) first.
    """
    v = values[np.isfinite(values)]
    if np.all(v == np.round(v)):  # integer levels: dither by +-0.5 level so that 8-bit steps do not alias into bins
        v = v + np.random.default_rng(0).uniform(-0.5, 0.5, size=v.shape)
    lo, hi = np.percentile(v, [1, 99])
    scaled = np.clip((v - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    counts, edges = np.histogram(scaled, bins=bins, range=(0.0, 1.0))
    p = counts / max(counts.sum(), 1)
    entropy = float(-np.sum(p[p > 0] * np.log2(p[p > 0])))
    return (edges[:-1] + edges[1:]) / 2, counts / max(counts.sum(), 1) * bins, entropy


def clipped_mask(image: np.ndarray) -> np.ndarray:
    """Pixels at the image's minimum or maximum value (saturated, collimated or outside the anatomy)."""
    return (image <= image.min()) | (image >= image.max())


def flat_rois(
    image: np.ndarray, spacing_xy_mm: tuple[float, float], n_rois: int, roi_px: int = ROI_PX
) -> list[tuple[int, int]]:
    """Top-left ``(row, col)`` of the ``n_rois`` ``roi_px`` squares with the lowest mean gradient magnitude.

    The gradient is taken at a 1 mm scale. Squares with more than 0.5 % clipped pixels (:func:`clipped_mask`), with
    one value on more than half their pixels (a constant plateau), or with a mean in the darkest tenth of the 1st-99th
    percentile range (air or direct exposure, bone-bright images) are skipped; chosen squares overlap by at most half
    their side in each direction.
    """
    h, w = image.shape
    if h < roi_px or w < roi_px:
        return []
    sx, sy = spacing_xy_mm
    smooth = ndimage.gaussian_filter(image, (max(1.0 / sy, 1.0), max(1.0 / sx, 1.0)))
    gy, gx = np.gradient(smooth, sy, sx)
    grad = np.hypot(gx, gy)
    clipped = clipped_mask(image).astype(np.float64)
    p1, p99 = np.percentile(image, [1, 99])
    darkest = p1 + 0.1 * (p99 - p1)
    stride = max(roi_px // 4, 1)
    candidates = []
    for r in range(0, h - roi_px + 1, stride):
        for c in range(0, w - roi_px + 1, stride):
            win = (slice(r, r + roi_px), slice(c, c + roi_px))
            if clipped[win].mean() > 0.005 or image[win].mean() < darkest:
                continue
            _, counts = np.unique(image[win], return_counts=True)
            if counts.max() > roi_px * roi_px / 2:
                continue
            candidates.append((float(grad[win].mean()), r, c))
    chosen: list[tuple[int, int]] = []
    for _, r, c in sorted(candidates):
        if all(abs(r - r2) >= roi_px // 2 or abs(c - c2) >= roi_px // 2 for r2, c2 in chosen):
            chosen.append((r, c))
            if len(chosen) == n_rois:
                break
    return chosen


def noise_power_spectrum(
    image: np.ndarray, spacing_xy_mm: tuple[float, float], rois: list[tuple[int, int]], roi_px: int = ROI_PX
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged NNPS (mm^2) over ``rois``: plane-detrended periodograms ``|F|^2 sx sy / (N M)`` averaged
    and divided by the squared mean signal of the regions; frequencies in cycles/mm up to the lower Nyquist."""
    if not rois:
        return np.zeros(0), np.zeros(0)
    sx, sy = spacing_xy_mm
    yy, xx = np.mgrid[0:roi_px, 0:roi_px].astype(np.float64)
    design = np.stack([np.ones(roi_px * roi_px), xx.ravel(), yy.ravel()], axis=1)
    power = np.zeros((roi_px, roi_px))
    means = []
    for r, c in rois:
        roi = image[r : r + roi_px, c : c + roi_px]
        coef, *_ = np.linalg.lstsq(design, roi.ravel(), rcond=None)
        residual = roi - (design @ coef).reshape(roi.shape)
        power += np.abs(np.fft.fft2(residual)) ** 2 * sx * sy / (roi_px * roi_px)
        means.append(float(roi.mean()))
    power /= len(rois)
    power /= max(float(np.mean(means)) ** 2, 1e-12)
    fy = np.fft.fftfreq(roi_px, d=sy)[:, None]
    fx = np.fft.fftfreq(roi_px, d=sx)[None, :]
    radius = np.hypot(fx, fy)
    step = 1.0 / (roi_px * max(sx, sy))
    nyquist = 0.5 / max(sx, sy)
    index = np.round(radius / step).astype(int)
    n_bins = int(nyquist / step)
    sums = np.bincount(index.ravel(), weights=power.ravel(), minlength=n_bins + 1)[: n_bins + 1]
    counts = np.bincount(index.ravel(), minlength=n_bins + 1)[: n_bins + 1]
    keep = np.arange(1, n_bins + 1)  # no DC
    keep = keep[counts[keep] > 0]
    return keep * step, sums[keep] / counts[keep]


def strongest_edges(
    image: np.ndarray,
    spacing_xy_mm: tuple[float, float],
    region: tuple[slice, slice],
    n_edges: int = 5,
    separation_mm: float = 10.0,
) -> list[tuple[np.ndarray, np.ndarray, float, np.ndarray]]:
    """Profiles across the ``n_edges`` strongest edges inside ``region``, strongest first (see the module docstring).

    Edge points are the pixels of highest gradient magnitude at a 0.5 mm scale, at least ``separation_mm`` apart,
    whose profile stays clear of clipped pixels and of the image border.

    Returns:
        Per edge ``(distance_mm, profile, width_10_90_mm, line_xy_px)``: distances from the edge (mm, dark side
        negative), the profile averaged over +-1 mm along the edge and scaled to 0 on the dark plateau and 1 at the
        peak, the 10-90 % width (``NaN`` when the profile does not cross both levels), and the ``(2, 2)`` ``(x, y)``
        pixel end points of the profile.
    """
    sx, sy = spacing_xy_mm
    smooth = ndimage.gaussian_filter(image, (max(EDGE_SCALE_MM / sy, 0.7), max(EDGE_SCALE_MM / sx, 0.7)))
    gy, gx = np.gradient(smooth, sy, sx)  # intensity per mm
    grad = np.hypot(gx, gy)
    reach = EDGE_HALF_WIDTH_MM + EDGE_ALONG_MM + 1.0
    near_clipped = ndimage.maximum_filter(clipped_mask(image), size=(2 * int(reach / sy) + 1, 2 * int(reach / sx) + 1))
    allowed = np.zeros(image.shape, dtype=bool)
    allowed[region] = True
    h, w = image.shape
    my, mx = int(math.ceil(reach / sy)), int(math.ceil(reach / sx))
    allowed[:my], allowed[h - my :], allowed[:, :mx], allowed[:, w - mx :] = False, False, False, False
    allowed &= ~near_clipped
    rows, cols = np.nonzero(allowed)
    order = np.argsort(-grad[rows, cols])
    step = min(sx, sy) / 4
    d = np.arange(-EDGE_HALF_WIDTH_MM, EDGE_HALF_WIDTH_MM + step / 2, step)
    edges: list[tuple[np.ndarray, np.ndarray, float, np.ndarray]] = []
    taken: list[tuple[float, float]] = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if any(math.hypot((c - c2) * sx, (r - r2) * sy) < separation_mm for r2, c2 in taken):
            continue
        taken.append((r, c))
        n = np.array([gx[r, c], gy[r, c]]) / max(grad[r, c], 1e-12)  # (x, y) unit normal towards the bright side
        t = np.array([-n[1], n[0]])
        profiles = []
        for a in np.linspace(-EDGE_ALONG_MM, EDGE_ALONG_MM, 7):
            x_mm = c * sx + d * n[0] + a * t[0]
            y_mm = r * sy + d * n[1] + a * t[1]
            profiles.append(ndimage.map_coordinates(image, [y_mm / sy, x_mm / sx], order=1, mode="nearest"))
        p = np.mean(profiles, axis=0)
        lo = float(p[d <= -EDGE_HALF_WIDTH_MM + PLATEAU_MM].mean())
        hi = float(p[(d >= 0) & (d <= PEAK_MM)].max())
        if hi - lo <= 0:
            continue
        p = (p - lo) / (hi - lo)
        line = np.array(
            [
                [c - EDGE_HALF_WIDTH_MM * n[0] / sx, r - EDGE_HALF_WIDTH_MM * n[1] / sy],
                [c + EDGE_HALF_WIDTH_MM * n[0] / sx, r + EDGE_HALF_WIDTH_MM * n[1] / sy],
            ]
        )
        edges.append((d, p, rise_width(d, p), line))
        if len(edges) == n_edges:
            break
    return edges


def rise_width(distance_mm: np.ndarray, profile: np.ndarray, low: float = 0.1, high: float = 0.9) -> float:
    """Distance (mm) from the last ``low`` crossing before the 50 % crossing nearest 0 to the first ``high`` crossing
    after it; ``NaN`` when a level is not crossed."""
    above = profile >= 0.5
    crossings = np.flatnonzero(~above[:-1] & above[1:])
    if len(crossings) == 0:
        return float("nan")
    k = int(crossings[np.argmin(np.abs(distance_mm[crossings]))])
    below_low = np.flatnonzero(profile[: k + 1] <= low)
    above_high = np.flatnonzero(profile[k + 1 :] >= high)
    if len(below_low) == 0 or len(above_high) == 0:
        return float("nan")
    return float(distance_mm[k + 1 + above_high[0]] - distance_mm[below_low[-1]])


def measure(rad: Radiograph, field_mm: float, n_rois: int, n_edges: int = 5) -> Measures:
    """Histogram, NNPS and edge profiles of one radiograph (see the module docstring)."""
    crop, extent, (r0, c0) = crop_field(rad, field_mm)
    centres, density, entropy = normalised_histogram(crop)
    rois = flat_rois(rad.image, rad.spacing_xy_mm, n_rois)
    freq, nnps = noise_power_spectrum(rad.image, rad.spacing_xy_mm, rois)
    h, w = rad.image.shape
    region = (
        slice(max(r0, 0), max(min(r0 + crop.shape[0], h), 0)),
        slice(max(c0, 0), max(min(c0 + crop.shape[1], w), 0)),
    )
    edges = strongest_edges(rad.image, rad.spacing_xy_mm, region, n_edges)
    sx, sy = rad.spacing_xy_mm
    lines_mm = np.array(
        [
            np.stack(
                [(line[:, 0] - c0 + 0.5 - crop.shape[1] / 2) * sx, (line[:, 1] - r0 + 0.5 - crop.shape[0] / 2) * sy],
                axis=1,
            )
            for *_, line in edges
        ]
    ).reshape(-1, 2, 2)
    d, profile = (edges[0][0], edges[0][1]) if edges else (np.full(1, np.nan), np.full(1, np.nan))
    widths = np.array([e[2] for e in edges])
    return Measures(crop, extent, centres, density, entropy, freq, nnps, len(rois), d, profile, widths, lines_mm)


def format_table(radiographs: list[Radiograph], measures: list[Measures]) -> str:
    """The printed table: one row per image."""
    head = (
        f"{'image':<14}{'kind':<5}{'spacing mm':>11} {'(source)':<14}{'size px (WxH)':>14}{'edge 10-90 mm':>14}"
        f"{'(median of 5)':>14}{'NNPS@1 mm^2':>13}{'NNPS@0.25 mm^2':>16}{'ROIs':>5}{'entropy bits':>13}"
    )
    lines = [head, "-" * len(head)]
    for rad, m in zip(radiographs, measures, strict=True):
        sx, sy = rad.spacing_xy_mm
        spacing = f"{sx:.3g}" if abs(sx - sy) < 1e-6 else f"{sx:.4g}x{sy:.4g}"
        h, w = rad.image.shape
        lines.append(
            f"{rad.name:<14}{'sim' if rad.simulated else 'real':<5}{spacing:>11} {'(' + rad.spacing_note + ')':<14}"
            f"{f'{w}x{h}':>14}{m.edge_width_mm:>14.2f}{m.median_edge_width_mm:>14.2f}{m.nnps_at(1.0):>13.2e}"
            f"{m.nnps_at(0.25):>16.2e}{m.n_rois:>5}{m.entropy_bits:>13.2f}"
        )
    return "\n".join(lines)


def plot(radiographs: list[Radiograph], measures: list[Measures], out: Path, field_mm: float, credit: str) -> None:
    """The figure: fields at a common mm scale (edge profiles drawn: the strongest red, the others orange), then the
    three overlaid measures (simulated solid, real dashed; each image framed in its curve colour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(radiographs)
    cols = min(max(n, 3), 6)
    rows = math.ceil(n / cols)
    fig = plt.figure(figsize=(2.7 * cols, 2.9 * rows + 3.6), layout="constrained")
    grid = fig.add_gridspec(rows + 1, cols, height_ratios=[2.9] * rows + [3.4])
    palette = [*plt.get_cmap("tab10").colors, *plt.get_cmap("Dark2").colors]
    colours = [palette[i % len(palette)] for i in range(n)]
    cmap = plt.get_cmap("gray").with_extremes(bad="#d8d8e8")  # outside the image
    for i, (rad, m) in enumerate(zip(radiographs, measures, strict=True)):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        lo, hi = np.nanpercentile(m.field, [1, 99])
        ax.imshow(m.field, cmap=cmap, vmin=lo, vmax=hi, extent=m.extent_mm, interpolation="antialiased")
        for k, line in enumerate(m.edge_lines_mm[::-1]):
            strongest = k == len(m.edge_lines_mm) - 1
            ax.plot(line[:, 0], line[:, 1], color="red" if strongest else "orange", lw=1.8 if strongest else 1.0)
        for spine in ax.spines.values():
            spine.set_edgecolor(colours[i])
            spine.set_linewidth(2.5)
        half = field_mm / 2
        ax.set_xlim(-half, half)
        ax.set_ylim(half, -half)
        sx, sy = rad.spacing_xy_mm
        kind = "simulated" if rad.simulated else "real"
        ax.set_title(f"{rad.name} ({kind})\n{sx:.3g} mm/px ({rad.spacing_note})", fontsize=9)
        ax.tick_params(labelsize=7)
        if i % cols == 0:
            ax.set_ylabel("y (mm)", fontsize=8)
        ax.set_xlabel("x (mm)", fontsize=8)
    bottom = grid[rows, :].subgridspec(1, 3)
    ax_h, ax_n, ax_e = (fig.add_subplot(bottom[0, k]) for k in range(3))
    for i, (rad, m) in enumerate(zip(radiographs, measures, strict=True)):
        style = dict(color=colours[i], lw=1.3, ls="-" if rad.simulated else "--", label=rad.name)
        ax_h.plot(m.hist_centres, m.hist_density, **style)
        if len(m.nps_freq):
            ax_n.semilogy(m.nps_freq, m.nnps_mm2, **style)
        if np.isfinite(m.edge_width_mm) or np.isfinite(m.edge_profile).any():
            ax_e.plot(m.edge_mm, m.edge_profile, **style)
    ax_h.set(
        xlabel="intensity (1st-99th percentile scaled)",
        ylabel="density",
        title=f"intensity histogram ({HISTOGRAM_BINS} bins, field)",
    )
    ax_n.set(
        xlabel="spatial frequency (cycles/mm)",
        ylabel="NNPS (mm²)",
        title=f"normalised noise power spectrum ({ROI_PX}² px flat ROIs)",
    )
    ax_e.set(
        xlabel="distance across the edge (mm)",
        ylabel="intensity (dark plateau 0, peak 1)",
        title="profile across the strongest edge (red)",
    )
    ax_e.axhline(0.1, color="0.6", lw=0.6)
    ax_e.axhline(0.9, color="0.6", lw=0.6)
    ax_n.legend(fontsize=7, ncol=2, loc="upper right")
    for ax in (ax_h, ax_n, ax_e):
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    if credit:
        fig.text(0.5, 0.0, credit, ha="center", va="bottom", fontsize=7, color="0.3")
    fig.get_layout_engine().set(h_pad=0.1, rect=(0, 0.015, 1, 0.985) if credit else (0, 0, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spacing", type=float, default=0.2, help="phantom pixel spacing in mm (clinical 0.1-0.2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="hip phantom seeds (knee: the first)")
    parser.add_argument("--mesh-seeds", type=int, nargs="*", default=[0],
                        help="hip phantom seeds drawn with mesh anatomy (mesh_anatomy_fraction=1)")
    parser.add_argument("--no-knee", action="store_true", help="leave the knee phantom out")
    parser.add_argument(
        "--real",
        nargs="*",
        default=[],
        metavar="PATH[:SPACING_MM]",
        help="extra real DICOM radiographs; a spacing overrides the file's",
    )
    parser.add_argument(
        "--pydicom-data",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="include the CR files of the pydicom-data package (assumed spacings)",
    )
    parser.add_argument("--field-mm", type=float, default=120.0, help="side of the square field shown and measured")
    parser.add_argument("--rois", type=int, default=8, help="flat regions averaged in the noise power spectrum")
    parser.add_argument("--credit", default="", help="attribution line printed under the figure")
    parser.add_argument("--out", type=Path, default=Path("docs/img/phantom_realism.png"), help="figure (PNG)")
    args = parser.parse_args(argv)
    if args.spacing <= 0 or args.field_mm <= 0 or args.rois < 1:
        parser.error(
            f"--spacing and --field-mm must be positive and --rois >= 1, got {args.spacing}, "
            f"{args.field_mm}, {args.rois}."
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    radiographs = simulated_radiographs(args.seeds, args.spacing, knee=not args.no_knee, mesh_seeds=args.mesh_seeds)
    if args.pydicom_data:
        from pydicom.data import get_testdata_file

        radiographs += [real_radiograph(Path(get_testdata_file(name)), spacing) for name, spacing in PYDICOM_DATA_FILES]
    for spec in args.real:
        radiographs.append(real_radiograph(*parse_real(spec)))
    measures = [measure(rad, args.field_mm, args.rois) for rad in radiographs]
    print(format_table(radiographs, measures))
    plot(radiographs, measures, args.out, args.field_mm, args.credit)
    print(f"figure written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
