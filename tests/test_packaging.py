"""hipmonai is an ordinary package: its wheel carries the shared configs and the bundle templates and runs anywhere.

The wheel is built offline (``pip wheel --no-deps --no-build-isolation``, with the setuptools and wheel of the test
environment) from a copy of the sources, so the repository's own ``build/`` folder is neither used nor written. It
is then installed into a new virtual environment outside the repository and run from a folder outside it:

* CI: the new environment borrows this environment's installed dependencies (torch, MONAI, ITK, ...) through a
  ``.pth`` line, but not its editable hipmonai (``.pth`` files on a borrowed path are not executed), and the wheel is
  installed with ``--no-deps``; the run checks that ``hipmonai`` is imported from the new environment.
* ``slow``: a truly fresh environment, ``torch==2.13.0`` first, then the wheel with its declared dependencies.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# what the wheel is built from (tests/, docs/, benchmarks/, data_manifests/ are not part of the package)
SOURCES = ("pyproject.toml", "README.md", "hipmonai", "configs", "bundles")
BUNDLE_NAMES = ("hip_landmark_labelaug", "hip_osteophyte_grading", "hip_osteophyte_prior", "knee_landmark_kneel")
# generated files planted in the copy: none may reach the wheel
PLANTED = ("bundles/hip_osteophyte_prior/models/model.pt", "bundles/hip_osteophyte_prior/models/model.ts",
           "bundles/hip_osteophyte_prior/eval/metrics.json", "bundles/hip_osteophyte_prior/runs/run.json",
           "configs/notes.txt")


def _copy_sources(dest: Path) -> None:
    """Copy the package sources: git's tracked and not-ignored files when this is a checkout, else the folders."""
    listed = None
    if (REPO / ".git").exists() and shutil.which("git"):
        result = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SOURCES],
                                cwd=REPO, capture_output=True, check=False)
        if result.returncode == 0:
            listed = [name for name in result.stdout.decode().split("\0") if name]
    if listed is None:
        listed = [str(p.relative_to(REPO)) for name in SOURCES for p in
                  ([REPO / name] if (REPO / name).is_file() else (REPO / name).rglob("*"))
                  if p.is_file() and "__pycache__" not in p.parts]
    for name in listed:
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The hipmonai wheel, built offline from a copy of the sources with generated files planted in it."""
    root = tmp_path_factory.mktemp("wheel")
    src, dist = root / "src", root / "dist"
    _copy_sources(src)
    for name in PLANTED:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text("generated\n")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(dist), str(src)], check=True, capture_output=True, timeout=300)
    wheels = sorted(dist.glob("hipmonai-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_setuptools_lists_every_package():
    """``pyproject.toml`` lists the packages by hand (discovery cannot see mapped folders): none may be missing."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "hipmonai").rglob("__init__.py")
               if "__pycache__" not in p.parts}
    assert set(config["packages"]) == on_disk | {"hipmonai.configs", "hipmonai.bundles"}, \
        "add the new sub-package to [tool.setuptools] packages in pyproject.toml"
    assert config["package-dir"] == {"hipmonai.configs": "configs", "hipmonai.bundles": "bundles"}


def test_wheel_contains_the_configs_and_bundle_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"hipmonai/configs/landmark_groups.json", "hipmonai/configs/preprocessing.json",
            "hipmonai/phantoms/xray_tables.json", "hipmonai/phantoms/pelvis_meshes.npz",
            "hipmonai/phantoms/pelvis_meshes.LICENSE"} <= names
    for bundle in BUNDLE_NAMES:
        prefix = f"hipmonai/bundles/{bundle}/"
        configs = sorted(p.name for p in (REPO / "bundles" / bundle / "configs").glob("*.json"))
        assert "metadata.json" in configs and "train.json" in configs
        expected = {prefix + "LICENSE", prefix + "docs/README.md", prefix + "configs/logging.conf",
                    *(prefix + "configs/" + name for name in configs)}
        assert expected <= names, sorted(expected - names)
    # every module of the package, and none of the generated files
    modules = {str(p.relative_to(REPO)) for p in (REPO / "hipmonai").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, sorted(modules - names)
    planted = {"hipmonai/" + name for name in PLANTED}
    assert not planted & names, sorted(planted & names)
    assert not [n for n in names if n.endswith((".pt", ".ts", ".pyc", ".h5")) or "/eval/" in n or "/runs/" in n]


def _site_packages(venv: Path) -> Path:
    """The ``site-packages`` folder of the virtual environment ``venv`` (POSIX layout)."""
    found = sorted(venv.glob("lib/python*/site-packages"))
    assert len(found) == 1, found
    return found[0]


def _clean_env() -> dict[str, str]:
    """The environment of the runs: no PYTHONPATH or config override that could reach the repository."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONWARNINGS", "HIPMONAI_CONFIG_DIR", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    return env


# run in the new environment from a folder outside the repository: where hipmonai, its configs and a bundle
# template come from, and the packaged bundle's train.json resolved with MONAI's ConfigParser (its network built)
RESOLVE = """
import importlib.metadata, json, sys
from pathlib import Path
import hipmonai
from hipmonai.paths import bundle_template_dir, config_dir
from monai.bundle import ConfigParser

bundle = bundle_template_dir("hip_osteophyte_prior")
parser = ConfigParser()
parser.read_config([str(bundle / "configs" / "train.json"), str(bundle / "configs" / "demo.json")])
parser.read_meta(str(bundle / "configs" / "metadata.json"))
parser["bundle_root"] = str(bundle)
network = parser.get_parsed_content("network_def")
print(json.dumps({
    "hipmonai": hipmonai.__file__, "configs": str(config_dir()), "bundle": str(bundle),
    "dist": str(importlib.metadata.distribution("hipmonai").locate_file("")),
    "network": type(network).__module__ + "." + type(network).__name__,
    "parameters": sum(p.numel() for p in network.parameters()),
    "sys_path_has_repo": any(p and Path(p).resolve() == Path(sys.argv[1]) for p in sys.path),
}))
"""


def _check_installed(venv: Path, workdir: Path) -> None:
    """Run the installed hipmonai of ``venv`` from ``workdir`` (outside the repository) and check where it lives."""
    env, bin_dir = _clean_env(), venv / "bin"
    workdir.mkdir(parents=True, exist_ok=True)

    def run(*args: str | Path) -> subprocess.CompletedProcess:
        result = subprocess.run([str(a) for a in args], cwd=workdir, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"{args}: {result.stderr[-3000:]}"
        assert "Current stack size" not in result.stderr, result.stderr  # Holoscan's warning, see hipmonai/__init__
        return result

    version = run(bin_dir / "hipmonai", "--version")
    assert version.stdout.strip() == f"hipmonai {importlib.metadata.version('hipmonai')}", version.stdout
    assert version.stderr == ""

    cohort = workdir / "cohort"
    run(bin_dir / "hipmonai", "phantoms", "hip", "--out", cohort, "--subjects", "2", "--quiet")
    assert len(list((cohort / "dicom").rglob("*.dcm"))) == 2 and (cohort / "grades.csv").is_file()

    found = json.loads(run(bin_dir / "python", "-c", RESOLVE, REPO).stdout.strip().splitlines()[-1])
    site = str(_site_packages(venv).resolve())
    for key in ("hipmonai", "configs", "bundle", "dist"):
        assert str(Path(found[key]).resolve()).startswith(site), (key, found[key])
        assert not str(Path(found[key]).resolve()).startswith(str(REPO)), (key, found[key])
    assert not found["sys_path_has_repo"]
    assert found["network"].startswith("hipmonai.networks.") and found["parameters"] > 0


def test_wheel_runs_outside_the_repository(wheel, tmp_path):
    """CI: a new environment with the wheel (``--no-deps``) that borrows this environment's dependencies."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # pip of this environment installs into the new one (before the borrowed path exists, so pip cannot see this
    # environment's editable hipmonai there)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, timeout=300,
                   env=_clean_env())
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (_site_packages(venv) / "_hipmonai_test_borrowed.pth").write_text("".join(f"{p}\n" for p in borrowed))
    _check_installed(venv, tmp_path / "elsewhere")


@pytest.mark.slow
def test_wheel_installs_with_its_dependencies_in_a_fresh_environment(wheel, tmp_path):
    """A truly fresh environment: torch 2.13.0 (the CPU wheel where the package index serves it), then the wheel
    with every declared dependency from the package index."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "torch==2.13.0"], check=True, timeout=3600, env=_clean_env())
    subprocess.run([*pip, str(wheel)], check=True, timeout=3600, env=_clean_env())
    _check_installed(venv, tmp_path / "elsewhere")
