"""The ``hipmonai`` command starts quietly: ``--version`` and no start-up warning, from any working folder.

Holoscan (the ``deploy`` extra's MONAI Deploy SDK, which ``import monai`` loads) warns when the soft stack limit is
below 32 MB; the subprocesses here run with an 8 MB soft limit (the usual Linux default) so the checks hold whatever
the limit of the shell that runs the tests.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from importlib.metadata import version

import pytest

resource = pytest.importorskip("resource")

MIB = 1024 * 1024


def _small_stack() -> None:
    """``preexec_fn``: an 8 MB soft stack limit (lowering the soft limit is always allowed)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft == resource.RLIM_INFINITY or soft > 8 * MIB:
        resource.setrlimit(resource.RLIMIT_STACK, (8 * MIB, hard))


def _run(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONPATH")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_small_stack)


def test_version_prints_the_package_version_and_nothing_on_stderr(tmp_path):
    result = _run([sys.executable, "-m", "hipmonai", "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"hipmonai {version('hipmonai')}"
    assert result.stderr == ""


def test_help_prints_nothing_on_stderr(tmp_path):
    result = _run([sys.executable, "-m", "hipmonai", "--help"], tmp_path)
    assert result.returncode == 0 and "phantoms" in result.stdout
    assert result.stderr == ""


needs_holoscan = pytest.mark.skipif(importlib.util.find_spec("holoscan") is None,
                                    reason="holoscan (the deploy extra's MONAI Deploy SDK) is not installed")


@needs_holoscan
def test_holoscan_stack_warning_is_filtered_after_import_hipmonai(tmp_path):
    # holoscan.core is what warns when ``import monai`` loads the SDK's monai.deploy (10 s); importing it directly
    # checks the same filter in a fraction of a second
    control = _run([sys.executable, "-c", "import holoscan.core"], tmp_path)
    assert "Current stack size" in control.stderr, "the control should warn: is the soft limit really 8 MB?"
    result = _run([sys.executable, "-c", "import hipmonai, holoscan.core"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_command_raises_the_soft_stack_limit_for_its_subprocesses(tmp_path):
    child = "import holoscan.core" if importlib.util.find_spec("holoscan") is not None else "pass"
    code = ("import resource, subprocess, sys; from hipmonai.cli import raise_stack_limit; raise_stack_limit(); "
            "print(resource.getrlimit(resource.RLIMIT_STACK)[0]); "
            f"subprocess.run([sys.executable, '-c', {child!r}], check=True)")
    result = _run([sys.executable, "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
    expected = 32 * MIB if hard == resource.RLIM_INFINITY else min(32 * MIB, hard)
    assert int(result.stdout.strip()) == expected
    if expected == 32 * MIB:  # the child, without hipmonai's filter, has the stack Holoscan asks for
        assert result.stderr == ""
