"""``hipmonai bundle export``: metrics files, and the clear errors of an export that cannot be complete (the exported
bundles themselves are checked by the model-zoo replica, tests/bundles/test_model_zoo_replica.py)."""

from __future__ import annotations

import json

import pytest
import torch
from monai.networks.nets import UNet

from hipmonai.cli import main
from hipmonai.deploy.bundle_export import export_bundle, read_metrics
from hipmonai.errors import InputError
from hipmonai.networks import save_checkpoint

SETTINGS = {"image_size_px": 32, "n_landmarks": 28, "channels": [4, 8], "strides": [2], "num_res_units": 0}


def test_metrics_from_metrics_saver_csv_and_json(tmp_path):
    (tmp_path / "metrics.csv").write_text("val_loss,0.5\nval_mean_auc,nan\n")
    assert read_metrics(tmp_path / "metrics.csv") == {"val_loss": 0.5, "val_mean_auc": None}
    (tmp_path / "tabs.csv").write_text("mre_mm\t1.25\n")
    assert read_metrics(tmp_path / "tabs.csv") == {"mre_mm": 1.25}
    (tmp_path / "results.json").write_text(json.dumps({"pck": {"2": 0.5}}))
    assert read_metrics(tmp_path / "results.json") == {"pck": {"2": 0.5}}
    (tmp_path / "bad.csv").write_text("val_loss,high\n")
    with pytest.raises(InputError, match="expected 'name,value' lines"):
        read_metrics(tmp_path / "bad.csv")
    with pytest.raises(InputError, match="not found"):
        read_metrics(tmp_path / "missing.csv")


def test_incomplete_exports_are_refused_and_leave_nothing(tmp_path):
    torch.manual_seed(0)
    checkpoint = save_checkpoint(UNet(2, 1, 28, (4, 8), (2,)), tmp_path / "model.pt", SETTINGS)
    torch.save({"model": UNet(2, 1, 28, (4, 8), (2,)).state_dict()}, tmp_path / "old.pt")
    with pytest.raises(InputError, match="does not record the settings"):
        export_bundle("hip_landmark_labelaug", tmp_path / "old.pt", tmp_path / "a")
    with pytest.raises(InputError, match="only for"):
        export_bundle("hip_landmark_labelaug", checkpoint, tmp_path / "a", roi_checkpoint=checkpoint)
    with pytest.raises(InputError, match="needs its ROI checkpoint"):
        export_bundle("knee_landmark_kneel", checkpoint, tmp_path / "a")
    with pytest.raises(InputError, match="unknown bundle 'hip_nothing'"):
        export_bundle("hip_nothing", checkpoint, tmp_path / "a")
    assert not (tmp_path / "a").exists() and not list(tmp_path.glob(".a.partial*"))
    (tmp_path / "taken").mkdir()
    assert main(["bundle", "export", "hip_landmark_labelaug", "--checkpoint", str(checkpoint), "--out",
                 str(tmp_path / "taken"), "--no-torchscript"]) == 1
    assert main(["bundle", "export", "hip_landmark_labelaug", "--checkpoint", str(checkpoint), "--out",
                 str(tmp_path / "taken"), "--no-torchscript", "--overwrite"]) == 0
    meta = json.loads((tmp_path / "taken" / "configs" / "metadata.json").read_text())
    assert meta["network_data_format"]["inputs"]["image"]["spatial_shape"] == [32, 32]
    assert meta["network_data_format"]["outputs"]["pred"]["spatial_shape"] == [32, 32]
    assert json.loads((tmp_path / "taken" / "configs" / "trained_with.json").read_text()) == SETTINGS
