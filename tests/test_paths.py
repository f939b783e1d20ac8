"""The packaged data (``hipmonai.configs``, ``hipmonai.bundles``) is found through ``importlib.resources``."""

from __future__ import annotations

import json

import pytest

from hipmonai.errors import HipmonaiError, InputError
from hipmonai.paths import ENV_CONFIG_DIR, bundle_names, bundle_template_dir, bundle_templates_dir, config_dir

BUNDLES = ("hip_landmark_labelaug", "hip_osteophyte_grading", "hip_osteophyte_prior", "knee_landmark_kneel")


def test_config_dir_holds_the_shared_configs(monkeypatch):
    monkeypatch.delenv(ENV_CONFIG_DIR, raising=False)
    folder = config_dir()
    for name in ("landmark_groups.json", "preprocessing.json"):
        assert json.loads((folder / name).read_text(encoding="utf-8"))


def test_config_dir_override(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_CONFIG_DIR, str(tmp_path))
    assert config_dir() == tmp_path
    monkeypatch.setenv(ENV_CONFIG_DIR, str(tmp_path / "missing"))
    with pytest.raises(HipmonaiError, match="missing"):
        config_dir()


def test_every_bundle_template_is_packaged():
    assert bundle_names() == BUNDLES
    for name in BUNDLES:
        folder = bundle_template_dir(name)
        assert folder == bundle_templates_dir() / name
        assert (folder / "configs" / "metadata.json").is_file() and (folder / "LICENSE").is_file()
        assert (folder / "docs" / "README.md").is_file()


def test_unknown_bundle_names_the_known_ones():
    with pytest.raises(InputError, match="unknown bundle 'nope'.*hip_landmark_labelaug.*knee_landmark_kneel"):
        bundle_template_dir("nope")
