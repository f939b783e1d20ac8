from __future__ import annotations

import json

from hipmonai.cli import main


def test_cli_writes_a_cohort_and_prints_the_realised_statistics(tmp_path, capsys):
    out = tmp_path / "cohort"
    rc = main(
        [
            "phantoms",
            "hip",
            "--out",
            str(out),
            "--subjects",
            "2",
            "--seed",
            "3",
            "--workers",
            "1",
            "--spacing",
            "0.8",
            "--quiet",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "realised grade correlation" in printed and "grade distribution" in printed
    summary = json.loads((out / "cohort.json").read_text())
    assert summary["n_subjects"] == 2 and summary["parameters"]["spacing_mm"] == 0.8
    assert len(list((out / "dicom").rglob("*.dcm"))) == 2


def test_cli_knee_and_errors(tmp_path, capsys):
    out = tmp_path / "knee"
    assert (
        main(
            ["phantoms", "knee", "--out", str(out), "--subjects", "1", "--workers", "1", "--spacing", "1.0", "--quiet"]
        )
        == 0
    )
    assert "KL distribution" in capsys.readouterr().out
    assert main(["phantoms", "knee", "--out", str(out), "--subjects", "1", "--quiet"]) == 1
    assert "already holds a cohort" in capsys.readouterr().err


def test_cli_sets_phantom_parameters_and_names_unknown_ones(tmp_path, capsys):
    out = tmp_path / "views"
    args = ["phantoms", "hip", "--out", str(out), "--subjects", "1", "--workers", "1", "--spacing", "1.0", "--quiet"]
    assert main([*args, "--set", "single_hip_fraction=1", "dose_ugy=[2, 3]"]) == 0
    parameters = json.loads((out / "cohort.json").read_text())["parameters"]
    assert parameters["single_hip_fraction"] == 1 and parameters["dose_ugy"] == [2, 3]
    capsys.readouterr()
    assert main([*args, "--overwrite", "--set", "bogus=1"]) == 1
    assert "unknown HipPhantomParams parameter(s) ['bogus']" in capsys.readouterr().err
