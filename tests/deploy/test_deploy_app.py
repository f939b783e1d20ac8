"""The deployment path where random weights alone do not reach it.

With random landmark weights the fitted femoral heads are implausible, every hip is skipped and the osteophyte
networks never run (what ``test_hip_analysis.py`` sees). Here the analyser gets the phantom's true detection-subset
landmarks instead, so both hips are cropped and scored: the crops must be the ones ``hipmonai preprocess`` stores
for a 28-point ``.pts`` file, and the probabilities and grades must reach the SR. Also: the reader's errors for a
missing spacing and undecodable pixels, the models folder's errors, and the MONAI Deploy application on a mixed
study (a CT series is not selected, a radiograph without spacing is reported, not written) — with no identifying
value in any output, and the patient module copied only when asked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import torch

from hipmonai.errors import InputError

IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionName")


@pytest.fixture(scope="module")
def analyzer(tiny_analyzer_kwargs):
    from hipmonai.deploy import HipRadiographAnalyzer

    return HipRadiographAnalyzer.from_bundles(**tiny_analyzer_kwargs)


class TruthDetector:
    """Stands in for :class:`hipmonai.inference.PelvisLandmarkDetector`: returns given detection-subset points.

    Args:
        detector: the real detector (its :meth:`full_points_mm` is used as it is).
        subset_mm: ``(28, 2)`` ``(x, y)`` mm, the bilateral detection subset.
    """

    def __init__(self, detector: Any, subset_mm: np.ndarray) -> None:
        self.detector, self.subset_mm = detector, np.asarray(subset_mm, dtype=np.float64)

    def predict_image(self, image: Any) -> dict[str, Any]:
        spacing = np.abs(np.diag(np.asarray(image.affine))[:2])
        hips = {side: {"present": True, "confidence": 1.0, "reason": None} for side in ("right", "left")}
        return {"landmarks_px": self.subset_mm / spacing, "landmarks_mm": self.subset_mm, "hips": hips}

    def full_points_mm(self, landmarks_mm: np.ndarray) -> np.ndarray:
        return self.detector.full_points_mm(landmarks_mm)


def _subject(hip_cohort: Path, subject: str = "S0001") -> tuple[Path, np.ndarray]:
    """The subject's radiograph and its true ``(28, 2)`` detection-subset landmarks in mm."""
    from hipmonai.io import load_landmark_groups
    from hipmonai.io.pts import read_pts

    dicom = next((hip_cohort / "dicom" / subject).rglob("*.dcm"))
    truth = read_pts(next((hip_cohort / "landmarks" / subject).rglob("*.pts")), n_points=160)
    return dicom, truth[load_landmark_groups("hip").bilateral_detection_subset]


def test_crops_are_those_of_preprocess_and_scores_reach_the_sr(analyzer, hip_cohort, tmp_path):
    from hipmonai.data.store import HipStore
    from hipmonai.deploy import HipRadiographAnalyzer
    from hipmonai.deploy.sr import write_hip_sr
    from hipmonai.evaluation.grading import decode_multitask_output
    from hipmonai.inference import write_detection_pts
    from hipmonai.io import TARGETS
    from hipmonai.preprocessing.runner import preprocess_cohort

    dicom, subset_mm = _subject(hip_cohort)
    truth = HipRadiographAnalyzer(TruthDetector(analyzer.detector, subset_mm), analyzer.prior_network,
                                  analyzer.grading_network, TARGETS)
    result = truth.analyze_file(dicom)
    assert [h.side for h in result.hips] == ["right", "left"]
    assert all(h.skipped is None for h in result.hips), [h.skipped for h in result.hips]
    for hip, rows in zip(result.hips, (slice(0, 14), slice(14, 28)), strict=True):
        np.testing.assert_allclose(hip.landmarks_mm, subset_mm[rows])
        assert 10 <= hip.head_circle_mm[2] <= 40  # a plausible femoral head radius in mm
        assert list(hip.osteophyte_probability) == list(hip.grades) == list(TARGETS)

    # the same radiograph and 28 points through `hipmonai preprocess`: the stored crops give the same scores
    (tmp_path / "dicom" / "S0001" / "V00").mkdir(parents=True)
    shutil.copy(dicom, tmp_path / "dicom" / "S0001" / "V00" / dicom.name)
    write_detection_pts(tmp_path / "pts" / "S0001" / "V00" / f"{dicom.stem}.pts", subset_mm)
    (tmp_path / "grades.csv").write_text((hip_cohort / "grades.csv").read_text())
    preprocess_cohort(tmp_path / "dicom", tmp_path / "pts", tmp_path / "grades.csv", tmp_path / "hip.h5",
                      workers=1, progress=False)
    with HipStore(tmp_path / "hip.h5") as store:
        crops = {store[k]["side"]: store[k]["image"] for k in store}
    assert sorted(crops) == ["left", "right"]
    for hip in result.hips:
        batch = torch.from_numpy(np.ascontiguousarray(crops[hip.side].T))[None, None]  # store (H, W) -> (1, 1, W, H)
        with torch.inference_mode():
            prior = torch.sigmoid(analyzer.prior_network(batch)[0]).numpy()
            decoded = decode_multitask_output(analyzer.grading_network(batch)[0], len(TARGETS))
        np.testing.assert_allclose([hip.osteophyte_probability[t] for t in TARGETS], prior, rtol=1e-5, atol=1e-6)
        assert hip.any_osteophyte_probability == pytest.approx(float(decoded[0]), abs=1e-6)
        assert [hip.grades[t] for t in TARGETS] == [int(g) for g in decoded[1:]]

    sr = pydicom.dcmread(write_hip_sr(result, dicom, tmp_path / "sr.dcm"))
    containers = [item for item in sr.ContentSequence if item.ValueType == "CONTAINER"]
    for hip, container in zip(result.hips, containers, strict=True):
        numbers = {i.ConceptNameCodeSequence[0].CodeMeaning: float(i.MeasuredValueSequence[0].NumericValue)
                   for i in container.ContentSequence if i.ValueType == "NUM"}
        expected = {**{f"{t} osteophyte probability": p for t, p in hip.osteophyte_probability.items()},
                    "any osteophyte probability": hip.any_osteophyte_probability,
                    **{f"{t} OARSI grade": g for t, g in hip.grades.items()}}
        assert numbers == pytest.approx(expected, rel=1e-5)
        circle, = (i for i in container.ContentSequence if i.ValueType == "SCOORD" and i.GraphicType == "CIRCLE")
        cx, cy, radius = hip.head_circle_mm
        sx, sy = result.spacing_xy_mm
        np.testing.assert_allclose(list(circle.GraphicData), [cx / sx + 0.5, cy / sy + 0.5,
                                                              cx / sx + 0.5 + radius / sx, cy / sy + 0.5], rtol=1e-5)
        points = [i for i in container.ContentSequence if i.ValueType == "SCOORD" and i.GraphicType == "POINT"]
        np.testing.assert_allclose([list(p.GraphicData) for p in points], hip.landmarks_px + 0.5, atol=1e-3)
        assert points[0].ContentSequence[0].RelationshipType == "SELECTED FROM"


def test_a_hip_the_detector_reports_absent_is_not_analysed_and_has_no_points(analyzer, hip_cohort, tmp_path):
    from hipmonai.deploy import HipRadiographAnalyzer
    from hipmonai.deploy.sr import write_hip_sr
    from hipmonai.io import TARGETS

    class LeftAbsent(TruthDetector):
        def predict_image(self, image: Any) -> dict[str, Any]:
            result = super().predict_image(image)
            result["landmarks_px"][14:] = result["landmarks_mm"][14:] = np.nan
            result["hips"]["left"] = {"present": False, "confidence": 0.1, "reason": "hip not found: 0.10 < 0.50"}
            return result

    dicom, subset_mm = _subject(hip_cohort)
    result = HipRadiographAnalyzer(LeftAbsent(analyzer.detector, subset_mm), analyzer.prior_network,
                                   analyzer.grading_network, TARGETS).analyze_file(dicom)
    right, left = result.hips
    assert right.skipped is None and right.grades and left.skipped == "hip not found: 0.10 < 0.50"
    assert not left.grades and left.head_circle_mm is None
    assert [len(h["landmarks"]) for h in result.as_dict()["hips"]] == [14, 0]
    sr = pydicom.dcmread(write_hip_sr(result, dicom, tmp_path / "sr.dcm"))
    containers = [item for item in sr.ContentSequence if item.ValueType == "CONTAINER"]
    assert [sum(i.ValueType == "SCOORD" for i in c.ContentSequence) for c in containers] == [15, 0]  # 14 + circle


def test_missing_spacing_and_undecodable_pixels_are_input_errors(analyzer, hip_cohort, tmp_path):
    dicom, _ = _subject(hip_cohort)
    no_spacing = pydicom.dcmread(dicom)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        no_spacing.pop(keyword, None)
    no_spacing.save_as(tmp_path / "no_spacing.dcm")
    with pytest.raises(InputError, match="no usable pixel spacing"):
        analyzer.analyze_file(tmp_path / "no_spacing.dcm")
    assert len(analyzer.analyze_file(tmp_path / "no_spacing.dcm", spacing_xy_mm=(0.4, 0.4)).hips) == 2

    broken = pydicom.dcmread(dicom)
    broken.PixelData = broken.PixelData[:64]
    broken.save_as(tmp_path / "broken.dcm")
    with pytest.raises(InputError, match="pixel data cannot be decoded"):
        analyzer.analyze_file(tmp_path / "broken.dcm")
    del broken.PixelData
    broken.save_as(tmp_path / "no_pixels.dcm")
    with pytest.raises(InputError, match="no Pixel Data"):
        analyzer.analyze_file(tmp_path / "no_pixels.dcm")


def test_models_folder_errors(tiny_models, tmp_path):
    pytest.importorskip("monai.deploy")
    pytest.importorskip("highdicom")
    from hipmonai.deploy.app import CHECKPOINT_NAMES, load_models_folder

    assert CHECKPOINT_NAMES == {"landmarks": "hip_landmark_labelaug.pt", "prior": "hip_osteophyte_prior.pt",
                                "grading": "hip_osteophyte_grading.pt"}
    for name in CHECKPOINT_NAMES.values():
        shutil.copy(tiny_models / name, tmp_path / name)
    (tmp_path / CHECKPOINT_NAMES["grading"]).unlink()
    with pytest.raises(InputError, match="missing .*hip_osteophyte_grading.pt"):
        load_models_folder(tmp_path)
    (tmp_path / "models.json").write_text("{not json")
    with pytest.raises(InputError, match="models.json: not valid JSON"):
        load_models_folder(tmp_path)


def _new_series(dataset: pydicom.Dataset, seed: str) -> None:
    from pydicom.uid import generate_uid

    dataset.SeriesInstanceUID = generate_uid(entropy_srcs=[seed, "series"])
    dataset.SOPInstanceUID = generate_uid(entropy_srcs=[seed, "instance"])
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID


def _run_app(study: Path, out: Path, models: Path, copy_patient: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("HIPMONAI_SR_COPY_PATIENT", None)
    if copy_patient:
        env["HIPMONAI_SR_COPY_PATIENT"] = "1"
    command = f"ulimit -s 32768; exec {sys.executable} -m hipmonai.deploy.app -i {study} -o {out} -m {models}"
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300, env=env)


def test_app_on_a_mixed_study_writes_no_identifying_value(tiny_models, hip_cohort, tmp_path):
    pytest.importorskip("monai.deploy")
    pytest.importorskip("highdicom")
    pytest.importorskip("holoscan")
    dicom, _ = _subject(hip_cohort)
    source = pydicom.dcmread(dicom)
    assert all(str(source.get(k, "")) for k in IDENTIFYING), "the phantoms carry identifying values to leak"
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(dicom, study / "dx.dcm")
    ct = pydicom.dcmread(dicom)
    ct.Modality = "CT"
    _new_series(ct, "ct")
    ct.save_as(study / "ct.dcm")
    no_spacing = pydicom.dcmread(dicom)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        no_spacing.pop(keyword, None)
    _new_series(no_spacing, "no_spacing")
    no_spacing.save_as(study / "dx_no_spacing.dcm")

    done = _run_app(study, tmp_path / "out", tiny_models, copy_patient=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert sorted(s["analysed"] for s in summary) == [False, True]  # CT not selected; one DX without spacing
    failed, = (s for s in summary if not s["analysed"])
    assert "no usable pixel spacing" in failed["reason"]
    written = list((tmp_path / "out").glob("*.dcm"))
    assert [p.name for p in written] == [next(s["sr"] for s in summary if s["analysed"])]
    sr = pydicom.dcmread(written[0])
    assert sr.Modality == "SR" and sr.StudyInstanceUID != source.StudyInstanceUID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert evidence.ReferencedSOPInstanceUID == source.SOPInstanceUID
    outputs = [done.stdout, done.stderr] + [p.read_bytes().decode("latin-1") for p in (tmp_path / "out").iterdir()]
    for keyword in IDENTIFYING:
        value = str(source.get(keyword))
        assert not any(value in text for text in outputs), f"{keyword} leaked"
        assert str(sr.get(keyword, "")) == ""

    shutil.rmtree(study)
    study.mkdir()
    shutil.copy(dicom, study / "dx.dcm")
    filed = _run_app(study, tmp_path / "filed", tiny_models, copy_patient=True)
    assert filed.returncode == 0, filed.stdout[-3000:] + filed.stderr[-3000:]
    sr = pydicom.dcmread(next((tmp_path / "filed").glob("*.dcm")))
    assert sr.PatientID == source.PatientID and sr.StudyInstanceUID == source.StudyInstanceUID
