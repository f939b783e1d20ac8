"""The tiny phantom datasets the bundle tests train on, built once per session from the session cohorts; treat them
as read-only (runs write their checkpoints and outputs into their own temporary folders)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_hip_store(hip_cohort, tmp_path_factory) -> Path:
    """The session hip cohort preprocessed at 1.4 mm / 64 px (the field of view of 224 px at 0.4 mm)."""
    from hipmonai.preprocessing import preprocess_cohort

    store = tmp_path_factory.mktemp("tiny_hip_store") / "tiny.h5"
    preprocess_cohort(hip_cohort / "dicom", hip_cohort / "landmarks", hip_cohort / "grades.csv", store,
                      spacing_mm=1.4, crop_px=64, workers=1, lesions_dir=hip_cohort / "lesions", progress=False)
    return store


@pytest.fixture(scope="session")
def tiny_manifest(tiny_hip_store, tmp_path_factory) -> Path:
    """The osteophyte bundles' datalist: :func:`tiny_hip_store` split by subject (seed 0)."""
    from hipmonai.data import make_datalist, write_manifest

    return write_manifest(tmp_path_factory.mktemp("tiny_manifest") / "manifest.json",
                          make_datalist(tiny_hip_store, seed=0))


@pytest.fixture(scope="session")
def pelvis_dir(hip_cohort, tmp_path_factory) -> Path:
    """hip_landmark_labelaug's dataset_dir: the session hip cohort as a 48 px pelvis landmark cache."""
    from hipmonai.data.pelvis import prepare_pelvis_data

    out = tmp_path_factory.mktemp("tiny_pelvis")
    prepare_pelvis_data(hip_cohort / "dicom", hip_cohort / "landmarks", out, size_px=48, progress=False)
    return out


@pytest.fixture(scope="session")
def knee_data(tmp_path_factory) -> Path:
    """knee_landmark_kneel's dataset_dir: a 4-subject knee cohort prepared at 4 mm (ROI, 48 x 80 px) and 3 mm
    (landmarks), through ``hipmonai knee prepare``."""
    import argparse

    from hipmonai.cli import knee as knee_cli
    from hipmonai.phantoms import generate_knee_cohort

    root = tmp_path_factory.mktemp("tiny_knee")
    cohort = root / "cohort"
    generate_knee_cohort(cohort, n_subjects=4, seed=5, workers=1, progress=False)
    cli = argparse.ArgumentParser(prog="hipmonai")
    knee_cli.add_parser(cli.add_subparsers(dest="command"))
    args = cli.parse_args(["knee", "prepare", "--dicom", str(cohort / "dicom"), "--landmarks",
                           str(cohort / "landmarks"), "--grades", str(cohort / "grades.csv"),
                           "--out", str(root / "data"), "--roi-spacing", "4", "--roi-size", "48", "80",
                           "--spacing", "3", "--quiet"])
    assert args.func(args) == 0
    return root / "data"


@pytest.fixture(scope="session")
def training_input_error():
    """``training_input_error(workflow) -> str``: initialise and run a bundle ``ConfigWorkflow`` that must stop on an
    :class:`hipmonai.errors.InputError` before training (MONAI may wrap it); returns the error's message."""
    from hipmonai.errors import input_error_cause

    def run(workflow) -> str:
        workflow.initialize()
        with pytest.raises((RuntimeError, ValueError)) as info:  # MONAI wraps it in RuntimeErrors
            workflow.run()
        cause = input_error_cause(info.value)
        assert cause is not None, f"not an InputError: {info.value!r}"
        return str(cause)

    return run


@pytest.fixture(scope="session")
def rewrite_manifest():
    """``rewrite_manifest(source, target_dir, training=[])``: a copy of a landmark manifest (pelvis.json, roi.json,
    ...) in ``target_dir`` under its name, its relative paths made absolute and the given split lists replaced."""
    return _rewrite_landmark_manifest


def _rewrite_landmark_manifest(source: Path, target_dir: Path, **splits: list) -> Path:
    import json
    import os

    manifest = json.loads(source.read_text())
    base = source.resolve().parent
    for name in ("training", "validation", "test"):
        manifest[name] = [{**item, **{f: os.path.normpath(base / item[f]) for f in ("h5", "dicom", "pts")
                                      if f in item}} for item in manifest[name]]
    if isinstance(manifest.get("dicom_dir"), str):
        manifest["dicom_dir"] = os.path.normpath(base / manifest["dicom_dir"])
    manifest.update(splits)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / source.name
    target.write_text(json.dumps(manifest))
    return target
