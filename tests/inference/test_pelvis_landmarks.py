"""Confidence and absence of :class:`hipmonai.inference.PelvisLandmarkDetector` (hips outside the field of view)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hipmonai.inference import PelvisDetectorInferer, PelvisLandmarkDetector
from hipmonai.inference.pelvis_landmarks import DEFAULT_MIN_CONFIDENCE, fit_head_circle
from hipmonai.io.landmark_groups import load_landmark_groups

SIZE = 256
GROUPS = load_landmark_groups("hip")
K = len(GROUPS.detection_subset)


def _radiograph(dicom: Path):
    from monai.data import MetaTensor

    from hipmonai.readers import load_radiograph

    array_wh, meta = load_radiograph(dicom)
    return MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"]), meta


@pytest.fixture(scope="module")
def radiograph(hip_cohort):
    """The first phantom radiograph's DICOM and ``.pts`` (see the ``peaked_detector`` fixture)."""
    dicom = sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]
    pts = sorted((hip_cohort / "landmarks").rglob("*.pts"))[0]
    assert pts.stem == dicom.stem
    return dicom, pts


def test_confidence_is_the_sigmoid_of_each_peak_and_an_absent_hip_is_nan(radiograph, peaked_detector):
    detector, image, points_px = peaked_detector(*radiograph, present=("right",), size_px=SIZE)
    result = detector.predict_image(image)
    assert result["confidence"].shape == (2 * K,)
    np.testing.assert_allclose(result["confidence"][:K], torch.sigmoid(torch.tensor(8.0)).item(), rtol=1e-6)
    np.testing.assert_allclose(result["confidence"][K:], torch.sigmoid(torch.tensor(-8.0)).item(), rtol=1e-6)
    right, left = result["hips"]["right"], result["hips"]["left"]
    assert right == {"present": True, "confidence": pytest.approx(0.99966, abs=1e-4), "reason": None}
    assert not left["present"] and left["reason"] == "hip not found: confidence 0.00 < 0.50"
    assert np.isnan(result["landmarks_px"][K:]).all() and np.isnan(result["landmarks_mm"][K:]).all()
    assert np.isfinite(result["raw_landmarks_px"]).all() and np.isfinite(result["landmarks_px"][:K]).all()
    np.testing.assert_allclose(result["landmarks_mm"][:K], result["landmarks_px"][:K] * result["spacing_mm"])
    np.testing.assert_allclose(result["landmarks_px"][:K], points_px[:K], atol=0.6 * max(image.shape[1:]) / SIZE + 1)
    both = peaked_detector(*radiograph, size_px=SIZE)[0].predict_image(image)
    assert all(hip["present"] for hip in both["hips"].values()) and np.isfinite(both["landmarks_mm"]).all()


def test_min_confidence_decides_presence_and_arrives_through_the_inferer(radiograph, peaked_detector):
    strict, image, _ = peaked_detector(*radiograph, size_px=SIZE, peak_logit=2.0, min_confidence=0.9)
    hips = strict.predict_image(image)["hips"]
    assert [hips[s]["reason"] for s in ("right", "left")] == ["hip not found: confidence 0.88 < 0.90"] * 2
    network = strict.network
    batch = image[None]
    assert torch.isnan(PelvisDetectorInferer(SIZE, min_confidence=0.9)(batch, network)).all()
    assert torch.isfinite(PelvisDetectorInferer(SIZE)(batch, network)).all()
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=f"min_confidence must be in \\(0, 1\\), got {bad}"):
            PelvisLandmarkDetector(torch.nn.Identity(), SIZE, min_confidence=bad)
        with pytest.raises(ValueError, match="min_confidence must be in"):
            PelvisDetectorInferer(SIZE, min_confidence=bad)
    assert PelvisLandmarkDetector(torch.nn.Identity(), SIZE).min_confidence == DEFAULT_MIN_CONFIDENCE == 0.5


def _circle_hips(centres_mm, radius_mm: float) -> np.ndarray:
    """``(2 K, 2)`` detection points in mm: each hip's head points on a circle, its other points at the centre."""
    head = set(GROUPS.curves["femoral_head"])
    points = np.zeros((2 * K, 2))
    angles = np.linspace(0.3, 2.8, K)
    for side, (cx, cy) in enumerate(centres_mm):
        for j, index in enumerate(GROUPS.detection_subset):
            on_head = index in head
            points[side * K + j] = (cx + on_head * radius_mm * np.cos(angles[j]),
                                    cy + on_head * radius_mm * np.sin(angles[j]))
    return points


@pytest.mark.parametrize("centres_mm, radius_mm, reasons", [
    ([(60.0, 100.0), (240.0, 100.0)], 24.0, [None, None]),
    ([(60.0, 100.0), (240.0, 100.0)], 205.9, ["implausible femoral head radius 205.9 mm (plausible 10-40 mm)"] * 2),
    ([(60.0, 100.0), (340.0, 100.0)], 24.0,
     [None, "femoral head outside the image: centre (850, 250) px, image 750 x 500 px"]),
    ([(-4.0, 100.0), (240.0, -0.8)], 24.0,
     ["femoral head outside the image: centre (-10, 250) px, image 750 x 500 px",
      "femoral head outside the image: centre (600, -2) px, image 750 x 500 px"]),
])
def test_head_circle_rules(centres_mm, radius_mm, reasons):
    detector = PelvisLandmarkDetector(torch.nn.Identity(), SIZE)
    points = _circle_hips(centres_mm, radius_mm)
    hips = detector.assess_hips(points, np.full(2 * K, 0.9), (0.4, 0.4), (750, 500))
    assert [hips[s]["reason"] for s in ("right", "left")] == reasons
    assert [hips[s]["present"] for s in ("right", "left")] == [r is None for r in reasons]
    assert hips["right"]["confidence"] == pytest.approx(0.9)
    full = detector.full_points_mm(points)
    assert fit_head_circle(full, "right") == pytest.approx((*centres_mm[0], radius_mm))


def test_confidence_is_the_median_of_the_hip_and_the_radius_range_is_the_preprocessing_rule():
    from hipmonai.transforms import load_preprocessing_config

    detector = PelvisLandmarkDetector(torch.nn.Identity(), SIZE, min_confidence=0.3)
    assert detector.radius_range_mm == load_preprocessing_config().radius_range_mm
    confidence = np.r_[np.full(K // 2 + 1, 0.2), np.full(K - K // 2 - 1, 0.9), np.full(K, 0.9)]
    hips = detector.assess_hips(_circle_hips([(60.0, 100.0), (240.0, 100.0)], 24.0), confidence, (0.4, 0.4),
                                (750, 500))
    assert hips["right"] == {"present": False, "confidence": pytest.approx(0.2),
                             "reason": "hip not found: confidence 0.20 < 0.30"}
    assert hips["left"]["present"]
    narrow = PelvisLandmarkDetector(torch.nn.Identity(), SIZE, radius_range_mm=(30.0, 40.0))
    hips = narrow.assess_hips(_circle_hips([(60.0, 100.0), (240.0, 100.0)], 24.0), np.full(2 * K, 0.9), (0.4, 0.4),
                              (750, 500))
    assert hips["left"]["reason"] == "implausible femoral head radius 24.0 mm (plausible 30-40 mm)"
    with pytest.raises(ValueError, match="one confidence per landmark"):
        detector.assess_hips(np.zeros((2 * K, 2)), np.zeros(K), (0.4, 0.4), (750, 500))
    with pytest.raises(ValueError, match="radius_range_mm"):
        PelvisLandmarkDetector(torch.nn.Identity(), SIZE, radius_range_mm=(40.0, 10.0))
    with pytest.raises(ValueError, match="side must be one of"):
        fit_head_circle(np.zeros((160, 2)), "middle")


def test_head_points_scattered_off_their_circle_are_not_a_hip():
    from hipmonai.inference.pelvis_landmarks import MAX_HEAD_CIRCLE_RESIDUAL, head_circle_residual

    detector = PelvisLandmarkDetector(torch.nn.Identity(), SIZE)
    points = _circle_hips([(60.0, 100.0), (240.0, 100.0)], 24.0)
    head = [j for j, index in enumerate(GROUPS.detection_subset) if index in set(GROUPS.curves["femoral_head"])]
    rng = np.random.default_rng(0)
    points[[K + j for j in head]] += rng.normal(0.0, 12.0, size=(len(head), 2))  # the left hip's head scattered
    hips = detector.assess_hips(points, np.full(2 * K, 0.9), (0.4, 0.4), (750, 500))
    assert hips["right"]["present"] and not hips["left"]["present"]
    full = detector.full_points_mm(points)
    residual = head_circle_residual(full, "left", fit_head_circle(full, "left"))
    assert residual > MAX_HEAD_CIRCLE_RESIDUAL
    expected = f"femoral head points do not lie on a circle: RMS residual {100 * residual:.0f} % of the radius"
    assert hips["left"]["reason"] == f"{expected} (at most 25 %)"
    assert head_circle_residual(full, "right", fit_head_circle(full, "right")) == pytest.approx(0.0, abs=1e-9)
