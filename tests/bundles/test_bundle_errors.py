"""A bundle run that stops on a hipmonai error ends with that error as one line: through ``python -m monai.bundle run``
(the traceback first, as usual, then ``hipmonai: error: <message>`` as the last line of stderr) and through the
``hipmonai`` commands that train bundles (``hipmonai prior grid``: their one-line error is the hipmonai message, not
MONAI's wrapper around it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hipmonai.paths import bundle_template_dir

PRIOR = bundle_template_dir("hip_osteophyte_prior")
KNEEL = bundle_template_dir("knee_landmark_kneel")
PRIOR_TINY = {"image_size_px": 64, "widen_factor": 0.125, "batch_size": 4, "max_epochs": 1, "num_workers": 0}
KNEEL_TINY = {"width": 4, "depth": 2, "batch_size": 2, "max_epochs": 1, "num_workers": 0, "init_from_roi": False}


def _bundle_run(bundle: Path, overrides: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    configs = bundle / "configs"
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(configs / "train.json"),
               "--meta_file", str(configs / "metadata.json"), "--logging_file", str(configs / "logging.conf"),
               "--bundle_root", str(bundle), "--ckpt_dir", str(tmp_path), "--output_dir", str(tmp_path),
               *(a for k, v in overrides.items() for a in (f"--{k}", str(v)))]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def _manifest(tiny_manifest: Path, target: Path, change) -> Path:
    from hipmonai.data import load_manifest

    manifest = load_manifest(tiny_manifest)
    change(manifest)
    target.write_text(json.dumps(manifest))
    return target


def _leak(manifest: dict) -> None:
    """Give a test item the subject of a training item (as another visit)."""
    item = manifest["test"][0]
    subject = manifest["training"][0]["subject_id"]
    item.update(subject_id=subject, visit="V99", key=f"{subject}/V99/{item['side']}")


@pytest.mark.parametrize("case", ["broken", "leaking", "empty_training"])
def test_monai_bundle_run_ends_with_the_hipmonai_message(case, tiny_manifest, tmp_path):
    target = tmp_path / "manifest.json"
    if case == "broken":
        target.write_text('{"training": [')
        expected = f"{target}: not valid JSON"
    elif case == "leaking":
        _manifest(tiny_manifest, target, _leak)
        expected = f"{target}: subject"
    else:
        _manifest(tiny_manifest, target, lambda m: m.update(training=[]))
        expected = "the training split is empty (0 items, batch_size 4)"
    done = _bundle_run(PRIOR, {**PRIOR_TINY, "datalist": target}, tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback (most recent call last)" in done.stderr  # the traceback is still there, above
    assert lines[-1].startswith(f"hipmonai: error: {expected}"), lines[-3:]
    assert "num_samples" not in lines[-1] and not (tmp_path / "model.pt").exists()


def test_kneel_run_with_fewer_knees_than_the_batch_ends_with_the_hipmonai_message(knee_data, tmp_path):
    n_train = len(json.loads((knee_data / "landmarks.json").read_text())["training"])
    done = _bundle_run(KNEEL, {**KNEEL_TINY, "dataset_dir": knee_data, "batch_size": n_train + 1}, tmp_path)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1
    assert last.startswith(f"hipmonai: error: the training split has {n_train} items, fewer than batch_size "
                           f"{n_train + 1} with drop_last=True"), last


def test_hipmonai_command_that_trains_prints_the_hipmonai_message(tiny_manifest, tmp_path, capsys):
    from hipmonai.cli import main

    target = _manifest(tiny_manifest, tmp_path / "manifest.json", _leak)
    status = main(["prior", "grid", "--out", str(tmp_path / "grid"), "--set",
                   *[f"{k}={json.dumps(v)}" for k, v in {**PRIOR_TINY, "datalist": str(target)}.items()]])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 1
    assert last.startswith(f"hipmonai prior: error: {target}: subject"), last


def test_excepthook_chains_the_previous_hook_once_and_adds_one_line(monkeypatch, capsys):
    from hipmonai.errors import InputError, error_line, install_excepthook, running_monai_bundle

    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: seen.append(exc[1]))
    hook = install_excepthook()
    assert install_excepthook() is hook and sys.excepthook is hook  # installed once
    try:
        try:
            raise InputError("m.json: the training split is empty\n(0 items)")
        except InputError as err:
            raise RuntimeError("Failed to evaluate ConfigExpression") from err
    except RuntimeError as wrapped:
        hook(RuntimeError, wrapped, wrapped.__traceback__)
        assert error_line(wrapped, "hipmonai prior") == ("hipmonai prior: error: m.json: the training split is empty "
                                                         "(0 items)")
    hook(KeyError, KeyError("x"), None)  # not a hipmonai error: the previous hook only
    assert [type(e) for e in seen] == [RuntimeError, KeyError]
    assert capsys.readouterr().err == "hipmonai: error: m.json: the training split is empty (0 items)\n"
    assert not running_monai_bundle()  # pytest is not `python -m monai.bundle`
