from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest

from hipmonai import InputError, __version__
from hipmonai.data import HipStore, iter_parts, save_part, write_store
from hipmonai.io.landmark_groups import TARGETS


def test_records_to_parts_to_store_round_trip(tmp_path, make_record):
    records = [
        make_record("S0002", "V00", "right", seed=1),
        make_record("S0001", "V01", "left", lesion=True, seed=2, extra_attrs={"spacing_source": "PixelSpacing"}),
        make_record("S0001", "V00", "right", seed=3, grades=(-1, -1, -1, -1)),
    ]
    for record in records:
        save_part(tmp_path / "parts", record)
    path = write_store(tmp_path / "out" / "cohort.h5", iter_parts(tmp_path / "parts"),
                       attrs={"created_by": "hipmonai preprocess", "spacing_mm": 0.4, "crop_px": 224,
                              "landmark_model": "bonefinder-hip-80"})
    assert sorted(p.name for p in path.parent.iterdir()) == ["cohort.h5"]

    store = HipStore(path)
    assert len(store) == 3
    assert store.keys() == ["S0001/V00/right", "S0001/V01/left", "S0002/V00/right"]
    assert store.subjects() == ["S0001", "S0002"]
    assert "S0002/V00/right" in store and "S0002/V00/left" not in store
    attrs = store.attrs
    assert attrs["format"] == "hipmonai-store" and attrs["hipmonai_version"] == __version__
    assert attrs["target_names"] == list(TARGETS) and attrs["n_scans"] == 3 and attrs["n_landmarks"] == 4
    assert attrs["created_by"] == "hipmonai preprocess" and attrs["crop_px"] == 224
    assert attrs["image_axes"] == "HW"

    for record in records:
        scan = store[record.key]
        assert (scan["subject_id"], scan["visit"], scan["side"]) == (record.subject_id, record.visit, record.side)
        np.testing.assert_array_equal(scan["image"], record.image)
        assert scan["image"].dtype == np.float32 and scan["grades"].dtype == np.int8
        np.testing.assert_array_equal(scan["landmarks"], record.landmarks)
        np.testing.assert_array_equal(scan["grades"], record.grades)
        np.testing.assert_allclose(scan["pixel_spacing"], (0.4, 0.5))
        assert scan["flipped"] is record.flipped and scan["source_uid_hash"] == record.source_uid_hash
        assert (scan["crop_offset_x"], scan["crop_offset_y"], scan["femoral_head_radius"]) == (120, -3, 21.5)
        assert ("lesion_mask" in scan) == (record.lesion_mask is not None)
        assert store.record(record.key).scan_attrs() == record.scan_attrs()
    np.testing.assert_array_equal(store["S0001/V01/left"]["lesion_mask"], records[1].lesion_mask)
    assert store["S0001/V01/left"]["spacing_source"] == "PixelSpacing"
    np.testing.assert_array_equal(store.grades("S0001/V00/right"), [-1, -1, -1, -1])
    store.close()


def test_layout_matches_spec(tmp_path, make_record):
    path = write_store(tmp_path / "c.h5", [make_record("S0001", "V00", "left", lesion=True)])
    with h5py.File(path, "r") as h5:
        group = h5["/scans/S0001/V00/left"]
        assert sorted(group) == ["grades", "image", "landmarks", "lesion_mask"]
        image = group["image"]
        assert image.shape == (6, 5) and image.dtype == np.float32 and image.compression == "gzip"
        assert set(image.attrs) == {"pixel_spacing", "crop_offset_x", "crop_offset_y", "femoral_head_radius",
                                    "flipped", "source_uid_hash"}
        assert group["landmarks"].shape == (4, 2) and group["grades"].dtype == np.int8
        assert group["lesion_mask"].shape == (4, 6, 5) and group["lesion_mask"].dtype == np.uint8


@pytest.mark.parametrize("compression", ["lzf", None])
def test_compression_option_reaches_the_datasets(tmp_path, make_record, compression):
    path = write_store(tmp_path / "c.h5", [make_record()], compression=compression)
    with h5py.File(path, "r") as h5:
        assert h5["/scans/S0001/V00/right/image"].compression == compression
    np.testing.assert_array_equal(HipStore(path)["S0001/V00/right"]["image"], make_record().image)


def test_crash_in_records_iterator_leaves_nothing(tmp_path, make_record):
    def records():
        yield make_record("S0001")
        yield make_record("S0002")
        raise RuntimeError("worker died")

    target = tmp_path / "cohort.h5"
    with pytest.raises(RuntimeError, match="worker died"):
        write_store(target, records())
    assert list(tmp_path.iterdir()) == []

    write_store(target, [make_record("S0009")])
    with pytest.raises(RuntimeError):
        write_store(target, records())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.h5"]
    assert HipStore(target).keys() == ["S0009/V00/right"]  # the previous store is untouched


@pytest.mark.parametrize(
    "records, attrs, message",
    [
        (lambda r: [r("S0001"), r("S0002"), r("S0001")], None, "duplicate scan key 'S0001/V00/right'"),
        (lambda r: [r("S0001"), r("S0002", n_points=5)], None, "S0002/V00/right has 5 landmarks but S0001"),
        (lambda r: [], None, "no records"),
        (lambda r: [r()], {"PatientBirthDate": "19500101"}, "patient-identifying"),
        (lambda r: [r()], {"InstitutionName": "General"}, "patient-identifying"),
        (lambda r: [r()], {"n_scans": 3}, "set by write_store"),
        (lambda r: [r()], {"model": None}, "cannot store NoneType"),
    ],
)
def test_write_store_refuses(tmp_path, make_record, records, attrs, message):
    with pytest.raises(InputError, match=message):
        write_store(tmp_path / "c.h5", records(make_record), attrs=attrs)
    assert list(tmp_path.iterdir()) == []


def test_hipstore_errors(tmp_path, make_record):
    with pytest.raises(InputError, match="missing.h5: HDF5 store not found"):
        HipStore(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="text.h5: not a readable HDF5 file"):
        HipStore(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["data"] = np.zeros(3)
    with pytest.raises(InputError, match="not a hipmonai store"):
        HipStore(tmp_path / "other.h5")
    store = HipStore(write_store(tmp_path / "c.h5", [make_record()]))
    with pytest.raises(InputError, match="no scan 'S0001/V00/left'"):
        store["S0001/V00/left"]


def test_hipstore_pickles_without_handle_and_reopens_after_fork(tmp_path, make_record):
    store = HipStore(write_store(tmp_path / "c.h5", [make_record(seed=5)]))
    expected = store["S0001/V00/right"]["image"]  # the parent now holds an open handle
    clone = pickle.loads(pickle.dumps(store))
    assert clone._file is None
    np.testing.assert_array_equal(clone["S0001/V00/right"]["image"], expected)

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must never return into pytest
        try:
            ok = np.array_equal(store["S0001/V00/right"]["image"], expected) and store._pid == os.getpid()
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    os.close(read)
    assert store._pid == os.getpid()
