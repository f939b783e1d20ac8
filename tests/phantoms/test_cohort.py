from __future__ import annotations

import csv
import json

import numpy as np
import pydicom
import pytest

from hipmonai.errors import InputError
from hipmonai.io import read_grades_csv, read_pts
from hipmonai.io.landmark_groups import TARGETS
from hipmonai.phantoms import (
    HipPhantomParams,
    draw_hip_subject,
    generate_hip_cohort,
    image_seed,
    read_lesion_mask,
    render_hip_radiograph,
    subject_seed,
)
from hipmonai.phantoms.acquisition import draw_acquisition


def _files(root, sub):
    return sorted(p.relative_to(root) for p in (root / sub).rglob("*") if p.is_file())


def test_layout_and_counts(phantom_hip_cohort, phantom_hip_cohort_args):
    out, summary = phantom_hip_cohort
    for sid in ("S0001", "S0002", "S0003"):
        for vid in ("V00", "V01"):
            assert (out / "dicom" / sid / vid / f"{sid}_{vid}.dcm").is_file()
            assert (out / "landmarks" / sid / vid / f"{sid}_{vid}.pts").is_file()
            assert (out / "lesions" / sid / vid / f"{sid}_{vid}.nii.gz").is_file()
    assert (out / "contact_sheet.png").stat().st_size > 10_000
    assert summary["counts"]["images"] == 6 and summary["counts"]["joints"] == 12
    saved = json.loads((out / "cohort.json").read_text())
    assert saved["seed"] == phantom_hip_cohort_args["seed"] and saved["targets"] == list(TARGETS)
    assert len(saved["grade_correlation"]) == 4 and set(saved["grade_distribution"]) == set(TARGETS)
    assert "elapsed_s" not in saved  # cohort.json is deterministic


def test_same_seed_gives_identical_files_for_any_worker_count(phantom_hip_cohort, phantom_hip_cohort_serial):
    (a, _), (b, _) = phantom_hip_cohort, phantom_hip_cohort_serial
    for sub in ("landmarks", "lesions"):
        files = _files(a, sub)
        assert files == _files(b, sub) and files
        for rel in files:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    for name in ("grades.csv", "truth.csv", "cohort.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    files = _files(a, "dicom")
    assert files == _files(b, "dicom")
    differing = [rel for rel in files if (a / rel).read_bytes() != (b / rel).read_bytes()]
    assert not differing, differing


def test_grades_csv_reads_back_and_matches_the_truth(phantom_hip_cohort):
    out, _ = phantom_hip_cohort
    with (out / "grades.csv").open() as handle:
        assert handle.readline().strip() == "subject_id,visit,side," + ",".join(TARGETS)
    table = read_grades_csv(out / "grades.csv")
    assert not table.rejected and len(table.grades) == 12
    truth = list(csv.DictReader((out / "truth.csv").open()))
    assert len(truth) == 12 and {r["side"] for r in truth} == {"right", "left"}
    for row in truth:
        assert 21.0 < float(row["head_radius_mm"]) < 28.0 and float(row["joint_space_mm"]) > 0


def test_files_hold_exactly_the_rendered_phantom(phantom_hip_cohort, phantom_hip_cohort_args):
    """DICOM pixels, .pts (mm) and lesion bits equal a fresh render of the same subject and visit."""
    out, _ = phantom_hip_cohort
    args = dict(phantom_hip_cohort_args)
    seed, visits = args.pop("seed"), args.pop("visits")
    args.pop("n_subjects")
    params = HipPhantomParams.from_kwargs(**args)
    index, visit = 1, 1
    subject = draw_hip_subject(np.random.default_rng(subject_seed(seed, index)), params, visits)
    ph = render_hip_radiograph(image_seed(seed, index, visit), params, subject=subject, visit=visit)
    stem = "S0002/V01/S0002_V01"
    ds = pydicom.dcmread(out / "dicom" / f"{stem}.dcm")
    stored = ds.pixel_array.astype(np.int64)
    bone_bright = 4095 - stored if ds.PhotometricInterpretation == "MONOCHROME1" else stored
    np.testing.assert_array_equal(bone_bright, np.clip(np.rint(ph.image), 0, 4095).astype(np.int64))
    np.testing.assert_allclose(read_pts(out / "landmarks" / f"{stem}.pts", 160), ph.landmarks_mm, atol=1e-4)
    bits, spacing = read_lesion_mask(out / "lesions" / f"{stem}.nii.gz")
    assert bits.shape == ph.image.shape[::-1] and spacing == pytest.approx(ph.spacing_xy_mm)
    np.testing.assert_array_equal(bits, ph.lesion_bitmask())
    for side in range(2):
        for k in range(4):
            np.testing.assert_array_equal((bits >> (side * 4 + k)) & 1, ph.lesion_masks[side, k].T)


def test_dicom_tags_spacing_and_fake_identity(phantom_hip_cohort):
    out, _ = phantom_hip_cohort
    text = "".join((out / name).read_text() for name in ("grades.csv", "truth.csv", "cohort.json"))
    for path in sorted((out / "dicom").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        sid = path.parent.parent.name
        assert ds.Modality == "DX" and ds.BitsAllocated == 16 and ds.BitsStored == 12
        assert ds.PhotometricInterpretation in ("MONOCHROME1", "MONOCHROME2")
        sy, sx = (float(v) for v in ds.PixelSpacing)
        iy, ix = (float(v) for v in ds.ImagerPixelSpacing)
        m = float(ds.EstimatedRadiographicMagnificationFactor)
        assert sx == sy and 0.35 <= sx <= 0.6 and ix == pytest.approx(sx * m, rel=1e-5) and 1.05 <= m <= 1.2
        assert sid not in (str(ds.PatientID), str(ds.PatientName)) and ds.PatientBirthDate
        for value in (str(ds.PatientID), str(ds.PatientName), str(ds.AccessionNumber), str(ds.InstitutionName)):
            assert value not in text
        pts = (out / "landmarks" / path.relative_to(out / "dicom")).with_suffix(".pts").read_text()
        assert str(ds.PatientID) not in pts


def test_cohort_varies_photometric_syntax_spacing_and_magnification():
    params = HipPhantomParams()
    draws = [draw_acquisition(np.random.default_rng(i), params) for i in range(80)]
    assert {d.transfer_syntax for d in draws} == {"j2k", "explicit", "rle"}
    assert {d.monochrome1 for d in draws} == {True, False}
    assert max(d.spacing_mm for d in draws) - min(d.spacing_mm for d in draws) > 0.15
    assert len({d.magnification for d in draws}) > 40
    assert [d.transfer_syntax for d in draws].count("j2k") > 50


def test_read_back_through_the_project_reader(phantom_hip_cohort):
    readers = pytest.importorskip("hipmonai.readers")
    out, _ = phantom_hip_cohort
    for path in sorted((out / "dicom").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        array_wh, meta = readers.load_radiograph(path)
        assert array_wh.shape == (ds.Columns, ds.Rows)
        np.testing.assert_allclose(meta["spacing_xy_mm"], [float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0])])
        stored = ds.pixel_array.astype(np.float64)
        expected = 4095 - stored if ds.PhotometricInterpretation == "MONOCHROME1" else stored
        np.testing.assert_allclose(array_wh, expected.T)  # bone bright whatever was stored
        for value in (str(ds.PatientID), str(ds.PatientName)):
            assert value not in json.dumps(meta, default=str)


@pytest.mark.filterwarnings("ignore:builtin type")
def test_read_back_through_itk_with_imager_pixel_spacing(phantom_hip_cohort):
    itk = pytest.importorskip("itk")
    out, _ = phantom_hip_cohort
    for path in sorted((out / "dicom").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        image = itk.imread(str(path))
        iy, ix = (float(v) for v in ds.ImagerPixelSpacing)
        np.testing.assert_allclose(tuple(image.GetSpacing())[:2], (ix, iy), rtol=1e-6)
        array = itk.array_view_from_image(image).reshape(ds.Rows, ds.Columns).astype(np.int64)
        stored = ds.pixel_array.astype(np.int64)
        expected = 4095 - stored if ds.PhotometricInterpretation == "MONOCHROME1" else stored  # ITK shows bone bright
        np.testing.assert_array_equal(array, expected)


def test_existing_cohort_is_not_overwritten_silently(tmp_path):
    generate_hip_cohort(tmp_path, n_subjects=1, seed=0, workers=1, progress=False, spacing_mm=1.0)
    with pytest.raises(InputError, match="already holds a cohort"):
        generate_hip_cohort(tmp_path, n_subjects=1, seed=0, workers=1, progress=False, spacing_mm=1.0)
    summary = generate_hip_cohort(
        tmp_path, n_subjects=1, seed=1, workers=1, progress=False, spacing_mm=1.0, overwrite=True
    )
    assert summary["seed"] == 1 and json.loads((tmp_path / "cohort.json").read_text())["seed"] == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_subjects": 0}, InputError, "n_subjects"),
        ({"visits": 11}, InputError, "visits"),
        ({"workers": 0}, InputError, "workers"),
        ({"seed": -1}, InputError, "seed"),
        ({"spacingmm": 1.0}, TypeError, "spacingmm"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        generate_hip_cohort(tmp_path / "x", **{"n_subjects": 1, "progress": False, **kwargs})


def test_knee_cohort_layout(phantom_knee_cohort):
    out, summary = phantom_knee_cohort
    with (out / "grades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["subject_id", "visit", "side", "kl"] and len(rows) == 4
    assert all(0 <= int(r["kl"]) <= 4 for r in rows)
    pts = read_pts(out / "landmarks" / "S0001" / "V00" / "S0001_V00.pts", 32)
    ds = pydicom.dcmread(out / "dicom" / "S0001" / "V00" / "S0001_V00.dcm")
    assert ds.ViewPosition == "PA" and ds.BodyPartExamined == "KNEE"
    assert pts[:16, 0].mean() < pts[16:, 0].mean()  # right knee on the image left
    assert sum(summary["kl_distribution"]) == 4
    assert (out / "contact_sheet.png").is_file()


def test_render_from_the_cohort_seed_is_the_first_subject(phantom_hip_cohort, phantom_hip_cohort_args):
    out, _ = phantom_hip_cohort
    args = dict(phantom_hip_cohort_args)
    seed = args.pop("seed")
    for name in ("n_subjects", "visits"):
        args.pop(name)
    ph = render_hip_radiograph(seed, HipPhantomParams.from_kwargs(**args))
    ds = pydicom.dcmread(out / "dicom" / "S0001" / "V00" / "S0001_V00.dcm")
    stored = ds.pixel_array.astype(np.int64)
    bone_bright = 4095 - stored if ds.PhotometricInterpretation == "MONOCHROME1" else stored
    np.testing.assert_array_equal(bone_bright, np.clip(np.rint(ph.image), 0, 4095).astype(np.int64))
