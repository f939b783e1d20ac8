from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from hipmonai.cli import main
from hipmonai.phantoms.dicom_writer import FakePatient, write_dx

DATA = Path(__file__).resolve().parents[1] / "data" / "dicom"
DOG_DX = DATA / "highdicom_dx_dog" / "dx_image.dcm"


def _inspect(capsys, *args) -> tuple[int, str, str]:
    rc = main(["inspect", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_one_line_error(rc: int, out: str, err: str, path: Path, reason: str) -> None:
    assert rc != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("hipmonai inspect: error: ") and str(path) in lines[0] and reason in lines[0]


def test_inspect_prints_one_json_object(capsys):
    rc, out, err = _inspect(capsys, DOG_DX)
    assert rc == 0 and err == ""
    assert out.endswith("\n") and out.count("\n") == 1
    assert json.loads(out) == {
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


def test_inspect_cr_with_imager_spacing(capsys):
    rc, out, _ = _inspect(capsys, DATA / "pydicom_cr_cspine_16px" / "CR1_6154.dcm")
    summary = json.loads(out)
    assert rc == 0 and summary["spacing_mm"] == [0.1, 0.1] and summary["spacing_source"] == "ImagerPixelSpacing"
    assert (summary["rows"], summary["cols"], summary["modality"]) == (16, 16, "CR")


def test_inspect_reports_missing_spacing_instead_of_failing(capsys):
    path = get_testdata_file("RG3_J2KR.dcm")
    if path is None:
        pytest.skip("pydicom-data is not installed")
    rc, out, _ = _inspect(capsys, path)
    summary = json.loads(out)
    assert rc == 0 and summary["spacing_mm"] is None and summary["spacing_source"] == "missing"
    assert summary["laterality"] == "R" and summary["transfer_syntax"] == "JPEG 2000 Image Compression (Lossless Only)"


def test_inspect_indent_option(capsys):
    rc, out, _ = _inspect(capsys, DOG_DX, "--indent", "2")
    assert rc == 0 and out.count("\n") > 5 and json.loads(out)["rows"] == 169
    rc, out, err = _inspect(capsys, DOG_DX, "--indent", "-1")
    assert rc == 1 and out == "" and err == "hipmonai inspect: error: --indent must be >= 0, got -1.\n"


def test_inspect_never_prints_identifying_values(tmp_path, capsys):
    rng = np.random.default_rng(5)
    patient = FakePatient.draw(rng)
    path = write_dx(tmp_path / "p.dcm", rng.integers(0, 4096, (20, 30)), (0.2, 0.25), patient, monochrome1=True)
    assert str(pydicom.dcmread(path).PatientName) == patient.name
    rc, out, err = _inspect(capsys, path)
    assert rc == 0 and json.loads(out)["spacing_mm"] == pytest.approx([0.2, 0.25])
    for value in patient.identifying_values():
        assert value not in out and value not in err


def _garbled_j2k(tmp_path: Path) -> Path:
    path = get_testdata_file("MR_small_jp2klossless.dcm")
    if path is None:
        pytest.skip("pydicom-data is not installed")
    ds = pydicom.dcmread(path)
    ds.PixelData = bytes(ds.PixelData[:40]) + b"\x00" * (len(ds.PixelData) - 40)  # undecodable codestream
    garbled = tmp_path / "garbled.dcm"
    ds.save_as(garbled)
    return garbled


def test_header_only_skips_pixel_decoding(tmp_path, capsys):
    garbled = _garbled_j2k(tmp_path)
    rc, out, _ = _inspect(capsys, garbled, "--header-only")  # no pixel decoding: the header is still summarised
    assert rc == 0 and json.loads(out)["transfer_syntax"] == "JPEG 2000 Image Compression (Lossless Only)"
    rc, out, err = _inspect(capsys, garbled)
    _assert_one_line_error(rc, out, err, path=garbled, reason="pixel data cannot be decoded (JPEG 2000")


def _truncated_pixel_data(ds: pydicom.Dataset) -> None:
    ds.PixelData = bytes(ds.PixelData[: len(ds.PixelData) // 2 & ~1])


def _rows_over_the_buffer(ds: pydicom.Dataset) -> None:
    ds.Rows = 60000


def _jpeg_baseline_garbage(ds: pydicom.Dataset) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PhotometricInterpretation = "MONOCHROME2"
    garbage = np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xdb" + garbage + b"\xff\xd9"])  # SOI, a broken DQT, EOI
    ds["PixelData"].VR = "OB"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncated_pixel_data, "pixel data cannot be decoded (Explicit VR Little Endian; ValueError: The number of "
                                "bytes of pixel data is less than expected (17828 vs 35660 bytes)"),
        (_rows_over_the_buffer, "less than expected (35660 vs 12660000 bytes)"),
        (_jpeg_baseline_garbage, "pixel data cannot be decoded (JPEG Baseline (Process 1);"),
    ],
    ids=["truncated_pixel_data", "rows_60000", "jpeg_baseline_garbage"],
)
def test_undecodable_pixels_are_a_one_line_error(tmp_path, capsys, damage, reason):
    ds = pydicom.dcmread(DOG_DX)
    damage(ds)
    path = tmp_path / "damaged.dcm"
    ds.save_as(path)
    _assert_one_line_error(*_inspect(capsys, path), path=path, reason=reason)
    rc, out, err = _inspect(capsys, path, "--header-only")
    assert rc == 0 and err == "" and json.loads(out)["cols"] == 211


def test_truncated_file_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "cut.dcm"
    path.write_bytes(DOG_DX.read_bytes()[:-1000])
    _assert_one_line_error(*_inspect(capsys, path), path=path, reason="less than expected (34659 vs 35660 bytes)")


def test_help_describes_decoding_and_header_only(capsys):
    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("decode its pixel data the way hipmonai preprocess does", "--header-only", "exits with status 1"):
        assert phrase in text, phrase


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"just text\n" * 30, "not a DICOM file"),
        (b"\0" * 128 + b"DICM" + bytes(range(256)) * 8, "not an image (no Rows/Columns)"),
    ],
)
def test_inspect_bad_file_is_one_line_error(tmp_path, capsys, content, reason):
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    _assert_one_line_error(*_inspect(capsys, path), path=path, reason=reason)


def test_inspect_missing_file(tmp_path, capsys):
    path = tmp_path / "nowhere.dcm"
    _assert_one_line_error(*_inspect(capsys, path), path=path, reason="file not found")


def test_console_command_exit_code_and_stderr(tmp_path):
    command = Path(sys.executable).with_name("hipmonai")
    if not command.exists():
        pytest.skip(f"{command} not installed (pip install -e .)")
    path = tmp_path / "bad.dcm"
    path.write_bytes(b"not a dicom file\n" * 20)
    result = subprocess.run([str(command), "inspect", str(path)], capture_output=True, text=True, timeout=300)
    _assert_one_line_error(result.returncode, result.stdout, result.stderr, path=path, reason="not a DICOM file")


def test_console_command_undecodable_pixels_print_one_line(tmp_path):
    command = Path(sys.executable).with_name("hipmonai")
    if not command.exists():
        pytest.skip(f"{command} not installed (pip install -e .)")
    ds = pydicom.dcmread(DOG_DX)
    _jpeg_baseline_garbage(ds)  # every decoder plugin fails; pydicom logs a traceback for each unless held back
    path = tmp_path / "garbage.dcm"
    ds.save_as(path)
    result = subprocess.run([str(command), "inspect", str(path)], capture_output=True, text=True, timeout=300)
    _assert_one_line_error(result.returncode, result.stdout, result.stderr, path=path,
                           reason="pixel data cannot be decoded (JPEG Baseline (Process 1);")
