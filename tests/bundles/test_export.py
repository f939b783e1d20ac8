"""Every bundle's networks export to TorchScript with ``monai.bundle ckpt_export`` and pass ``verify_net_in_out``.

For each bundle the inference config's network is built at its paper defaults, its random weights are saved the way
``CheckpointSaver`` saves them (``{"model": state_dict}``), exported with the documented command's Python twin, and
the loaded ``model.ts`` must give the PyTorch outputs on a random input of the metadata's input shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hipmonai.paths import repo_root

BUNDLES = repo_root() / "bundles"

# (bundle, network id, input shape (C, H, W), or None for the metadata's input shape)
EXPORTS = [
    ("hip_osteophyte_prior", "network_def", None),
    ("hip_osteophyte_grading", "network_def", None),
    ("hip_landmark_labelaug", "network_def", None),
    ("knee_landmark_kneel", "network_def", None),
    ("knee_landmark_kneel", "roi_network_def", (1, 320, 256)),  # the ROI stage default, (W, H) = (256, 320)
]


def _input_shape(bundle: Path) -> tuple[int, ...]:
    meta = json.loads((bundle / "configs" / "metadata.json").read_text(encoding="utf-8"))
    image = meta["network_data_format"]["inputs"]["image"]
    return (image["num_channels"], *image["spatial_shape"])


@pytest.mark.parametrize("name, net_id, shape", EXPORTS, ids=[f"{b}:{n}" for b, n, _ in EXPORTS])
def test_ckpt_export_matches_pytorch(name, net_id, shape, tmp_path):
    from monai.bundle import ConfigParser, ckpt_export

    bundle = BUNDLES / name
    config, meta = str(bundle / "configs" / "inference.json"), str(bundle / "configs" / "metadata.json")
    parser = ConfigParser()
    parser.read_config(config)
    parser["bundle_root"] = str(bundle)
    torch.manual_seed(0)
    network = parser.get_parsed_content(net_id, instantiate=True).eval()
    ckpt = tmp_path / "model.pt"
    torch.save({"model": network.state_dict()}, ckpt)

    exported = tmp_path / "model.ts"
    ckpt_export(net_id=net_id, filepath=str(exported), ckpt_file=str(ckpt), key_in_ckpt="model",
                meta_file=meta, config_file=config, bundle_root=str(bundle))
    scripted = torch.jit.load(str(exported), map_location="cpu").eval()
    files = {"metadata.json": "", "inference.json": ""}
    torch.jit.load(str(exported), _extra_files=files)
    assert json.loads(files["metadata.json"])["version"], "the exported model carries the bundle metadata"

    x = torch.rand(2, *(shape or _input_shape(bundle)))
    with torch.no_grad():
        expected, actual = network(x), scripted(x)
    assert isinstance(actual, torch.Tensor) and actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted({b for b, _, _ in EXPORTS}))
def test_verify_net_in_out(name):
    from monai.bundle import verify_net_in_out

    bundle = BUNDLES / name
    verify_net_in_out(net_id="network_def", meta_file=str(bundle / "configs" / "metadata.json"),
                      config_file=str(bundle / "configs" / "inference.json"), device="cpu",
                      bundle_root=str(bundle))
