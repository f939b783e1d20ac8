from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage, LoadImaged, Spacingd
from monai.utils import MetaKeys, SpaceKeys
from pydicom.data import get_testdata_file

from hipmonai.errors import InputError
from hipmonai.phantoms.dicom_writer import FakePatient, write_dx
from hipmonai.readers import RadiographReader, load_radiograph, radiograph_array

DATA = Path(__file__).resolve().parents[1] / "data" / "dicom"
DOG_DX = DATA / "highdicom_dx_dog" / "dx_image.dcm"
CSPINE_CR = sorted((DATA / "pydicom_cr_cspine_16px").glob("CR*.dcm"))
META_KEYS = {
    "spacing_xy_mm", "spacing_source", "photometric", "inverted", "laterality", "modality", "transfer_syntax",
    "source_uid_hash",
}  # fmt: skip


def _testdata(name: str) -> str:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available (install pydicom-data)")
    return path


def _phantom(tmp_path: Path, shape_hw=(80, 100), spacing_xy_mm=(1.2, 1.2), name="x.dcm", seed=0, **kwargs):
    """A DX written by the phantom writer: returns (path, (H, W) pixels, fake patient)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 4096, size=shape_hw).astype(np.float64)
    patient = FakePatient.draw(rng)
    path = write_dx(tmp_path / name, pixels, spacing_xy_mm, patient, uid_seed=str(seed), **kwargs)
    return path, pixels, patient


def _rewrite(path: Path, out: Path, **tags) -> Path:
    """Copy a DICOM file with some tags changed (None deletes the tag)."""
    ds = pydicom.dcmread(path)
    for keyword, value in tags.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(out)
    return out


@pytest.fixture(scope="module")
def pydicom_cr():
    """The large pydicom-data CR pairs, each decoded once: name -> (array_wh, meta)."""
    names = ("RG1_J2KI.dcm", "RG1_UNCI.dcm", "RG3_J2KR.dcm", "RG3_UNCR.dcm")
    return {name: load_radiograph(_testdata(name), spacing_xy_mm=(0.2, 0.2)) for name in names}


# --- real files ------------------------------------------------------------------------------------------------


def test_dog_dx_is_transposed_inverted_and_keeps_anisotropic_spacing():
    array, meta = load_radiograph(DOG_DX)
    stored = pydicom.dcmread(DOG_DX).pixel_array  # (H, W) = (169, 211), 8 bits, MONOCHROME1
    assert array.shape == (211, 169) and array.dtype == np.float32
    np.testing.assert_array_equal(array, 255.0 - stored.T)  # inverted over the 8-bit range: bone bright
    np.testing.assert_allclose(meta["spacing_xy_mm"], (1.2012, 1.2))
    assert meta["spacing_source"] == "PixelSpacing"
    assert (meta["photometric"], meta["inverted"], meta["laterality"]) == ("MONOCHROME1", True, "L")
    assert meta["modality"] == "DX"
    assert meta["transfer_syntax"] == "Explicit VR Little Endian" and len(meta["source_uid_hash"]) == 16
    np.testing.assert_allclose(meta[MetaKeys.AFFINE], np.diag([1.2012, 1.2, 1.0, 1.0]))
    np.testing.assert_allclose(meta[MetaKeys.ORIGINAL_AFFINE], meta[MetaKeys.AFFINE])
    np.testing.assert_array_equal(meta[MetaKeys.SPATIAL_SHAPE], (211, 169))
    assert meta[MetaKeys.SPACE] == SpaceKeys.RAS


@pytest.mark.parametrize("path", CSPINE_CR, ids=lambda p: p.name)
def test_cspine_cr_applies_rescale_then_inverts(path):
    array, meta = load_radiograph(path)
    stored = pydicom.dcmread(path).pixel_array.astype(np.float64)  # 12 bits stored, slope 0.684, intercept 200
    low, high = 200.0, 200.0 + 0.684 * 4095  # the rescaled 12-bit range
    np.testing.assert_allclose(array, ((low + high) - (0.684 * stored + 200.0)).T, rtol=1e-6)
    assert meta["spacing_source"] == "ImagerPixelSpacing" and meta["inverted"]
    np.testing.assert_allclose(meta["spacing_xy_mm"], (0.1, 0.1))


@pytest.mark.parametrize(
    ("compressed", "uncompressed"), [("RG1_J2KI.dcm", "RG1_UNCI.dcm"), ("RG3_J2KR.dcm", "RG3_UNCR.dcm")]
)
def test_jpeg2000_cr_decodes_like_its_uncompressed_twin(pydicom_cr, compressed, uncompressed):
    (array_c, meta_c), (array_u, meta_u) = pydicom_cr[compressed], pydicom_cr[uncompressed]
    np.testing.assert_array_equal(array_c, array_u)
    assert meta_c["transfer_syntax"].startswith("JPEG 2000")
    assert meta_u["transfer_syntax"] == "Explicit VR Little Endian"
    assert meta_c["spacing_source"] == "caller"  # neither file has a usable spacing tag


def test_rg1_is_inverted_over_its_15_bit_range(pydicom_cr):
    array, meta = pydicom_cr["RG1_UNCI.dcm"]
    stored = pydicom.dcmread(_testdata("RG1_UNCI.dcm")).pixel_array
    assert array.shape == (1841, 1955)  # (W, H): Columns 1841, Rows 1955
    np.testing.assert_array_equal(array, (2**15 - 1) - stored.T.astype(np.float32))
    assert meta["inverted"] and meta["laterality"] == ""
    assert pydicom_cr["RG3_UNCR.dcm"][1]["laterality"] == "R"


@pytest.mark.parametrize("name", ["RG1_J2KI.dcm", "RG3_UNCI.dcm"])
def test_pydicom_cr_without_spacing_needs_a_caller_spacing(name):
    path = _testdata(name)
    with pytest.raises(InputError, match="no usable pixel spacing") as info:
        load_radiograph(path)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "compressed", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_RLE.dcm"]
)
def test_transfer_syntaxes_decode_identically(compressed):
    reference, _ = load_radiograph(_testdata("MR_small.dcm"))  # signed 16-bit MONOCHROME2 with PixelSpacing
    array, meta = load_radiograph(_testdata(compressed))
    np.testing.assert_array_equal(array, reference)
    assert meta["spacing_source"] == "PixelSpacing" and not meta["inverted"]


def test_jpeg_lossless_decodes():
    array, meta = load_radiograph(_testdata("JPGLosslessP14SV1_1s_1f_8b.dcm"), spacing_xy_mm=(0.3, 0.3))
    assert array.shape == (1024, 768) and meta["transfer_syntax"].startswith("JPEG Lossless")


# --- phantom files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transfer_syntax", ["explicit", "rle", "j2k"])
@pytest.mark.parametrize("monochrome1", [False, True])
def test_phantom_round_trip(tmp_path, transfer_syntax, monochrome1):
    path, pixels, _ = _phantom(
        tmp_path, spacing_xy_mm=(0.5, 0.4), monochrome1=monochrome1, transfer_syntax=transfer_syntax
    )
    array, meta = load_radiograph(path)
    np.testing.assert_array_equal(array, pixels.T)  # MONOCHROME1 inverted back: the phantom's bone-bright values
    np.testing.assert_allclose(meta["spacing_xy_mm"], (0.5, 0.4))
    assert meta["inverted"] is monochrome1 and meta["spacing_source"] == "PixelSpacing"


def test_imager_spacing_is_corrected_for_magnification(tmp_path):
    path, _, _ = _phantom(tmp_path, spacing_xy_mm=(0.5, 0.4), magnification=1.25)
    path = _rewrite(path, tmp_path / "no_pixel_spacing.dcm", PixelSpacing=None)
    _, meta = load_radiograph(path)
    np.testing.assert_allclose(meta["spacing_xy_mm"], (0.5, 0.4), rtol=1e-5)
    assert meta["spacing_source"] == "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"


def test_modality_lut_sequence_then_monochrome1_inversion(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    path, _, _ = _phantom(tmp_path, shape_hw=(6, 5), bits_stored=8, monochrome1=True)
    ds = pydicom.dcmread(path)
    lut = (np.arange(256) ** 2 // 16).astype(np.uint16)  # non-linear: not expressible as slope/intercept
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [256, 0, 16])
    item.add_new("LUTData", "US", lut.tolist())
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = Sequence([item])
    del ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType
    ds.save_as(tmp_path / "lut.dcm")
    array, _ = load_radiograph(tmp_path / "lut.dcm")
    stored = pydicom.dcmread(tmp_path / "lut.dcm").pixel_array
    np.testing.assert_array_equal(array, (int(lut.min()) + int(lut.max())) - lut[stored].T.astype(np.float32))


def test_caller_spacing_is_a_fallback_unless_forced(tmp_path):
    path, _, _ = _phantom(tmp_path, spacing_xy_mm=(0.5, 0.4))
    _, meta = load_radiograph(path, spacing_xy_mm=(0.1, 0.1))
    np.testing.assert_allclose(meta["spacing_xy_mm"], (0.5, 0.4))
    _, meta = load_radiograph(path, spacing_xy_mm=(0.1, 0.2), force_spacing=True)
    np.testing.assert_allclose(meta["spacing_xy_mm"], (0.1, 0.2))
    np.testing.assert_allclose(meta[MetaKeys.AFFINE], np.diag([0.1, 0.2, 1.0, 1.0]))
    assert meta["spacing_source"] == "caller"


def test_dtype_option(tmp_path):
    path, pixels, _ = _phantom(tmp_path)
    array, _ = load_radiograph(path, dtype=np.float64)
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array, pixels.T)
    with pytest.raises(ValueError, match=r"dtype must be a floating type or None .*got int16"):
        RadiographReader(dtype=np.int16)


def test_constructor_validates_spacing():
    with pytest.raises(ValueError, match="spacing_xy_mm must be two positive numbers"):
        RadiographReader(spacing_xy_mm=(0.2, 0.0))
    with pytest.raises(ValueError, match="force_spacing=True needs spacing_xy_mm"):
        RadiographReader(force_spacing=True)


def test_metadata_never_holds_identifying_values(tmp_path):
    path, _, patient = _phantom(tmp_path)
    ds = pydicom.dcmread(path)
    assert str(ds.PatientName) == patient.name  # the file does carry them
    _, meta = load_radiograph(path)
    assert set(META_KEYS) <= set(meta)
    image = LoadImage(reader=RadiographReader(), image_only=True)(path)
    no_spacing = _rewrite(path, tmp_path / "no_spacing.dcm", PixelSpacing=None, ImagerPixelSpacing=None)
    with pytest.raises(InputError) as info:
        load_radiograph(no_spacing)
    for text in (repr(meta), repr(image.meta), str(info.value)):
        for value in patient.identifying_values():
            assert value not in text


# --- colour, multi-frame, broken files -------------------------------------------------------------------------


def test_rgb_becomes_grey_with_a_warning(tmp_path):
    path, _, _ = _phantom(tmp_path, shape_hw=(6, 5))
    rgb = np.random.default_rng(1).integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    path = _rewrite(
        path,
        tmp_path / "rgb.dcm",
        SamplesPerPixel=3,
        PhotometricInterpretation="RGB",
        PlanarConfiguration=0,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelData=rgb.tobytes(),
    )
    with pytest.warns(UserWarning, match=r"colour image \(RGB\) converted to grey") as record:
        array, meta = load_radiograph(path)
    assert str(path) in str(record[0].message)
    np.testing.assert_allclose(array, (rgb @ np.array([0.299, 0.587, 0.114])).T, rtol=1e-6)
    assert meta["photometric"] == "RGB" and not meta["inverted"]


def test_ybr_and_palette_colour_become_grey():
    with pytest.warns(UserWarning, match=r"\(YBR_FULL\) converted to grey"):
        ybr, _ = load_radiograph(_testdata("SC_ybr_full_uncompressed.dcm"))
    with pytest.warns(UserWarning, match=r"\(RGB\) converted to grey"):
        rgb, _ = load_radiograph(_testdata("SC_rgb.dcm"))
    np.testing.assert_allclose(ybr, rgb, atol=4)  # the same picture, stored as YBR_FULL and as RGB
    with pytest.warns(UserWarning, match=r"\(PALETTE COLOR\) converted to grey"):
        palette, _ = load_radiograph(_testdata("examples_palette.dcm"), spacing_xy_mm=(1.0, 1.0))
    assert palette.shape == (800, 350)


def test_multi_frame_is_rejected(tmp_path):
    path, pixels, _ = _phantom(tmp_path, shape_hw=(6, 5))
    frame = pixels.astype(np.uint16).tobytes()
    path = _rewrite(path, tmp_path / "two_frames.dcm", NumberOfFrames=2, PixelData=frame + frame)
    with pytest.raises(InputError, match="2 frames; a projection radiograph has exactly one") as info:
        load_radiograph(path)
    assert str(info.value).startswith(f"{path}: ")


def test_unsupported_photometric_and_rescale(tmp_path):
    path, _, _ = _phantom(tmp_path, shape_hw=(6, 5))
    hsv = _rewrite(path, tmp_path / "hsv.dcm", PhotometricInterpretation="HSV")
    with pytest.raises(InputError, match="unsupported PhotometricInterpretation 'HSV'"):
        load_radiograph(hsv)
    flat = _rewrite(path, tmp_path / "flat.dcm", RescaleSlope="0")
    with pytest.raises(InputError, match="RescaleSlope 0.0 is not usable"):
        load_radiograph(flat)


def test_truncated_uncompressed_pixel_data(tmp_path):
    data = DOG_DX.read_bytes()
    path = tmp_path / "truncated.dcm"
    path.write_bytes(data[: len(data) - 5000])
    with pytest.raises(InputError, match="pixel data cannot be decoded .*less than expected") as info:
        load_radiograph(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_corrupt_jpeg2000_codestream(tmp_path):
    ds = pydicom.dcmread(_testdata("MR_small_jp2klossless.dcm"))
    data = bytearray(ds.PixelData)
    data[40:-40] = np.random.default_rng(0).integers(0, 256, len(data) - 80, dtype=np.uint8).tobytes()
    ds.PixelData = bytes(data)
    path = tmp_path / "garbled.dcm"
    ds.save_as(path)
    with pytest.raises(InputError, match=r"pixel data cannot be decoded \(JPEG 2000") as info:
        load_radiograph(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"P5\n2 2\n255\n\x00\x01\x02\x03", "not a DICOM file"),
        (b"\0" * 128 + b"DICM" + bytes(range(256)) * 8, r"not an image \(no Rows/Columns\)"),
    ],
)
def test_non_dicom_and_garbage(tmp_path, content, message):
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        load_radiograph(path)
    assert str(info.value).startswith(f"{path}: ")


def test_radiograph_array_is_rows_by_columns():
    ds = pydicom.dcmread(DOG_DX)
    assert radiograph_array(ds).shape == (169, 211)


# --- integer values kept (dtype=None) ----------------------------------------------------------------------------


@pytest.mark.parametrize("monochrome1", [False, True])
def test_native_dtype_keeps_the_stored_integers(tmp_path, monochrome1):
    path, pixels, _ = _phantom(tmp_path, monochrome1=monochrome1, transfer_syntax="j2k")
    floats, _ = load_radiograph(path)
    array, meta = load_radiograph(path, dtype=None)
    assert array.dtype == np.uint16 and array.shape == floats.shape == pixels.T.shape
    np.testing.assert_array_equal(array, floats)  # the same modality values, MONOCHROME1 inverted
    assert floats.flags.c_contiguous and not array.flags.c_contiguous  # a view: no transposing copy
    assert array.T.flags.c_contiguous and meta[MetaKeys.SPATIAL_SHAPE].tolist() == list(array.shape)
    ds = pydicom.dcmread(path)
    decoded = radiograph_array(ds, None)
    assert decoded.shape == pixels.shape and decoded.dtype == np.uint16
    assert (decoded.base is None) is monochrome1  # MONOCHROME2 with the identity rescale: pydicom's array itself
    with pytest.raises(ValueError, match="dtype must be a floating type or None, got int32"):
        radiograph_array(ds, np.int32)


@pytest.mark.parametrize(
    ("tags", "expected_dtype"),
    [
        ({"RescaleIntercept": "-1024"}, np.int16),  # integer rescale: an integer dtype that holds the values
        ({"RescaleSlope": "2", "RescaleIntercept": "70000"}, np.uint32),
        ({"RescaleSlope": "0.5"}, np.float32),  # fractional values: float32, never float64
    ],
)
def test_native_dtype_follows_the_rescale(tmp_path, tags, expected_dtype):
    path, _, _ = _phantom(tmp_path)
    path = _rewrite(path, tmp_path / "rescaled.dcm", **tags)
    floats, _ = load_radiograph(path, dtype=np.float64)
    array, _ = load_radiograph(path, dtype=None)
    assert array.dtype == expected_dtype
    np.testing.assert_array_equal(array, floats.astype(expected_dtype) if expected_dtype is np.float32 else floats)


@pytest.mark.parametrize("path", CSPINE_CR[:1], ids=lambda p: p.name)
def test_native_dtype_of_a_fractional_rescale_then_inversion(path):
    floats, _ = load_radiograph(path)
    array, _ = load_radiograph(path, dtype=None)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, floats)


def test_native_dtype_of_a_modality_lut_is_float32(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    path, _, _ = _phantom(tmp_path, shape_hw=(6, 5), bits_stored=8)
    ds = pydicom.dcmread(path)
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [256, 0, 16])
    item.add_new("LUTData", "US", (np.arange(256) ** 2 // 16).tolist())
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = Sequence([item])
    del ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType
    ds.save_as(tmp_path / "lut.dcm")
    array, _ = load_radiograph(tmp_path / "lut.dcm", dtype=None)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, load_radiograph(tmp_path / "lut.dcm")[0])


def test_rescale_runs_by_blocks_of_rows(tmp_path, monkeypatch):
    from hipmonai.readers import pixels as pixel_decoding

    monkeypatch.setattr(pixel_decoding, "_ROWS_PER_BLOCK", 7)  # blocks of 7 rows, the last one short
    path, pixels, _ = _phantom(tmp_path, shape_hw=(30, 11), monochrome1=True)
    path = _rewrite(path, tmp_path / "rescaled.dcm", RescaleSlope="0.25", RescaleIntercept="3")
    array, _ = load_radiograph(path, dtype=np.float64)
    low, high = 3.0, 3.0 + 0.25 * 4095
    stored = pydicom.dcmread(path).pixel_array.astype(np.float64)
    np.testing.assert_array_equal(array, ((low + high) - (0.25 * stored + 3.0)).T)


# --- the MONAI side --------------------------------------------------------------------------------------------


def test_verify_suffix(tmp_path):
    reader = RadiographReader()
    path, _, _ = _phantom(tmp_path, shape_hw=(4, 4))
    bare = tmp_path / "IM0001"
    bare.write_bytes(path.read_bytes())
    uid_named = tmp_path / "1.2.826.0.1.3680043.8.498.7"
    uid_named.write_bytes(path.read_bytes())
    text = tmp_path / "notes"
    text.write_text("not dicom")
    assert reader.verify_suffix("a.dcm") and reader.verify_suffix("B.DICOM") and reader.verify_suffix(Path("x.Dcm"))
    assert reader.verify_suffix(bare) and reader.verify_suffix(str(uid_named))
    assert reader.verify_suffix([path, bare])
    assert not reader.verify_suffix("image.png") and not reader.verify_suffix(text)
    assert not reader.verify_suffix(tmp_path / "missing") and not reader.verify_suffix([path, "image.png"])


def test_read_rejects_keyword_arguments(tmp_path):
    path, _, _ = _phantom(tmp_path, shape_hw=(4, 4))
    with pytest.raises(TypeError, match="takes no keyword arguments"):
        RadiographReader().read(path, force=True)


def test_load_imaged_gives_channel_first_metatensor(tmp_path):
    path, pixels, _ = _phantom(tmp_path, spacing_xy_mm=(0.5, 0.4), monochrome1=True, laterality="L")
    item = LoadImaged(keys="image", reader=RadiographReader(), ensure_channel_first=True)({"image": str(path)})
    image = item["image"]
    assert isinstance(image, MetaTensor) and image.shape == (1, 100, 80) and image.dtype == torch.float32
    np.testing.assert_array_equal(image[0].numpy(), pixels.T)
    np.testing.assert_allclose(image.affine.numpy(), np.diag([0.5, 0.4, 1.0, 1.0]))
    np.testing.assert_allclose(image.pixdim.numpy(), (0.5, 0.4))
    assert image.meta["laterality"] == "L" and image.meta["spacing_source"] == "PixelSpacing"
    assert image.meta["filename_or_obj"] == str(path)


def test_load_image_by_dotted_name_and_several_files(tmp_path):
    path_a, pixels_a, _ = _phantom(tmp_path, name="a.dcm", seed=1)
    path_b, pixels_b, _ = _phantom(tmp_path, name="b.dcm", seed=2)
    image = LoadImage(reader="hipmonai.readers.RadiographReader", image_only=True)([path_a, path_b])
    assert image.shape == (2, 100, 80)  # stacked as channels
    np.testing.assert_array_equal(image.numpy(), np.stack([pixels_a.T, pixels_b.T]))


def test_load_imaged_raises_the_input_error_for_missing_spacing(tmp_path):
    path, _, _ = _phantom(tmp_path)
    path = _rewrite(path, tmp_path / "no_spacing.dcm", PixelSpacing=None, ImagerPixelSpacing=None)
    with pytest.raises(InputError, match="no usable pixel spacing"):  # not silently read by another reader
        LoadImaged(keys="image", reader=RadiographReader())({"image": path})
    item = LoadImaged(keys="image", reader=RadiographReader(spacing_xy_mm=(0.3, 0.3)))({"image": path})
    np.testing.assert_allclose(item["image"].pixdim.numpy(), (0.3, 0.3))


def test_load_image_on_a_non_dicom_file_reports_our_reason(tmp_path):
    path = tmp_path / "bad.dcm"
    path.write_bytes(b"not dicom at all" * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # read() failing lets LoadImage try its other readers (MONAI's contract); our reason stays in the message
        with pytest.raises(RuntimeError, match="not a DICOM file"):
            LoadImage(reader=RadiographReader())(path)


@pytest.mark.parametrize(("spacing_xy_mm", "shape"), [((1.2, 1.2), (298, 238)), ((1.2, 0.8), (298, 159))])
def test_spacingd_resamples_in_mm(tmp_path, spacing_xy_mm, shape):
    pixels = np.zeros((80, 100))
    pixels[20, 50] = 4000  # row 20, column 50: (x, y) = (50, 20) px = (60, 20 * y_mm) mm
    rng = np.random.default_rng(0)
    path = write_dx(tmp_path / "marker.dcm", pixels, spacing_xy_mm, FakePatient.draw(rng))
    loaded = LoadImaged(keys="image", reader=RadiographReader(), ensure_channel_first=True)({"image": path})
    out = Spacingd(keys="image", pixdim=(0.4, 0.4))(loaded)["image"]
    # MONAI keeps the centres of the first and last pixels: (n - 1) * spacing / 0.4 + 1 samples per axis
    assert tuple(out.shape) == (1, *shape)
    np.testing.assert_allclose(out.affine.numpy(), np.diag([0.4, 0.4, 1.0, 1.0]), atol=1e-9)
    peak = np.unravel_index(int(torch.argmax(out[0])), out.shape[1:])
    expected = (round(50 * spacing_xy_mm[0] / 0.4), round(20 * spacing_xy_mm[1] / 0.4))
    assert tuple(int(i) for i in peak) == expected


def test_itk_reports_imager_pixel_spacing(tmp_path):
    """ITK (GDCM) reads only ImagerPixelSpacing: equal to ours when the magnification is 1."""
    itk = pytest.importorskip("itk")
    for magnification in (1.0, 1.1):
        path, pixels, _ = _phantom(
            tmp_path, name=f"m{magnification}.dcm", spacing_xy_mm=(0.5, 0.4), magnification=magnification,
            monochrome1=True,
        )  # fmt: skip
        image = itk.imread(str(path))
        array, meta = load_radiograph(path)
        np.testing.assert_allclose(tuple(image.GetSpacing())[:2], np.array((0.5, 0.4)) * magnification, rtol=1e-5)
        np.testing.assert_allclose(meta["spacing_xy_mm"], (0.5, 0.4))
        # ITK's (rows, cols) array, MONOCHROME1 inverted by GDCM too, is our (W, H) array transposed
        np.testing.assert_array_equal(np.squeeze(itk.array_from_image(image)).T, array)
