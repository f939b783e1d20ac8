"""Synthetic bilateral AP pelvis radiographs with BoneFinder-layout landmarks and graded osteophytes.

Geometry is built per hip in a local frame (millimetres, origin at the femoral head centre, ``u`` lateral,
``v`` inferior), mirrored into a pelvis frame (x to the image right, y down, origin midway between the head
centres; the patient's right hip on the image's left), posed rigidly into the image and drawn by
:class:`hipmonai.phantoms.xray.Film`. The 80 landmarks of a hip are control points of the interpolating curves
that outline the drawn bones, so they lie exactly on the drawn edges:

* proximal femur ``0-9, 73, 10, 74, 11, 75, 12, 76, 77, 13, 78, 14-28``: 0 lateral shaft, 4 vastus ridge,
  5-7 greater trochanter flank, 8 its tip, 9 its medial slope, 73 trochanteric fossa, superior neck to 13
  (superior head-neck junction), over the head (exact circle) to 21 (inferior junction), inferior neck 22-23,
  24 calcar, 25 lesser trochanter tip, 26-28 medial shaft;
* acetabular roof ``61, 62, 63, 79, 64-67``: 61 inferior acetabular edge, round the head (concentric, radius
  head + joint space, deeper at the fossa), sourcil 79-67, 67 lateral acetabular edge;
* iliac wing 29-33 (AIIS, notch, ASIS, crest), posterior wall 34-38, ischium/pubis 38-53 (42 lowest point of
  the ischial tuberosity, 47-49 symphysis), obturator foramen 54-60, teardrop 68-72 (70 its lowest point).

Osteophytes are spurs grown outward from the contour inside each target zone of ``configs/landmark_groups.json``
(between the zone's points for the femoral zones, at the point for the acetabular ones), every vertex within
``zone_radius_mm`` of a zone landmark; their size grows with the grade and their density with the zone's
conspicuity.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hipmonai.io.landmark_groups import TARGETS, load_landmark_groups
from hipmonai.io.lesion_masks import encode_lesion_bits
from hipmonai.phantoms.acquisition import Acquisition, draw_acquisition, draw_field_annotations, visit_setup
from hipmonai.phantoms.body import draw_pelvis_soft_tissue
from hipmonai.phantoms.dicom_writer import FakePatient
from hipmonai.phantoms.geometry import Patch, Pose, arc, catmull_rom, polyline_normals, rasterise, rotate, unit
from hipmonai.phantoms.hip_mesh import draw_mesh_pose, draw_mesh_skeleton
from hipmonai.phantoms.seeding import SeedLike
from hipmonai.phantoms.severity import SIDES, HipGradeModel, HipSeverity
from hipmonai.phantoms.spurs import PhantomParams, SpurDraw, contour_spur, fit_in_zone, point_spur
from hipmonai.phantoms.xray import BoneStyle, Film

POINTS_PER_HIP = 80
#: named pelvis points (index within one hip's 80) for landmark tasks such as the pelvis
#: landmark detector of Suh et al. 2023
HIP_NAMED_LANDMARKS = {
    "greater_trochanter_tip": 8,
    "lesser_trochanter_tip": 25,
    "superior_head_neck_junction": 13,
    "inferior_head_neck_junction": 21,
    "femoral_head_top": 15,
    "lateral_acetabular_edge": 67,
    "inferior_acetabular_edge": 61,
    "ischial_tuberosity_bottom": 42,
    "teardrop_bottom": 70,
    "anterior_superior_iliac_spine": 31,
    "symphysis_top": 49,
}

# attenuation styles of the bones (see BoneStyle)
FEMUR = BoneStyle(plate=0.08, core=0.5, core_depth_mm=14.0, rim=0.45, rim_width_mm=2.0)
CORTEX = BoneStyle(plate=0.32, core=0.0, core_depth_mm=1.0, rim=0.08, rim_width_mm=1.0, textured=False)
ILIUM = BoneStyle(plate=0.22, core=0.18, core_depth_mm=8.0, rim=0.35, rim_width_mm=1.5)
SOURCIL = BoneStyle(plate=0.35, core=0.0, core_depth_mm=1.0, rim=0.25, rim_width_mm=0.8, textured=False)
ISCHIOPUBIC = BoneStyle(plate=0.2, core=0.4, core_depth_mm=7.0, rim=0.4, rim_width_mm=1.3)
WALL = BoneStyle(plate=0.16, core=0.05, core_depth_mm=4.0, rim=0.3, rim_width_mm=1.0)
TEARDROP = BoneStyle(plate=0.12, core=0.0, core_depth_mm=1.0, rim=0.45, rim_width_mm=0.9, textured=False)
SACRUM = BoneStyle(plate=0.2, core=0.35, core_depth_mm=10.0, rim=0.3, rim_width_mm=1.5)
VERTEBRA = BoneStyle(plate=0.2, core=0.55, core_depth_mm=12.0, rim=0.4, rim_width_mm=2.0)
SPUR = BoneStyle(plate=0.42, core=0.2, core_depth_mm=2.0, rim=0.2, rim_width_mm=0.8)

#: femoral head radius of an adult of body scale 1 (mm)
ADULT_HEAD_RADIUS_MM = 24.3

# where along a femoral zone (0 = its first landmark, 1 = its last) a spur may root: superior spurs grow at the
# lateral head-neck junction (the top of the head is under the acetabular roof), inferior ones at the junction
_FEMORAL_SPUR_RANGE = {"osteo_fem_sup": (0.05, 0.45), "osteo_fem_inf": (0.35, 0.8)}


@dataclass(frozen=True)
class HipPhantomParams(PhantomParams):
    """Everything that shapes a hip phantom besides the random draws (acquisition and spur fields: see the base
    classes; ``spur_height_mm`` is for a 24 mm femoral head and scales with it).

    Attributes:
        conspicuity: spur density factor per target (``TARGETS`` order): the inferior acetabular spurs are subtle,
            the inferior femoral ones moderate, the superior ones obvious.
        spur_size: spur size factor per target.
        grade_model: the latent severity -> grade model.
        single_hip_fraction: fraction of images that are single-hip views (an AP hip centred on one femoral head;
            the other hip's landmarks lie outside the image, where the ``.pts`` still gives them).
        pelvic_rotation_deg: standard deviation of the pelvis's rotation about the body's long axis (the midline
            structures shift against the hips; the projected distance between the heads shortens).
        femoral_rotation_deg: standard deviation of each femur's rotation about its shaft (external rotation
            foreshortens the neck and shows more of the lesser trochanter).
        cyst_rate: expected subchondral cysts per hip at latent severity 1 (more with severity).
        paediatric_fraction: fraction of subjects who are children (smaller pelvis, small ossified femoral heads
            with open growth plates, open triradiate cartilage, thicker joint cartilage, no osteoarthritis: all
            grades 0) — for landmark detectors that must also find children's hips; 0 for the grading cohorts.
        mesh_anatomy_fraction: fraction of images whose bones are real bone meshes posed in 3D
            (:mod:`hipmonai.phantoms.hip_mesh`) instead of the drawn hip: no osteoarthritis drawn (grade 0, no
            lesions), landmarks exact on the femoral head — for landmark detectors; 0 for the grading cohorts.
    """

    conspicuity: tuple[float, float, float, float] = (1.0, 0.5, 0.9, 0.3)
    spur_size: tuple[float, float, float, float] = (1.0, 0.9, 1.0, 0.85)
    grade_model: HipGradeModel = field(default_factory=HipGradeModel)
    single_hip_fraction: float = 0.0
    pelvic_rotation_deg: float = 4.0
    femoral_rotation_deg: float = 12.0
    cyst_rate: float = 1.0
    paediatric_fraction: float = 0.0
    mesh_anatomy_fraction: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.spur_size) != len(TARGETS) or min(self.spur_size) <= 0:
            raise ValueError(
                f"spur_size needs {len(TARGETS)} positive values ({', '.join(TARGETS)}), got {self.spur_size}."
            )
        if not 0 <= self.paediatric_fraction <= 1:
            raise ValueError(f"paediatric_fraction must lie in [0, 1], got {self.paediatric_fraction}.")
        if not 0 <= self.mesh_anatomy_fraction <= 1:
            raise ValueError(f"mesh_anatomy_fraction must lie in [0, 1], got {self.mesh_anatomy_fraction}.")
        if not 0 <= self.single_hip_fraction <= 1:
            raise ValueError(f"single_hip_fraction must lie in [0, 1], got {self.single_hip_fraction}.")
        if min(self.pelvic_rotation_deg, self.femoral_rotation_deg, self.cyst_rate) < 0:
            raise ValueError(
                f"pelvic_rotation_deg, femoral_rotation_deg and cyst_rate must be >= 0, got "
                f"{self.pelvic_rotation_deg}, {self.femoral_rotation_deg}, {self.cyst_rate}."
            )
        if not isinstance(self.grade_model, HipGradeModel):
            raise TypeError(f"grade_model must be a HipGradeModel, got {type(self.grade_model).__name__}.")


# --------------------------------------------------------------------------------------------------- anatomy draws
@dataclass(frozen=True)
class HipShape:
    """Anatomy of one hip (mm, degrees), drawn once per subject and side.

    Attributes:
        head_radius_mm: femoral head radius.
        neck_shaft_deg: angle between the neck and shaft axes.
        shaft_tilt_deg: shaft axis from vertical (distal end medial).
        neck_length_mm: head centre to where the neck axis meets the shaft axis.
        neck_half_width_mm, shaft_half_width_mm: half widths at the narrowest neck and of the shaft.
        trochanter_height_mm: greater trochanter tip below (+) or above (-) the head centre.
        trochanter_flare_mm: lateral bulge of the greater trochanter beyond the shaft.
        lesser_trochanter_mm: medial projection of the lesser trochanter.
        lesser_trochanter_level_mm: its distance below the calcar corner along the shaft.
        centre_edge_deg: centre-edge angle (lateral acetabular edge from vertical).
        inferior_edge_deg: angle of the inferior acetabular edge (0 = lateral, 90 = up, 180 = medial).
        fossa_mm: extra depth of the acetabular fossa medially.
        teardrop_width_mm: width of the teardrop.
        obturator_mm: semi-axes of the obturator foramen.
        obturator_tilt_deg: tilt of the foramen.
        physis_mm: width of an open growth plate between the femoral head and neck (0 = closed, adult).
        triradiate_mm: width of the open triradiate cartilage in the acetabular floor (0 = fused, adult).
    """

    head_radius_mm: float
    neck_shaft_deg: float
    shaft_tilt_deg: float
    neck_length_mm: float
    neck_half_width_mm: float
    shaft_half_width_mm: float
    trochanter_height_mm: float
    trochanter_flare_mm: float
    lesser_trochanter_mm: float
    lesser_trochanter_level_mm: float
    centre_edge_deg: float
    inferior_edge_deg: float
    fossa_mm: float
    teardrop_width_mm: float
    obturator_mm: tuple[float, float]
    obturator_tilt_deg: float
    physis_mm: float = 0.0
    triradiate_mm: float = 0.0


@dataclass(frozen=True)
class HipSubject:
    """Everything fixed for one subject across visits.

    Attributes:
        patient: fake identifying DICOM tags.
        scale: overall body size factor.
        half_head_distance_mm: distance from the midline to each femoral head centre.
        shapes: per side (right, left) :class:`HipShape`.
        spurs: per side, per target :class:`~hipmonai.phantoms.spurs.SpurDraw`.
        severity: this subject's :class:`HipSeverity` draw (first axis of length 1).
        acquisition: pixel spacing, magnification, photometric, transfer syntax, study dates.
        field_mm: ``(width, height)`` of the field of view.
        soft: soft-tissue shape numbers.
        growth: size of a child's pelvis relative to the adult one its hips are built as (1 = adult): the hip
            geometry, landmarks included, is drawn in the adult frame and scaled by it.
    """

    patient: FakePatient
    scale: float
    half_head_distance_mm: float
    shapes: tuple[HipShape, HipShape]
    spurs: tuple[tuple[SpurDraw, ...], tuple[SpurDraw, ...]]
    severity: HipSeverity
    acquisition: Acquisition
    field_mm: tuple[float, float]
    soft: dict[str, float]
    growth: float = 1.0

    @property
    def n_visits(self) -> int:
        return int(self.severity.severity.shape[1])


def draw_hip_subject(rng: np.random.Generator, params: HipPhantomParams, n_visits: int = 1) -> HipSubject:
    """Draw a subject: fake patient, anatomy of both hips, severity trajectory, acquisition settings."""
    patient = FakePatient.draw(rng)
    scale = float(np.clip(rng.normal(1.0, 0.06), 0.86, 1.16))
    severity = params.grade_model.sample(rng, 1, n_visits)
    head_radius = float(np.clip(ADULT_HEAD_RADIUS_MM * scale + rng.normal(0, 0.6), 21.5, 27.5))
    half_distance = float(95.0 * scale + rng.normal(0, 3.0))

    def shape(base: dict[str, float]) -> HipShape:
        def j(key: str, sd: float) -> float:  # small left/right asymmetry around the subject's value
            return base[key] + float(rng.normal(0, sd))

        r = head_radius + float(rng.normal(0, 0.25))
        return HipShape(
            head_radius_mm=r,
            neck_shaft_deg=j("nsa", 1.5),
            shaft_tilt_deg=j("tilt", 0.8),
            neck_length_mm=j("neck", 1.0) * r / 24.0,
            neck_half_width_mm=j("neckw", 0.02) * r,
            shaft_half_width_mm=j("shaftw", 0.02) * r,
            trochanter_height_mm=j("gt", 1.5),
            trochanter_flare_mm=max(j("flare", 0.6), 1.0),
            lesser_trochanter_mm=max(j("lt", 1.2), 3.0),
            lesser_trochanter_level_mm=j("ltlevel", 1.5),
            centre_edge_deg=j("ce", 2.0),
            inferior_edge_deg=j("inf", 2.0),
            fossa_mm=max(j("fossa", 0.4), 1.5),
            teardrop_width_mm=max(j("td", 0.5), 5.0),
            obturator_mm=(j("ob_a", 0.8) * scale, j("ob_b", 0.8) * scale),
            obturator_tilt_deg=j("ob_t", 3.0),
        )

    base = {
        "nsa": rng.uniform(124, 138),
        "tilt": rng.uniform(5, 9),
        "neck": rng.uniform(47, 55),
        "neckw": rng.uniform(0.62, 0.7),
        "shaftw": rng.uniform(0.56, 0.64),
        "gt": rng.uniform(-5, 5),
        "flare": rng.uniform(2.5, 5.5),
        "lt": rng.uniform(5, 10),
        "ltlevel": rng.uniform(9, 15),
        "ce": rng.uniform(26, 40),
        "inf": rng.uniform(214, 226),
        "fossa": rng.uniform(2.5, 5.0),
        "td": rng.uniform(7, 10),
        "ob_a": rng.uniform(21, 26),
        "ob_b": rng.uniform(16, 20),
        "ob_t": rng.uniform(15, 35),
    }
    shapes = (shape(base), shape(base))
    spurs = tuple(tuple(SpurDraw.draw(rng) for _ in TARGETS) for _ in SIDES)
    acquisition = draw_acquisition(rng, params)
    field_w = 2 * half_distance + rng.uniform(150, 195)
    field_h = rng.uniform(285, 315) * (0.5 + 0.5 * scale)
    soft = {
        "trunk_half_width": half_distance + rng.uniform(75, 115),
        "trunk_thickness": rng.uniform(180, 270) * scale,
        "thigh_radius": rng.uniform(88, 118) * scale,
        "crotch": rng.uniform(55, 75),
        "fat_mm": rng.uniform(6, 45) * scale,
        "pelvic_fat_mm": rng.uniform(10, 45),
        "bladder_mm": rng.uniform(30, 55),
        "gas": rng.uniform(0.05, 0.45),
    }
    child_rng = np.random.default_rng(rng.integers(2**63))
    growth = 1.0
    if child_rng.uniform() < params.paediatric_fraction:
        age = growth = float(child_rng.uniform(0.6, 0.85))
        head = float(child_rng.uniform(0.6, 0.85))
        shapes = tuple(paediatric_shape(sh, head, 10.5 / age, child_rng) for sh in shapes)
        margin = field_w - 2 * half_distance
        scale, half_distance = scale * age, half_distance * age
        field_w, field_h = 2 * half_distance + margin * age, field_h * age
        soft = {k: (v * age if k.endswith(("width", "thickness", "radius", "crotch", "_mm")) else v)
                for k, v in soft.items()}
        severity = HipSeverity(
            severity=np.full_like(severity.severity, -3.0),
            grades=np.zeros_like(severity.grades),
            joint_space_mm=severity.joint_space_mm + child_rng.uniform(1.5, 3.0),
        )
    return HipSubject(
        patient=patient,
        scale=scale,
        half_head_distance_mm=half_distance,
        shapes=shapes,
        spurs=spurs,
        severity=severity,
        acquisition=acquisition,
        field_mm=(float(field_w), float(field_h)),
        soft=soft,
        growth=growth,
    )


# ------------------------------------------------------------------------------------------------ hip geometry
@dataclass
class HipGeometry:
    """One hip in its local frame (mm; ``u`` lateral, ``v`` inferior, origin at the head centre)."""

    landmarks: np.ndarray  # (80, 2)
    bones: list[tuple[str, list[np.ndarray], BoneStyle]]
    lines: list[tuple[np.ndarray, float, float]]  # (polyline, width mm, density)
    fields: list[tuple[np.ndarray, AcetabularField]]  # (local region outline, density field)
    spurs: dict[str, np.ndarray]  # target -> closed ring (an osteophyte, or a normal variant at grade 0)
    hosts: dict[str, list[list[np.ndarray]]]  # target -> host bone polygons (rings)
    head_radius_mm: float


def _roof_radius(psi: np.ndarray, radius: float, joint_space: float, fossa: float) -> np.ndarray:
    """Radius of the acetabular cup at angle ``psi`` (deg): head + joint space, deeper at the fossa (~175 deg)."""
    return radius + joint_space + fossa * np.exp(-(((np.asarray(psi) - 178.0) / 32.0) ** 2))


@dataclass(frozen=True)
class AcetabularField:
    """Dense subchondral bone of the acetabulum: sharp at the cup surface, fading over ~2 cm into the pelvis."""

    radius_mm: float
    joint_space_mm: float
    fossa_mm: float
    psi_lateral_deg: float
    psi_inferior_deg: float
    amplitude: float = 0.45

    def __call__(self, u: np.ndarray, v: np.ndarray, spacing_mm: float) -> np.ndarray:
        """Attenuation at local points ``(u, v)`` (mm) on a grid of ``spacing_mm``."""
        r = np.hypot(u, v)
        psi = np.rad2deg(np.arctan2(-v, u))
        psi = np.where(psi < -90.0, psi + 360.0, psi)
        depth = r - _roof_radius(psi, self.radius_mm, self.joint_space_mm, self.fossa_mm)
        edge = np.clip(depth / spacing_mm + 0.5, 0.0, 1.0)
        taper = _smoothstep((psi - self.psi_lateral_deg) / 3.0) * _smoothstep((self.psi_inferior_deg - psi) / 10.0)
        profile = 0.6 * np.exp(-np.maximum(depth, 0.0) / 4.0) + 0.4 * np.clip(1.0 - depth / 13.0, 0.0, 1.0)
        return (self.amplitude * edge * taper * profile).astype(np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def build_hip(
    shape: HipShape,
    joint_space_mm: float,
    severity: float,
    half_distance_mm: float,
    grades: np.ndarray,
    spurs: tuple[SpurDraw, ...],
    params: HipPhantomParams,
) -> HipGeometry:
    """Contours, landmarks and spurs of one hip in the local frame (see the module docstring)."""
    sh = shape
    R = sh.head_radius_mm
    lm = np.full((POINTS_PER_HIP, 2), np.nan)
    bones: list[tuple[str, list[np.ndarray], BoneStyle]] = []
    lines: list[tuple[np.ndarray, float, float]] = []
    fields: list[tuple[np.ndarray, AcetabularField]] = []

    # ---- proximal femur
    phi = np.deg2rad(sh.neck_shaft_deg + sh.shaft_tilt_deg - 90.0)
    beta = np.deg2rad(sh.shaft_tilt_deg)
    n = np.array([np.cos(phi), np.sin(phi)])  # head centre -> lateral-inferior along the neck
    e_up = np.array([np.sin(phi), -np.cos(phi)])
    d = np.array([-np.sin(beta), np.cos(beta)])  # distal along the shaft
    e_lat = np.array([np.cos(beta), np.sin(beta)])
    J = sh.neck_length_mm * n
    hn, hs = sh.neck_half_width_mm, sh.shaft_half_width_mm
    s_j = np.sqrt(R * R - hn * hn)

    def shaft(t: float, side: int, extra: float = 0.0) -> np.ndarray:
        return J + t * d + side * (hs + extra) * e_lat

    def neck(s: float, side: int) -> np.ndarray:
        widen = max(0.0, s - (s_j + 5.0)) * 0.3 if side > 0 else 0.0  # the superior neck flares into the trochanter
        return s * n + side * (hn + widen) * e_up

    # K: where the inferior neck line meets the medial shaft line (the calcar corner)
    s_k, t_k = np.linalg.solve(np.stack([n, -d], axis=1), J - hs * e_lat + hn * e_up)
    t_low = t_k + 58.0  # level of landmarks 0 and 28 on the shaft
    t_tip = (sh.trochanter_height_mm - J[1]) / np.cos(beta)
    tip = J + t_tip * d + 0.3 * hs * e_lat
    s_fossa = 0.74 * sh.neck_length_mm
    fossa = neck(s_fossa, +1)
    slope = tip + 0.5 * (fossa - tip) + 2.0 * unit(rotate(fossa - tip, -90.0))
    lat_ctrl = {
        0: shaft(t_low, +1),
        1: shaft(t_low - 15, +1),
        2: shaft(t_low - 30, +1),
        3: shaft(t_low - 45, +1),
        4: shaft(13, +1, 0.5),
        5: shaft(1, +1, 0.75 * sh.trochanter_flare_mm),
        6: shaft(-13, +1, sh.trochanter_flare_mm),
        7: shaft(t_tip + 0.35 * (-13 - t_tip), +1, 0.55 * sh.trochanter_flare_mm),
        8: tip,
        9: slope,
        73: fossa,
    }
    if lat_ctrl[3][1] > lat_ctrl[4][1] - 5.0:  # keep the lateral shaft points ordered
        lat_ctrl[3] = shaft(0.5 * (t_low - 30 + 13), +1)
    for idx, s in zip((10, 74, 11, 75, 12, 76, 77), np.linspace(s_fossa, s_j, 9)[1:-1], strict=True):
        lat_ctrl[idx] = neck(float(s), +1)
    psi13 = np.rad2deg(np.arctan2(-neck(s_j, +1)[1], neck(s_j, +1)[0]))
    psi21 = np.rad2deg(np.arctan2(-neck(s_j, -1)[1], neck(s_j, -1)[0])) % 360.0
    head_idx = (13, 78, 14, 15, 16, 17, 18, 19, 20, 21)
    head_psi = np.linspace(psi13, psi21, len(head_idx))
    t_lt = t_k + sh.lesser_trochanter_level_mm
    inf_ctrl = {
        22: neck(s_j + 5.0, -1),
        23: neck(s_j + 0.55 * (s_k - s_j), -1),
        24: neck(s_k - 2.5, -1),
        25: shaft(t_lt, -1, sh.lesser_trochanter_mm),
        26: shaft(t_lt + 14.0, -1, 0.3),
        27: shaft(t_low - 22.0, -1),
        28: shaft(t_low, -1),
    }
    order_lat = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 73, 10, 74, 11, 75, 12, 76, 77]
    ctrl = [shaft(260, +1)]
    ids = [-1]
    for i in order_lat:
        ctrl.append(lat_ctrl[i])
        ids.append(i)
    for k in range(len(head_idx)):  # head landmarks plus 3 circle points between each pair
        ctrl.append(arc((0, 0), R, head_psi[k]))
        ids.append(head_idx[k])
        if k < len(head_idx) - 1:
            for f in (0.25, 0.5, 0.75):
                ctrl.append(arc((0, 0), R, head_psi[k] + f * (head_psi[k + 1] - head_psi[k])))
                ids.append(-1)
    for i in (22, 23, 24, 25, 26, 27, 28):
        ctrl.append(inf_ctrl[i])
        ids.append(i)
    ctrl.append(shaft(260, -1))
    ids.append(-1)
    femur, rows = catmull_rom(np.array(ctrl), 8, closed=True)
    femur_rows = {i: int(r) for i, r in zip(ids, rows, strict=True) if i >= 0}
    for i, r in femur_rows.items():
        lm[i] = femur[r]
    bones.append(("femur", [femur], FEMUR))
    for side_sign, t_from in ((+1, t_k + 4.0), (-1, t_lt + 6.0)):  # the shaft's cortical walls
        wall = np.array(
            [
                shaft(t_from, side_sign, 0.3),
                shaft(t_from + 25.0, side_sign, 0.3),
                shaft(300.0, side_sign, 0.3),
                shaft(300.0, side_sign, -5.5),
                shaft(t_from + 25.0, side_sign, -5.0),
                shaft(t_from + 4.0, side_sign, -2.0),
            ]
        )
        bones.append(("femoral_cortex", [wall], CORTEX))
    crest_a, crest_b = shaft(-8.0, +1, -4.0), shaft(t_lt - 1.0, -1, 1.0)
    lines.append((np.array([crest_a, 0.5 * (crest_a + crest_b) + 1.5 * e_lat, crest_b]), 1.2, 0.12))

    # ---- acetabulum
    js = joint_space_mm
    psi67 = 90.0 - sh.centre_edge_deg
    psi61 = sh.inferior_edge_deg
    roof_psi = {61: psi61, 62: 188.0, 63: 152.0, 79: 120.0}
    for idx, p in zip((64, 65, 66, 67), np.linspace(120.0, psi67, 5)[1:], strict=True):
        roof_psi[idx] = float(p)
    for idx, p in roof_psi.items():
        lm[idx] = arc((0, 0), _roof_radius(p, R, js, sh.fossa_mm), p)
    roof_dense_psi = np.linspace(psi67, psi61, 90)
    roof = arc((0, 0), _roof_radius(roof_dense_psi, R, js, sh.fossa_mm), roof_dense_psi)
    for idx, p in roof_psi.items():  # put the landmarks exactly on the drawn polyline
        roof[np.argmin(np.abs(roof_dense_psi - p))] = lm[idx]
    thick = 9.0 + 5.0 * np.sin(np.deg2rad(np.clip(roof_dense_psi, 0, 180)))
    outer = arc((0, 0), _roof_radius(roof_dense_psi, R, js, sh.fossa_mm) + thick, roof_dense_psi)
    acet_body = np.concatenate([roof, outer[::-1]])  # host of the acetabular spurs; drawn as a field
    field_psi = np.linspace(psi67 - 5.0, psi61 + 5.0, 40)
    field_region = np.concatenate([np.zeros((1, 2)), arc((0, 0), R + js + sh.fossa_mm + 16.0, field_psi)])
    fields.append((field_region, AcetabularField(R, js, sh.fossa_mm, psi67, psi61)))
    sclerosis = max(severity, 0.0)
    s_psi = roof_dense_psi[roof_dense_psi <= 122.0]
    s_in = roof[: len(s_psi)]
    s_out = arc((0, 0), _roof_radius(s_psi, R, js, sh.fossa_mm) + 2.2 + 1.2 * sclerosis, s_psi)
    bones.append(("sourcil", [np.concatenate([s_in, s_out[::-1]])], SOURCIL.scaled(1.0 + 0.35 * sclerosis)))

    # ---- ilium (lateral outline with 29-33, crest, sacroiliac joint, brim, medial acetabular wall, roof)
    um = -half_distance_mm
    p67 = lm[67]
    il_ctrl = [
        p67,
        p67 + np.array([0.4 * R, -0.5 * R]),
        np.array([0.95 * R, -2.0 * R]),
        np.array([1.5 * R, -2.6 * R]),
        np.array([1.4 * R, -3.6 * R]),
        np.array([0.0, -4.3 * R]),
        np.array([um + 52.0, -4.0 * R]),
        np.array([um + 42.0, -3.55 * R]),
        np.array([um + 38.0, -1.9 * R]),
        np.array([um + 60.0, -0.9 * R]),
        np.array([-(R + js + sh.fossa_mm + sh.teardrop_width_mm + 4.0), -0.15 * R]),
    ]
    il_ids = [67, 29, 30, 31, 32, 33, -1, -1, -1, -1, -1]
    il_curve, il_rows = catmull_rom(np.array(il_ctrl), 10)
    for i, r in zip(il_ids, il_rows, strict=True):
        if i >= 0:
            lm[i] = il_curve[r]
    medial_psi = np.linspace(185.0, psi67, 40)
    ilium = np.concatenate([il_curve, arc((0, 0), _roof_radius(medial_psi, R, js, sh.fossa_mm), medial_psi)[1:-1]])
    bones.append(("ilium", [ilium], ILIUM))
    brim = catmull_rom(
        np.array(
            [
                [um + 40.0, -2.2 * R],
                [um + 60.0, -0.9 * R],
                [um + 50.0, 0.1 * R],
                [um + 25.0, 0.6 * R],
                [um + 8.0, 0.9 * R],
            ]
        ),
        10,
    )[0]
    lines.append((brim, 1.6, 0.3))

    # ---- ischium / pubis ring with the obturator foramen
    ip_ctrl = {
        38: np.array([-0.05 * R, R + 5.0]),
        39: np.array([-0.02 * R - 1.0, R + 16.0]),
        40: np.array([-0.3 * R, R + 28.0]),
        41: np.array([-0.75 * R, R + 35.0]),
        42: np.array([-1.25 * R, R + 38.0]),
        43: np.array([-1.75 * R, R + 34.0]),
        44: np.array([um + 36.0, R + 38.0]),
        45: np.array([um + 22.0, R + 40.0]),
        46: np.array([um + 10.0, R + 40.0]),
        47: np.array([um + 2.5, R + 37.0]),
        48: np.array([um + 2.5, R + 20.0]),
        49: np.array([um + 3.0, R + 3.0]),
        50: np.array([um + 14.0, R - 4.0]),
        51: np.array([um + 35.0, 0.35 * R]),
        52: np.array([um + 52.0, 0.12 * R]),
        53: np.array([-(R + js + sh.fossa_mm + 6.0), 0.3 * R]),
    }
    ip_ids = list(range(38, 54)) + [-1, -1]
    ip_pts = [ip_ctrl[i] for i in range(38, 54)] + [np.array([-0.75 * R, 0.75 * R]), np.array([-0.3 * R, R - 1.0])]
    ip_curve, ip_rows = catmull_rom(np.array(ip_pts), 8, closed=True)
    for i, r in zip(ip_ids, ip_rows, strict=True):
        if i >= 0:
            lm[i] = ip_curve[r]
    ob_c = np.array([um + 55.0, R + 9.0])
    ob_a, ob_b = sh.obturator_mm
    ob_t = np.linspace(0.0, 360.0, 7, endpoint=False) + 100.0
    ob_pts = ob_c + rotate(
        np.stack([ob_a * np.cos(np.deg2rad(ob_t)), -ob_b * np.sin(np.deg2rad(ob_t))], 1), -sh.obturator_tilt_deg
    )
    ob_curve, ob_rows = catmull_rom(ob_pts, 10, closed=True)
    for i, r in zip(range(54, 61), ob_rows, strict=True):
        lm[i] = ob_curve[r]
    bones.append(("ischiopubic", [ip_curve, ob_curve], ISCHIOPUBIC))

    # ---- posterior and anterior walls (thin plates over the head, their rims are the lines)
    pw_pts = [
        arc((0, 0), _roof_radius(72.0, R, js, sh.fossa_mm), 72.0),
        np.array([0.5 * R, -0.45 * R]),
        np.array([0.55 * R, 0.1 * R]),
        np.array([0.35 * R, 0.6 * R]),
        ip_ctrl[38],
    ]
    pw_curve, pw_rows = catmull_rom(np.array(pw_pts), 10)
    for i, r in zip(range(34, 39), pw_rows, strict=True):
        lm[i] = pw_curve[r]
    back_psi = np.linspace(150.0, 72.0, 20)
    pw_plate = np.concatenate(
        [
            pw_curve,
            [np.array([-0.5 * R, R + 3.0]), np.array([-0.8 * R, 0.2 * R])],
            arc((0, 0), _roof_radius(back_psi, R, js, sh.fossa_mm), back_psi)[:-1],
        ]
    )
    bones.append(("posterior_wall", [pw_plate], WALL))
    aw_curve = catmull_rom(
        np.array(
            [
                arc((0, 0), _roof_radius(105.0, R, js, sh.fossa_mm), 105.0),
                [-0.2 * R, -0.3 * R],
                [-0.45 * R, 0.35 * R],
                [-0.75 * R, 0.8 * R],
            ]
        ),
        10,
    )[0]
    back_psi = np.linspace(195.0, 105.0, 20)
    aw_plate = np.concatenate(
        [
            aw_curve,
            [np.array([-1.05 * R, 0.75 * R])],
            arc((0, 0), _roof_radius(back_psi, R, js, sh.fossa_mm), back_psi)[:-1],
        ]
    )
    bones.append(("anterior_wall", [aw_plate], WALL.scaled(0.8)))

    # ---- teardrop
    u_l = -(R + js + sh.fossa_mm + 1.5)
    w = sh.teardrop_width_mm
    td_pts = np.array(
        [
            [u_l, -0.25 * R],
            [u_l - 0.3, 0.3 * R],
            [u_l - 0.5 * w, 0.8 * R],
            [u_l - w, 0.3 * R],
            [u_l - w - 0.5, -0.3 * R],
            [u_l - 0.5 * w, -0.42 * R],
        ]
    )
    td_curve, td_rows = catmull_rom(td_pts, 10, closed=True)
    for i, r in zip(range(68, 73), td_rows[:5], strict=True):
        lm[i] = td_curve[r]
    bones.append(("teardrop", [td_curve], TEARDROP))

    if np.isnan(lm).any():
        raise RuntimeError(f"hip model left landmarks {np.nonzero(np.isnan(lm[:, 0]))[0].tolist()} undefined")

    # ---- osteophytes
    spur_rings: dict[str, np.ndarray] = {}
    hosts: dict[str, list[list[np.ndarray]]] = {}
    groups = load_landmark_groups("hip")
    for k, target in enumerate(TARGETS):
        grade, draw = int(grades[k]), spurs[k]
        if not params.has_spur(grade, draw):
            continue
        height = params.spur_height(grade, draw, params.spur_size[k] * R / 24.0)
        zone = lm[groups.targets[target]]
        if target in _FEMORAL_SPUR_RANGE:
            first, last = groups.targets[target][0], groups.targets[target][-1]
            lo_pos, hi_pos = _FEMORAL_SPUR_RANGE[target]
            ring = contour_spur(
                femur,
                femur_rows[first],
                femur_rows[last],
                lo_pos + draw.position * (hi_pos - lo_pos),
                draw,
                height,
                inside=np.zeros(2),
            )
            hosts[target] = [[femur]]
        else:
            idx = groups.targets[target][0]
            p = lm[idx]
            # grow along the cup past its edge: lateral-down for 67, under the head for 61
            tangent = unit(rotate(unit(p), 90.0 if idx == 67 else -90.0))
            ring = point_spur(p, tangent + 0.45 * unit(p), draw, height)
            hosts[target] = [[acet_body], [ilium]]
        spur_rings[target] = fit_in_zone(ring, zone, params.zone_radius_mm)
    return HipGeometry(
        landmarks=lm, bones=bones, lines=lines, fields=fields, spurs=spur_rings, hosts=hosts, head_radius_mm=R
    )


# ---------------------------------------------------------------------------------------------------- the image
@dataclass
class HipPhantom:
    """One rendered AP pelvis phantom.

    Attributes:
        image: ``(H, W)`` float32, 12-bit presentation values in ``[0, 4095]``, bone bright.
        spacing_xy_mm: (column, row) pixel spacing.
        landmarks_px: ``(160, 2)`` ``(x, y)`` pixels; right hip 0-79 (image left), left hip 80-159.
        grades: ``(2, 4)`` int8 grades 0-3, sides (right, left) x ``TARGETS``.
        severity: ``(2,)`` latent severity per side.
        joint_space_mm: ``(2,)`` superior joint space per side.
        lesion_masks: ``(2, 4, H, W)`` bool, the spur (outside its host bone) per side and target.
        head_centres_px: ``(2, 2)`` ``(x, y)`` pixel centre of each femoral head (right, left).
        head_radii_mm: ``(2,)`` femoral head radius.
        subject: the drawn subject (acquisition settings, fake patient).
        visit: visit index.
    """

    image: np.ndarray
    spacing_xy_mm: tuple[float, float]
    landmarks_px: np.ndarray
    grades: np.ndarray
    severity: np.ndarray
    joint_space_mm: np.ndarray
    lesion_masks: np.ndarray
    head_centres_px: np.ndarray
    head_radii_mm: np.ndarray
    subject: HipSubject
    visit: int

    @property
    def landmarks_mm(self) -> np.ndarray:
        """``(160, 2)`` landmarks in mm (pixels x spacing), as written to the ``.pts`` file."""
        return self.landmarks_px * np.asarray(self.spacing_xy_mm)

    def lesion_bitmask(self) -> np.ndarray:
        """``(W, H)`` uint8 with bit ``side * 4 + target`` set where that lesion lies (x first, as the readers)."""
        return encode_lesion_bits(self.lesion_masks)


def _side_to_pelvis(points: np.ndarray, side: int, half_distance: float, drop: float) -> np.ndarray:
    """Local hip frame -> pelvis frame: right hip (side 0) on the image left, mirrored; left hip on the right."""
    p = np.asarray(points, dtype=np.float64)
    x = -half_distance - p[..., 0] if side == 0 else half_distance + p[..., 0]
    return np.stack([x, p[..., 1] + drop], axis=-1)


def render_hip_radiograph(
    seed: SeedLike,
    params: HipPhantomParams | None = None,
    *,
    spacing_mm: float | None = None,
    subject: HipSubject | None = None,
    visit: int = 0,
) -> HipPhantom:
    """Render one bilateral AP pelvis phantom without writing anything.

    Args:
        seed: an int (the image equals visit ``visit`` of subject ``S0001`` of a cohort generated with this seed
            and these params), a ``SeedSequence`` of the image, or a ``Generator`` (subject and image drawn from it).
        params: phantom parameters (defaults when ``None``).
        spacing_mm: render at this pixel spacing instead of the subject's (same anatomy, grades and pose).
        subject: an already drawn subject (the cohort passes it); drawn from ``seed`` when ``None``.
        visit: visit index (severity progresses with it).

    Returns:
        A :class:`HipPhantom`.
    """
    params = params or HipPhantomParams()
    # pose and exposure of this visit (independent of the spacing)
    setup = visit_setup(seed, visit, params, subject, draw_hip_subject, spacing_mm, (0.45, 0.5), drop_sd_mm=1.5)
    subject, spacing, pose, drops, exposure = setup.subject, setup.spacing_mm, setup.pose, setup.drops, setup.exposure
    pose_rng, noise_rng = setup.pose_rng, setup.noise_rng
    field_w, field_h = subject.field_mm
    view_rng = np.random.default_rng(pose_rng.integers(2**63))  # draws of this image's view and annotations
    gas_rng = np.random.default_rng(view_rng.integers(2**63))
    mesh_pose = None
    if params.mesh_anatomy_fraction > 0:  # its own stream: cohorts without mesh anatomy keep every draw
        mesh_rng = np.random.default_rng(pose_rng.integers(2**63))
        if mesh_rng.uniform() < params.mesh_anatomy_fraction:
            mesh_pose = draw_mesh_pose(mesh_rng, subject.scale, subject.growth < 1.0, params.pelvic_rotation_deg,
                                       params.femoral_rotation_deg)
    hd = subject.half_head_distance_mm if mesh_pose is None else mesh_pose.half_head_distance_mm
    single = int(view_rng.integers(2)) if view_rng.uniform() < params.single_hip_fraction else None
    if single is not None:  # an AP hip: a smaller field centred on one femoral head
        field_w, field_h = float(view_rng.uniform(200, 260)), float(view_rng.uniform(240, 300))
        head = np.array([-hd if single == 0 else hd, float(drops[single])])
        target = np.array([field_w * view_rng.uniform(0.4, 0.6), field_h * view_rng.uniform(0.35, 0.5)])
        pose = Pose(pose.angle_deg, tuple(target - (pose.apply(head[None])[0] - np.asarray(pose.offset_mm))))
    # rotation of the pelvis about the long axis: the heads (anterior) and the sacrum (posterior) shift apart
    tilt = np.deg2rad(view_rng.normal(0.0, params.pelvic_rotation_deg))
    growth = subject.growth
    hd_projected = hd * float(np.cos(tilt))
    hip_shift, sacrum_shift = -70.0 * float(np.sin(tilt)), 40.0 * float(np.sin(tilt))
    femoral_rotation = view_rng.normal(0.0, params.femoral_rotation_deg, size=2)

    shape_hw = (int(round(field_h / spacing)), int(round(field_w / spacing)))
    film = Film(shape_hw, spacing, subject.acquisition.magnification)
    severity = subject.severity.severity[0, visit]
    grades = subject.severity.grades[0, visit]
    js = subject.severity.joint_space_mm[0, visit]

    def to_image(points: np.ndarray, side: int | None = None) -> np.ndarray:
        if side is None:
            return pose.apply(np.asarray(points) + np.array([sacrum_shift, 0.0]))
        local = np.asarray(points) * growth  # a child's hip is built in the adult frame
        return pose.apply(_side_to_pelvis(local, side, hd_projected, drops[side]) + np.array([hip_shift, 0.0]))

    draw_pelvis_soft_tissue(film, pose.to_frame, subject.soft, hd, gas_rng)
    if mesh_pose is None:
        _draw_sacrum(film, subject, to_image)
    landmarks = np.zeros((2 * POINTS_PER_HIP, 2))
    masks = np.zeros((2, len(TARGETS), *shape_hw), dtype=bool)
    centres = np.zeros((2, 2))
    radii = np.zeros(2)
    templates: list[tuple[np.ndarray, float]] = []
    for side in range(2):
        shape = rotate_femur(subject.shapes[side], float(femoral_rotation[side]))
        geo = build_hip(
            shape, float(js[side]) / growth, float(severity[side]), hd_projected / growth, grades[side],
            subject.spurs[side], params,
        )
        if mesh_pose is not None:  # the drawn hip only as the landmark template of the mesh skeleton
            templates.append((geo.landmarks, geo.head_radius_mm))
            continue
        for _, rings, style in geo.bones:
            film.add_bone([to_image(r, side) for r in rings], style)
        for line, width, density in geo.lines:
            film.add_line(to_image(line, side), width, density)
        for region, fld in geo.fields:
            cov = film.coverage([to_image(region, side)], pad_px=int(np.ceil(2.0 / spacing)))
            if cov is not None:
                u, v = _image_to_local(film, cov, pose, side, hd_projected, drops[side], hip_shift)
                film.cortex[cov.window] += fld(u / growth, v / growth, spacing / growth)
        for k, target in enumerate(TARGETS):
            if target not in geo.spurs:
                continue
            ring = to_image(geo.spurs[target], side)
            cov = film.coverage([ring])
            if cov is None:
                continue
            host = np.zeros_like(cov.values)
            for rings in geo.hosts[target]:
                h = _coverage_in(film, [to_image(r, side) for r in rings], cov)
                host = np.maximum(host, h)
            outside = np.clip(1.0 - host, 0.0, 1.0)
            style = SPUR.scaled(params.spur_density(k, int(grades[side, k])))
            film.cortex[cov.window] += cov.values * outside * (style.plate + style.rim)
            if grades[side, k] > 0:  # a normal variant (grade 0) is drawn but is no lesion
                masks[side, k][cov.window] = (cov.values * outside) > 0.5
        for ring in growth_cartilage(geo, shape, float(js[side]) / growth):
            film.add_bone([to_image(ring, side)], GROWTH_CARTILAGE)
        for ring, style in subchondral_cysts(view_rng, geo.head_radius_mm, float(js[side]) / growth,
                                             float(severity[side]),
                                             params.cyst_rate):
            film.add_bone([to_image(ring, side)], style)
        landmarks[side * POINTS_PER_HIP : (side + 1) * POINTS_PER_HIP] = to_image(geo.landmarks, side) / spacing
        centres[side] = to_image(np.zeros((1, 2)), side)[0] / spacing
        radii[side] = geo.head_radius_mm * growth
    if mesh_pose is not None:
        landmarks, centres, radii = draw_mesh_skeleton(film, pose, mesh_pose, [t[0] for t in templates],
                                                       [t[1] for t in templates],
                                                       ADULT_HEAD_RADIUS_MM * subject.scale / subject.growth)
        grades = np.zeros_like(grades)
    shown = [side for side in range(2) if single is None or side == single]
    keep = np.concatenate([landmarks[s * POINTS_PER_HIP : (s + 1) * POINTS_PER_HIP] for s in shown]) * spacing
    draw_field_annotations(film, view_rng, params, keep, "AP PELVIS" if single is None else "AP HIP")
    image = film.expose(exposure, noise_rng)
    return HipPhantom(
        image=image,
        spacing_xy_mm=(spacing, spacing),
        landmarks_px=landmarks,
        grades=grades.astype(np.int8).copy(),
        severity=np.asarray(severity, dtype=np.float64).copy(),
        joint_space_mm=np.asarray(js, dtype=np.float64).copy(),
        lesion_masks=masks,
        head_centres_px=centres,
        head_radii_mm=radii,
        subject=subject,
        visit=visit,
    )


CYST = BoneStyle(plate=-0.04, core=-0.3, core_depth_mm=2.0, rim=0.12, rim_width_mm=0.5)


GROWTH_CARTILAGE = BoneStyle(plate=-0.6, core=-0.6, core_depth_mm=0.5, rim=0.0, rim_width_mm=1.0)


def paediatric_shape(shape: HipShape, head: float, min_radius_mm: float, rng: np.random.Generator) -> HipShape:
    """A child's hip, in the adult frame (the renderer scales it by the subject's ``growth``): the ossified head
    ``head`` times the adult head (at least ``min_radius_mm``), a more valgus neck, open growth plate and triradiate
    cartilage."""
    radius = max(shape.head_radius_mm * head, min_radius_mm)
    return replace(
        shape,
        head_radius_mm=radius,
        neck_shaft_deg=shape.neck_shaft_deg + float(rng.uniform(5.0, 15.0)),
        neck_half_width_mm=min(shape.neck_half_width_mm, 0.85 * radius),
        physis_mm=float(rng.uniform(2.0, 4.5)),
        triradiate_mm=float(rng.uniform(2.0, 4.5)),
    )


def growth_cartilage(geo: HipGeometry, shape: HipShape, joint_space_mm: float) -> list[np.ndarray]:
    """Lucent bands of open growth cartilage (local frame, mm): the femoral physis across the head-neck junction
    (landmarks 13 to 21) and the triradiate cartilage in the acetabular floor (a Y medial to the head)."""

    def band(points: np.ndarray, width: float) -> np.ndarray:
        normal = polyline_normals(points)
        return np.concatenate([points + normal * width / 2, (points - normal * width / 2)[::-1]])

    rings = []
    if shape.physis_mm > 0:
        a, b = geo.landmarks[13], geo.landmarks[21]
        inward = 0.6 * unit(b - a)
        mid = (a + b) / 2 - 0.15 * shape.head_radius_mm * unit(np.array([a[1] - b[1], b[0] - a[0]]))
        rings.append(band(np.array([a + inward, mid, b - inward]), shape.physis_mm))
    if shape.triradiate_mm > 0:
        floor = np.array([-(shape.head_radius_mm + joint_space_mm + shape.fossa_mm + 3.0), 0.0])
        for direction in ((-0.35, -1.0), (-0.5, 1.0), (-1.0, 0.15)):
            end = floor + 14.0 * unit(np.asarray(direction))
            rings.append(band(np.array([floor, (floor + end) / 2, end]), shape.triradiate_mm))
    return rings


def rotate_femur(shape: HipShape, rotation_deg: float, anteversion_deg: float = 15.0) -> HipShape:
    """The AP projection of a femur rotated about its shaft by ``rotation_deg`` (positive = external).

    The neck, anteverted by ``anteversion_deg``, projects with length ``L cos(anteversion + rotation)``: external
    rotation foreshortens it, internal rotation brings it to its true length. The lesser trochanter (posteromedial)
    shows more in external rotation.
    """
    a = np.deg2rad(np.clip(anteversion_deg + rotation_deg, -10.0, 60.0))
    factor = float(np.cos(a) / np.cos(np.deg2rad(anteversion_deg)))
    lesser = shape.lesser_trochanter_mm * float(np.clip(1.0 + 0.8 * np.sin(np.deg2rad(rotation_deg)), 0.3, 1.6))
    return replace(shape, neck_length_mm=shape.neck_length_mm * factor, lesser_trochanter_mm=max(lesser, 1.0))


def subchondral_cysts(
    rng: np.random.Generator, head_radius_mm: float, joint_space_mm: float, severity: float, rate: float
) -> list[tuple[np.ndarray, BoneStyle]]:
    """Subchondral cysts of an osteoarthritic hip (local frame, mm): lucent, with a thin sclerotic rim, in the
    acetabular roof above the joint space or in the superior femoral head; ``Poisson(rate * severity)`` of them."""
    cysts = []
    for _ in range(int(rng.poisson(rate * max(severity, 0.0)))):
        in_head = rng.uniform() < 0.4
        psi = rng.uniform(40.0, 115.0)
        depth = rng.uniform(0.55, 0.85) * head_radius_mm if in_head else -rng.uniform(3.0, 9.0)
        r = depth if in_head else head_radius_mm + joint_space_mm - depth
        centre = arc((0, 0), r, psi)
        t = np.linspace(0.0, 2 * np.pi, 24, endpoint=False)
        a, b = rng.uniform(1.5, 4.5), rng.uniform(1.2, 3.5)
        cysts.append((centre + np.stack([a * np.cos(t), b * np.sin(t)], axis=1), CYST))
    return cysts


def _image_to_local(
    film: Film, patch: Patch, pose: Pose, side: int, half_distance: float, drop: float, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Local hip-frame coordinates ``(u, v)`` (mm) of the pixels of ``patch`` (inverse of the render transform)."""
    x = (np.arange(patch.c0, patch.c1, dtype=np.float64) * film.spacing_mm)[None, :] - pose.offset_mm[0]
    y = (np.arange(patch.r0, patch.r1, dtype=np.float64) * film.spacing_mm)[:, None] - pose.offset_mm[1]
    a = np.deg2rad(-pose.angle_deg)
    px = np.cos(a) * x - np.sin(a) * y
    py = np.sin(a) * x + np.cos(a) * y
    px = px - shift
    u = -px - half_distance if side == 0 else px - half_distance
    return u, py - drop


def _coverage_in(film: Film, rings_mm: list[np.ndarray], like: Patch) -> np.ndarray:
    """Coverage of a polygon restricted to the window of patch ``like``."""
    rings_px = [np.asarray(r) / film.spacing_mm for r in rings_mm]
    return rasterise(rings_px, (like.r0, like.r1, like.c0, like.c1))


def _draw_sacrum(film: Film, subject: HipSubject, to_image) -> None:
    """Sacrum with foramina, coccyx and the L5 vertebra, in the pelvis frame."""
    k = subject.half_head_distance_mm / 95.0
    half = (
        np.array(
            [
                [0.0, -96.0],
                [-30.0, -99.0],
                [-52.0, -93.0],
                [-54.0, -80.0],
                [-44.0, -50.0],
                [-27.0, -22.0],
                [-14.0, -2.0],
                [-7.0, 14.0],
                [0.0, 22.0],
            ]
        )
        * k
    )
    outline = np.concatenate([half, half[-2:0:-1] * np.array([-1.0, 1.0])])
    ring = catmull_rom(outline, 8, closed=True)[0]
    holes = []
    for i, (yy, size) in enumerate(zip((-78.0, -61.0, -45.0, -31.0), (4.5, 4.0, 3.3, 2.6), strict=True)):
        for sx in (-1.0, 1.0):
            c = np.array([sx * (22.0 - 2.5 * i), yy]) * k
            holes.append(arc(c, size * k, np.linspace(0, 360, 24, endpoint=False)))
    film.add_bone([to_image(ring)], SACRUM)
    for h in holes:  # foramina: less bone
        film.add_bone(
            [to_image(h)],
            BoneStyle(plate=-0.12, core=0.0, core_depth_mm=1.0, rim=0.0, rim_width_mm=1.0, textured=False),
        )
    body = np.array([[-27.0, -138.0], [27.0, -138.0], [29.0, -106.0], [-29.0, -106.0]]) * k
    film.add_bone([to_image(catmull_rom(body, 6, closed=True)[0])], VERTEBRA)
    for sx in (-1.0, 1.0):
        proc = np.array([[sx * 25.0, -132.0], [sx * 52.0, -128.0], [sx * 53.0, -120.0], [sx * 25.0, -118.0]]) * k
        film.add_bone([to_image(catmull_rom(proc, 6, closed=True)[0])], ILIUM)
