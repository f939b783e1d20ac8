"""Synthetic bilateral PA knee radiographs with KNEEL-numbered landmarks and a KL-like grade (Tiulpin et al. 2019).

Display convention: as the OAI and KNEEL images, and as the AP pelvis phantoms, the image is shown as if facing
the patient, so the **right knee is on the image's left**; the ``.pts`` holds 32 points, right knee 0-15 then left
knee 16-31, in mm. Per knee (KNEEL numbering, lateral to medial): tibial plateau 0-8 (0 lateral tibial margin,
3 and 5 the lateral and medial tibial spines, 4 the tibial centre between them, 8 medial margin) and femoral
condyles 9-15 (9 lateral margin, 12 the top of the intercondylar notch, 15 medial margin). All of them are control
points of the drawn bone outlines.

Geometry per knee is built in a local frame (mm, origin at the tibial centre, ``u`` lateral, ``v`` inferior),
mirrored into the image (the right knee's lateral side towards the image's left). The KL grade (0-4) drives
osteophytes at the four joint margins (``KNEE_TARGETS``: lateral/medial tibial, lateral/medial femoral, rooted at
landmarks 0, 8, 9 and 15), joint-space narrowing (medial first), subchondral sclerosis and spine sharpening.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hipmonai.io.lesion_masks import encode_lesion_bits
from hipmonai.phantoms.acquisition import Acquisition, draw_acquisition, draw_field_annotations, visit_setup
from hipmonai.phantoms.body import draw_leg_soft_tissue
from hipmonai.phantoms.dicom_writer import FakePatient
from hipmonai.phantoms.geometry import arc, catmull_rom, rasterise
from hipmonai.phantoms.seeding import SeedLike
from hipmonai.phantoms.severity import KNEE_TARGETS, SIDES, KneeGradeModel, KneeSeverity
from hipmonai.phantoms.spurs import PhantomParams, SpurDraw, fit_in_zone, point_spur
from hipmonai.phantoms.xray import BoneStyle, Film

POINTS_PER_KNEE = 16
#: landmark each knee osteophyte target roots at (``KNEE_TARGETS`` order)
KNEE_TARGET_LANDMARKS = {"osteo_tib_lat": 0, "osteo_tib_med": 8, "osteo_fem_lat": 9, "osteo_fem_med": 15}

LONG_BONE = BoneStyle(plate=0.08, core=0.5, core_depth_mm=16.0, rim=0.45, rim_width_mm=2.0)
CORTEX = BoneStyle(plate=0.3, core=0.0, core_depth_mm=1.0, rim=0.08, rim_width_mm=1.0, textured=False)
FIBULA = BoneStyle(plate=0.06, core=0.22, core_depth_mm=6.0, rim=0.3, rim_width_mm=1.5)
PATELLA = BoneStyle(plate=0.04, core=0.14, core_depth_mm=10.0, rim=0.08, rim_width_mm=1.5)
SPUR = BoneStyle(plate=0.42, core=0.2, core_depth_mm=2.0, rim=0.2, rim_width_mm=0.8)


@dataclass(frozen=True)
class KneePhantomParams(PhantomParams):
    """Everything that shapes a knee phantom besides the random draws (acquisition and spur fields: see the base
    classes; ``conspicuity`` in ``KNEE_TARGETS`` order, ``zone_radius_mm`` around each spur's root landmark).

    Attributes:
        grade_model: the latent severity -> KL model.
    """

    spacing_range_mm: tuple[float, float] = (0.3, 0.5)
    zone_radius_mm: float = 10.0
    grade_model: KneeGradeModel = field(default_factory=KneeGradeModel)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.grade_model, KneeGradeModel):
            raise TypeError(f"grade_model must be a KneeGradeModel, got {type(self.grade_model).__name__}.")


@dataclass(frozen=True)
class KneeShape:
    """Anatomy of one knee (mm), drawn once per subject and side."""

    plateau_half_width_mm: float
    condyle_half_width_mm: float
    spine_lateral_mm: float
    spine_medial_mm: float
    notch_height_mm: float
    shaft_half_width_mm: float
    fibula_offset_mm: float
    fibula_head_mm: float
    patella: tuple[float, float, float, float]  # centre u, v and semi-axes


@dataclass(frozen=True)
class KneeSubject:
    """Everything fixed for one subject across visits (see :class:`~hipmonai.phantoms.hip.HipSubject`)."""

    patient: FakePatient
    scale: float
    half_knee_distance_mm: float
    shapes: tuple[KneeShape, KneeShape]
    spurs: tuple[tuple[SpurDraw, ...], tuple[SpurDraw, ...]]
    severity: KneeSeverity
    acquisition: Acquisition
    field_mm: tuple[float, float]
    leg_radius_mm: float

    @property
    def n_visits(self) -> int:
        return int(self.severity.severity.shape[1])


def draw_knee_subject(rng: np.random.Generator, params: KneePhantomParams, n_visits: int = 1) -> KneeSubject:
    """Draw a subject: fake patient, anatomy of both knees, severity trajectory, acquisition settings."""
    patient = FakePatient.draw(rng)
    scale = float(np.clip(rng.normal(1.0, 0.06), 0.86, 1.16))
    severity = params.grade_model.sample(rng, 1, n_visits)
    base = {
        "w": 37.0 * scale,
        "cw": rng.uniform(1.0, 1.06),
        "sl": rng.uniform(6.0, 8.5),
        "sm": rng.uniform(7.5, 10.5),
        "notch": rng.uniform(18.0, 25.0),
        "shaft": rng.uniform(0.4, 0.46),
        "fib": rng.uniform(0.82, 0.92),
        "fibh": rng.uniform(9.0, 12.0),
    }

    def shape() -> KneeShape:
        w = base["w"] + float(rng.normal(0, 0.4))
        return KneeShape(
            plateau_half_width_mm=w,
            condyle_half_width_mm=w * (base["cw"] + float(rng.normal(0, 0.005))),
            spine_lateral_mm=base["sl"] + float(rng.normal(0, 0.3)),
            spine_medial_mm=base["sm"] + float(rng.normal(0, 0.3)),
            notch_height_mm=base["notch"] + float(rng.normal(0, 0.6)),
            shaft_half_width_mm=w * base["shaft"],
            fibula_offset_mm=w * base["fib"],
            fibula_head_mm=base["fibh"] * scale,
            patella=(float(rng.normal(2.0, 2.0)), float(rng.uniform(-48.0, -36.0)), 21.0 * scale, 23.0 * scale),
        )

    shapes = (shape(), shape())
    spurs = tuple(tuple(SpurDraw.draw(rng) for _ in KNEE_TARGETS) for _ in SIDES)
    acquisition = draw_acquisition(rng, params)
    half_distance = float(rng.uniform(88.0, 105.0) * scale)
    field_w = 2 * half_distance + rng.uniform(190, 230) * scale
    field_h = rng.uniform(230, 280)
    return KneeSubject(
        patient=patient,
        scale=scale,
        half_knee_distance_mm=half_distance,
        shapes=shapes,
        spurs=spurs,
        severity=severity,
        acquisition=acquisition,
        field_mm=(float(field_w), float(field_h)),
        leg_radius_mm=float(rng.uniform(52.0, 68.0) * scale),
    )


@dataclass
class KneeGeometry:
    """One knee in its local frame (mm; ``u`` lateral, ``v`` inferior, origin at the tibial centre)."""

    landmarks: np.ndarray  # (16, 2)
    bones: list[tuple[str, list[np.ndarray], BoneStyle]]
    lines: list[tuple[np.ndarray, float, float]]
    spurs: dict[str, np.ndarray]
    hosts: dict[str, np.ndarray]


def build_knee(
    shape: KneeShape,
    kl: int,
    osteophytes: np.ndarray,
    joint_space_mm: np.ndarray,
    spurs: tuple[SpurDraw, ...],
    params: KneePhantomParams,
) -> KneeGeometry:
    """Contours, landmarks and spurs of one knee in the local frame (see the module docstring).

    Args:
        shape: the knee's anatomy.
        kl: KL grade 0-4 (sharpens the spines, thickens the subchondral bone).
        osteophytes: ``(4,)`` grade 0-3 per ``KNEE_TARGETS`` margin.
        joint_space_mm: ``(2,)`` (medial, lateral) joint space.
        spurs: per target spur shapes.
        params: phantom parameters.
    """
    w = shape.plateau_half_width_mm
    wf = shape.condyle_half_width_mm
    js_med, js_lat = float(joint_space_mm[0]), float(joint_space_mm[1])
    lm = np.full((POINTS_PER_KNEE, 2), np.nan)
    bones: list[tuple[str, list[np.ndarray], BoneStyle]] = []
    lines: list[tuple[np.ndarray, float, float]] = []
    sharpen = 0.6 * kl

    # ---- tibia: plateau lateral (0) -> medial (8), then down the medial metaphysis and back up the lateral one
    plateau = {
        0: (0.95 * w, 2.5),
        1: (0.72 * w, 0.3),
        2: (0.45 * w, -0.2),
        3: (0.17 * w, -(shape.spine_lateral_mm + sharpen)),
        4: (0.0, -3.5),
        5: (-0.15 * w, -(shape.spine_medial_mm + sharpen)),
        6: (-0.45 * w, 1.2),
        7: (-0.72 * w, 1.5),
        8: (-w, 3.0),
    }
    hs = shape.shaft_half_width_mm
    tib_ctrl: list[tuple[float, float]] = []
    tib_ids: list[int] = []
    for i in range(9):
        tib_ctrl.append(plateau[i])
        tib_ids.append(i)
        if i == 2:
            tib_ctrl.append((0.28 * w, -0.6))
            tib_ids.append(-1)
        if i == 5:
            tib_ctrl.append((-0.28 * w, 0.4))
            tib_ids.append(-1)
    tib_ctrl += [
        (-w - 1.5, 9.0),
        (-0.9 * w, 25.0),
        (-hs - 3.0, 52.0),
        (-hs, 85.0),
        (-hs, 400.0),
        (hs, 400.0),
        (hs, 85.0),
        (hs + 3.0, 52.0),
        (0.88 * w, 25.0),
        (w + 1.0, 9.0),
    ]
    tib_ids += [-1] * 10
    tibia, rows = catmull_rom(np.array(tib_ctrl), 8, closed=True)
    for i, r in zip(tib_ids, rows, strict=True):
        if i >= 0:
            lm[i] = tibia[r]
    bones.append(("tibia", [tibia], LONG_BONE))
    for sgn in (+1, -1):
        wall = np.array(
            [
                (sgn * (hs + 2.0), 60.0),
                (sgn * (hs + 0.3), 85.0),
                (sgn * (hs + 0.3), 400.0),
                (sgn * (hs - 4.5), 400.0),
                (sgn * (hs - 4.0), 90.0),
                (sgn * (hs - 1.0), 70.0),
            ]
        )
        bones.append(("tibial_cortex", [wall], CORTEX))
    plateau_line = catmull_rom(np.array([plateau[i] for i in (0, 1, 2)] + [(0.28 * w, -0.6)]), 6)[0]
    medial_line = catmull_rom(np.array([(-0.28 * w, 0.4), plateau[6], plateau[7], plateau[8]]), 6)[0]
    for line in (plateau_line, medial_line):
        lines.append((line + np.array([0.0, 1.4 + 0.25 * kl]), 2.2 + 0.5 * kl, 0.22 + 0.05 * kl))

    # ---- fibula (head lateral-inferior to the plateau, overlapping the tibia)
    fo, fh = shape.fibula_offset_mm, shape.fibula_head_mm
    fib = np.array(
        [
            (fo, 8.0),
            (fo + fh, 16.0),
            (fo + 0.8 * fh, 30.0),
            (fo + 6.5, 48.0),
            (fo + 7.0, 400.0),
            (fo - 5.0, 400.0),
            (fo - 5.5, 48.0),
            (fo - 0.8 * fh, 28.0),
            (fo - 0.8 * fh, 14.0),
        ]
    )
    bones.append(("fibula", [catmull_rom(fib, 8, closed=True)[0]], FIBULA))

    # ---- femur: condyles lateral (9) -> notch (12) -> medial (15), then up the medial side and down the lateral
    v_lat = -0.2 - js_lat  # lowest point of the lateral condyle
    v_med = 1.2 - js_med
    notch = min(v_lat, v_med) - shape.notch_height_mm
    fem_ctrl = [
        (wf, v_lat - 9.0),
        (0.72 * wf, v_lat - 1.5),
        (0.5 * wf, v_lat),
        (0.33 * wf, v_lat - 1.2),
        (0.17 * wf, v_lat - 7.0),
        (0.08 * wf, notch + 4.0),
        (0.0, notch),
        (-0.08 * wf, notch + 4.0),
        (-0.17 * wf, v_med - 7.0),
        (-0.33 * wf, v_med - 1.2),
        (-0.5 * wf, v_med),
        (-0.72 * wf, v_med - 1.5),
        (-wf, v_med - 9.0),
        (-wf - 2.5, v_med - 24.0),
        (-0.8 * wf, -62.0),
        (-hs - 4.0, -95.0),
        (-hs - 2.0, -400.0),
        (hs + 2.0, -400.0),
        (hs + 4.0, -95.0),
        (0.8 * wf, -62.0),
        (wf + 2.5, v_lat - 24.0),
    ]
    fem_ids = [9, 10, -1, 11, -1, -1, 12, -1, -1, 13, -1, 14, 15] + [-1] * 8
    femur, rows = catmull_rom(np.array(fem_ctrl), 8, closed=True)
    for i, r in zip(fem_ids, rows, strict=True):
        if i >= 0:
            lm[i] = femur[r]
    bones.append(("femur", [femur], LONG_BONE))
    for sgn in (+1, -1):
        wall = np.array(
            [
                (sgn * (hs + 3.0), -75.0),
                (sgn * (hs + 2.3), -100.0),
                (sgn * (hs + 2.3), -400.0),
                (sgn * (hs - 3.0), -400.0),
                (sgn * (hs - 2.5), -100.0),
                (sgn * (hs + 0.5), -80.0),
            ]
        )
        bones.append(("femoral_cortex", [wall], CORTEX))
    pu, pv, pa, pb = shape.patella
    bones.append(
        (
            "patella",
            [
                arc((pu, pv), np.array([pa]), np.linspace(0, 360, 60, endpoint=False)) * [1.0, pb / pa]
                + [0.0, pv * (1 - pb / pa)]
            ],
            PATELLA,
        )
    )
    if np.isnan(lm).any():
        raise RuntimeError(f"knee model left landmarks {np.nonzero(np.isnan(lm[:, 0]))[0].tolist()} undefined")

    # ---- osteophytes at the four margins: tibial ones grow outwards and up, femoral ones outwards and down
    spur_rings: dict[str, np.ndarray] = {}
    hosts: dict[str, np.ndarray] = {}
    axes = {
        "osteo_tib_lat": (1.0, -0.35),
        "osteo_tib_med": (-1.0, -0.35),
        "osteo_fem_lat": (1.0, 0.4),
        "osteo_fem_med": (-1.0, 0.4),
    }
    for k, target in enumerate(KNEE_TARGETS):
        grade = int(osteophytes[k])
        if not params.has_spur(grade, spurs[k]):
            continue
        root = lm[KNEE_TARGET_LANDMARKS[target]]
        height = params.spur_height(grade, spurs[k], w / 37.0)
        ring = point_spur(root, np.array(axes[target]), spurs[k], height)
        spur_rings[target] = fit_in_zone(ring, root[None, :], params.zone_radius_mm)
        hosts[target] = tibia if target.startswith("osteo_tib") else femur
    return KneeGeometry(landmarks=lm, bones=bones, lines=lines, spurs=spur_rings, hosts=hosts)


@dataclass
class KneePhantom:
    """One rendered bilateral PA knee phantom.

    Attributes:
        image: ``(H, W)`` float32, 12-bit presentation values in ``[0, 4095]``, bone bright.
        spacing_xy_mm: (column, row) pixel spacing.
        landmarks_px: ``(32, 2)`` ``(x, y)`` pixels; right knee 0-15 (image left), left knee 16-31.
        kl: ``(2,)`` int8 KL grade per side (right, left).
        osteophytes: ``(2, 4)`` int8 osteophyte grade per side and ``KNEE_TARGETS`` margin.
        severity: ``(2,)`` latent severity per side.
        joint_space_mm: ``(2, 2)`` (medial, lateral) joint space per side.
        lesion_masks: ``(2, 4, H, W)`` bool spur masks (outside the host bone) per side and target.
        subject: the drawn subject.
        visit: visit index.
    """

    image: np.ndarray
    spacing_xy_mm: tuple[float, float]
    landmarks_px: np.ndarray
    kl: np.ndarray
    osteophytes: np.ndarray
    severity: np.ndarray
    joint_space_mm: np.ndarray
    lesion_masks: np.ndarray
    subject: KneeSubject
    visit: int

    @property
    def landmarks_mm(self) -> np.ndarray:
        """``(32, 2)`` landmarks in mm (pixels x spacing), as written to the ``.pts`` file."""
        return self.landmarks_px * np.asarray(self.spacing_xy_mm)

    def lesion_bitmask(self) -> np.ndarray:
        """``(W, H)`` uint8 with bit ``side * 4 + target`` set where that lesion lies (x first, as the readers)."""
        return encode_lesion_bits(self.lesion_masks)


def render_knee_radiograph(
    seed: SeedLike,
    params: KneePhantomParams | None = None,
    *,
    spacing_mm: float | None = None,
    subject: KneeSubject | None = None,
    visit: int = 0,
) -> KneePhantom:
    """Render one bilateral PA knee phantom without writing anything (arguments as
    :func:`~hipmonai.phantoms.hip.render_hip_radiograph`)."""
    params = params or KneePhantomParams()
    setup = visit_setup(seed, visit, params, subject, draw_knee_subject, spacing_mm, (0.46, 0.54), drop_sd_mm=2.0)
    subject, spacing, pose, drops, exposure = setup.subject, setup.spacing_mm, setup.pose, setup.drops, setup.exposure
    noise_rng = setup.noise_rng
    field_w, field_h = subject.field_mm

    shape_hw = (int(round(field_h / spacing)), int(round(field_w / spacing)))
    film = Film(shape_hw, spacing, subject.acquisition.magnification)
    kd = subject.half_knee_distance_mm
    sev = subject.severity
    kl, osteo = sev.kl[0, visit], sev.osteophytes[0, visit]
    js = sev.joint_space_mm[0, visit]

    def to_image(points: np.ndarray, side: int) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        x = -kd - p[..., 0] if side == 0 else kd + p[..., 0]
        return pose.apply(np.stack([x, p[..., 1] + drops[side]], axis=-1))

    r0, kd0 = subject.leg_radius_mm, subject.half_knee_distance_mm
    draw_leg_soft_tissue(
        film,
        pose.to_frame,
        (-kd0, kd0),
        lambda y: r0 * (1.0 + 0.18 * np.clip(-y / 120.0, 0.0, 1.0) + 0.1 * np.clip(y / 100.0, 0.0, 1.0)),
        fat_mm=0.12 * r0,
    )
    landmarks = np.zeros((2 * POINTS_PER_KNEE, 2))
    masks = np.zeros((2, len(KNEE_TARGETS), *shape_hw), dtype=bool)
    for side in range(2):
        geo = build_knee(subject.shapes[side], int(kl[side]), osteo[side], js[side], subject.spurs[side], params)
        for _, rings, style in geo.bones:
            film.add_bone([to_image(r, side) for r in rings], style)
        for line, width, density in geo.lines:
            film.add_line(to_image(line, side), width, density)
        for k, target in enumerate(KNEE_TARGETS):
            if target not in geo.spurs:
                continue
            cov = film.coverage([to_image(geo.spurs[target], side)])
            if cov is None:
                continue
            host = rasterise([to_image(geo.hosts[target], side) / spacing], (cov.r0, cov.r1, cov.c0, cov.c1))
            outside = cov.values * np.clip(1.0 - host, 0.0, 1.0)
            style = SPUR.scaled(params.spur_density(k, int(osteo[side, k])))
            film.cortex[cov.window] += outside * (style.plate + style.rim)
            if osteo[side, k] > 0:  # a normal variant (grade 0) is drawn but is no lesion
                masks[side, k][cov.window] = outside > 0.5
        landmarks[side * POINTS_PER_KNEE : (side + 1) * POINTS_PER_KNEE] = to_image(geo.landmarks, side) / spacing
    view_rng = np.random.default_rng(setup.pose_rng.integers(2**63))
    shown = landmarks * spacing  # the collimator leaves the distal femur and proximal tibia in the field
    keep = np.concatenate([shown + np.array([0.0, dy]) for dy in (-90.0, 0.0, 90.0)])
    draw_field_annotations(film, view_rng, params, keep, "PA KNEE")
    image = film.expose(exposure, noise_rng)
    return KneePhantom(
        image=image,
        spacing_xy_mm=(spacing, spacing),
        landmarks_px=landmarks,
        kl=kl.astype(np.int8).copy(),
        osteophytes=osteo.astype(np.int8).copy(),
        severity=np.asarray(sev.severity[0, visit], dtype=np.float64).copy(),
        joint_space_mm=np.asarray(js, dtype=np.float64).copy(),
        lesion_masks=masks,
        subject=subject,
        visit=visit,
    )
