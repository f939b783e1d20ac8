from __future__ import annotations

import json

from hipmonai.cli import main
from hipmonai.data import HipStore, load_manifest


def test_demo_runs_end_to_end_and_caches(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--subjects", "4", "--workers", "1"]) == 0
    first = capsys.readouterr().out
    assert "generating 4 phantom subjects" in first and "8 hips written, 0 inputs skipped" in first
    store = HipStore(out / "hip_phantom.h5")
    assert len(store) == 8
    manifest = load_manifest(out / "hip_phantom_split.json")
    assert sum(len(manifest[split]) for split in ("training", "validation", "test")) == 8
    assert json.loads((out / "cohorts" / "hip" / "cohort.json").read_text())["n_subjects"] == 4

    assert main(["demo", "--out", str(out), "--subjects", "4", "--workers", "1"]) == 0
    second = capsys.readouterr().out
    assert "phantom cohort cached" in second and "store cached" in second
