"""The image-formation model of the phantoms (hipmonai.phantoms.xray, xray_tables, body) and the acquisition
variety of the hip phantom (views, rotation, cysts, collimation, markers)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hipmonai.phantoms.acquisition import AcquisitionParams
from hipmonai.phantoms.body import chord_mm
from hipmonai.phantoms.hip import HipPhantomParams, draw_hip_subject, render_hip_radiograph, rotate_femur
from hipmonai.phantoms.xray import Exposure, Film, text_mask
from hipmonai.phantoms.xray_tables import load_tables

PLAIN = Exposure(heel=0.0, spr=0.0, enhance=0.0, equalisation=0.0, gradation=0.0, detector_tail=0.0,
                 electronic_noise=0.0, focal_spot_mm=0.0)


def test_attenuation_tables_match_nist_at_60_kev():
    t = load_tables()
    i = int(np.argmin(np.abs(t.energy_kev - 60.0)))
    # NIST XCOM / ICRU 44 at 60 keV: muscle 0.2048 cm2/g x 1.05, cortical bone 0.3148 cm2/g x 1.92 (1/mm)
    assert t.mu("muscle")[i] == pytest.approx(0.02150, rel=0.04)
    assert t.mu("cortical_bone")[i] == pytest.approx(0.06044, rel=0.04)
    assert t.mu("adipose")[i] < t.mu("muscle")[i] < t.mu("cortical_bone")[i] < t.mu("lead")[i]
    with pytest.raises(ValueError, match="unknown material 'steel'"):
        t.mu("steel")
    with pytest.raises(ValueError, match="kvp must lie in"):
        t.spectrum(200.0)
    spectrum = t.spectrum(70.0)
    assert spectrum[t.energy_kev > 70.0].sum() == 0.0 and spectrum.sum() > 0


def test_polyenergetic_beam_hardens_with_thickness():
    film = Film((8, 64), spacing_mm=1.0)
    film.soft_mm[:] = np.linspace(10.0, 300.0, 64, dtype=np.float32)[None, :]
    rng = np.random.default_rng(0)
    quanta = film.detect(Exposure(heel=0.0, spr=0.0, dose_ugy=1e6, electronic_noise=0.0, detector_tail=0.0), rng)
    attenuation = -np.log(quanta[4] / quanta[4, 0])
    mu_eff = np.diff(attenuation) / np.diff(film.soft_mm[4])
    assert (attenuation[1:] > attenuation[:-1]).all()
    assert mu_eff[-10:].mean() < 0.9 * mu_eff[:10].mean()  # harder beam deeper in: effective mu falls


def test_quantum_noise_falls_with_dose_and_heel_effect_tilts_the_field():
    def flat(exposure: Exposure) -> np.ndarray:
        film = Film((200, 200), spacing_mm=0.5)
        film.soft_mm[:] = 150.0
        return film.detect(exposure, np.random.default_rng(1))

    low = flat(replace(PLAIN, dose_ugy=1.0))
    high = flat(replace(PLAIN, dose_ugy=16.0))
    rel = [float((q / q.mean()).std()) for q in (low, high)]
    assert rel[0] / rel[1] == pytest.approx(4.0, rel=0.15)  # sqrt(16)
    tilted = flat(replace(PLAIN, dose_ugy=100.0, heel=0.3, heel_angle_deg=90.0))
    assert tilted[:50].mean() > 1.2 * tilted[-50:].mean()  # anode side (bottom) darker


def test_collimation_markers_and_burned_in_text_are_bright():
    film = Film((120, 160), spacing_mm=1.0)
    film.soft_mm[:] = 100.0
    film.collimate((80.0, 60.0), (50.0, 40.0), angle_deg=10.0)
    film.add_text("R", (40.0, 40.0), height_mm=12.0, lead_mm=1.5)
    film.add_text("AP", (2.0, 2.0), height_mm=8.0, level=1.0)
    image = film.expose(PLAIN, np.random.default_rng(0))
    assert image[115, 5] >= 0.95 * 4095 * 0.9  # outside the field: unexposed, bright
    marker = text_mask("R", 12.0) > 0.5
    assert image[40:40 + marker.shape[0], 40:40 + marker.shape[1]][marker].mean() > image[60:80, 90:110].mean() + 500
    assert image[2:10, 2:12].max() == pytest.approx(4095.0)


def test_exposure_and_params_validate():
    with pytest.raises(ValueError, match="kvp must lie in"):
        Exposure(kvp=20.0)
    with pytest.raises(ValueError, match="dose_ugy must be a positive"):
        AcquisitionParams(dose_ugy=(0.0, 1.0))
    with pytest.raises(ValueError, match="marker_prob must lie in"):
        AcquisitionParams(marker_prob=1.5)
    with pytest.raises(ValueError, match="single_hip_fraction must lie in"):
        HipPhantomParams(single_hip_fraction=2.0)
    with pytest.raises(ValueError, match="magnification must lie in"):
        Film((4, 4), 1.0, magnification=3.0)


def test_chord_length_through_an_ellipse():
    assert chord_mm(np.array([0.0, 60.0, 100.0, 150.0]), 100.0, 200.0) == pytest.approx([200.0, 160.0, 0.0, 0.0])


def test_femoral_rotation_foreshortens_the_neck():
    shape = draw_hip_subject(np.random.default_rng(0), HipPhantomParams()).shapes[0]
    assert rotate_femur(shape, 0.0) == shape
    external, internal = rotate_femur(shape, 25.0), rotate_femur(shape, -15.0)
    assert external.neck_length_mm < shape.neck_length_mm < internal.neck_length_mm
    assert external.lesser_trochanter_mm > shape.lesser_trochanter_mm


def test_single_hip_view_keeps_the_other_hip_outside_the_image():
    params = HipPhantomParams(single_hip_fraction=1.0)
    ph = render_hip_radiograph(3, params, spacing_mm=1.0)
    h, w = ph.image.shape
    inside = [(0 <= x < w and 0 <= y < h) for x, y in ph.head_centres_px]
    assert sorted(inside) == [False, True]
    assert np.isfinite(ph.landmarks_px).all()  # the absent hip's landmarks are still given (outside the image)


def test_render_is_deterministic_and_spacing_independent_in_mm():
    a = render_hip_radiograph(7, spacing_mm=1.0)
    b = render_hip_radiograph(7, spacing_mm=1.0)
    np.testing.assert_array_equal(a.image, b.image)
    fine = render_hip_radiograph(7, spacing_mm=0.5)
    np.testing.assert_allclose(fine.landmarks_mm, a.landmarks_mm, atol=1e-6)
    assert fine.image.shape[0] == pytest.approx(2 * a.image.shape[0], abs=1)


def test_cysts_appear_with_severity():
    from hipmonai.phantoms.hip import subchondral_cysts

    rng = np.random.default_rng(0)
    assert subchondral_cysts(rng, 24.0, 4.0, 0.0, 1.0) == []
    counts = [len(subchondral_cysts(rng, 24.0, 4.0, 2.0, 1.5)) for _ in range(200)]
    assert np.mean(counts) == pytest.approx(3.0, rel=0.2)


def test_paediatric_subjects_are_small_with_open_growth_cartilage_and_exact_landmarks():
    from hipmonai.io.landmark_groups import load_landmark_groups

    params = HipPhantomParams(paediatric_fraction=1.0)
    ph = render_hip_radiograph(2, params, spacing_mm=0.5)
    subject = ph.subject
    assert 0.6 <= subject.growth <= 0.85 and all(s.physis_mm > 0 and s.triradiate_mm > 0 for s in subject.shapes)
    assert (ph.grades == 0).all() and (ph.head_radii_mm >= 10.5 - 1e-9).all() and (ph.head_radii_mm < 22).all()
    head = load_landmark_groups("hip").curves["femoral_head"]
    for side in range(2):  # the head landmarks lie on the drawn head circle, scaled with the child
        pts = ph.landmarks_mm[[side * 80 + i for i in head]]
        centre = ph.head_centres_px[side] * 0.5
        np.testing.assert_allclose(np.hypot(*(pts - centre).T), ph.head_radii_mm[side], atol=0.05)
    adult = render_hip_radiograph(2, HipPhantomParams(), spacing_mm=0.5)
    assert adult.subject.growth == 1.0 and ph.subject.half_head_distance_mm < adult.subject.half_head_distance_mm
