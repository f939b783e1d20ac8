from __future__ import annotations

import subprocess
import sys

import pytest

from hipmonai.cli import build_parser, main


def test_every_subcommand_is_registered_with_help():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    assert {"phantoms", "inspect", "preprocess", "split", "demo"} <= set(choices)
    for sub in choices.values():
        assert sub.format_help()


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    missing = tmp_path / "nope"
    code = main(["preprocess", "--dicom", str(missing), "--landmarks", str(missing), "--grades", "g.csv",
                 "--out", str(tmp_path / "x.h5")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("hipmonai preprocess: error:") and "DICOM folder not found" in err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="DICOM folder not found"):
        main(["--debug", "preprocess", "--dicom", str(tmp_path / "n"), "--landmarks", str(tmp_path),
              "--grades", "g.csv", "--out", str(tmp_path / "x.h5")])


def test_console_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "hipmonai", "--help"], capture_output=True, text=True, check=True)
    assert "preprocess" in result.stdout
