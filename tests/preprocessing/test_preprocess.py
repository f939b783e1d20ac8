from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pydicom
import pytest

from hipmonai.cli import main
from hipmonai.data import HipStore
from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import load_landmark_groups
from hipmonai.io.pts import read_pts, write_pts
from hipmonai.preprocessing import parts_dir, preprocess_cohort, summary_path
from hipmonai.transforms import fit_circle_taubin

CROP = 96


def _run(cohort: Path, out: Path, **kwargs):
    return preprocess_cohort(
        cohort / "dicom", cohort / "landmarks", cohort / "grades.csv", out,
        lesions_dir=cohort / "lesions", crop_px=CROP, progress=False, **kwargs,
    )


@pytest.fixture(scope="module")
def clean_store(hip_cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "hip.h5"
    summary = _run(hip_cohort, out, workers=2)
    return out, summary


def test_every_hip_written_with_spec_layout(hip_cohort, clean_store):
    out, summary = clean_store
    n_images = len(list((hip_cohort / "dicom").rglob("*.dcm")))
    assert summary["hips_written"] == 2 * n_images and summary["skipped"] == []
    assert not parts_dir(out).exists() and summary_path(out).exists()
    with h5py.File(out, "r") as f:
        subject = sorted(f["scans"])[0]
        visit = sorted(f["scans"][subject])[0]
        group = f["scans"][subject][visit]
        assert set(group) == {"right", "left"}
        image = group["left"]["image"]
        assert image.shape == (CROP, CROP) and image.dtype == np.float32
        for attr in ("pixel_spacing", "crop_offset_x", "crop_offset_y", "femoral_head_radius", "flipped",
                     "source_uid_hash"):
            assert attr in image.attrs
        assert bool(image.attrs["flipped"]) and not bool(group["right"]["image"].attrs["flipped"])
        assert group["left"]["landmarks"].shape == (80, 2)
        assert group["left"]["grades"].shape == (4,)
        assert group["left"]["lesion_mask"].shape == (4, CROP, CROP)


def test_grades_and_crop_landmarks_match_inputs(hip_cohort, clean_store):
    out, _ = clean_store
    store = HipStore(out)
    grades = {}
    for line in (hip_cohort / "grades.csv").read_text().splitlines()[1:]:
        subject, visit, side, *values = line.split(",")
        grades[f"{subject}/{visit}/{side}"] = [int(v) for v in values]
    for key in store:
        scan = store[key]
        np.testing.assert_array_equal(scan["grades"], grades[key])
        cx, cy, radius = fit_circle_taubin(scan["landmarks"][load_landmark_groups("hip").curves["femoral_head"]])
        # the crop is centred on the femoral head circle, whose radius is stored in crop pixels
        assert abs(cx - (CROP - 1) / 2) <= 0.5 and abs(cy - (CROP - 1) / 2) <= 0.5, (key, cx, cy)
        assert radius == pytest.approx(scan["femoral_head_radius"], rel=1e-3)


def test_identifying_dicom_values_never_reach_outputs(hip_cohort, clean_store, tmp_path, caplog):
    out, _ = clean_store
    values = set()
    for path in (hip_cohort / "dicom").rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        values |= {str(ds.PatientName), str(ds.PatientID), str(ds.PatientBirthDate), str(ds.AccessionNumber),
                   str(ds.InstitutionName)}
    values.discard("")
    # a second run with a bad file, so that the logs hold warnings too
    cohort = tmp_path / "cohort"
    shutil.copytree(hip_cohort, cohort)
    first = sorted((cohort / "dicom").rglob("*.dcm"))[0]
    first.write_bytes(first.read_bytes()[:2000])
    with caplog.at_level(logging.DEBUG):
        _run(cohort, tmp_path / "again.h5", workers=1)
    texts = {
        "store": out.read_bytes(),
        "summary": summary_path(out).read_bytes(),
        "summary with skips": summary_path(tmp_path / "again.h5").read_bytes(),
        "log": caplog.text.encode(),
    }
    for name, blob in texts.items():
        for value in values:
            assert value.encode() not in blob, f"{value!r} leaked into the {name}"


def _break_cohort(src: Path, dst: Path) -> dict[str, str]:
    """Copy a cohort and damage one input of each kind; returns relative DICOM path -> expected reason fragment."""
    shutil.copytree(src, dst)
    dicoms = sorted((dst / "dicom").rglob("*.dcm"))
    rel = [p.relative_to(dst / "dicom").as_posix() for p in dicoms]
    expected = {}
    # 1. corrupt file
    dicoms[0].write_bytes(b"not a dicom file at all" * 10)
    expected[rel[0]] = rel[0]
    # 2. .pts with the wrong point count
    pts = (dst / "landmarks" / rel[1]).with_suffix(".pts")
    write_pts(pts, read_pts(pts)[:150])
    expected[rel[1]] = "expected 160 points (BoneFinder) or 28 (detector subset), found 150"
    # 3. DICOM with no matching landmarks
    (dst / "landmarks" / rel[2]).with_suffix(".pts").unlink()
    expected[rel[2]] = "no matching landmarks"
    # 4. DICOM without any pixel spacing
    ds = pydicom.dcmread(dicoms[3])
    for tag in ("PixelSpacing", "ImagerPixelSpacing", "EstimatedRadiographicMagnificationFactor"):
        if tag in ds:
            delattr(ds, tag)
    ds.save_as(dicoms[3])
    expected[rel[3]] = "spacing"
    # 5. an unreadable compressed frame (garbled JPEG 2000 codestream)
    ds = pydicom.dcmread(dicoms[4])
    assert ds.file_meta.TransferSyntaxUID.is_compressed
    frame = bytearray(ds.PixelData)
    frame[40:-40] = np.random.default_rng(0).integers(0, 256, len(frame) - 80, dtype=np.uint8).tobytes()
    ds.PixelData = bytes(frame)
    ds.save_as(dicoms[4])
    expected[rel[4]] = "pixel data cannot be decoded"
    return expected


def test_bad_inputs_are_skipped_with_reasons_and_the_rest_processed(hip_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    expected = _break_cohort(hip_cohort, cohort)
    grades = (cohort / "grades.csv").read_text().splitlines()
    subject, visit, side = grades[-1].split(",")[:3]
    grades[-1] = f"{subject},{visit},{side},4,0,0,0"
    (cohort / "grades.csv").write_text("\n".join(grades) + "\n")
    summary = _run(cohort, tmp_path / "hip.h5", workers=2)
    reasons = {entry["input"]: entry["reason"] for entry in summary["skipped"]}
    for name, fragment in expected.items():
        assert fragment in reasons[name], (name, reasons.get(name))
    n_images = len(list((cohort / "dicom").rglob("*.dcm")))
    assert summary["hips_written"] == 2 * (n_images - len(expected))
    assert summary["grades_rejected"][0]["reason"] == "osteo_fem_sup=4 outside 0-3"
    assert {n["note"] for n in summary["notes"]} == {"no grades row: stored as unknown"}
    store = HipStore(tmp_path / "hip.h5")
    rejected_key = f"{subject}/{visit}/{side}"
    if rejected_key in store:
        assert list(store[rejected_key]["grades"]) == [-1, -1, -1, -1]


def test_fallback_spacing_rescues_files_without_spacing(hip_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(hip_cohort, cohort)
    path = sorted((cohort / "dicom").rglob("*.dcm"))[0]
    ds = pydicom.dcmread(path)
    spacing = [float(v) for v in ds.PixelSpacing]
    for tag in ("PixelSpacing", "ImagerPixelSpacing", "EstimatedRadiographicMagnificationFactor"):
        if tag in ds:
            delattr(ds, tag)
    ds.save_as(path)
    summary = _run(cohort, tmp_path / "hip.h5", workers=1, fallback_spacing_xy_mm=(spacing[1], spacing[0]))
    assert summary["skipped"] == []


def test_existing_store_needs_overwrite(clean_store):
    out, _ = clean_store
    with pytest.raises(InputError, match="--overwrite"):
        preprocess_cohort(out.parent, out.parent, out.parent / "x.csv", out)


def test_interrupted_run_resumes_with_nothing_lost_or_duplicated(hip_cohort, clean_store, tmp_path):
    reference, _ = clean_store
    out = tmp_path / "hip.h5"
    command = [
        sys.executable, "-m", "hipmonai", "preprocess", "--dicom", str(hip_cohort / "dicom"),
        "--landmarks", str(hip_cohort / "landmarks"), "--grades", str(hip_cohort / "grades.csv"),
        "--lesions", str(hip_cohort / "lesions"), "--out", str(out), "--crop", str(CROP), "--workers", "1",
        "--quiet",
    ]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = parts_dir(out) / "done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if done.is_dir() and len(list(done.glob("*.json"))) >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be interrupted"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists() and parts_dir(out).exists()
    finished_before = len(list(done.glob("*.json")))
    n_images = len(list((hip_cohort / "dicom").rglob("*.dcm")))
    assert 2 <= finished_before < n_images
    assert main([*command[3:]]) == 0  # resume in-process through the CLI
    resumed, expected = HipStore(out), HipStore(reference)
    assert resumed.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(resumed[key]["image"], expected[key]["image"])
        np.testing.assert_array_equal(resumed[key]["landmarks"], expected[key]["landmarks"])
    assert json.loads(summary_path(out).read_text())["hips_written"] == 2 * n_images


def test_real_data_without_lesion_masks(hip_cohort, tmp_path):
    summary = preprocess_cohort(
        hip_cohort / "dicom", hip_cohort / "landmarks", hip_cohort / "grades.csv", tmp_path / "hip.h5",
        crop_px=CROP, workers=1, progress=False,
    )
    assert summary["skipped"] == []
    store = HipStore(tmp_path / "hip.h5")
    assert "lesion_mask" not in store[store.keys()[0]]


def test_skipped_images_are_retried_when_resumed(hip_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(hip_cohort, cohort)
    pts = sorted((cohort / "landmarks").rglob("*.pts"))[0]
    moved = pts.rename(tmp_path / "held_back.pts")
    summary = _run(cohort, tmp_path / "hip.h5", workers=1, keep_parts=True)
    assert summary["skipped"][0]["reason"] == "no matching landmarks (.pts)"
    (tmp_path / "hip.h5").unlink()
    moved.rename(pts)
    summary = _run(cohort, tmp_path / "hip.h5", workers=1)
    assert summary["skipped"] == [] and summary["hips_written"] == 2 * len(list((cohort / "dicom").rglob("*.dcm")))


def test_one_implausible_hip_is_skipped_and_the_other_hip_kept(hip_cohort, tmp_path):
    """A transform's InputError reaches the runner wrapped in MONAI's RuntimeError; only that hip is skipped."""
    cohort = tmp_path / "cohort"
    shutil.copytree(hip_cohort, cohort)
    pts = sorted((cohort / "landmarks").rglob("*.pts"))[0]
    points = read_pts(pts)
    left = slice(80, 160)
    centre = np.nanmean(points[left], axis=0)
    points[left] = centre + 6.0 * (points[left] - centre)  # a left femoral head six times too large
    write_pts(pts, points)
    summary = _run(cohort, tmp_path / "hip.h5", workers=1)
    relative = str(pts.relative_to(cohort / "landmarks").with_suffix(".dcm"))
    skipped = [e for e in summary["skipped"] if e["input"] == relative]
    assert [e["side"] for e in skipped] == ["left"] and "plausible range" in skipped[0]["reason"]
    subject, visit = Path(relative).parts[:2]
    store = HipStore(tmp_path / "hip.h5")
    assert f"{subject}/{visit}/right" in store and f"{subject}/{visit}/left" not in store


def test_input_error_cause_looks_through_monai_wrapping():
    from monai.transforms import Compose, Lambda

    from hipmonai.errors import input_error_cause

    def bad(_):
        raise InputError("bad landmarks")

    with pytest.raises(RuntimeError) as caught:
        Compose([Compose([Lambda(bad)])])(1)
    assert str(input_error_cause(caught.value)) == "bad landmarks"
    assert input_error_cause(RuntimeError("other")) is None
