from __future__ import annotations

import argparse
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


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], set[str]]:
    """Every (sub)command of ``parser`` that takes options: its name path and its option strings."""
    found: dict[tuple[str, ...], set[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_commands(sub, (*prefix, name)))
    if prefix:
        found[prefix] = {option for action in parser._actions for option in action.option_strings}
    return found


def test_the_same_thing_has_the_same_flag_in_every_subcommand():
    commands = _commands(build_parser())
    every = set().union(*commands.values())
    # renamed: --no-progress -> --quiet, preprocess --detector -> --detector-checkpoint, knee prepare --cohort ->
    # --dicom/--landmarks/--grades
    assert not every & {"--no-progress", "--progress", "--detector", "--cohort"}
    for command in (("phantoms",), ("preprocess",), ("labelaug", "prepare"), ("knee", "prepare"), ("predict", "hip"),
                    ("predict", "knee")):
        assert "--quiet" in commands[command], command
    for command in (("preprocess",), ("labelaug", "prepare"), ("knee", "prepare")):
        assert {"--dicom", "--landmarks", "--out", "--quiet"} <= commands[command], command
    assert {"--grades", "--detector-checkpoint", "--detector-bundle", "--detector-config"} <= commands[("preprocess",)]
    assert "--grades" in commands[("knee", "prepare")]


def test_knee_prepare_reads_separate_folders():
    args = build_parser().parse_args(["knee", "prepare", "--dicom", "d", "--landmarks", "l", "--out", "o"])
    assert (str(args.dicom), str(args.landmarks), args.grades, args.quiet) == ("d", "l", None, False)


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
