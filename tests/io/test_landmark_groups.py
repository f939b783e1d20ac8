from __future__ import annotations

import json

import pytest

from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import TARGETS, load_landmark_groups


def test_hip_model_matches_spec_curves():
    groups = load_landmark_groups("hip")
    assert groups.n_points == 80
    assert groups.target_names == TARGETS
    femur = [*range(10), 73, 10, 74, 11, 75, 12, 76, 77, 13, 78, *range(14, 29)]
    assert groups.curves["proximal_femur"] == femur
    assert groups.curves["femoral_head"] == [13, 78, *range(14, 22)]
    assert groups.curves["acetabular_roof"] == [61, 62, 63, 79, 64, 65, 66, 67]
    assert groups.curves["sourcil"] == [79, 64, 65, 66, 67]
    assert groups.curves["teardrop"] == list(range(68, 73))
    covered = {i for curve in groups.curves.values() for i in curve}
    assert covered == set(range(80))
    assert len(groups.targets["osteo_fem_sup"]) > 1 and len(groups.targets["osteo_fem_inf"]) > 1
    assert len(groups.targets["osteo_acet_sup"]) == 1 and len(groups.targets["osteo_acet_inf"]) == 1


def test_knee_model():
    groups = load_landmark_groups("knee")
    assert groups.n_points == 16
    assert groups.curves["tibia"] == list(range(9)) and groups.curves["femur"] == list(range(9, 16))
    assert groups.pck_landmarks == [0, 4, 8, 9, 12, 15]


def test_out_of_range_index_is_named(tmp_path):
    path = tmp_path / "groups.json"
    path.write_text(json.dumps({"knee": {"n_points": 16, "curves": {"tibia": [0, 16]}}}))
    with pytest.raises(InputError, match=r"indices \[16\] outside 0..15"):
        load_landmark_groups("knee", path)


def test_missing_model(tmp_path):
    path = tmp_path / "groups.json"
    path.write_text("{}")
    with pytest.raises(InputError, match="model 'hip'"):
        load_landmark_groups("hip", path)
