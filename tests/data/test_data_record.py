from __future__ import annotations

import numpy as np
import pytest

from hipmonai import InputError
from hipmonai.data import make_key, parse_key


def test_record_converts_dtypes_and_builds_key(make_record):
    record = make_record("S0001", "V01", "left", crop_offset_x=12.0)
    assert record.key == "S0001/V01/left"
    assert record.image.dtype == np.float32 and record.image.shape == (6, 5)
    assert record.landmarks.dtype == np.float32 and np.isnan(record.landmarks[-1]).all()
    assert record.grades.dtype == np.int8 and record.grades.tolist() == [0, 1, -1, 3]
    assert record.crop_offset_x == 12 and isinstance(record.crop_offset_x, int)
    assert record.pixel_spacing == (0.4, 0.5)
    assert record.scan_attrs()["flipped"] is True


def test_record_lesion_mask_accepts_bool_and_float_binary(make_record):
    mask = np.zeros((4, 6, 5), dtype=bool)
    mask[2, 1, 3] = True
    assert make_record(lesion_mask=mask).lesion_mask.dtype == np.uint8
    assert make_record(lesion_mask=mask.astype(np.float32)).lesion_mask[2, 1, 3] == 1


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"side": "R"}, "side must be one of"),
        ({"subject_id": "S1/V2"}, "cannot be used as a key part"),
        ({"visit": ".."}, "cannot be used as a key part"),
        ({"subject_id": ""}, "non-empty string"),
        ({"image": np.zeros((2, 3, 4))}, r"image must be a non-empty \(H, W\)"),
        ({"image": np.full((3, 3), np.nan)}, "NaN or infinite"),
        ({"landmarks": np.zeros((4, 3))}, r"landmarks must be \(N, 2\)"),
        ({"landmarks": np.full((4, 2), np.inf)}, "infinite"),
        ({"grades": np.array([0, 1, 2])}, r"grades must have shape \(4,\)"),
        ({"grades": np.array([0, 1, 4, 0])}, r"-1 \(unknown\) or 0..3, got \[0, 1, 4, 0\]"),
        ({"grades": np.array([0, -2, 0, 0])}, "got \\[0, -2, 0, 0\\]"),
        ({"grades": np.array([0, 1.5, 0, 0])}, "whole numbers"),
        ({"lesion_mask": np.zeros((4, 5, 6))}, r"lesion_mask must have shape \(4, 6, 5\)"),
        ({"lesion_mask": np.full((4, 6, 5), 255)}, "only 0 and 1, got \\[255\\]"),
        ({"pixel_spacing": (0.4,)}, "two positive"),
        ({"pixel_spacing": (0.4, 0.0)}, "two positive"),
        ({"crop_offset_y": 2.5}, "crop_offset_y must be a whole number"),
        ({"femoral_head_radius": -1.0}, "femoral_head_radius must be a positive"),
        ({"flipped": "yes"}, "flipped must be a bool"),
        ({"source_uid_hash": "1.2.840.10008.1"}, "source_uid_hash must be 8-64 lowercase hex"),
        ({"extra_attrs": {"PatientName": "Doe^John"}}, "patient-identifying"),
        ({"extra_attrs": {"patient_id": "123"}}, "patient-identifying"),
        ({"extra_attrs": {"flipped": True}}, "clash"),
        ({"extra_attrs": {"nested": [[1, 2]]}}, "cannot store list"),
    ],
)
def test_record_rejects_bad_values(make_record, overrides, message):
    with pytest.raises(InputError, match=message):
        make_record(**overrides)


def test_keys_round_trip_and_reject_malformed():
    assert parse_key(make_key("S 1", "V.00", "left")) == ("S 1", "V.00", "left")
    for bad in ("S1/V1", "S1/V1/up", "/V1/right", 7):
        with pytest.raises(InputError, match="key|side|non-empty"):
            parse_key(bad)
