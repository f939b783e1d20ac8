from __future__ import annotations

import json

import pytest

import hipmonai.cli
from hipmonai.cli import main
from hipmonai.data import load_manifest


@pytest.fixture(autouse=True)
def split_only(monkeypatch):
    """Build the real parser with just the split subcommand: these tests stay independent of the others'."""
    monkeypatch.setattr(hipmonai.cli, "SUBCOMMANDS", ("split",))


def test_split_command_writes_manifest_and_prints_counts(cohort_store, tmp_path, capsys):
    out = tmp_path / "data_manifests" / "demo.json"
    assert main(["split", "--h5", str(cohort_store), "--out", str(out), "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    manifest = load_manifest(out)
    assert manifest["seed"] == 5 and manifest["fractions"] == [0.7, 0.15, 0.15]
    counts = manifest["counts"]
    hips = sum(c["hips"] for c in counts.values())
    lines = printed.splitlines()
    assert lines[0].split() == ["split", "subjects", "hips"]
    assert lines[1].split() == ["training", "70", str(counts["training"]["hips"])]
    assert lines[2].split() == ["validation", "15", str(counts["validation"]["hips"])]
    assert lines[3].split() == ["test", "15", str(counts["test"]["hips"])]
    assert lines[4].split() == ["total", "100", str(hips)]
    assert lines[5] == f"wrote {out}"


def test_split_command_fractions_and_overwrite(cohort_store, tmp_path, capsys):
    out = tmp_path / "m.json"
    args = ["split", "--h5", str(cohort_store), "--out", str(out), "--seed", "1", "--fractions", "0.5", "0.25", "0.25"]
    assert main(args) == 0
    assert json.loads(out.read_text())["counts"]["training"]["subjects"] == 50
    capsys.readouterr()
    assert main(args) == 1
    assert capsys.readouterr().err.strip() == f"hipmonai split: error: {out} exists; pass --overwrite to replace it"
    assert main([*args, "--overwrite"]) == 0


def test_split_command_one_line_errors(tmp_path, capsys):
    missing = tmp_path / "missing.h5"
    assert main(["split", "--h5", str(missing), "--out", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"hipmonai split: error: {missing}: HDF5 store not found"
    assert main(["split", "--h5", str(missing), "--out", str(tmp_path / "m.json"), "--fractions", "1", "1", "1"]) == 1
    assert "fractions must sum to 1" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_split_help_documents_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["split", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert all(option in text for option in ("--h5", "--out", "--seed", "--fractions", "--overwrite"))
