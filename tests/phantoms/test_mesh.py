"""Bone meshes, their projection to chord lengths, and the hip phantom's mesh anatomy."""

from __future__ import annotations

import numpy as np
import pytest

from hipmonai.phantoms.hip import HipPhantomParams, render_hip_radiograph
from hipmonai.phantoms.mesh import PARTS, Mesh, chord_length_map, load_meshes


def _cube(side: float) -> Mesh:
    """A closed cube ``[0, side]^3`` with outward, counter-clockwise faces."""
    v = np.array([[x, y, z] for x in (0, side) for y in (0, side) for z in (0, side)], dtype=np.float64)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]
    return Mesh(v, np.asarray(faces))


def _sphere(radius: float, levels: int = 4) -> Mesh:
    """An icosphere of ``radius`` centred at the origin (octahedron, subdivided and pushed to the sphere)."""
    from hipmonai.phantoms.mesh import _subdivide

    v = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64)
    f = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    mesh = Mesh(v, f)
    for _ in range(levels):
        mesh = _subdivide(mesh)
        mesh = Mesh(mesh.vertices / np.linalg.norm(mesh.vertices, axis=1, keepdims=True), mesh.faces)
    return Mesh(mesh.vertices * radius, mesh.faces)


def test_cube_chord_is_its_side_inside_and_zero_outside():
    cube = _cube(10.0)
    assert cube.volume_mm3() == pytest.approx(1000.0)
    points = cube.vertices + np.array([5.2, 3.7, 0.0])  # pixel centres never on an edge
    chord = chord_length_map(points, cube.faces, (20, 24))
    inside = chord > 0
    np.testing.assert_allclose(chord[inside], 10.0, rtol=1e-6)
    assert inside.sum() == 10 * 10  # columns 6..15, rows 4..13: each pixel counted once across the diagonals


def test_sphere_chord_matches_the_analytic_chord():
    sphere = _sphere(20.0)
    chord = chord_length_map(sphere.vertices + np.array([32.0, 32.0, 0.0]), sphere.faces, (64, 64))
    rows, cols = np.mgrid[:64, :64]
    d2 = (rows - 32.0) ** 2 + (cols - 32.0) ** 2
    analytic = 2 * np.sqrt(np.clip(400.0 - d2, 0, None))
    deep = d2 < 15.0**2  # away from the faceted silhouette
    np.testing.assert_allclose(chord[deep], analytic[deep], atol=0.4)
    assert chord[d2 > 21.0**2].max() == 0.0


def test_chord_does_not_depend_on_the_orientation_of_the_faces():
    cube = _cube(6.0)
    flipped = Mesh(cube.vertices, cube.faces[:, ::-1])
    points = cube.vertices + np.array([2.3, 2.6, 5.0])
    np.testing.assert_array_equal(chord_length_map(points, cube.faces, (12, 12)),
                                  chord_length_map(points, flipped.faces, (12, 12)))


def test_embedded_meshes_are_closed_outward_and_the_femoral_head_is_a_sphere_at_the_origin():
    from hipmonai.phantoms.hip_mesh import MESH_HEAD_RADIUS_MM

    meshes = load_meshes()
    assert set(meshes) == set(PARTS)
    for part in ("right_pelvis", "left_pelvis", "sacrum", "right_femur", "left_femur"):
        mesh = meshes[part]
        assert mesh.volume_mm3() > 5e4, part
        edges = np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        assert (counts == 2).all(), f"{part} is not closed"
        assert mesh.offset(-1.0).volume_mm3() < mesh.volume_mm3()
    femur = meshes["left_femur"].vertices
    head = femur[np.linalg.norm(femur, axis=1) < 26.0]
    assert np.median(np.linalg.norm(head, axis=1)) == pytest.approx(MESH_HEAD_RADIUS_MM, abs=1.0)


@pytest.mark.parametrize("children", [0.0, 1.0])
def test_mesh_anatomy_images_have_exact_head_landmarks_grade_zero_and_are_deterministic(children):
    from hipmonai.io.landmark_groups import load_landmark_groups

    params = HipPhantomParams(mesh_anatomy_fraction=1.0, paediatric_fraction=children)
    ph = render_hip_radiograph(3, params, spacing_mm=1.0)
    again = render_hip_radiograph(3, params, spacing_mm=1.0)
    np.testing.assert_array_equal(ph.image, again.image)
    np.testing.assert_array_equal(ph.landmarks_px, again.landmarks_px)
    assert (ph.grades == 0).all() and not ph.lesion_masks.any()
    head = load_landmark_groups("hip").curves["femoral_head"]
    for side in range(2):
        pts = ph.landmarks_mm[[side * 80 + i for i in head]]
        np.testing.assert_allclose(np.hypot(*(pts - ph.head_centres_px[side]).T), ph.head_radii_mm[side], atol=1e-6)
    # bone is brighter at the head centre than in the soft tissue between the thighs, below the pubis
    (xr, yr), (xl, yl) = ph.head_centres_px.round().astype(int)
    if children == 0.0:
        assert ph.image[yr, xr] > ph.image[int(yr + 1.6 * ph.head_radii_mm[0]), (xr + xl) // 2]
    # the right hip (patient's right) is on the image left
    assert xr < xl


def test_mesh_anatomy_fraction_zero_leaves_the_drawn_cohort_unchanged_and_is_validated():
    a = render_hip_radiograph(5, HipPhantomParams(), spacing_mm=1.0)
    b = render_hip_radiograph(5, HipPhantomParams(mesh_anatomy_fraction=0.0), spacing_mm=1.0)
    np.testing.assert_array_equal(a.image, b.image)
    with pytest.raises(ValueError, match="mesh_anatomy_fraction"):
        HipPhantomParams(mesh_anatomy_fraction=1.5)


@pytest.mark.parametrize("centre", [(-80.0, 10.0), (200.0, 10.0), (10.0, -90.0), (10.0, 300.0), (10.0, 10.0)])
def test_sphere_chord_window_is_empty_or_inside_for_centres_off_the_image(centre):
    from hipmonai.phantoms.hip_mesh import _sphere_chord
    from hipmonai.phantoms.xray import Film

    film = Film((40, 60), 0.5)
    window, chord = _sphere_chord(film, np.array(centre), 12.0, 0.5)
    assert film.trabecular[window].shape == chord.shape
    film.trabecular[window] += chord  # a single-hip view's other head lies outside the image


def test_a_single_hip_cohort_of_children_with_mesh_anatomy_renders():
    params = HipPhantomParams(mesh_anatomy_fraction=1.0, paediatric_fraction=1.0, single_hip_fraction=1.0)
    for seed in range(4):
        ph = render_hip_radiograph(seed, params, spacing_mm=1.5)
        assert np.isfinite(ph.image).all()


def test_repair_drops_double_walls_and_flaps_and_closes_holes():
    from hipmonai.phantoms.mesh import _edge_counts, _repaired

    cube = _cube(4.0)
    faces = cube.faces
    broken = np.concatenate([faces[1:],  # a hole where the first face was
                             [[0, 3, 5], [5, 3, 0]],  # a zero-thickness wall: one face stored both ways
                             [[4, 6, 1]]])  # a flap on the edge 4-6, which has its two faces already
    _, counts = _edge_counts(broken)
    assert (counts != 2).any()
    repaired = _repaired(Mesh(cube.vertices, broken))
    _, counts = _edge_counts(repaired.faces)
    assert (counts == 2).all() and len(repaired.faces) == 12
    assert repaired.volume_mm3() == pytest.approx(64.0)
    points = cube.vertices + np.array([1.3, 1.6, 0.0])
    np.testing.assert_allclose(chord_length_map(points, repaired.faces, (8, 8)),
                               chord_length_map(points, cube.faces, (8, 8)))

