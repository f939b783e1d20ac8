from __future__ import annotations

import os

import numpy as np
import pytest

import hipmonai.data.parts as parts_module
from hipmonai import InputError
from hipmonai.data import (
    completed_keys,
    iter_parts,
    key_from_part_name,
    load_part,
    part_name,
    remove_temp_files,
    save_part,
)


def test_part_round_trip_keeps_every_field(tmp_path, make_record):
    record = make_record("S0001", "V00", "left", lesion=True, extra_attrs={"spacing_source": "PixelSpacing"})
    path = save_part(tmp_path / "parts", record)
    assert path.name == "S0001%2FV00%2Fleft.npz"
    loaded = load_part(path)
    assert loaded.key == record.key
    np.testing.assert_array_equal(loaded.image, record.image)
    np.testing.assert_array_equal(loaded.landmarks, record.landmarks)  # NaN compares equal here
    np.testing.assert_array_equal(loaded.grades, record.grades)
    np.testing.assert_array_equal(loaded.lesion_mask, record.lesion_mask)
    assert loaded.scan_attrs() == record.scan_attrs()
    assert loaded.extra_attrs == {"spacing_source": "PixelSpacing"}
    assert list(tmp_path.joinpath("parts").iterdir()) == [path]


@pytest.mark.parametrize("key", ["S0001/V00/right", ".hidden/V.1/left", "S 1~x/V%20/right", "Sujet-é/v_1/left"])
def test_part_names_are_safe_and_reversible(key):
    name = part_name(key)
    assert "/" not in name and not name.startswith(".") and name.endswith(".npz")
    assert key_from_part_name(name) == key


def test_completed_keys_ignores_temp_files_and_folders(tmp_path, make_record):
    parts = tmp_path / "parts"
    assert completed_keys(parts) == set()
    save_part(parts, make_record("S0002", "V00", "right"))
    save_part(parts, make_record("S0001", "V00", "left"))
    (parts / f".{part_name('S0003/V00/right')}.tmp12345").write_bytes(b"PK\x03\x04 half a zip")
    (parts / "done").mkdir()
    (parts / "params.json").write_text("{}")
    assert completed_keys(parts) == {"S0001/V00/left", "S0002/V00/right"}
    assert [r.key for r in iter_parts(parts)] == ["S0001/V00/left", "S0002/V00/right"]
    assert remove_temp_files(parts) == 1
    assert sorted(p.name for p in parts.iterdir()) == ["S0001%2FV00%2Fleft.npz", "S0002%2FV00%2Fright.npz",
                                                       "done", "params.json"]


def test_crash_mid_write_leaves_no_part(tmp_path, make_record, monkeypatch):
    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 partial")
        raise MemoryError("simulated crash")

    monkeypatch.setattr(parts_module.np, "savez_compressed", crash)
    with pytest.raises(MemoryError):
        save_part(tmp_path, make_record())
    assert list(tmp_path.iterdir()) == []
    assert completed_keys(tmp_path) == set()


def test_killed_worker_temp_file_is_never_a_part(tmp_path, make_record):
    """A worker killed by a signal cannot clean up: its temp file stays, but is invisible."""
    pid = os.fork()
    if pid == 0:  # child: write the temp file, then die before the rename
        try:
            with parts_module.atomic_path(tmp_path / part_name("S0001/V00/right")) as tmp:
                tmp.write_bytes(b"PK\x03\x04 partial")
                os._exit(0)
        finally:
            os._exit(1)
    os.waitpid(pid, 0)
    assert [p.name for p in tmp_path.iterdir()] == [f".S0001%2FV00%2Fright.npz.tmp{pid}"]
    assert completed_keys(tmp_path) == set()


def test_load_part_rejects_broken_and_foreign_files(tmp_path, make_record):
    path = save_part(tmp_path, make_record())
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="not a readable hipmonai part file"):
        load_part(path)
    foreign = tmp_path / "S0009%2FV00%2Fright.npz"
    np.savez(foreign, meta=np.array('{"format": "other"}'))
    with pytest.raises(InputError, match="not a hipmonai part file"):
        load_part(foreign)
    (tmp_path / "notes.npz").write_bytes(b"")
    with pytest.raises(InputError, match="notes.npz.*not a part file name"):
        completed_keys(tmp_path)
