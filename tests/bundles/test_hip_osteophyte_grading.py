"""The hip_osteophyte_grading bundle: config properties, paper defaults, metadata, README agreement, and tiny
end-to-end runs (train, evaluate, infer, sweep, report) on the 6-subject phantom cohort at 64 px, 1/8 width."""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from hipmonai.errors import InputError
from hipmonai.io import TARGETS
from hipmonai.paths import bundle_template_dir

BUNDLE = bundle_template_dir("hip_osteophyte_grading")
CONFIGS = BUNDLE / "configs"
TRAIN = [str(CONFIGS / "train.json")]
TINY = {"image_size_px": 64, "widen_factor": 0.125, "batch_size": 4, "max_epochs": 1, "num_workers": 0,
        "n_strong": 4}
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
    from hipmonai.networks import MultitaskResNet18, save_checkpoint

    # inference reads widen_factor from the checkpoint, so it needs one that records it
    checkpoint = save_checkpoint(MultitaskResNet18(widen_factor=0.125), tmp_path / "model.pt",
                                 TRAINED)
    # training checks the tiny store (64 px at 1.4 mm) against image_size_px and its hips against batch_size
    tiny = {k: TINY[k] for k in ("image_size_px", "batch_size")} if workflow_type == "train" else {}
    workflow = _workflow(files, workflow_type, datalist=str(tiny_manifest), num_workers=0, n_strong=4,
                         ckpt_path=str(checkpoint), **tiny)
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
    assert (parser["seed"], parser["learning_rate"], parser["batch_size"], parser["max_epochs"]) == (123, 1e-4, 32, 50)
    assert (parser["max_rotation_deg"], parser["image_size_px"], parser["n_strong"]) == (10.0, 224, 1000)
    assert (parser["strategy"], parser["rho"]) == ("masked", "all")
    assert parser["train#dataloader#drop_last"] is True
    assert parser["optimizer#_target_"] == "torch.optim.Adam"
    # two checkpoints: max validation mean kappa (the key metric) and min validation loss
    assert "val_mean_kappa" in parser["validate#key_metric"]
    kappa_saver, loss_saver = parser["validate#checkpoint_saver"], parser["validate#checkpoint_saver_min_loss"]
    assert kappa_saver["key_metric_filename"] == "model.pt" and not kappa_saver.get("key_metric_negative_sign")
    assert loss_saver["key_metric_name"] == "val_loss" and loss_saver["key_metric_negative_sign"] is True
    assert "val_loss" in parser["validate#additional_metrics"]
    # strong-only is rho = 0 by definition
    parser["strategy"] = "strong_only"
    assert parser.get_parsed_content("training_rho") == 0
    parser["strategy"] = "dual_mil"
    assert parser.get_parsed_content("training_rho") == "all"


def test_multi_gpu_overrides_parse_and_name_existing_ids():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([*TRAIN, str(CONFIGS / "multi_gpu_train.json")])
    for key in ("train#sampler", "validate#sampler", "train#dataloader#sampler", "train#handlers",
                "validate#handlers", "network", "train#dataset", "validate#dataset"):
        assert key in parser, key
    assert parser["network"]["_target_"] == "torch.nn.parallel.DistributedDataParallel"
    assert parser["train#dataloader#shuffle"] is False
    assert parser.get_parsed_content("train#dataloader#batch_size") == 32


def test_metadata_verifies_offline_and_agrees_with_configs_and_readme():
    pytest.importorskip("jsonschema")
    import monai
    from monai.bundle import ConfigParser, verify_metadata

    from hipmonai.transforms import load_preprocessing_config

    schema = Path(__file__).resolve().parents[1] / "data" / "monai_meta_schema_20240725.json"
    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(schema))
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    assert meta["monai_version"] == monai.__version__
    parser = ConfigParser()
    parser.read_config(TRAIN)
    image = meta["network_data_format"]["inputs"]["image"]
    assert image["spatial_shape"] == [parser["image_size_px"]] * 2 and image["num_channels"] == 1
    assert load_preprocessing_config().crop_px == parser["image_size_px"]
    net = parser.get_parsed_content("network_def")
    pred = meta["network_data_format"]["outputs"]["pred"]
    with torch.no_grad():
        assert net.eval()(torch.zeros(1, 1, 64, 64)).shape[1] == pred["num_channels"] == 17
    for q, target in enumerate(TARGETS):
        assert pred["channel_def"][str(1 + q * 4 + 3)] == f"{target} grade 3 logit"
    post = meta["network_data_format"]["post_processed_outputs"]["pred"]
    assert [post["channel_def"][str(1 + q)] for q in range(4)] == [f"{t} grade (0-3)" for t in TARGETS]
    readme = (BUNDLE / "docs" / "README.md").read_text()
    for needle in ("strategy", "strong_only", "masked", "dual_mil", "pure_mil", "oracle", "n_strong", "rho",
                   "demo.json", "python -m monai.bundle run", "multi_gpu_train.json", "evaluate.json",
                   "inference.json", "model_min_loss.pt", "hipmonai grading sweep", "value range", "Performance"):
        assert needle in readme, needle
    assert re.search(r"seed\s*123", readme) and re.search(r"batch\s*32", readme) and "1e-4" in readme
    assert "±10°" in readme


def test_tiny_train_evaluate_infer(tiny_manifest, tmp_path):
    from hipmonai.networks import load_config_network, read_checkpoint

    overrides = {**TINY, "datalist": str(tiny_manifest), "ckpt_dir": str(tmp_path), "output_dir": str(tmp_path),
                 "strategy": "dual_mil"}
    train = _workflow(TRAIN, "train", **overrides)
    train.initialize()
    assert train.parser.get_parsed_content("loss").strategy == "dual_mil"
    data = train.parser.get_parsed_content("train#dataset#data")
    assert any(item["is_weak"] for item in data) and not all(item["is_weak"] for item in data)
    train.run()
    train.finalize()
    for name in ("model.pt", "model_min_loss.pt"):
        state, settings = read_checkpoint(tmp_path / name)
        assert "global_head.weight" in state and "ordinal_heads.3.weight" in state
        assert settings == TRAINED
    network = load_config_network(train.parser, tmp_path / "model.pt")
    assert network.ordinal_heads[0].weight.shape == (4, 64)

    evaluate = _workflow([*TRAIN, str(CONFIGS / "evaluate.json")], "train", **overrides)
    evaluate.initialize()
    evaluate.run()
    with open(tmp_path / "test_grades.csv") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 2 and re.fullmatch(r"S\d+/V\d+/(left|right)", rows[0][0]) and len(rows[0]) == 6
    metrics = (tmp_path / "metrics.csv").read_text()
    for name in ("val_mean_kappa", "val_loss", "val_global_accuracy", "val_kappa_osteo_acet_inf"):
        assert name in metrics

    infer = _workflow([str(CONFIGS / "inference.json")], "inference", datalist=str(tiny_manifest),
                      ckpt_path=str(tmp_path / "model.pt"), output_dir=str(tmp_path / "infer"), widen_factor=0.125,
                      batch_size=4, num_workers=0)
    infer.initialize()
    infer.run()
    with open(tmp_path / "infer" / "predictions.csv") as handle:
        values = np.array([[float(v) for v in row[1:]] for row in csv.reader(handle)])
    assert values.shape == (2, 5) and ((values[:, 0] >= 0) & (values[:, 0] <= 1)).all()
    assert np.isin(values[:, 1:], [0, 1, 2, 3]).all()


def test_sweep_and_report_end_to_end(tiny_manifest, tmp_path):
    from hipmonai.cli import grading as grading_cli
    from hipmonai.experiments.weak_strong_sweep import run_sweep

    overrides = {**TINY, "datalist": str(tiny_manifest)}
    out = tmp_path / "sweep"
    rows = run_sweep(BUNDLE, TRAIN, out, ["strong_only", "masked", "dual_mil", "oracle"], [0, "all"], overrides)
    assert [(r["strategy"], r["rho"]) for r in rows] == [
        ("strong_only", "0"), ("masked", "0"), ("masked", "all"), ("dual_mil", "0"), ("dual_mil", "all"),
        ("oracle", "all")]
    trained = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert trained == ["dual_mil_rhoall", "masked_rhoall", "oracle_rhoall", "strong_only_rho0"]
    by = {(r["strategy"], r["rho"]): r for r in rows}
    assert by[("masked", "0")]["test"] == by[("strong_only", "0")]["test"]
    assert by[("strong_only", "0")]["n_weak"] == 0 and by[("masked", "all")]["n_weak"] > 0
    assert by[("oracle", "all")]["n_strong"] + by[("oracle", "all")]["n_weak"] == 8
    for row in rows:
        assert row["val"]["kappa"]["epoch"] == 1 and row["val"]["kappa"]["step"] == row["steps_per_epoch"]
        assert set(row["test"]) == {"kappa", "loss"} and row["test"]["kappa"]["n_hips"] == 2
    text = (out / "sweep_results.md").read_text()
    for needle in ("Table 1", "Table 2", "Table 3", "Table 4", "Model selection", "Best Step", "= strong-only"):
        assert needle in text
    assert (out / "confusion_matrices.png").is_file() and (out / "sweep_results.csv").is_file()

    cli = argparse.ArgumentParser(prog="hipmonai")
    grading_cli.add_parser(cli.add_subparsers(dest="command"))
    args = cli.parse_args(["grading", "report", "--bundle", str(BUNDLE), "--out", str(tmp_path / "report"),
                           "--sweep", str(out), "--grade", "predicted"])
    assert args.func(args) == 0
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert set(results["models"]) == {"Strong-only", "Oracle", "Masked (all)", "Dual-Head MIL (all)"}
    assert (tmp_path / "report" / "gradcam_heads.png").is_file()
    bad = cli.parse_args(["grading", "report", "--bundle", str(BUNDLE), "--out", str(tmp_path / "r2")])
    with pytest.raises(InputError, match="--model"):
        bad.func(bad)

    stamp = (out / "masked_rhoall" / "run.json").stat().st_mtime_ns
    again = run_sweep(BUNDLE, TRAIN, out, ["masked"], ["all"], overrides, figures=False)  # resumed, not retrained
    assert (out / "masked_rhoall" / "run.json").stat().st_mtime_ns == stamp
    assert json.dumps(again[0]["test"]) == json.dumps(by[("masked", "all")]["test"])  # NaN-safe comparison


def test_training_subset_smaller_than_the_batch_is_a_clear_error(tiny_manifest, tmp_path, training_input_error):
    workflow = _workflow(TRAIN, "train", **{**TINY, "n_strong": 2, "rho": 0}, datalist=str(tiny_manifest),
                         ckpt_dir=str(tmp_path), output_dir=str(tmp_path))
    workflow.initialize()
    n_train = len(workflow.parser.get_parsed_content("train#dataset#data"))
    assert n_train < TINY["batch_size"]
    message = training_input_error(workflow)
    assert re.search(rf"training split.*\b{n_train} items?\b.*batch_size {TINY['batch_size']}\b.*drop_last",
                     message), message
    assert not (tmp_path / "model.pt").exists()


def test_empty_training_split_is_a_clear_error(tiny_manifest, tmp_path, training_input_error):
    from hipmonai.data import load_manifest, write_manifest

    datalist = write_manifest(tmp_path / "manifest.json", {**load_manifest(tiny_manifest), "training": []})
    workflow = _workflow(TRAIN, "train", **TINY, datalist=str(datalist), ckpt_dir=str(tmp_path),
                         output_dir=str(tmp_path))
    message = training_input_error(workflow)
    assert re.search(r"training split.*\bempty\b", message) and "num_samples" not in message, message


def test_store_made_at_another_crop_size_is_a_clear_error(tiny_manifest, tmp_path, training_input_error):
    workflow = _workflow(TRAIN, "train", **{**TINY, "image_size_px": 128}, datalist=str(tiny_manifest),
                         ckpt_dir=str(tmp_path), output_dir=str(tmp_path))
    message = training_input_error(workflow)
    assert re.search(r"\b64 px\b", message) and re.search(r"image_size_px.*\b128\b", message), message
    assert not (tmp_path / "model.pt").exists()
