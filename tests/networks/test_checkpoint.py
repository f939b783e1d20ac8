"""Checkpoints carry their settings: saving, reading, the settings check on load (directly, through MONAI's
``CheckpointLoader`` and through a bundle config), and the weight checks of the one loader."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import UNet

from hipmonai.errors import InputError
from hipmonai.networks import (
    CheckpointMismatchError,
    TrainedWith,
    load_checkpoint,
    load_config_network,
    read_checkpoint,
    save_checkpoint,
    trained_settings,
)
from hipmonai.paths import bundle_template_dir

SETTINGS = {"image_size_px": 128, "n_landmarks": 28, "channels": [4, 8], "strides": [2], "num_res_units": 0}


def _unet(channels=(4, 8)) -> UNet:
    return UNet(2, 1, 28, channels, (2,) * (len(channels) - 1), num_res_units=0)


def test_settings_round_trip_and_plain_values(tmp_path):
    path = save_checkpoint(_unet(), tmp_path / "model.pt", {**SETTINGS, "channels": (4, 8), "spacing_mm": 0.1 + 0.2})
    weights, settings = read_checkpoint(path)
    assert settings == {**SETTINGS, "spacing_mm": 0.1 + 0.2} and "model.0.conv.weight" in weights
    assert trained_settings(path, ["image_size_px"])["image_size_px"] == 128
    TrainedWith({"channels": [4, 8], "spacing_mm": 0.3}).load_state_dict(settings)  # tuples = lists, 0.1 + 0.2 = 0.3
    with pytest.raises(InputError, match=r"lack \['crop_mm'\]"):
        trained_settings(path, ["crop_mm"])


def test_a_config_that_does_not_fit_names_every_difference(tmp_path):
    path = save_checkpoint(_unet(), tmp_path / "model.pt", SETTINGS)
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(_unet(), path, {**SETTINGS, "image_size_px": 256, "num_res_units": 2, "width": 3})
    message = str(err.value)
    assert "image_size_px: checkpoint 128, config 256" in message and "num_res_units: checkpoint 0, config 2" in message
    assert "width: not recorded in the checkpoint, config 3" in message and "n_landmarks" not in message
    assert load_checkpoint(_unet(), path, {"image_size_px": 128}) is not None  # a subset of the settings is checked


def test_weights_are_checked_and_ddp_prefixes_removed(tmp_path):
    torch.manual_seed(0)
    source = _unet()
    path = tmp_path / "ddp.pt"
    torch.save({"model": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    loaded = load_checkpoint(_unet(), path)
    torch.testing.assert_close(loaded.state_dict()["model.0.conv.weight"], source.state_dict()["model.0.conv.weight"])
    assert read_checkpoint(path)[1] is None  # no settings: the weight check alone
    torch.save(source.state_dict(), tmp_path / "bare.pt")
    load_checkpoint(_unet(), tmp_path / "bare.pt", SETTINGS)
    with pytest.raises(InputError, match="has shape"):
        load_checkpoint(_unet((8, 16)), path)
    with pytest.raises(InputError, match=r"lacks \d+ weights"):
        load_checkpoint(UNet(2, 1, 28, (4, 8, 16), (2, 2), num_res_units=0), path)
    with pytest.raises(InputError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read the checkpoint"):
        read_checkpoint(tmp_path / "corrupt.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputError, match="not a checkpoint of network weights"):
        read_checkpoint(tmp_path / "list.pt")
    with pytest.raises(TypeError, match="JSON values"):
        TrainedWith({"device": object()})


def test_monai_checkpoint_loader_checks_the_settings(tmp_path):
    from ignite.engine import Engine
    from monai.handlers import CheckpointLoader

    path = save_checkpoint(_unet(), tmp_path / "model.pt", SETTINGS)
    engine = Engine(lambda e, b: None)
    CheckpointLoader(str(path), {"model": _unet(), "trained_with": TrainedWith(SETTINGS)}).attach(engine)
    engine.run([0], max_epochs=1)
    engine = Engine(lambda e, b: None)
    CheckpointLoader(str(path), {"model": _unet(), "trained_with": TrainedWith({"image_size_px": 256})}).attach(engine)
    with pytest.raises(CheckpointMismatchError, match="image_size_px: checkpoint 128, config 256"):
        engine.run([0], max_epochs=1)


def test_inference_config_reads_the_checkpoint_and_refuses_a_demo_override(tmp_path):
    """The issue's case: a 128 px landmark model loaded with the 256 px demo config is an error naming both."""
    from hipmonai.experiments.bundle import bundle_parser

    bundle = bundle_template_dir("hip_landmark_labelaug")
    path = save_checkpoint(_unet(), tmp_path / "model.pt", SETTINGS)
    parser = bundle_parser(bundle, ["configs/inference.json"])
    network = load_config_network(parser, path)  # no size given: all from the checkpoint
    assert parser.get_parsed_content("image_size_px") == 128 and network.model[0].conv.out_channels == 4
    parser = bundle_parser(bundle, ["configs/inference.json", "configs/demo.json"])
    with pytest.raises(CheckpointMismatchError, match=r"channels: checkpoint \[4, 8\], config \[16, 32, 64, 128, 256\]"
                                                      r".*image_size_px: checkpoint 128, config 256"):
        load_config_network(parser, path)


def test_bundle_run_of_inference_json_names_the_mismatch_before_building_the_network(tmp_path):
    """``python -m monai.bundle run`` resolves ``network`` the same way: the settings check comes first."""
    from monai.bundle import ConfigParser

    bundle = bundle_template_dir("hip_landmark_labelaug")
    save_checkpoint(_unet(), tmp_path / "model.pt", SETTINGS)
    parser = ConfigParser()
    parser.read_config([str(bundle / "configs" / "inference.json"), str(bundle / "configs" / "demo.json")])
    parser.update({"bundle_root": str(bundle), "ckpt_path": str(tmp_path / "model.pt")})
    with pytest.raises(Exception) as err:  # MONAI wraps the error of an expression in a RuntimeError
        parser.get_parsed_content("network")
    causes = [err.value]
    while causes[-1].__cause__ is not None:
        causes.append(causes[-1].__cause__)
    assert any(isinstance(c, CheckpointMismatchError) and "image_size_px: checkpoint 128, config 256" in str(c)
               for c in causes), causes
