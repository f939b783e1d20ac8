"""The projection radiograph simulator shared by the hip and knee phantoms: an X-ray image-formation model.

Anatomy is drawn as material path lengths on a pixel grid of known spacing (:class:`Film`): the body's soft
tissue with its fat layer and bowel gas (analytic chord lengths through the body outline), cortical and trabecular
bone (chord-length profiles of rounded bones, :class:`BoneStyle`), lead markers, and the collimated field.
:meth:`Film.expose` forms the image as a clinical DX/CR system does (:class:`Exposure`): a SpekPy tungsten
spectrum attenuated by ICRU-44 tissues (:mod:`hipmonai.phantoms.xray_tables`), heel effect, inverse square,
focal-spot blur, scatter, quantum noise at the detector dose, detector blur and electronic noise, then "for
presentation" processing (log, multi-scale contrast equalisation, gradation curve) to 12 bits, bone bright. All maps
are ``(H, W)`` (rows, columns); geometry comes in mm and is divided by the spacing (pixel ``(c, r)`` centre at
``(c, r) * spacing`` mm).
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
    """Acquisition, detector and "for presentation" processing settings of one image (mm, keV, µGy).

    Image formation (:meth:`Film.expose`) follows a projection radiography chain: polyenergetic attenuation of a
    tungsten spectrum through material path lengths, the anode heel effect and inverse-square fall-off, scatter,
    focal-spot blur, quantum noise of an energy-integrating detector at the given dose, detector blur, electronic
    noise, then a log transform, multi-scale contrast equalisation and a gradation curve to 12 bits.

    Attributes:
        kvp: tube voltage (50-110 kV).
        added_cu_mm: added copper filtration.
        sid_mm: source-to-image distance.
        focal_spot_mm: nominal focal spot size (its blur in the object plane is ``f (M - 1) / M``).
        heel: relative fluence change across the field along the anode-cathode axis (anode side darker).
        heel_angle_deg: direction of the anode-cathode axis in the image (0 = +x, 90 = +y).
        grid: anti-scatter grid in use (scatter-to-primary ratio ``spr`` is given for 200 mm of soft tissue).
        spr: scatter-to-primary ratio at 200 mm of soft tissue.
        scatter_mm: width (standard deviation) of the scatter kernel.
        dose_ugy: detector air kerma behind the anatomy (automatic exposure control).
        detector_absorber_mm: caesium iodide thickness of the detector (sets its quantum efficiency).
        detector_blur_mm: standard deviation of the detector's light-spread blur (detector plane).
        detector_tail: fraction of the light in a wide tail (CR phosphor plates scatter more).
        detector_tail_mm: standard deviation of that tail.
        electronic_noise: electronic noise, as a fraction of the quantum noise at the reference signal.
        texture: relative amplitude of the trabecular texture (volume fraction modulation).
        equalisation: fraction of the large-scale signal removed (0 = none; latitude reduction).
        equalisation_mm: scale of the large-scale signal.
        enhance: gain of the multi-scale edge enhancement (0 = none).
        enhance_power: contrast-equalisation exponent of the detail bands (1 = linear; < 1 lifts small details).
        gradation: slope of the S-shaped gradation curve (0 = linear).
        window: output levels of the 0.5th and 99.5th percentiles of the processed anatomy signal.
        gamma: exponent applied before the gradation curve.
    """

    kvp: float = 75.0
    added_cu_mm: float = 0.1
    sid_mm: float = 1150.0
    focal_spot_mm: float = 1.2
    heel: float = 0.1
    heel_angle_deg: float = 90.0
    grid: bool = True
    spr: float = 0.6
    scatter_mm: float = 40.0
    dose_ugy: float = 2.5
    detector_absorber_mm: float = 0.5
    detector_blur_mm: float = 0.12
    detector_tail: float = 0.15
    detector_tail_mm: float = 0.6
    electronic_noise: float = 0.1
    texture: float = 0.3
    equalisation: float = 0.5
    equalisation_mm: float = 25.0
    enhance: float = 1.0
    enhance_power: float = 0.8
    gradation: float = 2.0
    window: tuple[float, float] = (150.0, 3900.0)
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if not 50.0 <= self.kvp <= 110.0:
            raise ValueError(f"kvp must lie in [50, 110], got {self.kvp}.")
        if self.sid_mm <= 0 or self.dose_ugy <= 0 or self.detector_absorber_mm <= 0:
            raise ValueError(
                f"sid_mm, dose_ugy and detector_absorber_mm must be positive, got {self.sid_mm}, {self.dose_ugy}, "
                f"{self.detector_absorber_mm}."
            )
        if not 0 <= self.detector_tail < 1 or self.spr < 0 or not abs(self.heel) < 1:
            raise ValueError(
                f"detector_tail must lie in [0, 1), spr >= 0 and |heel| < 1, got {self.detector_tail}, {self.spr}, "
                f"{self.heel}."
            )


#: quanta per mm^2 per µGy of air kerma for a ~70 kV beam behind a patient (IEC 62220-1 RQA5: 29 653)
QUANTA_PER_MM2_PER_UGY = 29653.0
#: how the bone maps of :class:`BoneStyle` (attenuation-like units) convert to path length in bone (mm)
BONE_MM_PER_UNIT = 40.0
#: cortical-bone volume fraction of trabecular bone (the rest is red marrow)
TRABECULAR_BONE_FRACTION = 0.3
#: energy bins the spectrum is grouped into for the polyenergetic sum
ENERGY_BINS = 10


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
    """Material path lengths on a pixel grid, and the exposure that turns them into an image.

    Maps (all ``(H, W)`` float32): ``soft_mm`` body path length (everything between skin entrance and exit),
    ``fat_mm`` the adipose part of it, ``gas_mm`` bowel gas inside it, ``lead_mm`` lead markers (outside the body),
    ``cortex`` and ``trabecular`` bone in :class:`BoneStyle` units (``BONE_MM_PER_UNIT`` mm each; trabecular bone is
    ``TRABECULAR_BONE_FRACTION`` cortical bone in red marrow), ``field`` the collimated beam (1 inside, 0 outside).
    The rest of the body path is skeletal muscle. ``overlays`` are burned-in texts added after processing.

    Args:
        shape_hw: ``(H, W)`` image size in pixels.
        spacing_mm: pixel spacing (square pixels) in the object plane.
        magnification: source-to-image over source-to-object distance (sets the focal-spot blur).
    """

    def __init__(self, shape_hw: tuple[int, int], spacing_mm: float, magnification: float = 1.1) -> None:
        if spacing_mm <= 0:
            raise ValueError(f"spacing_mm must be positive, got {spacing_mm}.")
        if not 1.0 <= magnification <= 2.0:
            raise ValueError(f"magnification must lie in [1, 2], got {magnification}.")
        self.shape_hw = (int(shape_hw[0]), int(shape_hw[1]))
        self.spacing_mm = float(spacing_mm)
        self.magnification = float(magnification)
        zeros = lambda: np.zeros(self.shape_hw, dtype=np.float32)  # noqa: E731
        self.soft_mm, self.fat_mm, self.gas_mm, self.lead_mm = zeros(), zeros(), zeros(), zeros()
        self.cortex, self.trabecular = zeros(), zeros()
        self.field = np.ones(self.shape_hw, dtype=np.float32)
        self.overlays: list[tuple[str, tuple[float, float], float, float]] = []

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

        The profile is the chord length through a rounded body: a cortical shell seen tangentially at the outline
        (``rim``), a plate, and a body whose thickness grows as ``sqrt(depth)`` (a circle's chord near its edge).

        Args:
            rings_mm: outline (and hole) rings in mm.
            style: path-length profile (units of ``BONE_MM_PER_UNIT`` mm).
            weight: optional multiplier on the same window (e.g. ``1 - host`` to draw only outside a host bone).

        Returns:
            The coverage patch (before ``weight``), or ``None`` when the bone is outside the image.
        """
        cov = self.coverage(rings_mm)
        if cov is None:
            return None
        depth = inside_distance_mm(cov.values, self.spacing_mm)
        c = cov.values if weight is None else cov.values * weight.values
        # a ray grazing a rounded cortical shell crosses a chord that grows as sqrt(depth) over the shell's
        # thickness, then thins as the ray passes inside it: no step at the outline
        onset = np.sqrt(np.clip(depth / style.rim_width_mm, 0.0, 1.0))
        shell = onset * np.exp(-np.maximum(depth - style.rim_width_mm, 0.0) / style.rim_width_mm)
        cortex = c * (style.plate * onset + style.rim * shell)
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

    def collimate(self, centre_mm: tuple[float, float], half_size_mm: tuple[float, float], angle_deg: float) -> None:
        """Restrict the beam to a rotated rectangle (centre, half width/height in mm, rotation in degrees)."""
        x, y = self.grid_mm()
        a = np.deg2rad(angle_deg)
        dx, dy = x - centre_mm[0], y - centre_mm[1]
        u = np.abs(np.cos(a) * dx + np.sin(a) * dy) - half_size_mm[0]
        v = np.abs(-np.sin(a) * dx + np.cos(a) * dy) - half_size_mm[1]
        self.field *= np.clip(0.5 - np.maximum(u, v) / self.spacing_mm, 0.0, 1.0).astype(np.float32)

    def add_text(
        self, text: str, xy_mm: tuple[float, float], height_mm: float, lead_mm: float | None = None, level: float = 1.0
    ) -> None:
        """A lead marker (``lead_mm`` given: attenuates the beam) or a burned-in annotation (drawn after processing).

        Args:
            text: the characters.
            xy_mm: top-left corner (mm).
            height_mm: glyph height.
            lead_mm: lead thickness of a marker, or ``None`` for a burned-in text.
            level: burned-in text level as a fraction of the 12-bit range.
        """
        if lead_mm is None:
            self.overlays.append((text, (xy_mm[0] / self.spacing_mm, xy_mm[1] / self.spacing_mm),
                                  height_mm / self.spacing_mm, level))
            return
        placed = self._place_text(text, (xy_mm[0] / self.spacing_mm, xy_mm[1] / self.spacing_mm),
                                  height_mm / self.spacing_mm)
        if placed is not None:
            window, mask = placed
            self.lead_mm[window] += lead_mm * mask

    def _place_text(
        self, text: str, xy_px: tuple[float, float], height_px: float
    ) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """``((rows, columns) window, coverage)`` of ``text`` with its top-left corner at ``xy_px``, clipped to the
        image; ``None`` when it falls entirely outside."""
        mask = text_mask(text, height_px)
        r0, c0 = int(round(xy_px[1])), int(round(xy_px[0]))
        h, w = mask.shape
        rr = slice(max(r0, 0), min(r0 + h, self.shape_hw[0]))
        cc = slice(max(c0, 0), min(c0 + w, self.shape_hw[1]))
        if rr.start >= rr.stop or cc.start >= cc.stop:
            return None
        return (rr, cc), mask[rr.start - r0 : rr.stop - r0, cc.start - c0 : cc.stop - c0]

    def expose(self, exposure: Exposure, rng: np.random.Generator) -> np.ndarray:
        """Form the image (see :class:`Exposure`) and quantise to 12 bits.

        Returns:
            ``(H, W)`` float32 image in ``[0, 4095]`` (bone bright), not yet rounded.
        """
        detected = self.detect(exposure, rng)
        return self.present(detected, exposure)

    def detect(self, exposure: Exposure, rng: np.random.Generator) -> np.ndarray:
        """Detector signal in quanta per pixel, ``(H, W)`` float32 (noise, scatter and blur included)."""
        from hipmonai.phantoms.xray_tables import load_tables

        px, mag = self.spacing_mm, self.magnification
        tables = load_tables()
        energy = tables.energy_kev
        spectrum = tables.spectrum(exposure.kvp) * np.exp(-tables.mu("copper") * exposure.added_cu_mm)
        efficiency = 1.0 - np.exp(-tables.mu("caesium_iodide") * exposure.detector_absorber_mm)
        weight = spectrum * efficiency * energy  # energy-integrating detector
        # trabecular texture: the bone volume fraction varies on the scale of the trabeculae (0.3-1.2 mm)
        texture = rng.standard_normal(self.shape_hw, dtype=np.float32)
        fine = ndimage.gaussian_filter(texture, 0.35 / px)
        texture = fine - ndimage.gaussian_filter(fine, 1.2 / px)
        texture /= max(float(texture.std()), 1e-6)
        spongy = np.clip(self.trabecular, 0.0, None) * np.float32(BONE_MM_PER_UNIT)
        mineral = spongy * np.float32(TRABECULAR_BONE_FRACTION) * (1.0 + np.float32(exposure.texture) * texture)
        cortical = np.clip(self.cortex, 0.0, None) * np.float32(BONE_MM_PER_UNIT) + mineral
        marrow = spongy - mineral
        muscle = np.clip(self.soft_mm - self.fat_mm - self.gas_mm - cortical - marrow, 0.0, None)
        paths = (muscle, self.fat_mm, cortical, marrow, self.lead_mm)
        materials = ("muscle", "adipose", "cortical_bone", "red_marrow", "lead")
        primary = np.zeros(self.shape_hw, dtype=np.float32)
        bins = np.array_split(np.flatnonzero(weight > weight.max() * 1e-4), ENERGY_BINS)
        reference = 0.0
        for b in bins:  # each bin: spectrum-weighted mean coefficients (beam hardening between bins)
            w = weight[b]
            mus = [float(np.sum(w * tables.mu(m)[b]) / w.sum()) for m in materials]
            line = sum(np.float32(mu) * t for mu, t in zip(mus, paths, strict=True))
            primary += np.float32(w.sum()) * np.exp(-line)
            reference += float(w.sum())
        primary /= np.float32(reference)  # transmission (1 = unattenuated)
        # fluence across the field: heel effect along the anode-cathode axis, inverse square / obliquity
        x, y = self.grid_mm(4)
        h, w = self.shape_hw
        cx, cy = w * px / 2, h * px / 2
        a = np.deg2rad(exposure.heel_angle_deg)
        along = (np.cos(a) * (x - cx) + np.sin(a) * (y - cy)) / max(h * px, w * px)
        r2 = ((x - cx) ** 2 + (y - cy) ** 2) * mag * mag
        cos3 = (1.0 + r2 / exposure.sid_mm**2) ** -1.5
        fluence = upsample(((1.0 - exposure.heel * along) * cos3).astype(np.float32), 4, self.shape_hw)
        fluence *= np.maximum(self.field, 0.005)  # collimator leakage
        primary *= fluence
        focal = exposure.focal_spot_mm * (mag - 1.0) / mag / 2.355  # penumbra in the object plane (sigma)
        if focal > 0.1 * px:
            primary = ndimage.gaussian_filter(primary, focal / px)
        # scatter: a broad kernel of the irradiated primary, scaled by the local body thickness
        thickness = smooth(self.soft_mm, exposure.scatter_mm / px) / 200.0
        scatter = exposure.spr * thickness * smooth(primary * self.field, exposure.scatter_mm / px)
        signal = primary + scatter
        # automatic exposure control: the dose is set for the median signal behind the anatomy
        body = self.soft_mm[::4, ::4] > 20.0
        ref = float(np.median(signal[::4, ::4][body])) if body.any() else float(np.median(signal))
        area = (px * mag) ** 2
        eta = float(np.sum(spectrum * efficiency) / np.sum(spectrum))
        quanta_ref = QUANTA_PER_MM2_PER_UGY * exposure.dose_ugy * area * eta
        quanta = signal * np.float32(quanta_ref / max(ref, 1e-12))
        quanta += np.sqrt(np.maximum(quanta, 0.0)) * rng.standard_normal(self.shape_hw, dtype=np.float32)
        # detector light spread (blurs signal and quantum noise alike), then electronic noise
        sigma = exposure.detector_blur_mm / mag / px
        tail = exposure.detector_tail_mm / mag / px
        blurred = ndimage.gaussian_filter(quanta, sigma) if sigma > 0.05 else quanta
        if exposure.detector_tail > 0:
            blurred = (1 - exposure.detector_tail) * blurred + exposure.detector_tail * smooth(quanta, tail)
        electronic = exposure.electronic_noise * np.sqrt(quanta_ref)
        blurred += np.float32(electronic) * rng.standard_normal(self.shape_hw, dtype=np.float32)
        return np.maximum(blurred, 1.0).astype(np.float32)

    def present(self, quanta: np.ndarray, exposure: Exposure) -> np.ndarray:
        """"For presentation" processing: log, multi-scale contrast equalisation, gradation curve, 12 bits."""
        px = self.spacing_mm
        log = -np.log(quanta)  # attenuation-like: bone and thick tissue high
        roi = (self.field[::4, ::4] > 0.5) & (self.soft_mm[::4, ::4] > 20.0)
        sample = log[::4, ::4][roi] if roi.sum() > 100 else log[::4, ::4].ravel()
        lo, hi = np.percentile(sample, [0.5, 99.5])
        scale = np.float32(1.0 / max(hi - lo, 1e-6))
        norm = (log - np.float32(lo)) * scale
        # multi-scale processing: detail bands (difference of Gaussians) lifted with an equalising power law,
        # the large-scale residual compressed (latitude reduction)
        base = smooth(norm, exposure.equalisation_mm / px)
        out = norm - np.float32(exposure.equalisation) * (base - float(np.median(base[::4, ::4])))
        if exposure.enhance > 0:
            previous = norm
            for sigma_mm, gain in ((0.4, 0.6), (1.5, 1.0), (5.0, 0.7)):
                current = smooth(norm, sigma_mm / px) if sigma_mm / px > 0.3 else norm
                band = previous - current
                ref_amp = float(np.percentile(np.abs(band[::4, ::4]), 90)) + 1e-6
                shaped = np.sign(band) * ref_amp * (np.abs(band) / ref_amp) ** np.float32(exposure.enhance_power)
                out += np.float32(exposure.enhance * gain) * shaped.astype(np.float32)
                previous = current
        sample = out[::4, ::4][roi] if roi.sum() > 100 else out[::4, ::4].ravel()
        lo, hi = np.percentile(sample, [0.5, 99.5])
        x = np.clip((out - np.float32(lo)) / np.float32(max(hi - lo, 1e-6)), 0.0, 1.0) ** np.float32(exposure.gamma)
        if exposure.gradation > 0:
            g = np.float32(exposure.gradation)
            x = 0.5 + 0.5 * np.tanh(g * (x - 0.5)) / np.tanh(g / 2)
        # outside the collimated field: the unexposed plate reads as fully attenuated (bright)
        x = np.where(self.field < 0.5, np.maximum(x, 0.95 + 0.05 * (1.0 - self.field)), x)
        image = exposure.window[0] + (exposure.window[1] - exposure.window[0]) * x
        for text, xy_px, height_px, level in self.overlays:
            placed = self._place_text(text, xy_px, height_px)
            if placed is not None:
                window, m = placed
                image[window] = image[window] * (1 - m) + level * MAX_VALUE_12BIT * m
        return np.clip(image, 0.0, MAX_VALUE_12BIT).astype(np.float32)


def text_mask(text: str, height_px: float) -> np.ndarray:
    """Anti-aliased ``(h, w)`` float32 coverage of ``text`` in a bold sans-serif face about ``height_px`` tall."""
    from PIL import Image, ImageDraw, ImageFont

    size = max(int(round(height_px * 1.35)), 4)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (max(right - left, 1) + 2, max(bottom - top, 1) + 2), 0)
    ImageDraw.Draw(canvas).text((1 - left, 1 - top), text, fill=255, font=font, stroke_width=max(size // 12, 1),
                                stroke_fill=255)
    return np.asarray(canvas, dtype=np.float32) / 255.0
