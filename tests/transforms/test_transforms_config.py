from __future__ import annotations

import json

import pytest

from hipmonai import InputError
from hipmonai.transforms import PreprocessingConfig, load_preprocessing_config

VALID = {
    "_description": "test",
    "spacing_mm": [0.3, 0.5],
    "crop_px": 128,
    "percentiles": {"lower": 2.0, "upper": 98.0, "clip": True},
    "radius_range_mm": [12, 30],
}


def test_repository_defaults_are_the_documented_ones():
    config = load_preprocessing_config()
    assert config == PreprocessingConfig(
        spacing_mm=(0.4, 0.4),
        crop_px=224,
        percentiles=(5.0, 95.0),
        clip_intensity=False,
        radius_range_mm=(10.0, 40.0),
    )


def test_a_config_file_can_be_passed_and_via_the_environment(tmp_path, monkeypatch):
    (tmp_path / "preprocessing.json").write_text(json.dumps(VALID), encoding="utf-8")
    expected = PreprocessingConfig((0.3, 0.5), 128, (2.0, 98.0), True, (12.0, 30.0))
    assert load_preprocessing_config(tmp_path / "preprocessing.json") == expected
    monkeypatch.setenv("HIPMONAI_CONFIG_DIR", str(tmp_path))
    assert load_preprocessing_config() == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"spacing_mm": -0.4}, r"spacing_mm must be one positive number.*-0.4"),
        ({"spacing_mm": [0.4, 0.4, 1.0]}, r"spacing_mm .*\[0.4, 0.4, 1.0\]"),
        ({"crop_px": 22.4}, r"crop_px must be a positive integer, got 22.4"),
        ({"percentiles": {"lower": 95, "upper": 5, "clip": False}}, r"percentiles must be an increasing pair.*95"),
        ({"percentiles": {"lower": 5, "upper": 95, "clip": "no"}}, r"percentiles.clip must be true or false, got 'no'"),
        ({"radius_range_mm": [40, 10]}, r"radius_range_mm must be an increasing pair.*\[40, 10\]"),
        ({"crop_px": None}, r"crop_px must be a positive integer, got None"),
    ],
)
def test_invalid_values_name_file_key_and_value(tmp_path, change, message):
    path = tmp_path / "preprocessing.json"
    path.write_text(json.dumps({**VALID, **change}), encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        load_preprocessing_config(path)
    assert str(path) in str(info.value)


def test_missing_key_and_missing_file(tmp_path):
    path = tmp_path / "preprocessing.json"
    path.write_text(json.dumps({k: v for k, v in VALID.items() if k != "crop_px"}), encoding="utf-8")
    with pytest.raises(InputError, match="missing key 'crop_px'"):
        load_preprocessing_config(path)
    with pytest.raises(InputError, match="cannot load preprocessing defaults"):
        load_preprocessing_config(tmp_path / "absent.json")
