"""One writer per store (:func:`store_write_lock`), full-disk errors recognised (:func:`is_disk_full`), and stores of
disjoint subjects merged (:func:`merge_stores`)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from hipmonai import InputError
from hipmonai.data import HipStore, write_store
from hipmonai.data.store import is_disk_full, lock_path, merge_stores, store_write_lock, write_store_isolated


@pytest.mark.parametrize(
    ("error", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OSError("Can't write data (file write failed: ..., errno = 28, error message = 'No space left on device')"),
         True),
        (RuntimeError("Can't decrement id ref count (unable to close file, errno = 28)"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (ValueError("errno = 280 is not a disk error"), False),
    ],
)
def test_is_disk_full(error, full):
    assert is_disk_full(error) is full


def test_is_disk_full_looks_through_causes_and_contexts():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("closing the file failed") from None
    except RuntimeError as err:
        wrapped = err
    assert wrapped.__cause__ is None and is_disk_full(wrapped)  # __context__ is kept although not shown


# a process whose files may not grow past 300 kB: HDF5's writes fail (EFBIG) as they do on a full disk
_FAILING_WRITE = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, resource.RLIM_INFINITY))
sys.path.insert(0, sys.argv[2])
from conftest import cohort_records
from hipmonai.data.store import write_store_isolated
try:
    write_store_isolated(sys.argv[1], cohort_records(40, shape_hw=(224, 224)))
except Exception as err:
    print(type(err).__name__, "|", err)
"""


def test_a_failed_hdf5_write_neither_crashes_nor_floods_the_writing_process(tmp_path):
    result = subprocess.run([sys.executable, "-c", _FAILING_WRITE, str(tmp_path / "x.h5"), os.path.dirname(__file__)],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]  # written in-process, HDF5 crashes: status 135 or 139
    assert result.stdout.startswith("HipmonaiError | ") and "writing the store failed" in result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_isolated_write_reports_a_full_disk_as_enospc(tmp_path, monkeypatch, make_cohort):
    real = h5py.Group.create_dataset
    calls = []

    def fills_the_disk(self, *args, **kwargs):
        calls.append(1)  # counted in the child process
        if len(calls) > 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", fills_the_disk)
    with pytest.raises(OSError) as info:
        write_store_isolated(tmp_path / "x.h5", make_cohort(5))
    assert info.value.errno == errno.ENOSPC and is_disk_full(info.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="no records"):
        write_store_isolated(tmp_path / "x.h5", [])


def test_second_writer_is_refused_with_the_holders_pid_and_command(tmp_path):
    out = tmp_path / "sub" / "hip.h5"
    with store_write_lock(out, "hipmonai merge") as lock:
        assert lock == lock_path(out) and lock.read_text().split("\n")[:2] == [str(os.getpid()), "hipmonai merge"]
        with pytest.raises(InputError) as info, store_write_lock(out, "hipmonai preprocess"):
            pass
        assert str(info.value) == f"{out} is being written by another hipmonai merge (pid {os.getpid()})"
    assert not lock_path(out).exists()
    with store_write_lock(out, "hipmonai preprocess"):  # free again
        pass


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    out = tmp_path / "hip.h5"
    code = ("import sys, time; from hipmonai.data.store import store_write_lock\n"
            "with store_write_lock(sys.argv[1], 'hipmonai preprocess'):\n"
            "    print('locked', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match=rf"another hipmonai preprocess \(pid {holder.pid}\)"), \
                store_write_lock(out, "hipmonai preprocess"):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock_path(out).exists()  # left behind by the killed holder, holding its pid
    deadline = time.monotonic() + 10
    with store_write_lock(out, "hipmonai preprocess"):
        assert time.monotonic() < deadline


def test_merge_stores_equals_one_write(tmp_path, make_cohort):
    records = list(make_cohort(6, seed=3))
    attrs = {"created_by": "tests", "spacing_mm": 0.4}
    whole = write_store(tmp_path / "whole.h5", records, attrs=attrs)
    subjects = sorted({r.subject_id for r in records})
    halves = [set(subjects[::2]), set(subjects[1::2])]
    parts = [write_store(tmp_path / f"part{i}.h5", [r for r in records if r.subject_id in half],
                         attrs={**attrs, "shard": f"{i}/2"}) for i, half in enumerate(halves)]
    merged = merge_stores(parts[::-1], tmp_path / "merged.h5", drop_attrs=("shard",))
    a, b = HipStore(whole), HipStore(merged)
    assert a.keys() == b.keys()
    assert {k: v for k, v in a.attrs.items() if k != "created_utc"} == \
        {k: v for k, v in b.attrs.items() if k != "created_utc"}
    for key in a:
        for name, value in a[key].items():
            np.testing.assert_array_equal(b[key][name], value, err_msg=f"{key} {name}")
    with h5py.File(whole) as f, h5py.File(merged) as g:
        assert "shard" not in g.attrs and list(f["scans"]) == list(g["scans"])


def test_merge_stores_refuses_other_attributes_and_shared_subjects(tmp_path, make_record):
    a = write_store(tmp_path / "a.h5", [make_record("S1")], attrs={"spacing_mm": 0.4})
    b = write_store(tmp_path / "b.h5", [make_record("S2")], attrs={"spacing_mm": 0.5})
    c = write_store(tmp_path / "c.h5", [make_record("S1", visit="V01")], attrs={"spacing_mm": 0.4})
    with pytest.raises(InputError, match="differ in root attribute 'spacing_mm'"):
        merge_stores([a, b], tmp_path / "out.h5")
    with pytest.raises(InputError, match=r"subject 'S1' is in both .*a\.h5 and .*c\.h5"):
        merge_stores([a, c], tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()
