from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian

from hipmonai.errors import InputError
from hipmonai.phantoms.dicom_writer import FakePatient, write_dx
from hipmonai.readers import (
    SPACING_SOURCE_CALLER,
    SPACING_SOURCE_IMAGER,
    SPACING_SOURCE_IMAGER_MAGNIFICATION,
    SPACING_SOURCE_MISSING,
    SPACING_SOURCE_PIXEL,
    is_inverted,
    laterality,
    read_dicom,
    source_uid_hash,
    spacing_from_dataset,
    summarize_dicom,
    transfer_syntax_name,
    validate_spacing_xy_mm,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "dicom"
DOG_DX = DATA / "highdicom_dx_dog" / "dx_image.dcm"
CSPINE_CR = sorted((DATA / "pydicom_cr_cspine_16px").glob("CR*.dcm"))
SUMMARY_KEYS = [
    "rows", "cols", "spacing_mm", "spacing_source", "photometric", "inverted", "modality", "transfer_syntax",
    "laterality",
]  # fmt: skip


def _testdata(name: str) -> str:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available (install pydicom-data)")
    return path


def _dataset(**tags) -> Dataset:
    ds = Dataset()
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


# --- spacing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected_xy", "source"),
    [
        ({"PixelSpacing": [0.5, 0.4]}, (0.4, 0.5), SPACING_SOURCE_PIXEL),  # DICOM [row, col] -> (x, y)
        ({"PixelSpacing": [0.5, 0.4], "ImagerPixelSpacing": [0.6, 0.6]}, (0.4, 0.5), SPACING_SOURCE_PIXEL),
        ({"PixelSpacing": [0, 0], "ImagerPixelSpacing": [0.2, 0.3]}, (0.3, 0.2), SPACING_SOURCE_IMAGER),
        ({"PixelSpacing": [-1, 0.2], "ImagerPixelSpacing": [0.2, 0.3]}, (0.3, 0.2), SPACING_SOURCE_IMAGER),
        ({"PixelSpacing": "nan\\nan", "ImagerPixelSpacing": [0.2, 0.3]}, (0.3, 0.2), SPACING_SOURCE_IMAGER),
        ({"PixelSpacing": [0.2], "ImagerPixelSpacing": [0.2, 0.3]}, (0.3, 0.2), SPACING_SOURCE_IMAGER),
        ({"PixelSpacing": "", "ImagerPixelSpacing": [0.2, 0.3]}, (0.3, 0.2), SPACING_SOURCE_IMAGER),
        (
            {"ImagerPixelSpacing": [0.22, 0.33], "EstimatedRadiographicMagnificationFactor": 1.1},
            (0.3, 0.2),
            SPACING_SOURCE_IMAGER_MAGNIFICATION,
        ),
        (
            {"ImagerPixelSpacing": [0.22, 0.33], "EstimatedRadiographicMagnificationFactor": 0},
            (0.33, 0.22),
            SPACING_SOURCE_IMAGER,
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
def test_spacing_order_of_tags(tags, expected_xy, source):
    spacing, used = spacing_from_dataset(_dataset(**tags), spacing_xy_mm=(9.0, 9.0))
    np.testing.assert_allclose(spacing, expected_xy)
    assert used == source


def test_spacing_caller_is_a_fallback_unless_forced():
    ds = _dataset(PixelSpacing=[0.5, 0.4])
    assert spacing_from_dataset(ds, (0.1, 0.2)) == ((0.4, 0.5), SPACING_SOURCE_PIXEL)
    assert spacing_from_dataset(ds, (0.1, 0.2), force=True) == ((0.1, 0.2), SPACING_SOURCE_CALLER)
    assert spacing_from_dataset(_dataset(PixelSpacing=[0, 0]), (0.1, 0.2)) == ((0.1, 0.2), SPACING_SOURCE_CALLER)
    with pytest.raises(ValueError, match="force=True needs spacing_xy_mm"):
        spacing_from_dataset(ds, force=True)


@pytest.mark.parametrize("bad", [(0.1,), (0.1, 0.0), (0.1, -1), (0.1, math.nan), (0.1, math.inf), "ab", (0.1, "x")])
def test_spacing_rejects_bad_caller_values(bad):
    with pytest.raises(ValueError, match="spacing_xy_mm must be two"):
        spacing_from_dataset(_dataset(), bad)
    with pytest.raises(ValueError, match="spacing_xy_mm must be two"):
        validate_spacing_xy_mm(bad)


def test_spacing_missing_is_an_input_error_naming_the_file_and_the_way_out():
    ds = _dataset(PixelSpacing=[0, 0])
    ds.filename = "/data/xray.dcm"
    with pytest.raises(InputError, match=r"^/data/xray.dcm: no usable pixel spacing") as info:
        spacing_from_dataset(ds)
    message = str(info.value)
    assert "PixelSpacing [0.0, 0.0] is not positive" in message and "ImagerPixelSpacing absent" in message
    assert "pass a spacing" in message and "\n" not in message


def test_spacing_of_the_real_files():
    import pydicom

    dog = pydicom.dcmread(DOG_DX, stop_before_pixels=True)
    spacing, source = spacing_from_dataset(dog)  # PixelSpacing = 1.2\1.2012: rows 1.2 mm apart, columns 1.2012
    np.testing.assert_allclose(spacing, (1.2012, 1.2))
    assert source == SPACING_SOURCE_PIXEL
    for path in CSPINE_CR:  # CR with ImagerPixelSpacing only, no magnification factor
        assert spacing_from_dataset(pydicom.dcmread(path, stop_before_pixels=True)) == (
            (0.1, 0.1),
            SPACING_SOURCE_IMAGER,
        )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("RG1_J2KI.dcm", "PixelSpacing [0.0, 0.0] is not positive; ImagerPixelSpacing absent"),  # chest CR
        ("RG3_UNCI.dcm", "PixelSpacing absent; ImagerPixelSpacing absent"),  # leg CR
    ],
)
def test_spacing_of_pydicom_cr_without_usable_spacing(name, reason):
    import pydicom

    path = _testdata(name)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    with pytest.raises(InputError, match="no usable pixel spacing") as info:
        spacing_from_dataset(ds)
    assert str(info.value).startswith(f"{path}: ") and reason in str(info.value)
    assert spacing_from_dataset(ds, (0.175, 0.175)) == ((0.175, 0.175), SPACING_SOURCE_CALLER)


# --- other header fields ---------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Invalid value for VR CS")
def test_laterality_prefers_image_laterality():
    assert laterality(_dataset(ImageLaterality="L", Laterality="R")) == "L"
    assert laterality(_dataset(ImageLaterality="", Laterality="r")) == "R"
    assert laterality(_dataset()) == ""


def test_inverted_only_for_monochrome1():
    assert is_inverted(_dataset(PhotometricInterpretation="MONOCHROME1"))
    assert not is_inverted(_dataset(PhotometricInterpretation="MONOCHROME2"))
    assert not is_inverted(_dataset(PhotometricInterpretation="RGB"))


def test_transfer_syntax_name():
    ds = _dataset()
    assert transfer_syntax_name(ds) == "unknown"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEG2000
    assert transfer_syntax_name(ds) == "JPEG 2000 Image Compression"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    assert transfer_syntax_name(ds) == "Explicit VR Little Endian"


def test_source_uid_hash_is_a_truncated_sha256_of_the_sop_instance_uid():
    uid = "1.2.826.0.1.3680043.8.498.1"
    expected = hashlib.sha256(uid.encode("ascii")).hexdigest()[:16]
    assert source_uid_hash(_dataset(SOPInstanceUID=uid)) == expected
    assert len(expected) == 16 and int(expected, 16) >= 0
    assert source_uid_hash(_dataset(SOPInstanceUID="1.2.3")) != expected


def test_source_uid_hash_falls_back_to_pixel_bytes():
    ds = _dataset(PixelData=b"\x01\x02\x03\x04")
    assert source_uid_hash(ds) == hashlib.sha256(b"\x01\x02\x03\x04").hexdigest()[:16]
    with pytest.raises(InputError, match="no SOPInstanceUID and no pixel data"):
        source_uid_hash(_dataset())


def test_source_uid_hash_is_shared_by_compressed_twins():
    import pydicom

    names = ("RG3_J2KI.dcm", "RG3_UNCI.dcm")
    hashes = {source_uid_hash(pydicom.dcmread(_testdata(name), stop_before_pixels=True)) for name in names}
    assert len(hashes) == 1  # the UNCI file is the decompressed J2KI file: same SOP Instance UID


def test_summary_of_the_dog_dx():
    summary = summarize_dicom(read_dicom(DOG_DX, pixels=False))
    assert list(summary) == SUMMARY_KEYS
    assert summary == {
        "rows": 169,
        "cols": 211,
        "spacing_mm": pytest.approx([1.2012, 1.2]),
        "spacing_source": "PixelSpacing",
        "photometric": "MONOCHROME1",
        "inverted": True,
        "modality": "DX",
        "transfer_syntax": "Explicit VR Little Endian",
        "laterality": "L",
    }
    json.dumps(summary)  # JSON-ready


def test_summary_without_spacing_reports_missing():
    summary = summarize_dicom(read_dicom(_testdata("RG3_J2KR.dcm"), pixels=False))
    assert summary["spacing_mm"] is None and summary["spacing_source"] == SPACING_SOURCE_MISSING
    assert summary["laterality"] == "R"  # from Laterality: RG3 has no ImageLaterality
    assert summary["transfer_syntax"] == "JPEG 2000 Image Compression (Lossless Only)"
    assert (summary["rows"], summary["cols"], summary["modality"]) == (1760, 1760, "CR")


def test_summary_never_contains_identifying_values(tmp_path):
    rng = np.random.default_rng(3)
    patient = FakePatient.draw(rng)
    path = write_dx(tmp_path / "x.dcm", rng.integers(0, 4096, (12, 10)), (0.2, 0.2), patient, laterality="R")
    summary = summarize_dicom(read_dicom(path, pixels=False))
    text = json.dumps(summary)
    for value in patient.identifying_values():
        assert value not in text
    assert summary["spacing_source"] == "PixelSpacing" and summary["laterality"] == "R"


# --- reading ---------------------------------------------------------------------------------------------------


def test_read_dicom_header_only_skips_pixel_data():
    ds = read_dicom(DOG_DX, pixels=False)
    assert "PixelData" not in ds and ds.filename == str(DOG_DX)
    assert "PixelData" in read_dicom(DOG_DX)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, not a DICOM file\n" * 20, "not a DICOM file"),
        (b"", "not a DICOM file"),
        (b"\0" * 128 + b"DICM" + bytes(range(256)) * 4, r"not an image \(no Rows/Columns\)"),
    ],
)
def test_read_dicom_rejects_non_dicom(tmp_path, content, message):
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_dicom(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_read_dicom_rejects_missing_files_folders_and_non_images(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_dicom(tmp_path / "nope.dcm")
    with pytest.raises(InputError, match="is a folder"):
        read_dicom(tmp_path)
    with pytest.raises(InputError, match=r"not an image \(no Rows/Columns\)"):
        read_dicom(_testdata("rtplan.dcm"))


def test_read_dicom_truncated_file(tmp_path):
    data = Path(_testdata("MR_small_jp2klossless.dcm")).read_bytes()
    path = tmp_path / "truncated.dcm"
    path.write_bytes(data[: len(data) - 1000])  # cut inside the encapsulated pixel data
    with (
        pytest.warns(UserWarning, match="End of file"),
        pytest.raises(InputError, match="truncated"),
    ):
        read_dicom(path)
