"""Mesh anatomy for the hip phantom: real bone shapes, posed in 3D and projected as cortical and trabecular paths.

The drawn hip (:func:`hipmonai.phantoms.hip.build_hip`) is a 2D cartoon; a landmark detector trained only on it
learns what cartoon bone looks like. With ``mesh_anatomy_fraction`` > 0 that fraction of a cohort's images draws its
bones from the meshes of :mod:`hipmonai.phantoms.mesh` instead (pelvis, sacrum, lumbar spine, femora of a real
adult), through the same X-ray image formation (:class:`hipmonai.phantoms.xray.Film`):

* size: the subject's body scale (times growth for a child) with a random lateral widening;
* pose: pelvic tilt about the lateral axis and rotation about the long axis (3D, so the inlet, the obturator foramina
  and the sacrum change shape as in real positioning), each femur abducted and rotated about its shaft;
* bone: the chord through each mesh is split into a cortical shell (the chord minus that through the surface moved
  inwards by the cortical thickness: thin in the pelvis and the proximal femur, thick in the femoral shaft) and
  trabecular bone inside it;
* children: the cartilaginous femoral head is removed (the chord through the head sphere is subtracted) and a small
  ossific nucleus of random size drawn in its place.

Landmarks: the femoral head centre is the femur's joint centre, projected; the head radius is the mesh head's
(sphere fit, :data:`MESH_HEAD_RADIUS_MM` before scaling). The 80 points of each hip are the drawn hip's landmarks
(:func:`~hipmonai.phantoms.hip.build_hip` for the same subject) scaled to that radius about that centre, so the head
contour points lie exactly on the projected head; the points away from the head follow the drawn template, not the
mesh, and are approximate. No osteoarthritis is drawn on mesh anatomy: its images carry grade 0 and no lesions, and
serve landmark detection.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hipmonai.io.landmark_groups import load_landmark_groups
from hipmonai.phantoms.geometry import Pose, rotate
from hipmonai.phantoms.mesh import HIP_CENTRES_MM, Mesh, chord_length_map, load_meshes
from hipmonai.phantoms.xray import BONE_MM_PER_UNIT, TRABECULAR_BONE_FRACTION, Film

__all__ = ["MESH_HEAD_RADIUS_MM", "MeshPose", "draw_mesh_pose", "draw_mesh_skeleton"]

#: femoral head radius of the embedded femur meshes (least-squares sphere through the head vertices), mm
MESH_HEAD_RADIUS_MM = 23.2

#: cortical thickness (mm): pelvis, sacrum and spine; femur at the head and trochanters; femoral shaft
PELVIS_CORTEX_MM = 1.5
FEMUR_PROXIMAL_CORTEX_MM = 1.5
FEMUR_SHAFT_CORTEX_MM = 5.0
#: fraction of the children who are infants (cartilaginous proximal femur and acetabulum)
INFANT_FRACTION = 0.6
#: trabecular path (mm) that carries the trabecular texture (deeper bone adds its mean mineral only)
TEXTURED_DEPTH_MM = 8.0


@dataclass(frozen=True)
class MeshPose:
    """How the meshes are sized and posed in one image (mm, degrees).

    Attributes:
        scale: isotropic size factor (1 = the model's adult).
        widening: extra lateral scale of the pelvis.
        tilt_deg: pelvic tilt about the lateral axis (positive: the top of the pelvis towards the source).
        rotation_deg: pelvic rotation about the body's long axis.
        abduction_deg: ``(2,)`` femoral abduction (right, left) in the image plane.
        femoral_rotation_deg: ``(2,)`` femoral rotation about the shaft (positive: internal).
        nucleus: ``(2,)`` ossific nucleus radius as a fraction of the head radius (children; ``None`` for adults,
            whose head is bone).
        metaphysis: ``(2,)`` for infants, where the ossified femur ends: the distance of the metaphysis below the
            head centre along the shaft, as a fraction of the head radius (head, neck top and greater trochanter
            are cartilage above it); ``None``: only the head is cartilage (older children) or bone (adults).
        acetabular_gap: for infants, the radius (fraction of the head radius) around each head centre where the
            acetabulum is still cartilage (the triradiate cartilage between ilium, ischium and pubis); ``None``: none.
    """

    scale: float
    widening: float
    tilt_deg: float
    rotation_deg: float
    abduction_deg: tuple[float, float]
    femoral_rotation_deg: tuple[float, float]
    nucleus: tuple[float, float] | None = None
    metaphysis: tuple[float, float] | None = None
    acetabular_gap: float | None = None

    @property
    def head_radius_mm(self) -> float:
        return MESH_HEAD_RADIUS_MM * self.scale

    def hip_centres_mm(self) -> np.ndarray:
        """``(2, 3)`` posed hip joint centres in the pelvis frame (right, left)."""
        return self._pelvis(HIP_CENTRES_MM)

    @property
    def half_head_distance_mm(self) -> float:
        """Projected midline-to-head-centre distance."""
        centres = self.hip_centres_mm()
        return float(abs(centres[1, 0] - centres[0, 0]) / 2)

    def _pelvis(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64) * self.scale * np.array([self.widening, 1.0, 1.0])
        return p @ _rotation(self.tilt_deg, self.rotation_deg).T

    def femur(self, points: np.ndarray, side: int) -> np.ndarray:
        """Femur-frame points (head centre at the origin) -> posed pelvis-frame points."""
        p = np.asarray(points, dtype=np.float64) * self.scale
        sign = 1.0 if side == 0 else -1.0  # abduction moves the shaft away from the midline on both sides
        a = np.deg2rad(sign * self.abduction_deg[side])
        r = np.deg2rad(sign * self.femoral_rotation_deg[side])
        in_plane = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
        about_shaft = np.array([[np.cos(r), 0.0, np.sin(r)], [0.0, 1.0, 0.0], [-np.sin(r), 0.0, np.cos(r)]])
        return p @ (in_plane @ about_shaft).T + self.hip_centres_mm()[side]


def _rotation(tilt_deg: float, rotation_deg: float) -> np.ndarray:
    """Rotation about the lateral axis (tilt), then about the long axis (rotation)."""
    t, r = np.deg2rad(tilt_deg), np.deg2rad(rotation_deg)
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(t), -np.sin(t)], [0.0, np.sin(t), np.cos(t)]])
    about_long = np.array([[np.cos(r), 0.0, np.sin(r)], [0.0, 1.0, 0.0], [-np.sin(r), 0.0, np.cos(r)]])
    return about_long @ tilt


def draw_mesh_pose(
    rng: np.random.Generator, scale: float, child: bool, pelvic_rotation_deg: float, femoral_rotation_deg: float
) -> MeshPose:
    """Draw the size and pose of one image's meshes (``scale``: the subject's body size, a child's included).

    Children: an ossific nucleus per side; :data:`INFANT_FRACTION` of them are infants, whose proximal femur is
    ossified only up to the metaphysis and whose acetabulum is partly cartilage.
    """
    nucleus = metaphysis = gap = None
    if child:
        infant = rng.uniform() < INFANT_FRACTION
        nucleus = tuple(float(v) for v in rng.uniform(0.0, 0.45 if infant else 0.7, size=2))
        if infant:
            metaphysis = tuple(float(v) for v in rng.uniform(0.5, 1.0, size=2))
            gap = float(rng.uniform(1.05, 1.3))
    return MeshPose(
        scale=float(scale * rng.uniform(0.97, 1.12)),
        widening=float(rng.uniform(1.0, 1.15)),
        tilt_deg=float(rng.normal(0.0, 6.0)),
        rotation_deg=float(rng.normal(0.0, pelvic_rotation_deg)),
        abduction_deg=tuple(float(v) for v in rng.normal(2.0, 4.0, size=2)),
        femoral_rotation_deg=tuple(float(v) for v in rng.normal(0.0, femoral_rotation_deg, size=2)),
        nucleus=nucleus,
        metaphysis=metaphysis,
        acetabular_gap=gap,
    )


def _cortex_mm(mesh_vertices: np.ndarray, femur: bool) -> np.ndarray:
    """Cortical thickness per vertex: thin in the pelvis and the proximal femur, thick along the femoral shaft."""
    if not femur:
        return np.full(len(mesh_vertices), PELVIS_CORTEX_MM)
    below = np.clip((mesh_vertices[:, 1] - 70.0) / 60.0, 0.0, 1.0)  # from the lesser trochanter down
    return FEMUR_PROXIMAL_CORTEX_MM + (FEMUR_SHAFT_CORTEX_MM - FEMUR_PROXIMAL_CORTEX_MM) * below


def _sphere_chord(film: Film, centre_px: np.ndarray, radius_px: float, spacing_mm: float) -> tuple[tuple, np.ndarray]:
    """``(window, chord mm)`` of a sphere seen along the beam, on its bounding window of the film."""
    h, w = film.shape_hw
    r0 = min(max(int(np.floor(centre_px[1] - radius_px)) - 1, 0), h)
    c0 = min(max(int(np.floor(centre_px[0] - radius_px)) - 1, 0), w)
    r1 = max(min(int(np.ceil(centre_px[1] + radius_px)) + 2, h), r0)  # empty, never negative, off the image
    c1 = max(min(int(np.ceil(centre_px[0] + radius_px)) + 2, w), c0)
    rows = np.arange(r0, r1)[:, None] - centre_px[1]
    cols = np.arange(c0, c1)[None, :] - centre_px[0]
    chord = 2.0 * np.sqrt(np.clip(radius_px**2 - rows**2 - cols**2, 0.0, None)) * spacing_mm
    return (slice(r0, r1), slice(c0, c1)), chord.astype(np.float32)


def draw_mesh_skeleton(film: Film, pose: Pose, mesh_pose: MeshPose, template_landmarks: Sequence[np.ndarray],
                       template_radii_mm: Sequence[float], adult_radius_mm: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project the posed meshes onto ``film`` (cortex and trabecular maps) and place the landmarks.

    Args:
        film: receives ``cortex`` and ``trabecular`` (:data:`~hipmonai.phantoms.xray.BONE_MM_PER_UNIT` units).
        pose: in-plane pose, pelvis frame mm -> image mm.
        mesh_pose: size and 3D pose of the meshes.
        template_landmarks: per side (right, left) the drawn hip's ``(80, 2)`` local landmarks (head centre at the
            origin, lateral positive, as :func:`~hipmonai.phantoms.hip.build_hip` gives them).
        template_radii_mm: per side the drawn hip's head radius (its head contour points lie on that circle).
        adult_radius_mm: the head radius of the template's adult frame (a child's template is drawn in it with a
            smaller ossified head): the other points scale by the mesh head radius over this one.

    Returns:
        ``(landmarks_px (160, 2), head_centres_px (2, 2), head_radii_mm (2,))``.
    """
    spacing = film.spacing_mm
    meshes = load_meshes()

    def to_px(points: np.ndarray) -> np.ndarray:
        xy = pose.apply(points[:, :2]) / spacing
        return np.concatenate([xy, points[:, 2:3]], axis=1)

    def add(mesh: Mesh, place, femur: bool, keep: np.ndarray | None = None) -> None:
        outer = chord_length_map(to_px(place(mesh.vertices)), mesh.faces, film.shape_hw)
        inner_vertices = mesh.vertices - _cortex_mm(mesh.vertices, femur)[:, None] * mesh.vertex_normals
        inner = np.minimum(chord_length_map(to_px(place(inner_vertices)), mesh.faces, film.shape_hw), outer)
        if keep is not None:  # cartilage: no bone there (a cut parallel to the beam is exact in projection)
            outer, inner = outer * keep, inner * keep
        # texture comes from the first TEXTURED_DEPTH_MM of trabecular bone; deeper, the trabeculae along a ray
        # average out, so the rest adds its mean mineral as smooth bone
        textured = np.minimum(inner, TEXTURED_DEPTH_MM)
        smooth_mineral = (inner - textured) * TRABECULAR_BONE_FRACTION
        film.cortex += (outer - inner + smooth_mineral) / np.float32(BONE_MM_PER_UNIT)
        film.trabecular += textured / np.float32(BONE_MM_PER_UNIT)

    rows = np.arange(film.shape_hw[0], dtype=np.float32)[:, None]  # broadcast, not two full-size grids
    cols = np.arange(film.shape_hw[1], dtype=np.float32)[None, :]
    radius_px = mesh_pose.head_radius_mm / spacing
    centres_px = np.stack([to_px(mesh_pose.hip_centres_mm()[side][None])[0, :2] for side in range(2)])

    def outside_disc(centre: np.ndarray, radius: float) -> np.ndarray:  # 0 inside, 1 outside, 1 px soft edge
        return np.clip(np.hypot(cols - centre[0], rows - centre[1]) - radius + 0.5, 0.0, 1.0)

    pelvis_keep = None
    if mesh_pose.acetabular_gap is not None:
        pelvis_keep = outside_disc(centres_px[0], mesh_pose.acetabular_gap * radius_px) * outside_disc(
            centres_px[1], mesh_pose.acetabular_gap * radius_px)
    for part in ("right_pelvis", "left_pelvis"):
        add(meshes[part], mesh_pose._pelvis, femur=False, keep=pelvis_keep)
    for part in ("sacrum", "lumbar_spine"):
        add(meshes[part], mesh_pose._pelvis, femur=False)
    landmarks = np.zeros((2 * len(template_landmarks[0]), 2))
    groups = load_landmark_groups("hip")
    femur_curve = np.asarray(groups.curves["proximal_femur"])
    head_curve = np.asarray(groups.curves["femoral_head"])
    for side, part in enumerate(("right_femur", "left_femur")):
        centre = centres_px[side]
        place = functools.partial(mesh_pose.femur, side=side)
        keep = None
        if mesh_pose.metaphysis is not None:  # an infant: bone only below the metaphysis, across the shaft
            shaft = to_px(place(np.array([[0.0, 100.0, 0.0]])))[0, :2] - centre
            shaft /= np.linalg.norm(shaft)
            below = (cols - centre[0]) * shaft[0] + (rows - centre[1]) * shaft[1]
            keep = np.clip(below - mesh_pose.metaphysis[side] * radius_px + 0.5, 0.0, 1.0)
        elif mesh_pose.nucleus is not None:  # an older child: the head is cartilage
            keep = outside_disc(centre, 1.03 * radius_px)
        add(meshes[part], place, femur=True, keep=keep)
        if mesh_pose.nucleus is not None:  # the ossific nucleus, trabecular bone in the cartilage
            window, nucleus = _sphere_chord(film, centre, radius_px * mesh_pose.nucleus[side], spacing)
            film.trabecular[window] += nucleus / np.float32(BONE_MM_PER_UNIT)
        # the drawn template, scaled to the mesh head and turned with the femur's abduction (femoral points only)
        local = np.asarray(template_landmarks[side], dtype=np.float64) * (mesh_pose.head_radius_mm / adult_radius_mm)
        local[head_curve] = np.asarray(template_landmarks[side], dtype=np.float64)[head_curve] * (
            mesh_pose.head_radius_mm / float(template_radii_mm[side]))
        local[femur_curve] = rotate(local[femur_curve], -mesh_pose.abduction_deg[side])
        mirrored = local * np.array([-1.0 if side == 0 else 1.0, 1.0])
        hip = mesh_pose.hip_centres_mm()[side, :2]
        n = len(template_landmarks[side])
        landmarks[side * n:(side + 1) * n] = pose.apply(mirrored + hip) / spacing
    return landmarks, centres_px, np.full(2, mesh_pose.head_radius_mm)
