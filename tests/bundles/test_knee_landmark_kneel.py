"""The knee_landmark_kneel bundle: config properties, paper defaults, metadata/README agreement, and a tiny end-to-end
run (ROI stage, landmark stage initialised from it, evaluation, two-stage inference, CLI) on a 4-subject knee phantom
cohort at 4 mm / 3 mm with a width-4, depth-2 network."""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from hipmonai.networks import read_checkpoint
from hipmonai.paths import bundle_template_dir

BUNDLE = bundle_template_dir("knee_landmark_kneel")
CONFIGS = BUNDLE / "configs"
TRAIN = [str(CONFIGS / "train.json")]
ROI = [*TRAIN, str(CONFIGS / "roi.json")]
INFER = [str(CONFIGS / "inference.json")]
SCALE = {"roi_spacing_mm": 4.0, "roi_size_px": (48, 80), "landmark_spacing_mm": 3.0, "crop_mm": 140.0}
TINY = {"width": 4, "depth": 2, "batch_size": 2, "max_epochs": 1, "num_workers": 0}


def _workflow(files, workflow_type, **overrides):
    from monai.bundle import ConfigWorkflow

    return ConfigWorkflow(config_file=[str(f) for f in files], meta_file=str(CONFIGS / "metadata.json"),
                          logging_file=str(CONFIGS / "logging.conf"), workflow_type=workflow_type,
                          bundle_root=str(BUNDLE), **overrides)


def _csv_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))




@pytest.mark.parametrize("files, workflow_type", [
    (TRAIN, "train"),
    (ROI, "train"),
    ([*TRAIN, str(CONFIGS / "demo.json")], "train"),
    ([*TRAIN, str(CONFIGS / "demo.json"), str(CONFIGS / "cosine_lr.json")], "train"),
    ([*TRAIN, str(CONFIGS / "evaluate.json")], "train"),
    (INFER, "inference"),
    ([*INFER, str(CONFIGS / "evaluate_pipeline.json")], "inference"),
])
def test_workflow_properties_are_complete(files, workflow_type, knee_data, tmp_path):
    from monai.bundle import ConfigParser

    from hipmonai.networks import save_checkpoint

    # the 47 px tiny crops are too small for depth 6: a width-4, depth-2 network with untrained checkpoints that
    # record the settings of each stage (inference reads its networks and crops from them)
    tiny_net = {"width": 4, "depth": 2, "num_workers": 0, "ckpt_dir": str(tmp_path)}
    for stage_files, name in ((TRAIN, "model.pt"), (ROI, "model_roi.pt")):
        parser = ConfigParser()
        parser.read_config(stage_files)
        parser.update({"bundle_root": str(BUNDLE), "dataset_dir": str(knee_data), **tiny_net})
        save_checkpoint(parser.get_parsed_content("network_def"), tmp_path / name,
                        parser.get_parsed_content("trained_with#settings"))
    # the tiny training split (4 knees) holds fewer knees than the paper's batch of 16
    batch = {"batch_size": TINY["batch_size"]} if workflow_type == "train" else {}
    workflow = _workflow(files, workflow_type, dataset_dir=str(knee_data), **tiny_net, **batch)
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
    assert (parser["width"], parser["depth"], parser["dropout"]) == (24, 6, 0.25)
    assert (parser["learning_rate"], parser["batch_size"], parser["weight_decay"]) == (1e-3, 16, 0.0)
    assert (parser["wing_w"], parser["wing_epsilon"], parser["mixup_alpha"]) == (15.0, 3.0, 0.75)
    assert parser["use_mixup"] is True and parser["cutout_fraction"] == 0.1 and parser["init_from_roi"] is True
    assert parser["train#dataloader#drop_last"] is True and parser["max_translation_mm"] == 10.0
    assert parser.get_parsed_content("pck_landmarks") == [0, 4, 8, 9, 12, 15]
    parser.read_config(ROI)
    assert parser["stage"] == "roi" and parser["init_from_roi"] is False and parser["target_landmarks"] == [4]
    assert parser["max_translation_mm"] == 0.0
    assert parser.get_parsed_content("pck_landmarks") is None
    infer = ConfigParser()
    infer.read_config(INFER)
    # inference reads both stages' networks and crops from their checkpoints
    assert (infer["width"], infer["depth"]) == ("$@trained['width']", "$@trained['depth']")
    for key in ("bundle_root", "dataset_dir", "device", "network_def", "preprocessing", "postprocessing", "inferer",
                "evaluator", "handlers", "dataset", "initialize", "run", "finalize"):
        assert key in infer, key


def test_multi_gpu_overrides_parse_and_name_existing_ids():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([*TRAIN, str(CONFIGS / "multi_gpu_train.json")])
    for key in ("train#sampler", "validate#sampler", "train#dataloader#sampler", "train#handlers",
                "validate#handlers", "network"):
        assert key in parser, key
    assert parser["network"]["_target_"] == "torch.nn.parallel.DistributedDataParallel"
    assert "init_from_roi" in parser["network"]["module"] and parser["train#dataloader#shuffle"] is False


def test_metadata_verifies_offline_and_agrees_with_configs_and_readme():
    pytest.importorskip("jsonschema")
    import monai
    from monai.bundle import ConfigParser, verify_metadata

    from hipmonai.transforms.knee import crop_size_px

    schema = Path(__file__).resolve().parents[1] / "data" / "monai_meta_schema_20240725.json"
    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(schema))
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    assert meta["monai_version"] == monai.__version__
    image = meta["network_data_format"]["inputs"]["image"]
    assert image["spatial_shape"] == [crop_size_px(140.0, 0.3)] * 2 and image["num_channels"] == 1
    assert image["value_range"] == [0, 1]
    pred = meta["network_data_format"]["outputs"]["pred"]
    parser = ConfigParser()
    parser.read_config(TRAIN)
    assert pred["spatial_shape"] == [parser["n_landmarks"], 2] and parser["network_def"]["in_channels"] == 1
    from hipmonai.cli.knee import PAPER_SCALE

    assert (PAPER_SCALE["landmark_spacing_mm"], PAPER_SCALE["crop_mm"], PAPER_SCALE["roi_spacing_mm"]) == (0.3, 140, 1)
    readme = (BUNDLE / "docs" / "README.md").read_text()
    for needle in ("python -m monai.bundle run", "configs/roi.json", "demo.json", "multi_gpu_train.json",
                   "evaluate.json", "inference.json", "evaluate_pipeline.json", "hipmonai knee prepare",
                   "hipmonai knee ablation", "value range", "467", "0.3 mm", "140 mm", "PCK", "## Performance",
                   "## Limitations"):
        assert needle in readme, needle
    assert re.search(r"N\s*=\s*24", readme) and re.search(r"w\s*=\s*15", readme) and re.search(r"α\s*=\s*0\.75", readme)


def test_tiny_two_stage_train_evaluate_infer(knee_data, tmp_path):
    from hipmonai.cli import knee as knee_cli

    common = {**TINY, "dataset_dir": str(knee_data), "ckpt_dir": str(tmp_path), "output_dir": str(tmp_path)}
    for files in (ROI, TRAIN):  # the landmark stage starts from the ROI checkpoint in ckpt_dir
        train = _workflow(files, "train", **common)
        train.initialize()
        train.run()
        train.finalize()
    roi_state, roi_settings = read_checkpoint(tmp_path / "model_roi.pt")
    state, settings = read_checkpoint(tmp_path / "model.pt")
    assert roi_state["out_block.weight"].shape[0] == 1 and state["out_block.weight"].shape[0] == 16
    assert (roi_settings["stage"], settings["stage"]) == ("roi", "landmarks")
    assert (settings["width"], settings["depth"], settings["n_landmarks"]) == (4, 2, 16)

    evaluate = _workflow([*TRAIN, str(CONFIGS / "evaluate.json")], "train", **common)
    evaluate.initialize()
    evaluate.run()
    metrics = dict(_csv_rows(tmp_path / "metrics.csv"))
    assert {"val_mre_mm", "pck_1mm", "pck_2mm", "pck_2_5mm", "outlier_rate_knees"} <= set(metrics)

    infer_args = {"dataset_dir": str(knee_data), "ckpt_dir": str(tmp_path), "num_workers": 0}  # sizes: checkpoints
    infer = _workflow(INFER, "inference", output_dir=str(tmp_path / "infer"), **infer_args)
    infer.initialize()
    infer.run()
    rows = _csv_rows(tmp_path / "infer" / "landmarks_mm.csv")
    assert len(rows) == 1 and re.fullmatch(r"S\d+/V\d+", rows[0][0]) and len(rows[0]) == 1 + 64
    px = np.array([float(v) for v in _csv_rows(tmp_path / "infer" / "landmarks_px.csv")[0][1:]])
    assert np.isfinite(px).all() and not np.allclose(px, [float(v) for v in rows[0][1:]])

    pipeline = _workflow([*INFER, str(CONFIGS / "evaluate_pipeline.json")], "inference",
                         output_dir=str(tmp_path / "pipeline"), **infer_args)
    pipeline.initialize()
    pipeline.run()
    results = json.loads((tmp_path / "pipeline" / "results.json").read_text())
    assert results["n_knees"] == 2 and results["second_pass"] is True
    assert (tmp_path / "pipeline" / "cumulative_errors.png").is_file()

    cli = argparse.ArgumentParser(prog="hipmonai")
    knee_cli.add_parser(cli.add_subparsers(dest="command"))
    args = cli.parse_args(["knee", "evaluate", "--out", str(tmp_path / "cli"), "--no-second-pass", "--set",
                           *[f"{k}={json.dumps(v)}" for k, v in infer_args.items()]])
    assert args.func(args) == 0
    cli_results = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert cli_results["second_pass"] is False and cli_results["first_pass"]["pck"] == cli_results["pck"]


def test_missing_roi_checkpoint_is_a_clear_error(knee_data, tmp_path):
    train = _workflow(TRAIN, "train", **TINY, dataset_dir=str(knee_data), ckpt_dir=str(tmp_path))
    train.initialize()
    from hipmonai.errors import InputError

    with pytest.raises(RuntimeError) as info:
        train.parser.get_parsed_content("network")
    assert isinstance(info.value.__cause__, InputError)
    assert "model_roi.pt: checkpoint not found" in str(info.value.__cause__)


def test_cosine_lr_override_appends_a_scheduler_that_decays_over_max_epochs():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([*TRAIN, str(CONFIGS / "cosine_lr.json")])
    parser["bundle_root"] = str(BUNDLE)
    parser["max_epochs"] = 4
    # the bundle's optimizer needs the network, which needs a prepared dataset; an Adam on one tensor stands in
    parser["optimizer"] = "$torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=@learning_rate)"
    handlers = parser["train#handlers"]
    assert [h["_target_"] for h in handlers][-1] == "LrScheduleHandler" and len(handlers) == 3
    scheduler = parser.get_parsed_content("lr_scheduler")
    rates = []
    for _ in range(4):
        rates.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.step()
    base = parser.get_parsed_content("learning_rate")
    assert rates[0] == pytest.approx(base) and rates == sorted(rates, reverse=True)
    assert scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(base * 0.01)


@pytest.mark.parametrize("files", [TRAIN, ROI], ids=["landmarks", "roi"])
def test_training_split_smaller_than_the_batch_is_a_clear_error(files, knee_data, tmp_path, training_input_error):
    stage = "roi" if files == ROI else "landmarks"
    n_train = len(json.loads((knee_data / f"{stage}.json").read_text())["training"])
    workflow = _workflow(files, "train", **{**TINY, "batch_size": n_train + 1}, dataset_dir=str(knee_data),
                         ckpt_dir=str(tmp_path), output_dir=str(tmp_path), init_from_roi=False)
    message = training_input_error(workflow)
    assert re.search(rf"training split.*\b{n_train} items?\b.*batch_size {n_train + 1}\b.*drop_last", message), message
    assert not list(tmp_path.glob("*.pt"))


def test_empty_training_split_is_a_clear_error(knee_data, tmp_path, training_input_error, rewrite_manifest):
    data = rewrite_manifest(knee_data / "landmarks.json", tmp_path / "data", training=[]).parent
    workflow = _workflow(TRAIN, "train", **TINY, dataset_dir=str(data), ckpt_dir=str(tmp_path),
                         output_dir=str(tmp_path), init_from_roi=False)
    message = training_input_error(workflow)
    assert re.search(r"training split is empty \(0 items, batch_size 2\)", message), message


def test_prefetching_loader_trains_the_same_weights(knee_data, tmp_path):
    """The training loader's background thread (``prefetch_batches``) changes when batches are made, not which: the
    augmentations, the shuffle, MixUp and dropout draw the same numbers, so the trained weights are equal."""
    import torch

    weights = {}
    for prefetch in (0, 1):
        train = _workflow(TRAIN, "train", **{**TINY, "max_epochs": 2}, dataset_dir=str(knee_data),
                          ckpt_dir=str(tmp_path / str(prefetch)), output_dir=str(tmp_path / str(prefetch)),
                          init_from_roi=False, **{"train#dataloader#prefetch_batches": prefetch})
        train.initialize()
        assert train.parser.get_parsed_content("train#dataloader").prefetch_batches == prefetch
        train.run()
        weights[prefetch] = train.parser.get_parsed_content("network").state_dict()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
