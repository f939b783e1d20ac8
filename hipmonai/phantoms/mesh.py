"""Bone surfaces as closed triangle meshes, and their projection to path lengths (mm) on a pixel grid.

The hip phantom's mesh anatomy (:func:`hipmonai.phantoms.hip_mesh.render_hip_mesh_radiograph`) projects real bone
shapes instead of drawn outlines: the pelvis, sacrum, lumbar spine and femora of the Rajagopal et al. (2016) full-body
musculoskeletal model (MIT licence; geometry as shipped in the nimblephysics wheel, ``rajagopal_data/Geometry``),
embedded as ``pelvis_meshes.npz`` (:func:`build_meshes` regenerates it; nimblephysics is not a dependency) and
refined by midpoint subdivision and Taubin smoothing when first loaded.

Frame of every stored mesh (mm): ``x`` towards the image right (the patient's left in an AP view), ``y`` down
(caudal), ``z`` anterior. Pelvis, sacrum and spine are centred on the midpoint of the two hip joint centres; each
femur is stored with its own hip joint centre (= femoral head centre) at the origin, and :data:`HIP_CENTRES_MM`
gives where those centres sit in the pelvis frame.

:func:`chord_length_map` turns a closed mesh into the length of every pixel's ray through it (orthographic along
``z``), by adding each triangle's interpolated depth with the sign of its facing: the ray enters through back faces
and leaves through front faces, so the sum is exit minus entry depth, summed over every crossing.

Reference: Rajagopal A., Dembia C. L., DeMers M. S., Delp D. D., Hicks J. L., Delp S. L. (2016), "Full-body
musculoskeletal model for muscle-driven simulation of human gait", IEEE Trans. Biomed. Eng. 63(10):2068-2079.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

__all__ = ["HIP_CENTRES_MM", "MESH_FILE", "Mesh", "build_meshes", "chord_length_map", "load_meshes"]

MESH_FILE = Path(__file__).with_name("pelvis_meshes.npz")

#: the parts of :func:`load_meshes`
PARTS = ("right_pelvis", "left_pelvis", "sacrum", "lumbar_spine", "right_femur", "left_femur")

#: Rajagopal model (m, OpenSim pelvis frame: x anterior, y up, z right): hip joint centres and the lumbar joint
_HIP_CENTRE_OS = (-0.0563, -0.0785, 0.0773)
_BACK_OS = (-0.1007, 0.0815, 0.0)
#: the lumbar vertebrae and the lowest thoracic ones: spine vertices below this height in the torso frame (m)
_SPINE_TOP_OS = 0.16


@dataclass(frozen=True)
class Mesh:
    """A closed, consistently oriented triangle mesh.

    Attributes:
        vertices: ``(N, 3)`` float64 ``(x, y, z)`` mm.
        faces: ``(M, 3)`` int64 vertex indices, counter-clockwise seen from outside (outward normals).
    """

    vertices: np.ndarray
    faces: np.ndarray

    @functools.cached_property
    def vertex_normals(self) -> np.ndarray:
        """``(N, 3)`` unit outward normals (area-weighted face normals)."""
        v, f = self.vertices, self.faces
        face_n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        n = np.zeros_like(v)
        for k in range(3):
            np.add.at(n, f[:, k], face_n)
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def offset(self, distance_mm: float) -> Mesh:
        """The surface moved along its vertex normals (negative: inwards, e.g. the inside of a cortical shell)."""
        return Mesh(self.vertices + distance_mm * self.vertex_normals, self.faces)

    def volume_mm3(self) -> float:
        """Signed enclosed volume (positive for outward normals)."""
        v = self.vertices[self.faces]
        return float(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0)


def chord_length_map(points_px: np.ndarray, faces: np.ndarray, shape_hw: tuple[int, int]) -> np.ndarray:
    """Path length of each pixel's ray through a closed mesh (orthographic projection along the third axis).

    Args:
        points_px: ``(N, 3)`` vertices as ``(column, row, depth)``: image pixels for the first two, mm for depth.
        faces: ``(M, 3)`` vertex indices of a closed, consistently oriented mesh.
        shape_hw: ``(H, W)`` of the map.

    Returns:
        ``(H, W)`` float32 chord length in mm (the depth unit), 0 outside the mesh's shadow. Pixel centres are at
        integer ``(column, row)``.
    """
    h, w = int(shape_hw[0]), int(shape_hw[1])
    tri = np.asarray(points_px, dtype=np.float64)[np.asarray(faces)]  # (M, 3, 3)
    area = (tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1]) - (tri[:, 2, 0] - tri[:, 0, 0]) * (
        tri[:, 1, 1] - tri[:, 0, 1])
    c0 = np.clip(np.ceil(tri[..., 0].min(1)), 0, w).astype(np.int64)
    c1 = np.clip(np.floor(tri[..., 0].max(1)) + 1, 0, w).astype(np.int64)
    r0 = np.clip(np.ceil(tri[..., 1].min(1)), 0, h).astype(np.int64)
    r1 = np.clip(np.floor(tri[..., 1].max(1)) + 1, 0, h).astype(np.int64)
    live = (np.abs(area) > 1e-12) & (c1 > c0) & (r1 > r0)
    extent = np.maximum(c1 - c0, r1 - r0)
    out = np.zeros(h * w, dtype=np.float64)
    # triangles in batches of similar bounding-box size, each batch on a (box x box) pixel grid at once
    low = 0
    for box in (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096):
        batch = np.flatnonzero(live & (extent > low) & (extent <= box))
        low = box
        for chunk in np.array_split(batch, max(1, int(np.ceil(len(batch) * box * box / 4e6)))):
            if len(chunk):
                _rasterise(tri[chunk], area[chunk], c0[chunk], r0[chunk], box, (h, w), out)
    return np.abs(out.reshape(h, w)).astype(np.float32)


def _rasterise(tri: np.ndarray, area: np.ndarray, c0: np.ndarray, r0: np.ndarray, box: int,
               shape_hw: tuple[int, int], out: np.ndarray) -> None:
    """Add the signed depth of ``(T, 3, 3)`` triangles to the flat ``out`` at the pixel centres they cover, each
    triangle on the ``box`` x ``box`` pixels from its box corner ``(c0, r0)``."""
    h, w = shape_hw
    offsets = np.arange(box)
    cols = (c0[:, None] + offsets[None, :])[:, None, :].astype(np.float64)  # (T, 1, box)
    rows = (r0[:, None] + offsets[None, :])[:, :, None].astype(np.float64)  # (T, box, 1)
    sign = np.where(area > 0, 1.0, -1.0)[:, None, None]
    inside = (cols < w) & (rows < h)
    weights = []
    for k in range(3):  # edge opposite vertex k, from vertex a to vertex b (positively oriented)
        a, b = (k + 1) % 3, (k + 2) % 3
        dx = sign * (tri[:, b, 0] - tri[:, a, 0])[:, None, None]
        dy = sign * (tri[:, b, 1] - tri[:, a, 1])[:, None, None]
        e = dx * (rows - tri[:, a, 1][:, None, None]) - dy * (cols - tri[:, a, 0][:, None, None])
        # a pixel centre exactly on an edge belongs to one of the two triangles sharing it: the one whose inward
        # normal (-dy, dx) points to +row, or along +column when the edge is horizontal
        inside &= (e > 0) | ((e == 0) & ((dx > 0) | ((dx == 0) & (dy < 0))))
        weights.append(e)
    depth = (weights[0] * tri[:, 0, 2][:, None, None] + weights[1] * tri[:, 1, 2][:, None, None]
             + weights[2] * tri[:, 2, 2][:, None, None]) / np.abs(area)[:, None, None]
    t, i, j = np.nonzero(inside)
    index = (r0[t] + i) * w + (c0[t] + j)
    out += np.bincount(index, weights=(sign[:, 0, 0][t] * depth[t, i, j]), minlength=h * w)


@functools.lru_cache(maxsize=1)
def load_meshes() -> dict[str, Mesh]:
    """The embedded bone meshes (module docstring), by part name (:data:`PARTS`), refined (subdivided and smoothed)
    once per process from the stored model geometry."""
    with np.load(MESH_FILE) as data:
        raw = {part: Mesh(data[f"{part}_vertices"].astype(np.float64), data[f"{part}_faces"].astype(np.int64))
               for part in PARTS}
        return {part: _refined(mesh, int(data[f"{part}_levels"])) for part, mesh in raw.items()}


#: hip joint centres (right, left) in the pelvis frame, mm
HIP_CENTRES_MM = np.array([[-1000.0 * _HIP_CENTRE_OS[2], 0.0, 0.0], [1000.0 * _HIP_CENTRE_OS[2], 0.0, 0.0]])


# ------------------------------------------------------------------------------------------- building the table
def _read_ply(path: Path) -> Mesh:
    """A binary little-endian PLY (float x, y, z [+ more float properties]; polygon faces, fan-triangulated)."""
    raw = path.read_bytes()
    header, body = raw.split(b"end_header\n", 1)
    lines = header.decode("ascii").splitlines()
    n_vertices = int(next(line for line in lines if line.startswith("element vertex")).split()[-1])
    n_faces = int(next(line for line in lines if line.startswith("element face")).split()[-1])
    n_props = sum(1 for line in lines if line.startswith("property float"))
    size = n_vertices * 4 * n_props
    vertices = np.frombuffer(body[:size], "<f4").reshape(n_vertices, n_props)[:, :3].astype(np.float64)
    faces, offset = [], size
    for _ in range(n_faces):
        n = body[offset]
        poly = np.frombuffer(body[offset + 1 : offset + 1 + 4 * n], "<i4")
        offset += 1 + 4 * n
        faces.extend((poly[0], poly[k], poly[k + 1]) for k in range(1, n - 1))
    return Mesh(vertices, np.asarray(faces, dtype=np.int64))


def _edge_counts(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(half-edges (3 M, 2), number of faces on each half-edge's undirected edge (3 M,))``."""
    half = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    _, inverse, counts = np.unique(np.sort(half, axis=1), axis=0, return_inverse=True, return_counts=True)
    return half, counts[inverse.ravel()]


def _repaired(mesh: Mesh) -> Mesh:
    """The mesh made watertight, so that the chord sums cancel outside the bone: a face stored twice with opposite
    orientations (a zero-thickness double wall) is dropped, a repeated face kept once, a flap (a face with an open
    edge whose other edges already have two faces besides it) removed, and every remaining hole fan-triangulated,
    oriented as its neighbours."""
    keys = np.sort(mesh.faces, axis=1)
    _, first, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    oriented = np.array([len({tuple(np.roll(f, -int(np.argmin(f)))) for f in mesh.faces[inverse == k]})
                         for k in range(len(counts))])
    keep = np.isin(np.arange(len(mesh.faces)), first) & (oriented[inverse] == 1)
    faces = mesh.faces[keep]
    while True:
        _, count = _edge_counts(faces)
        per_face = count.reshape(3, -1).T
        flap = (per_face == 1).any(axis=1) & (per_face == 3).any(axis=1)
        if not flap.any():
            break
        faces = faces[~flap]
    half, count = _edge_counts(faces)
    following = {int(b): int(a) for a, b in half[count == 1]}  # the fill runs each boundary edge backwards
    filled = []
    while following:
        start = next(iter(following))
        loop = [start]
        while following.get(loop[-1]) is not None and following[loop[-1]] != start:
            loop.append(following.pop(loop[-1]))
        following.pop(loop[-1], None)
        filled.extend((loop[0], loop[k], loop[k + 1]) for k in range(1, len(loop) - 1))
    if filled:
        faces = np.concatenate([faces, np.asarray(filled, dtype=faces.dtype)])
    return Mesh(mesh.vertices, faces)


def _to_frame(points_os: np.ndarray) -> np.ndarray:
    """OpenSim (m; x anterior, y up, z right) -> this module's frame (mm; x patient-left, y down, z anterior)."""
    p = np.asarray(points_os, dtype=np.float64) * 1000.0
    return np.stack([-p[..., 2], -p[..., 1], p[..., 0]], axis=-1)


def _subdivide(mesh: Mesh) -> Mesh:
    """One midpoint subdivision: every triangle into four."""
    v, f = mesh.vertices, mesh.faces
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    unique, inverse = np.unique(edges, axis=0, return_inverse=True)
    mid = len(v) + inverse.reshape(3, -1).T  # (M, 3): midpoints of edges 01, 12, 20
    vertices = np.concatenate([v, v[unique].mean(axis=1)])
    a, b, c = f[:, 0], f[:, 1], f[:, 2]
    ab, bc, ca = mid[:, 0], mid[:, 1], mid[:, 2]
    faces = np.concatenate([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return Mesh(vertices, faces)


def _taubin(mesh: Mesh, iterations: int = 20, lam: float = 0.5, mu: float = -0.53) -> Mesh:
    """Taubin smoothing (alternating shrink/inflate Laplacian steps): rounds facets without shrinking the bone."""
    v, f = mesh.vertices.copy(), mesh.faces
    n = len(v)
    i = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    j = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    adjacency = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    adjacency.data[:] = 1.0
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    mean = sparse.diags(1.0 / np.maximum(degree, 1)) @ adjacency
    for _ in range(iterations):
        for step in (lam, mu):
            v = v + step * (mean @ v - v)
    return Mesh(v, f)


def _refined(mesh: Mesh, levels: int) -> Mesh:
    for _ in range(levels):
        mesh = _subdivide(mesh)
    mesh = _taubin(mesh)
    if mesh.volume_mm3() < 0:  # outward normals
        mesh = Mesh(mesh.vertices, mesh.faces[:, ::-1].copy())
    return mesh


def build_meshes(geometry_dir: str | os.PathLike, out: str | os.PathLike = MESH_FILE) -> Path:
    """Regenerate the embedded mesh table from the Rajagopal model's ``Geometry`` folder of PLY files.

    The folder is ``nimblephysics/models/rajagopal_data/Geometry`` of the nimblephysics wheel (``pip download
    --no-deps nimblephysics``, then unzip). Coarse parts get two midpoint subdivisions before smoothing.
    """
    geometry = Path(geometry_dir)
    centre = _to_frame(np.array([_HIP_CENTRE_OS[0], _HIP_CENTRE_OS[1], 0.0]))
    arrays: dict[str, np.ndarray] = {}

    def put(part: str, mesh: Mesh, levels: int) -> None:
        arrays[f"{part}_vertices"] = mesh.vertices.astype(np.float32)
        arrays[f"{part}_faces"] = mesh.faces.astype(np.int32)
        arrays[f"{part}_levels"] = np.asarray(levels)

    for part, name in (("right_pelvis", "r_pelvis"), ("left_pelvis", "l_pelvis"), ("sacrum", "sacrum")):
        mesh = _read_ply(geometry / f"{name}.vtp.ply")
        put(part, _repaired(Mesh(_to_frame(mesh.vertices) - centre, mesh.faces)), 2)
    spine = _read_ply(geometry / "hat_spine.vtp.ply")
    keep = np.all(spine.vertices[spine.faces][..., 1] < _SPINE_TOP_OS, axis=1)
    used, faces = np.unique(spine.faces[keep], return_inverse=True)
    lumbar = Mesh(_to_frame(spine.vertices[used] + np.asarray(_BACK_OS)) - centre, faces.reshape(-1, 3))
    put("lumbar_spine", _repaired(lumbar), 0)
    for part, name in (("right_femur", "r_femur"), ("left_femur", "l_femur")):
        mesh = _read_ply(geometry / f"{name}.vtp.ply")
        put(part, _repaired(Mesh(_to_frame(mesh.vertices), mesh.faces)), 2)
    out = Path(out)
    np.savez_compressed(out, **arrays)
    load_meshes.cache_clear()
    return out
