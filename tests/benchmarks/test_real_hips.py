"""``benchmarks/real_hips.py``: head centres of the detector against labelled centres, on phantom radiographs."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hipmonai.errors import InputError
from hipmonai.inference import fit_head_circles
from hipmonai.io.pts import read_pts
from hipmonai.networks import save_checkpoint

REPO = Path(__file__).resolve().parents[2]  # the repository (benchmarks/ is not part of the package)
TINY = ["channels=[4, 8]", "strides=[2]", "num_res_units=0", "image_size_px=32"]
TINY_SETTINGS = {"image_size_px": 32, "n_landmarks": 28, "channels": [4, 8], "strides": [2], "num_res_units": 0}


@pytest.fixture(scope="module")
def real_hips():
    spec = importlib.util.spec_from_file_location("real_hips", REPO / "benchmarks" / "real_hips.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def folders(hip_cohort, tmp_path):
    """One phantom radiograph in a flat DICOM folder and its true head centres as a label JSON (pixels)."""
    from hipmonai.readers import load_radiograph

    dicom = sorted((hip_cohort / "dicom").rglob("*.dcm"))[0]
    pts = sorted((hip_cohort / "landmarks").rglob("*.pts"))[0]
    (tmp_path / "dicom").mkdir()
    shutil.copy(dicom, tmp_path / "dicom" / dicom.name)
    spacing = np.asarray(load_radiograph(dicom)[1]["spacing_xy_mm"])
    circles = fit_head_circles(read_pts(pts))
    centres = {side: (np.asarray(circles[side][:2]) / spacing).tolist() for side in ("right", "left")}
    assert centres["right"][0] < centres["left"][0]  # the patient's right hip is the image left
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / f"{dicom.stem}.json").write_text(json.dumps(
        {"landmark_list": [{"fem_r": centres["right"], "fem_l": centres["left"], "pel_r_i": [1.0, 2.0]}]}))
    return tmp_path, dicom, pts, centres


def test_found_heads_are_within_tolerance_and_sides_follow_the_labels(real_hips, folders, monkeypatch, capsys,
                                                                         peaked_detector):
    tmp_path, dicom, pts, centres = folders
    detector = peaked_detector(dicom, pts)[0]
    monkeypatch.setattr(real_hips, "build_detector", lambda spec, device: detector)
    args = ["--checkpoint", "unused.pt", "--dicom", str(tmp_path / "dicom"), "--labels", str(tmp_path / "labels"),
            "--out", str(tmp_path / "report.json")]
    assert real_hips.main(args) == 0
    printed = capsys.readouterr().out
    assert "2/2 femoral heads within 25 px; hips reported on 1/1 images" in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"] == {"heads_within_tolerance": 2, "heads_labelled": 2, "images_with_hips_reported": 1,
                                 "images_read": 1, "tolerance_px": 25.0, "min_confidence": 0.5, "errors": 0}
    rows = {row["side"]: row for row in report["rows"]}
    for side in ("right", "left"):
        row = rows[side]
        assert row["image"] == dicom.name and row["present"] and row["reason"] is None
        assert row["label_px"] == pytest.approx(centres[side]) and row["distance_px"] < 5.0
        assert row["within_tolerance"] and row["raw_distance_px"] == pytest.approx(row["distance_px"])
        assert re.search(rf"{re.escape(dicom.name)}\s+{side}\s+yes\s+1\.00\s+\(\d+, \d+\)\s+\d+\.\d\s+yes", printed)

    swapped = {"landmark_list": [{"fem_r": centres["left"], "fem_l": centres["right"]}]}
    (tmp_path / "labels" / f"{dicom.stem}.json").write_text(json.dumps(swapped))
    assert real_hips.main([*args, "--tolerance-px", "10"]) == 0
    assert "2/2 femoral heads within 10 px" in capsys.readouterr().out  # compared by image side
    report = json.loads((tmp_path / "report.json").read_text())
    assert all(r["within_tolerance"] and r["distance_px"] < 5.0 for r in report["rows"])
    assert all("label sides swapped (fem_r lies right of fem_l)" in r["note"] for r in report["rows"])


def test_untrained_checkpoint_through_the_bundle_config_reports_no_hip(real_hips, folders, tmp_path, capsys):
    root, dicom, _, _ = folders
    from monai.networks.nets import UNet

    torch.manual_seed(0)
    checkpoint = tmp_path / "model.pt"
    save_checkpoint(UNet(2, 1, 28, (4, 8), (2,)), checkpoint, TINY_SETTINGS)
    (root / "dicom" / "second.dcm").write_bytes((root / "dicom" / dicom.name).read_bytes())  # no label file
    out = tmp_path / "report.json"
    args = ["--checkpoint", str(checkpoint), "--dicom", str(root / "dicom"), "--labels", str(root / "labels"),
            "--set", *TINY, "min_confidence=0.99", "--out", str(out)]
    assert real_hips.main(args) == 0
    assert "0/2 femoral heads within 25 px; hips reported on 0/2 images" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["summary"]["min_confidence"] == 0.99 and report["detector"]["overrides"]["min_confidence"] == 0.99
    assert len(report["rows"]) == 4
    for row in report["rows"]:
        assert {"image", "side", "present", "confidence", "reason", "head_centre_px", "label_px", "distance_px",
                "within_tolerance", "raw_distance_px"} <= set(row)
        assert not row["present"] and row["head_centre_px"] is None and row["distance_px"] is None
        assert re.fullmatch(r"hip not found: confidence 0\.\d\d < 0\.99", row["reason"])
    assert [r["label_px"] is None for r in report["rows"]] == [False, False, True, True]
    assert report["rows"][2]["note"] == "no label file second.json"


def test_label_files_are_checked(real_hips, tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"landmark_list": [{"fem_r": [10, 20.5]}]}))
    assert real_hips.read_head_labels(path) == {"right": (10.0, 20.5), "left": None}
    path.write_text(json.dumps({"landmark_list": [{"fem_r": [10]}]}))
    with pytest.raises(InputError, match=r"fem_r must be \[x, y\] in pixels, got \[10\]"):
        real_hips.read_head_labels(path)
    path.write_text(json.dumps({"landmarks": []}))
    with pytest.raises(InputError, match="not a label file with a 'landmark_list' entry"):
        real_hips.read_head_labels(path)
