"""The hip_landmark_labelaug bundle: config properties, paper defaults, metadata/README agreement, and a tiny
end-to-end run (train with the dilation curriculum, evaluate, infer) on a 6-subject hip phantom cohort at 48 px."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from hipmonai.networks import save_checkpoint
from hipmonai.paths import bundle_template_dir

BUNDLE = bundle_template_dir("hip_landmark_labelaug")
CONFIGS = BUNDLE / "configs"
TRAIN = [str(CONFIGS / "train.json")]
INFER = [str(CONFIGS / "inference.json")]
SIZE = 48
TINY_NET = {"channels": [4, 8], "strides": [2], "num_res_units": 0, "num_workers": 0}
TINY = {**TINY_NET, "batch_size": 2, "dilation_every_epochs": 1, "dilation_initial": 2, "dilation_step": 1}


def _workflow(files, workflow_type, **overrides):
    from monai.bundle import ConfigWorkflow

    return ConfigWorkflow(config_file=[str(f) for f in files], meta_file=str(CONFIGS / "metadata.json"),
                          logging_file=str(CONFIGS / "logging.conf"), workflow_type=workflow_type,
                          bundle_root=str(BUNDLE), **overrides)




@pytest.mark.parametrize("files, workflow_type", [
    (TRAIN, "train"),
    ([*TRAIN, str(CONFIGS / "demo.json")], "train"),
    ([*TRAIN, str(CONFIGS / "evaluate.json")], "train"),
    (INFER, "inference"),
])
def test_workflow_properties_are_complete(files, workflow_type, pelvis_dir, tmp_path):
    from monai.networks.nets import UNet

    save_checkpoint(UNet(2, 1, 28, (4, 8), (2,)), tmp_path / "model.pt",
                    {"image_size_px": SIZE, "n_landmarks": 28, "channels": [4, 8], "strides": [2], "num_res_units": 0})
    settings = {**TINY_NET, "dataset_dir": str(pelvis_dir), "ckpt_dir": str(tmp_path)}
    if any("demo.json" in f for f in files):
        settings["image_size_px"] = SIZE
    if workflow_type == "train":  # the tiny training split holds fewer radiographs than the paper's batch of 8
        settings["batch_size"] = TINY["batch_size"]
    workflow = _workflow(files, workflow_type, **settings)
    workflow.initialize()
    assert workflow.check_properties() == []


def test_paper_defaults_and_schedule():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(TRAIN)
    parser["image_size_px"] = 512
    assert parser.get_parsed_content("dilation_initial") == 65 and parser.get_parsed_content("dilation_step") == 10
    assert parser["dilation_every_epochs"] == 50 and parser["dilation_final"] == 0
    schedule = parser.get_parsed_content("dilation_schedule")
    assert [schedule(e) for e in (0, 49, 50, 349, 350)] == [65, 65, 55, 5, 0]
    assert parser.get_parsed_content("max_epochs") == 400
    assert parser["label_augmentation"] is True and parser["max_rotation_deg"] == 0.0
    parser["image_size_px"] = 256
    assert parser.get_parsed_content("dilation_initial") == 32 and parser.get_parsed_content("dilation_step") == 5
    multi = ConfigParser()
    multi.read_config([*TRAIN, str(CONFIGS / "multi_gpu_train.json")])
    assert "not isinstance(h, (monai.handlers.StatsHandler" in multi["train#trainer#train_handlers"]
    infer = ConfigParser()
    infer.read_config(INFER)
    # inference reads the network and input settings from the checkpoint, and checks them against the same ids
    assert infer["trained_with"]["settings"] == parser["trained_with"]["settings"]
    for key in parser["trained_with"]["settings"]:
        assert infer[key] == f"$@trained['{key}']", key


def test_metadata_verifies_offline_and_agrees_with_configs_and_readme():
    pytest.importorskip("jsonschema")
    import monai
    from monai.bundle import verify_metadata

    from hipmonai.data.pelvis import detection_landmark_names

    verify_metadata(meta_file=str(CONFIGS / "metadata.json"),
                    filepath=str(Path(__file__).resolve().parents[1] / "data" / "monai_meta_schema_20240725.json"))
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    assert meta["monai_version"] == monai.__version__
    pred = meta["network_data_format"]["outputs"]["pred"]
    assert list(pred["channel_def"].values()) == detection_landmark_names() and pred["num_channels"] == 28
    assert meta["network_data_format"]["inputs"]["image"]["spatial_shape"] == [512, 512]
    readme = (BUNDLE / "docs" / "README.md").read_text()
    for needle in ("python -m monai.bundle run", "demo.json", "multi_gpu_train.json", "evaluate.json",
                   "inference.json", "hipmonai labelaug prepare", "hipmonai labelaug ablation",
                   "hipmonai preprocess", "--detector-checkpoint", "## Performance", "## Limitations", "(S − N) / N",
                   "--min-confidence", "benchmarks/real_hips.py"):
        assert needle in readme, needle
    min_confidence = json.loads(Path(INFER[0]).read_text())["min_confidence"]
    assert f"`min_confidence` ({min_confidence} in `configs/inference.json`" in readme


def test_tiny_train_with_curriculum_evaluate_infer(pelvis_dir, tmp_path):
    common = {**TINY, "dataset_dir": str(pelvis_dir), "ckpt_dir": str(tmp_path), "output_dir": str(tmp_path)}
    train = _workflow(TRAIN, "train", **common)
    train.initialize()
    seen = []
    from ignite.engine import Events

    trainer = train.parser.get_parsed_content("train#trainer")
    step = train.parser.get_parsed_content("train_step")
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(step.dilation))
    train.run()
    train.finalize()
    assert seen == [2, 1, 0]  # one epoch per stage; the last stage (k = 0) as long as the others
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "model_final.pt").is_file()

    evaluate = _workflow([*TRAIN, str(CONFIGS / "evaluate.json")], "train", **common)
    evaluate.initialize()
    evaluate.run()
    with open(tmp_path / "metrics.csv", newline="") as handle:
        metrics = dict(csv.reader(handle))
    assert {"val_rmse_px", "mre_mm", "sdr_2_0px", "sdr_4_0mm"} <= set(metrics)
    assert all(np.isfinite(float(v)) for v in metrics.values())

    infer = _workflow(INFER, "inference", **TINY_NET, dataset_dir=str(pelvis_dir), ckpt_dir=str(tmp_path),
                      image_size_px=SIZE, output_dir=str(tmp_path / "infer"))
    infer.initialize()
    infer.run()
    with open(tmp_path / "infer" / "landmarks_mm.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows and re.fullmatch(r"S\d+/V\d+", rows[0][0]) and len(rows[0]) == 1 + 56


def test_plain_unet_arm_keeps_single_pixel_labels(pelvis_dir, tmp_path):
    common = {**TINY, "dataset_dir": str(pelvis_dir), "ckpt_dir": str(tmp_path), "output_dir": str(tmp_path),
              "label_augmentation": False, "max_epochs": 1}
    train = _workflow(TRAIN, "train", **common)
    train.initialize()
    assert train.parser.get_parsed_content("train_step").dilation == 0
    handlers = train.parser.get_parsed_content("train#handlers")
    assert not any(type(h).__name__ == "LabelCurriculum" for h in handlers)


def test_training_split_smaller_than_the_batch_is_a_clear_error(pelvis_dir, tmp_path, training_input_error):
    n_train = len(json.loads((pelvis_dir / "pelvis.json").read_text())["training"])
    workflow = _workflow(TRAIN, "train", **{**TINY, "batch_size": n_train + 1}, dataset_dir=str(pelvis_dir),
                         ckpt_dir=str(tmp_path), output_dir=str(tmp_path))
    message = training_input_error(workflow)
    assert re.search(rf"training split.*\b{n_train} items?\b.*batch_size {n_train + 1}\b.*drop_last", message), message
    assert not (tmp_path / "model.pt").exists()


def test_empty_training_split_is_a_clear_error(pelvis_dir, tmp_path, training_input_error, rewrite_manifest):
    data = rewrite_manifest(pelvis_dir / "pelvis.json", tmp_path / "data", training=[]).parent
    workflow = _workflow(TRAIN, "train", **TINY, dataset_dir=str(data), ckpt_dir=str(tmp_path),
                         output_dir=str(tmp_path))
    message = training_input_error(workflow)
    assert re.search(r"training split is empty \(0 items, batch_size 2\)", message), message
