"""The deployment path without a framework: one phantom radiograph through the three bundles' networks
(random weights, narrow networks: plumbing, not accuracy), the result as a Comprehensive SR with no identifying
value copied by default, clear errors for non-radiographs and missing checkpoints; and the MONAI Deploy application
end to end in a subprocess (skipped where monai-deploy-app-sdk is not installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from hipmonai.errors import InputError
from hipmonai.paths import bundle_templates_dir

BUNDLES = bundle_templates_dir()


@pytest.fixture(scope="module")
def radiograph(hip_cohort) -> Path:
    return sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]


def _analyzer(kwargs):
    from hipmonai.deploy import HipRadiographAnalyzer

    return HipRadiographAnalyzer.from_bundles(**kwargs)


def test_analysis_of_one_radiograph(tiny_analyzer_kwargs, radiograph):
    result = _analyzer(tiny_analyzer_kwargs).analyze_file(radiograph)
    header = pydicom.dcmread(radiograph, stop_before_pixels=True)
    assert result.image_size_wh == (header.Columns, header.Rows)
    assert [h.side for h in result.hips] == ["right", "left"]
    meta = json.loads((BUNDLES / "hip_landmark_labelaug" / "configs" / "metadata.json").read_text())
    names = [meta["network_data_format"]["outputs"]["pred"]["channel_def"][str(i)] for i in range(28)]
    assert [n for h in result.hips for n in h.landmark_names] == names
    for hip in result.hips:
        assert hip.landmarks_px.shape == (14, 2)
        np.testing.assert_allclose(hip.landmarks_mm, hip.landmarks_px * np.asarray(result.spacing_xy_mm))
        if np.isnan(hip.landmarks_px).all():  # reported absent by the (untrained) detector: its reason is kept
            assert hip.skipped.startswith(("hip not found", "implausible femoral head", "femoral head"))
            assert not hip.grades
        if hip.skipped is None:
            assert set(hip.osteophyte_probability) == set(hip.grades) == {
                "osteo_fem_sup", "osteo_fem_inf", "osteo_acet_sup", "osteo_acet_inf"}
            assert all(0 <= p <= 1 for p in hip.osteophyte_probability.values())
            assert all(g in (0, 1, 2, 3) for g in hip.grades.values())
            assert 0 <= hip.any_osteophyte_probability <= 1
    json.dumps(result.as_dict())  # JSON-ready


def test_sr_holds_the_results_and_no_identifying_value(tiny_analyzer_kwargs, radiograph, tmp_path):
    from hipmonai.deploy.sr import COMPREHENSIVE_SR, write_hip_sr

    result = _analyzer(tiny_analyzer_kwargs).analyze_file(radiograph)
    source = pydicom.dcmread(radiograph, stop_before_pixels=True)
    assert str(source.PatientName) and source.PatientID, "the phantoms carry identifying values to leak"
    path = write_hip_sr(result, radiograph, tmp_path / "sr.dcm")
    raw = path.read_bytes()
    for value in (str(source.PatientName), source.PatientID, source.StudyInstanceUID.encode() and
                  str(source.get("AccessionNumber", "")) or "\x00never"):
        assert value.encode() not in raw
    sr = pydicom.dcmread(path)
    assert sr.Modality == "SR" and sr.SOPClassUID == COMPREHENSIVE_SR and sr.StudyInstanceUID != source.StudyInstanceUID
    assert str(sr.PatientName) == "" and sr.PatientID == ""
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert evidence.ReferencedSOPInstanceUID == source.SOPInstanceUID
    hips = [item for item in sr.ContentSequence if item.ValueType == "CONTAINER"]
    assert [h.ConceptNameCodeSequence[0].CodeMeaning for h in hips] == ["right hip", "left hip"]
    points = [i for i in hips[0].ContentSequence if i.ValueType == "SCOORD" and i.GraphicType == "POINT"]
    detected = result.hips[0].landmarks_px[np.isfinite(result.hips[0].landmarks_px).all(axis=1)]
    assert len(points) == len(detected) in (0, 14)  # a hip reported absent has no points
    if points:
        np.testing.assert_allclose([list(p.GraphicData) for p in points], detected + 0.5, atol=1e-3)
        image = points[0].ContentSequence[0]
        assert image.RelationshipType == "SELECTED FROM"
        assert image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    numbers = {i.ConceptNameCodeSequence[0].CodeMeaning: float(i.MeasuredValueSequence[0].NumericValue)
               for i in hips[0].ContentSequence if i.ValueType == "NUM"}
    if result.hips[0].skipped is None:
        assert numbers["osteo_fem_sup OARSI grade"] == result.hips[0].grades["osteo_fem_sup"]
        assert numbers["osteo_acet_inf osteophyte probability"] == pytest.approx(
            result.hips[0].osteophyte_probability["osteo_acet_inf"], rel=1e-5)

    filed = pydicom.dcmread(write_hip_sr(result, source, tmp_path / "filed.dcm", copy_patient_module=True))
    assert filed.PatientID == source.PatientID and filed.StudyInstanceUID == source.StudyInstanceUID


def test_clear_errors(tiny_analyzer_kwargs, radiograph, tmp_path):
    from hipmonai.deploy import HipRadiographAnalyzer

    analyzer = _analyzer(tiny_analyzer_kwargs)
    ct = pydicom.dcmread(radiograph)
    ct.Modality = "CT"
    ct.save_as(tmp_path / "ct.dcm")
    with pytest.raises(InputError, match="not a radiograph"):
        analyzer.analyze_file(tmp_path / "ct.dcm")
    (tmp_path / "junk.dcm").write_bytes(b"not dicom at all")
    with pytest.raises(InputError, match="not a readable DICOM"):
        analyzer.analyze_file(tmp_path / "junk.dcm")
    with pytest.raises(InputError, match="checkpoint not found"):
        HipRadiographAnalyzer.from_bundles({"landmarks": tmp_path / "none.pt", "prior": tmp_path / "none.pt",
                                            "grading": tmp_path / "none.pt"})


def test_monai_deploy_app_writes_one_sr_per_radiograph(tiny_models, hip_cohort, tmp_path):
    pytest.importorskip("monai.deploy")
    pytest.importorskip("holoscan")
    inputs = tmp_path / "study"
    inputs.mkdir()
    files = sorted((hip_cohort / "dicom").rglob("*.dcm"))[:2]
    for k, path in enumerate(files):
        (inputs / f"{k}.dcm").write_bytes(path.read_bytes())
    out = tmp_path / "out"
    command = (f"ulimit -s 32768; exec {sys.executable} -m hipmonai.deploy.app -i {inputs} -o {out} -m {tiny_models}")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((out / "analysis.json").read_text())
    assert len(summary) == 2 and all(s["analysed"] for s in summary)
    written = sorted(p.name for p in out.glob("hip_sr_*.dcm"))
    assert written == sorted(s["sr"] for s in summary)
    log = done.stdout + done.stderr
    for path in files:
        source = pydicom.dcmread(path, stop_before_pixels=True)
        assert str(source.PatientName) not in log and source.PatientID not in log


def test_a_pydicom_dataset_is_analysed_from_its_file(tiny_analyzer_kwargs, radiograph):
    analyzer = _analyzer(tiny_analyzer_kwargs)
    from_path = analyzer.analyze_file(radiograph)
    from_dataset = analyzer.analyze_file(pydicom.dcmread(radiograph))
    for a, b in zip(from_path.hips, from_dataset.hips, strict=True):
        np.testing.assert_allclose(a.landmarks_px, b.landmarks_px)
    in_memory = pydicom.dcmread(radiograph)
    in_memory.filename = None
    with pytest.raises(InputError, match="without its file"):
        analyzer.analyze_file(in_memory)
