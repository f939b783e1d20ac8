"""Ablations of KNEEL (Tiulpin et al. 2019) Table 1 via the knee_landmark_kneel bundle
(hipmonai.experiments.kneel_ablation) on a 4-subject knee phantom cohort, one epoch per arm with a width-4,
depth-2 network."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from hipmonai.errors import InputError
from hipmonai.paths import bundle_template_dir

BUNDLE = bundle_template_dir("knee_landmark_kneel")
TINY = {"width": 4, "depth": 2, "batch_size": 2, "max_epochs": 1, "num_workers": 0}


@pytest.fixture(scope="module")
def knee_data(tmp_path_factory) -> Path:
    from hipmonai.data.knee import prepare_knee_data
    from hipmonai.phantoms import generate_knee_cohort

    root = tmp_path_factory.mktemp("kneel_ablation")
    generate_knee_cohort(root / "cohort", n_subjects=4, seed=11, workers=1, progress=False)
    cohort = root / "cohort"
    prepare_knee_data(cohort / "dicom", cohort / "landmarks", root / "data", grades_csv=cohort / "grades.csv",
                      roi_spacing_mm=4.0, roi_size_px=(48, 80),
                      landmark_spacing_mm=3.0, crop_mm=140.0, seed=0)
    return root / "data"


def test_arms_cover_table1_factors():
    from hipmonai.experiments.kneel_ablation import ARMS

    assert ARMS["l2"]["loss"]["_target_"] == "torch.nn.MSELoss" and ARMS["l1"]["loss"]["_target_"] == "torch.nn.L1Loss"
    assert ARMS["wing"]["use_mixup"] is False and ARMS["wing_mixup"]["use_mixup"] is True
    assert ARMS["wing_mixup"]["cutout_prob"] == 0.0 and "cutout_prob" not in ARMS["wing_mixup_cutout"]
    assert ARMS["wing_mixup_released"] == {**ARMS["wing_mixup"], "mixup_weight_by": "released_code"}
    assert ARMS["wing_mixup_cutout"]["init_from_roi"] is False and ARMS["wing_mixup_cutout_roi_init"]["init_from_roi"]


def test_ablation_trains_roi_once_and_writes_one_table(knee_data, tmp_path):
    from hipmonai.cli import knee as knee_cli

    cli = argparse.ArgumentParser(prog="hipmonai")
    knee_cli.add_parser(cli.add_subparsers(dest="command"))
    overrides = {**TINY, "dataset_dir": str(knee_data)}
    args = cli.parse_args(["knee", "ablation", "--out", str(tmp_path), "--arms", "l1", "wing_mixup_cutout_roi_init",
                           "--split", "validation", "--set", *[f"{k}={json.dumps(v)}" for k, v in overrides.items()]])
    assert args.func(args) == 0
    rows = json.loads((tmp_path / "ablation.json").read_text())
    assert [r["arm"] for r in rows] == ["l1", "wing_mixup_cutout_roi_init"]
    assert all(r["n_knees"] == 2 and r["best_epoch"] == 1 and set(r["pck"]) == {"1.0", "1.5", "2.0", "2.5"}
               for r in rows)
    assert (tmp_path / "roi" / "model_roi.pt").is_file() and (tmp_path / "l1" / "errors_mm.npy").is_file()
    assert (tmp_path / "cumulative_errors.png").read_bytes().startswith(b"\x89PNG")
    table = (tmp_path / "ablation.md").read_text()
    assert "L1 loss" in table and "initialised from the ROI model" in table and "0, 8, 9, 15" in table

    from hipmonai.experiments.kneel_ablation import run_kneel_ablation

    reused = run_kneel_ablation(BUNDLE, ["configs/train.json"], tmp_path / "again", arms=["l1"],
                                overrides=overrides, split="validation", reuse={"l1": rows[0]["checkpoint"]})
    # the arm's run.json beside the checkpoint carries its best epoch and time into the new table
    assert reused[0]["pck"] == rows[0]["pck"] and reused[0]["best_epoch"] == 1
    (tmp_path / "l1" / "run.json").unlink()
    reused = run_kneel_ablation(BUNDLE, ["configs/train.json"], tmp_path / "again", arms=["l1"],
                                overrides=overrides, split="validation", reuse={"l1": rows[0]["checkpoint"]})
    assert reused[0]["best_epoch"] is None and "reused" in (tmp_path / "again" / "ablation.md").read_text()


def test_ablation_resumes_finished_arms(knee_data, tmp_path, monkeypatch):
    """An interrupted ablation goes on where it stopped: finished arms (run.json) are evaluated, not retrained."""
    from hipmonai.experiments import bundle, kneel_ablation

    overrides = {**TINY, "dataset_dir": str(knee_data)}
    first = kneel_ablation.run_kneel_ablation(BUNDLE, ["configs/train.json"], tmp_path, arms=["l1"],
                                              overrides=overrides, split="validation")

    def no_training(*args, **kwargs):
        raise AssertionError("a finished arm was trained again")

    monkeypatch.setattr(bundle, "train_bundle", no_training)
    again = kneel_ablation.run_kneel_ablation(BUNDLE, ["configs/train.json"], tmp_path, arms=["l1"],
                                              overrides=overrides, split="validation")
    assert again[0]["pck"] == first[0]["pck"] and again[0]["seconds"] == first[0]["seconds"]
    with pytest.raises(AssertionError, match="trained again"):
        kneel_ablation.run_kneel_ablation(BUNDLE, ["configs/train.json"], tmp_path, arms=["l1"],
                                          overrides=overrides, split="validation", resume=False)


def test_ablation_rejects_unknown_arms(tmp_path):
    from hipmonai.experiments.kneel_ablation import run_kneel_ablation

    with pytest.raises(InputError, match="unknown ablation arms \\['dropout'\\]"):
        run_kneel_ablation(BUNDLE, ["configs/train.json"], tmp_path, arms=["dropout"])
    with pytest.raises(InputError, match="reused arms \\['l2'\\]"):
        run_kneel_ablation(BUNDLE, ["configs/train.json"], tmp_path, arms=["l1"], reuse={"l2": "x.pt"})
    with pytest.raises(InputError, match="x.pt: checkpoint to reuse for arm 'l1' not found"):
        run_kneel_ablation(BUNDLE, ["configs/train.json"], tmp_path, arms=["l1"], reuse={"l1": "x.pt"})
