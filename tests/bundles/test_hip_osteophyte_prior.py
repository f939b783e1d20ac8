"""The hip_osteophyte_prior bundle: config properties, metadata, README agreement, and tiny end-to-end runs
(train, evaluate, infer, report, grid, repeats) on the 6-subject phantom cohort at 64 px with a 1/8-width network."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from hipmonai.io import TARGETS
from hipmonai.paths import bundle_template_dir

BUNDLE = bundle_template_dir("hip_osteophyte_prior")
CONFIGS = BUNDLE / "configs"
TRAIN = [str(CONFIGS / "train.json")]
TINY = {"image_size_px": 64, "widen_factor": 0.125, "batch_size": 4, "max_epochs": 1, "num_workers": 0}
#: the settings a checkpoint of TINY on the tiny store (1.4 mm, 64 px crops) records
TRAINED = {"image_size_px": 64, "spacing_mm": 1.4, "widen_factor": 0.125, "target_names": list(TARGETS)}


def _workflow(files, workflow_type, **overrides):
    from monai.bundle import ConfigWorkflow

    return ConfigWorkflow(config_file=[str(f) for f in files], meta_file=str(CONFIGS / "metadata.json"),
                          logging_file=str(CONFIGS / "logging.conf"), workflow_type=workflow_type,
                          bundle_root=str(BUNDLE), **overrides)




@pytest.mark.parametrize("files, workflow_type", [
    (TRAIN, "train"),
    ([*TRAIN, str(CONFIGS / "demo.json")], "train"),
    ([*TRAIN, str(CONFIGS / "evaluate.json")], "train"),
    ([str(CONFIGS / "inference.json")], "inference"),
])
def test_workflow_properties_are_complete(files, workflow_type, tiny_manifest, tmp_path):
    from hipmonai.networks import ResNet18CAM, save_checkpoint

    # inference reads widen_factor from the checkpoint, so it needs one that records it
    checkpoint = save_checkpoint(ResNet18CAM(num_classes=4, widen_factor=0.125), tmp_path / "model.pt",
                                 TRAINED)
    # training checks the tiny store (64 px at 1.4 mm) against image_size_px and its hips against batch_size
    tiny = {k: TINY[k] for k in ("image_size_px", "batch_size")} if workflow_type == "train" else {}
    workflow = _workflow(files, workflow_type, datalist=str(tiny_manifest), num_workers=0, ckpt_path=str(checkpoint),
                         **tiny)
    workflow.initialize()
    assert workflow.check_properties() == []


def test_required_ids_and_paper_defaults():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(TRAIN)
    for key in ("bundle_root", "dataset_dir", "output_dir", "device", "network_def", "train#trainer",
                "train#handlers", "train#dataset#data", "validate#evaluator", "validate#handlers", "val_interval",
                "train#key_metric", "validate#key_metric", "train#preprocessing", "train#postprocessing",
                "train#inferer", "run", "initialize", "finalize"):
        assert key in parser, key
    assert parser.get_parsed_content("lambda_prior") == 2.0
    assert parser.get_parsed_content("prior_radius_px") == pytest.approx(20.0)
    assert parser.get_parsed_content("prior_sigma_px") == pytest.approx(30.0)
    assert (parser["learning_rate"], parser["batch_size"], parser["max_epochs"]) == (1e-4, 64, 50)
    assert parser["train#dataloader#drop_last"] is True
    parser.read_config([*TRAIN, str(CONFIGS / "demo.json")])
    assert parser.get_parsed_content("prior_radius_px") == pytest.approx(20.0 * 128 / 224)


def test_multi_gpu_overrides_parse_and_name_existing_ids():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([*TRAIN, str(CONFIGS / "multi_gpu_train.json")])
    for key in ("train#sampler", "validate#sampler", "train#dataloader#sampler", "train#handlers",
                "validate#handlers", "network"):
        assert key in parser, key
    assert parser["network"]["_target_"] == "torch.nn.parallel.DistributedDataParallel"
    assert parser["train#dataloader#shuffle"] is False
    # the references resolve (no GPU or process group needed for the plain values and samplers' arguments)
    assert parser.get_parsed_content("train#dataloader#batch_size") == 64


def test_metadata_verifies_offline_and_agrees_with_configs_and_readme():
    pytest.importorskip("jsonschema")
    import monai
    from monai.bundle import ConfigParser, verify_metadata

    from hipmonai.transforms import load_preprocessing_config

    schema = Path(__file__).resolve().parents[1] / "data" / "monai_meta_schema_20240725.json"
    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(schema))
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    parser = ConfigParser()
    parser.read_config(TRAIN)
    image = meta["network_data_format"]["inputs"]["image"]
    assert image["spatial_shape"] == [parser["image_size_px"]] * 2 and image["num_channels"] == 1
    assert parser["network_def"]["n_input_channels"] == 1 and parser["network_def"]["num_classes"] == 4
    prep = load_preprocessing_config()
    assert prep.crop_px == parser["image_size_px"]
    assert image["value_range"] == [0, 1]  # the 5th/95th percentiles map to 0 and 1
    pred = meta["network_data_format"]["outputs"]["pred"]
    assert [pred["channel_def"][str(i)] for i in range(4)] == list(TARGETS)
    assert meta["monai_version"] == monai.__version__
    readme = (BUNDLE / "docs" / "README.md").read_text()
    for needle in ("lambda_prior", "prior_radius_px", "prior_sigma_px", "224", "value range", "demo.json",
                   "python -m monai.bundle run", "multi_gpu_train.json", "evaluate.json", "inference.json"):
        assert needle in readme, needle
    assert re.search(r"λ\s*=\s*2", readme) and re.search(r"r\s*=\s*20", readme) and re.search(r"σ\s*=\s*30", readme)


def test_tiny_train_evaluate_infer(tiny_manifest, tmp_path):
    from hipmonai.networks import load_config_network, read_checkpoint

    overrides = {**TINY, "datalist": str(tiny_manifest), "ckpt_dir": str(tmp_path), "output_dir": str(tmp_path)}
    train = _workflow(TRAIN, "train", **overrides)
    train.initialize()
    train.run()
    train.finalize()
    checkpoint = tmp_path / "model.pt"
    state, settings = read_checkpoint(checkpoint)
    assert "fc.weight" in state
    assert settings == TRAINED
    network = load_config_network(train.parser, checkpoint)
    assert network.fc.weight.shape == (4, 64)

    evaluate = _workflow([*TRAIN, str(CONFIGS / "evaluate.json")], "train", **overrides)
    evaluate.initialize()
    evaluate.run()
    with open(tmp_path / "test_probabilities.csv") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 2 and re.fullmatch(r"S\d+/V\d+/(left|right)", rows[0][0]) and len(rows[0]) == 5
    assert (tmp_path / "metrics.csv").is_file()

    infer = _workflow([str(CONFIGS / "inference.json")], "inference", datalist=str(tiny_manifest),
                      ckpt_path=str(checkpoint), output_dir=str(tmp_path / "infer"), widen_factor=0.125,
                      batch_size=4, num_workers=0)
    infer.initialize()
    infer.run()
    with open(tmp_path / "infer" / "predictions.csv") as handle:
        probabilities = np.array([[float(v) for v in row[1:]] for row in csv.reader(handle)])
    assert probabilities.shape == (2, 4) and ((probabilities >= 0) & (probabilities <= 1)).all()


def test_report_grid_and_repeats_end_to_end(tiny_manifest, tmp_path):
    from hipmonai.cli import prior as prior_cli
    from hipmonai.experiments import run_grid, run_repeats, train_bundle

    overrides = {**TINY, "datalist": str(tiny_manifest)}
    runs = {arm: train_bundle(BUNDLE, TRAIN, tmp_path / arm, {**overrides, "lambda_prior": lam})
            for arm, lam in (("baseline", 0.0), ("prior", 2.0))}
    assert all(np.isfinite(r.best_val_loss) and r.best_epoch == 1 for r in runs.values())

    import argparse

    cli = argparse.ArgumentParser(prog="hipmonai")
    prior_cli.add_parser(cli.add_subparsers(dest="command"))
    args = cli.parse_args(["prior", "report", "--bundle", str(BUNDLE), "--out", str(tmp_path / "report"),
                           "--baseline", runs["baseline"].checkpoint, "--prior", runs["prior"].checkpoint, "--set",
                           *[f"{k}={json.dumps(v)}" for k, v in overrides.items()]])
    assert args.func(args) == 0
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["n_hips"] == 2 and (tmp_path / "report" / "mean_gradcam.png").is_file()

    rows = run_grid(BUNDLE, TRAIN, tmp_path / "grid", points=[(0.5, 5.0, 10.0), (2.0, 20.0, 30.0)],
                    overrides=overrides)
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["best_val_loss"] <= rows[1]["best_val_loss"]
    assert rows[0]["r_input_px"] == pytest.approx(rows[0]["r_paper_px"] * 64 / 224)
    assert "selected" in (tmp_path / "grid" / "grid_results.md").read_text().lower()

    store = json.loads(tiny_manifest.read_text())["store"]
    out = run_repeats(BUNDLE, TRAIN, tiny_manifest.parent / store, [0, 1], tmp_path / "repeats",
                      overrides={k: v for k, v in overrides.items() if k != "datalist"})
    assert {r["metric"] for r in out["table_a1"]} == {"com_distance_px", "peak_distance_px", "spread_px"}
    assert {r["seed"] for r in out["table_a2"]} == {0, 1}
    assert (tmp_path / "repeats" / "repeats.md").is_file()


def test_tracking_mlflow_writes_a_local_sqlite_store(tiny_manifest, tmp_path):
    """``--tracking mlflow`` as documented: MONAI's default MLflow settings log to ``<output_dir>/mlruns.db``."""
    import os
    import subprocess
    import sys

    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    overrides = {**TINY, "datalist": str(tiny_manifest), "ckpt_dir": str(tmp_path), "output_dir": str(tmp_path),
                 "max_epochs": 2}
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(CONFIGS / "train.json"),
               "--meta_file", str(CONFIGS / "metadata.json"), "--logging_file", str(CONFIGS / "logging.conf"),
               "--bundle_root", str(BUNDLE), "--tracking", "mlflow", "--experiment_name", "hipmonai_prior",
               "--run_name", "tiny", *(a for k, v in overrides.items() for a in (f"--{k}", str(v)))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    experiment = client.get_experiment_by_name("hipmonai_prior")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "tiny" and run.info.status == "FINISHED"
    assert {"train_loss", "val_loss", "val_mean_auc"} <= set(run.data.metrics)
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 2


def _with_splits(manifest: Path, target: Path, **splits) -> Path:
    """A copy of the hip ``manifest`` at ``target`` with the given split lists replaced."""
    from hipmonai.data import load_manifest, write_manifest

    return write_manifest(target, {**load_manifest(manifest), **splits})


def test_training_split_smaller_than_the_batch_is_a_clear_error(tiny_manifest, tmp_path, training_input_error):
    n_train = len(json.loads(tiny_manifest.read_text())["training"])
    workflow = _workflow(TRAIN, "train", **{**TINY, "batch_size": n_train + 1}, datalist=str(tiny_manifest),
                         ckpt_dir=str(tmp_path), output_dir=str(tmp_path))
    message = training_input_error(workflow)
    assert re.search(rf"training split.*\b{n_train} items?\b.*batch_size {n_train + 1}\b.*drop_last", message), message
    assert not (tmp_path / "model.pt").exists()


def test_empty_training_split_is_a_clear_error(tiny_manifest, tmp_path, training_input_error):
    datalist = _with_splits(tiny_manifest, tmp_path / "manifest.json", training=[])
    workflow = _workflow(TRAIN, "train", **TINY, datalist=str(datalist), ckpt_dir=str(tmp_path),
                         output_dir=str(tmp_path))
    message = training_input_error(workflow)
    assert re.search(r"training split.*\bempty\b", message) and "num_samples" not in message, message


@pytest.mark.parametrize("override, named", [
    ({"image_size_px": 128}, (r"\b64 px\b", r"image_size_px.*\b128\b")),
    ({"field_of_view_mm": 44.8}, (r"\b1\.4 mm\b", r"\b0\.7 mm\b")),
])
def test_store_made_for_another_input_is_a_clear_error(override, named, tiny_manifest, tmp_path,
                                                        training_input_error):
    workflow = _workflow(TRAIN, "train", **{**TINY, **override}, datalist=str(tiny_manifest), ckpt_dir=str(tmp_path),
                         output_dir=str(tmp_path))
    message = training_input_error(workflow)
    assert all(re.search(pattern, message) for pattern in named), message
    assert not (tmp_path / "model.pt").exists()
