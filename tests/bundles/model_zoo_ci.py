"""A replica of the MONAI model zoo's CI, run on one exported bundle (used by ``test_model_zoo_replica.py``).

The zoo (https://github.com/Project-MONAI/model-zoo, ``ci/`` as of commit ``dfae206d``) checks a bundle in two jobs:

* ``ci/run_premerge_cpu.sh``: ``ci/prepare_schema.py``, ``ci/get_bundle_requirements.py`` (``pip install -r``), then
  ``ci/verify_bundle.py -m min``: necessary and preferred files, version in the changelog, metadata against its schema;
* ``ci/run_premerge_gpu.sh``: the same, then ``ci/verify_bundle.py`` in full mode (also the app properties,
  ``verify_net_in_out`` and ``ckpt_export`` to TorchScript plus loading ``models/model.ts``), then
  ``ci/unit_tests/runner.py`` with the bundle's ``ci/unit_tests/test_<bundle>.py`` (e.g.
  ``test_endoscopic_inbody_classification.py``: ``ConfigWorkflow`` train for 2 epochs, train + evaluate, inference on
  random data, each through ``ci/unit_tests/utils.py:check_workflow`` with ``check_properties``).

This file is that ``ci/`` folder in one script. It is copied to ``<root>/ci/`` beside ``<root>/models/<bundle>`` (the
zoo's layout) and run with ``<root>`` as the working directory, far from the hipmonai repository::

    python ci/model_zoo_ci.py verify -b BUNDLE -p models -m min|full --schema FILE --schema-url URL --report R.json
    python ci/model_zoo_ci.py requirements -b BUNDLE -p models --report R.json
    python ci/model_zoo_ci.py unit -b BUNDLE -p models --steps STEPS.json --report R.json

Unlike the zoo, which stops at the first failure, each step is run and recorded in the JSON report as
``{step: {"ok": bool, "skipped": str | None, "error": str | None, "mirrors": "ci/<file>:<function>", ...}}`` so that
the tests can name every failing check. Differences from the zoo, all forced by running offline and without the zoo
repository: the schema is a vendored copy instead of a download (``prepare_schema``), ``models/model_info.json`` is
provided by the caller, app properties (``bundle_properties.py`` of the zoo's app folders) cannot be checked, and
requirements are compared with the installed packages instead of being ``pip install``-ed. The steps after the zoo's
are this project's own (``extra_*``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# ci/verify_bundle.py: files that must be included in a bundle, and files that are preferred
NECESSARY_FILES = ["configs/metadata.json", "LICENSE"]
PREFERRED_FILES = ["models/model.pt", "configs/inference.json"]
NET_ID = "network_def"  # ci/verify_bundle.py:_get_net_id for every bundle but the generative ones
SPECIAL_LIB_LIST = ["xformers"]  # ci/get_bundle_requirements.py

Report = dict[str, dict[str, Any]]


def get_json_dict(path: str | os.PathLike) -> Any:
    """ci/utils.py:get_json_dict."""
    with open(path) as handle:
        return json.load(handle)


def _find_bundle_file(root_dir: str, file: str, suffix: tuple[str, ...] = ("json", "yaml", "yml")) -> str | None:
    """ci/verify_bundle.py:_find_bundle_file: the file name of ``file`` with a config suffix, or None."""
    file_name = None
    for name in suffix:
        full_name = f"{file}.{name}"
        if full_name in os.listdir(root_dir):
            file_name = full_name
    return file_name


# --- ci/utils.py:prepare_schema -----------------------------------------------------------------------------------


def prepare_schema(bundle_path: str, schema: str, schema_url: str) -> dict[str, Any]:
    """ci/utils.py:prepare_schema: the schema of metadata.json's ``schema`` URL as ``eval/schema.json``.

    The zoo downloads the URL; offline, ``schema`` is the vendored copy of ``schema_url``, so the metadata must name
    that URL (any other schema would not be what the zoo validates against).
    """
    metadata = get_json_dict(os.path.join(bundle_path, "configs/metadata.json"))
    if metadata["schema"] != schema_url:
        raise ValueError(f"metadata.json schema {metadata['schema']!r} is not the vendored {schema_url!r}")
    os.makedirs(os.path.join(bundle_path, "eval"), exist_ok=True)
    shutil.copyfile(schema, os.path.join(bundle_path, "eval/schema.json"))
    return {"schema": metadata["schema"]}


# --- ci/verify_bundle.py ------------------------------------------------------------------------------------------


def verify_bundle_directory(models_path: str, bundle_name: str) -> dict[str, Any]:
    """ci/verify_bundle.py:verify_bundle_directory (no bundle here is in ``exclude_verify_preferred_files_list``)."""
    bundle_path = os.path.join(models_path, bundle_name)
    large_file_name = _find_bundle_file(bundle_path, "large_files")
    if large_file_name is not None:  # the zoo downloads them first (ci/utils.py:download_large_files)
        raise ValueError(f"{large_file_name}: large files to download; this offline replica cannot")
    for file in NECESSARY_FILES:
        # ci/verify_bundle.py:_find_license_file looks for a file named exactly LICENSE
        if not os.path.exists(os.path.join(bundle_path, file)):
            raise ValueError(f"necessary file {file} is not existing.")
    for file in PREFERRED_FILES:
        if file == "configs/inference.json":
            if _find_bundle_file(os.path.join(bundle_path, "configs"), "inference") is None:
                raise ValueError("inference config file is not existing.")
        elif not os.path.exists(os.path.join(bundle_path, file)):
            raise ValueError(f"necessary file {file} is not existing.")
    return {}


def verify_version_changes(models_path: str, bundle_name: str) -> dict[str, Any]:
    """ci/verify_bundle.py:verify_version_changes: ``version`` and ``changelog`` present, the version in the
    changelog, and not already published (``models/model_info.json``)."""
    metadata = get_json_dict(os.path.join(models_path, bundle_name, "configs/metadata.json"))
    if "version" not in metadata:
        raise ValueError(f"'version' is missing in configs/metadata.json of bundle: {bundle_name}.")
    if "changelog" not in metadata:
        raise ValueError(f"'changelog' is missing in configs/metadata.json of bundle: {bundle_name}.")
    latest_version = metadata["version"]
    if latest_version not in metadata["changelog"]:
        raise ValueError(f"version number: {latest_version} is missing in 'changelog' in configs/metadata.json of "
                         f"bundle: {bundle_name}.")
    model_info = get_json_dict(os.path.join(models_path, "model_info.json"))
    if f"{bundle_name}_v{latest_version}" in model_info:
        raise ValueError(f"version number: {latest_version} is already used of bundle: {bundle_name}. "
                         "Please change it.")
    return {"version": latest_version}


def verify_metadata_format(bundle_path: str) -> dict[str, Any]:
    """ci/verify_bundle.py:verify_metadata_format: ``monai.bundle.verify_metadata`` against ``eval/schema.json``
    (present, so MONAI's ``download_url`` skips the download, as after the zoo's ``prepare_schema``)."""
    from monai.bundle import verify_metadata

    verify_metadata(meta_file=os.path.join(bundle_path, "configs/metadata.json"),
                    filepath=os.path.join(bundle_path, "eval/schema.json"))
    return {}


def verify_bundle_properties(models_path: str, bundle: str) -> dict[str, Any] | str:
    """ci/verify_bundle.py:verify_bundle_properties: the inference config's properties for each supported app.

    The zoo skips it without ``supported_apps`` in metadata.json; with them it needs the zoo's own
    ``<app>/bundle_properties.py``, which this replica does not have.
    """
    metadata = get_json_dict(os.path.join(models_path, bundle, "configs/metadata.json"))
    if "supported_apps" not in metadata:
        return "skipped: no supported_apps in metadata.json (the zoo skips the property check too)"
    raise NotImplementedError(f"supported_apps {sorted(metadata['supported_apps'])}: the zoo checks them with its "
                              "<app>/bundle_properties.py, which this replica lacks")


def verify_data_shape(bundle_path: str, net_id: str, config_file: str) -> dict[str, Any]:
    """ci/verify_bundle.py:verify_data_shape: ``monai.bundle.verify_net_in_out`` (random weights, metadata shapes)."""
    from monai.bundle import verify_net_in_out

    verify_net_in_out(net_id=net_id, meta_file=os.path.join(bundle_path, "configs/metadata.json"),
                      config_file=os.path.join(bundle_path, config_file), bundle_root=bundle_path)
    return {}


def verify_torchscript(bundle_path: str, net_id: str, config_file: str, model_name: str = "model.pt",
                       ts_name: str | None = "model.ts", key_in_ckpt: str | None = None) -> dict[str, Any]:
    """ci/verify_bundle.py:verify_torchscript: ``ckpt_export`` of the checkpoint to ``models/verify_model.ts``, then
    ``torch.jit.load`` of the provided ``models/model.ts``.

    The zoo passes no ``key_in_ckpt`` (``key_in_ckpt=None`` here): its bundles' ``models/model.pt`` is a bare state
    dict. ``key_in_ckpt="model"`` is the variant for a nested ``{"model": ..., ...}`` checkpoint.
    """
    import torch
    from monai.bundle import ckpt_export

    extra = {} if key_in_ckpt is None else {"key_in_ckpt": key_in_ckpt}
    ckpt_export(net_id=net_id, filepath=os.path.join(bundle_path, "models/verify_model.ts"),
                ckpt_file=os.path.join(bundle_path, "models", model_name),
                meta_file=os.path.join(bundle_path, "configs/metadata.json"),
                config_file=os.path.join(bundle_path, config_file), bundle_root=bundle_path, **extra)
    loaded = False
    if ts_name is not None:
        ts_model_path = os.path.join(bundle_path, "models", ts_name)
        if os.path.exists(ts_model_path):
            torch.jit.load(ts_model_path)
            loaded = True
    return {"provided_ts_loaded": loaded}


# --- this project's checks beyond the zoo's (formerly tests/bundles/test_export.py) -------------------------------


def _parser(bundle_path: str, config_file: str) -> Any:
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(os.path.join(bundle_path, config_file))
    parser.read_meta(os.path.join(bundle_path, "configs/metadata.json"))
    parser["bundle_root"] = bundle_path
    return parser


def _input_shape(metadata: dict[str, Any]) -> tuple[int, ...]:
    image = metadata["network_data_format"]["inputs"]["image"]
    return (int(image["num_channels"]), *(int(s) for s in image["spatial_shape"]))


def _compare(network: Any, scripted: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    import torch

    torch.manual_seed(0)
    x = torch.rand(2, *shape)
    with torch.no_grad():
        expected, actual = network.eval()(x), scripted.eval()(x)
    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        raise ValueError(f"TorchScript output {getattr(actual, 'shape', type(actual))} != PyTorch {expected.shape}")
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
    return {"input_shape": list(x.shape), "output_shape": list(expected.shape)}


def extra_torchscript_matches_pytorch(bundle_path: str, config_file: str) -> dict[str, Any]:
    """The provided ``models/model.ts`` gives the outputs of ``network_def`` of the inference config with
    ``models/model.pt`` loaded (hipmonai's checked loader), and carries the bundle's metadata and inference config."""
    import torch

    from hipmonai.networks import load_config_network

    metadata = get_json_dict(os.path.join(bundle_path, "configs/metadata.json"))
    network = load_config_network(_parser(bundle_path, config_file), os.path.join(bundle_path, "models/model.pt"))
    files = {"metadata.json": "", "inference.json": ""}
    scripted = torch.jit.load(os.path.join(bundle_path, "models/model.ts"), map_location="cpu", _extra_files=files)
    if json.loads(files["metadata.json"]).get("version") != metadata["version"]:
        raise ValueError("models/model.ts does not carry the bundle's metadata.json")
    if json.loads(files["inference.json"]) != get_json_dict(os.path.join(bundle_path, config_file)):
        raise ValueError("models/model.ts does not carry the bundle's inference config")
    return _compare(network, scripted, _input_shape(metadata))


def extra_roi_torchscript_matches_pytorch(bundle_path: str, config_file: str) -> dict[str, Any] | str:
    """A two-stage bundle's ROI network (``roi_network_def``, ``models/model_roi.pt``) exports with ``ckpt_export``
    and the TorchScript gives the PyTorch outputs at the ROI input size the checkpoint records."""
    import torch
    from monai.bundle import ckpt_export

    from hipmonai.networks import load_checkpoint, trained_settings

    roi_ckpt = os.path.join(bundle_path, "models/model_roi.pt")
    parser = _parser(bundle_path, config_file)
    if not os.path.exists(roi_ckpt) or "roi_network_def" not in parser:
        return "skipped: a one-stage bundle (no models/model_roi.pt and roi_network_def)"
    exported = os.path.join(bundle_path, "models/verify_model_roi.ts")
    ckpt_export(net_id="roi_network_def", filepath=exported, ckpt_file=roi_ckpt, key_in_ckpt="model",
                meta_file=os.path.join(bundle_path, "configs/metadata.json"),
                config_file=os.path.join(bundle_path, config_file), bundle_root=bundle_path)
    network = load_checkpoint(parser.get_parsed_content("roi_network_def"), roi_ckpt)
    width, height = trained_settings(roi_ckpt, ["input_size_px"])["input_size_px"]
    return _compare(network, torch.jit.load(exported, map_location="cpu"), (1, int(width), int(height)))


def extra_output_matches_metadata(bundle_path: str, config_file: str) -> dict[str, Any]:
    """The network's output at the metadata's input shape has the metadata's output channels and, for a dense
    (image-shaped) output, its spatial shape (``verify_net_in_out`` checks the channels only)."""
    import torch

    metadata = get_json_dict(os.path.join(bundle_path, "configs/metadata.json"))
    network = _parser(bundle_path, config_file).get_parsed_content(NET_ID).eval()
    shape = _input_shape(metadata)
    with torch.no_grad():
        output = network(torch.rand(1, *shape))
    pred = metadata["network_data_format"]["outputs"]["pred"]
    found = {"output_shape": list(output.shape), "metadata_pred": {k: pred.get(k) for k in ("num_channels",
                                                                                         "spatial_shape")}}
    if output.shape[1] != pred["num_channels"]:
        raise ValueError(f"output channels {output.shape[1]} != metadata num_channels {pred['num_channels']}")
    if output.ndim == len(shape) + 1 and list(output.shape[2:]) != list(pred["spatial_shape"]):
        raise ValueError(f"dense output spatial shape {list(output.shape[2:])} != metadata outputs.pred.spatial_shape "
                         f"{pred['spatial_shape']} (inputs.image.spatial_shape {list(shape[1:])})")
    return found


# --- ci/get_bundle_requirements.py --------------------------------------------------------------------------------


def increment_version(version: str) -> str:
    """ci/get_bundle_requirements.py:increment_version (verbatim, including its ``rstrip(".0")``)."""
    parts = str(version).split(".")
    while len(parts) < 3:
        parts.append("0")
    numbers = list(map(int, parts))
    numbers[-1] += 1
    return ".".join(map(str, numbers)).rstrip(".0")


def get_requirements(bundle: str, models_path: str, allow_monai_rc: bool) -> str | None:
    """ci/get_bundle_requirements.py:get_requirements: write ``requirements_<bundle>.txt`` (in the working directory,
    as the zoo does) from metadata.json's versions; its name, or None when there is nothing to install."""
    meta_file_path = os.path.join(models_path, bundle, "configs/metadata.json")
    if not os.path.exists(meta_file_path):
        return None
    metadata = get_json_dict(meta_file_path)
    libs = []
    if "monai_version" in metadata:
        monai_version = metadata["monai_version"]
        libs.append(f"monai>={monai_version}rc1,<{increment_version(monai_version)}" if allow_monai_rc
                    else f"monai=={monai_version}")
    if "pytorch_version" in metadata:
        libs.append(f"torch=={metadata['pytorch_version']}")
    if "numpy_version" in metadata:
        libs.append(f"numpy=={metadata['numpy_version']}")
    for package_key in ["optional_packages_version", "required_packages_version"]:
        for name, version in metadata.get(package_key, {}).items():
            if name not in SPECIAL_LIB_LIST:
                libs.append(f"{name}=={version}")
            elif "pytorch_version" in metadata:
                libs = [lib for lib in libs if "torch" not in lib]
    if not libs:
        return None
    requirements_file_name = f"requirements_{bundle}.txt"
    with open(requirements_file_name, "w") as f:
        for line in libs:
            f.write(f"{line}\n")
    return requirements_file_name


def requirements_report(bundle: str, models_path: str, allow_monai_rc: bool) -> dict[str, Any]:
    """The requirements file of the zoo (``ALLOW_MONAI_RC`` as given), each line against the installed packages:
    what ``pip install [--pre] -r`` would have to change here."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    name = get_requirements(bundle, models_path, allow_monai_rc)
    if name is None:
        return {"file": None, "lines": []}
    lines = []
    for line in Path(name).read_text().splitlines():
        requirement = Requirement(line)
        try:
            installed: str | None = version(requirement.name)
        except PackageNotFoundError:
            installed = None
        satisfied = installed is not None and requirement.specifier.contains(installed, prereleases=True)
        lines.append({"requirement": line, "name": requirement.name, "installed": installed, "satisfied": satisfied})
    return {"file": name, "lines": lines}


# --- ci/unit_tests/runner.py, ci/unit_tests/utils.py:check_workflow -----------------------------------------------


def _snapshot(root: str) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in Path(root).rglob("*") if p.is_file()}


def check_workflow(bundle_root: str, step: dict[str, Any]) -> dict[str, Any]:
    """ci/unit_tests/utils.py:check_workflow on a ``ConfigWorkflow`` built as the zoo's unit tests build it
    (``config_file``, ``logging_file`` and ``meta_file`` of the bundle, the overrides as keyword arguments):
    initialize, ``check_properties()`` (the zoo raises when it lists anything), run, finalize.

    Records the property check's result, the files the step wrote under the bundle and, when it (re)wrote
    ``models/model.pt``, the settings that checkpoint records.
    """
    from monai.bundle import ConfigWorkflow

    override = dict(step["override"])
    configs = [os.path.join(bundle_root, "configs", name) for name in step["config_file"]]
    before = _snapshot(bundle_root)
    workflow = ConfigWorkflow(workflow_type=step["workflow_type"],
                              config_file=configs if len(configs) > 1 else configs[0],
                              logging_file=os.path.join(bundle_root, "configs/logging.conf"),
                              meta_file=os.path.join(bundle_root, "configs/metadata.json"), **override)
    workflow.initialize()
    check_result = workflow.check_properties()
    if check_result is not None and len(check_result) > 0:
        raise ValueError(f"check properties for workflow failed: {check_result}")
    workflow.run()
    workflow.finalize()
    after = _snapshot(bundle_root)
    written = sorted(k for k, t in after.items() if before.get(k) != t)
    found: dict[str, Any] = {"check_properties": check_result, "written": written}
    if "models/model.pt" in written:
        from hipmonai.networks import trained_settings

        found["model_pt_settings"] = trained_settings(os.path.join(bundle_root, "models/model.pt"))
    return found


# --- the runner -----------------------------------------------------------------------------------------------------


@contextmanager
def _recorded(report: Report, step: str, mirrors: str) -> Iterator[dict[str, Any]]:
    entry: dict[str, Any] = {"ok": False, "skipped": None, "error": None, "mirrors": mirrors}
    report[step] = entry
    start = time.perf_counter()
    print(f"--- {step} ({mirrors})", flush=True)
    try:
        yield entry
        entry["ok"] = True
    except Exception as err:  # every failure is recorded; the caller's tests name it
        chain: list[BaseException] = [err]
        while chain[-1].__cause__ is not None and len(chain) < 10:
            chain.append(chain[-1].__cause__)
        entry["error"] = "\n  caused by ".join(f"{type(e).__name__}: {str(e).strip()}" for e in chain)
        entry["traceback"] = traceback.format_exc()
        print(entry["traceback"], flush=True)
    finally:
        entry["seconds"] = round(time.perf_counter() - start, 2)


def _run(report: Report, step: str, mirrors: str, check: Callable[[], Any]) -> None:
    with _recorded(report, step, mirrors) as entry:
        result = check()
        if isinstance(result, str):
            entry["skipped"] = result
        elif result:
            entry.update(result)


def verify(bundle: str, models_path: str, mode: str, schema: str, schema_url: str) -> Report:
    """ci/prepare_schema.py then ci/verify_bundle.py:verify in ``mode`` (min: directory, version, metadata; full:
    also properties, data shape, TorchScript), then this project's checks in full mode."""
    report: Report = {}
    sys.path = [os.path.join(models_path, bundle), *sys.path]  # as the zoo: custom code of the bundle importable
    bundle_path = os.path.join(models_path, bundle)
    _run(report, "prepare_schema", "ci/prepare_schema.py, ci/utils.py:prepare_schema",
         lambda: prepare_schema(bundle_path, schema, schema_url))
    _run(report, "verify_bundle_directory", "ci/verify_bundle.py:verify_bundle_directory",
         lambda: verify_bundle_directory(models_path, bundle))
    _run(report, "verify_version_changes", "ci/verify_bundle.py:verify_version_changes",
         lambda: verify_version_changes(models_path, bundle))
    _run(report, "verify_metadata_format", "ci/verify_bundle.py:verify_metadata_format",
         lambda: verify_metadata_format(bundle_path))
    if mode == "min":
        return report
    inference_file_name = _find_bundle_file(os.path.join(bundle_path, "configs"), "inference")
    config_file = os.path.join("configs", inference_file_name or "inference.json")
    _run(report, "verify_bundle_properties", "ci/verify_bundle.py:verify_bundle_properties",
         lambda: verify_bundle_properties(models_path, bundle))
    _run(report, "verify_data_shape", "ci/verify_bundle.py:verify_data_shape",
         lambda: verify_data_shape(bundle_path, NET_ID, config_file))
    _run(report, "verify_torchscript", "ci/verify_bundle.py:verify_torchscript",
         lambda: verify_torchscript(bundle_path, NET_ID, config_file))
    _run(report, "verify_torchscript_key_in_ckpt", "ci/verify_bundle.py:verify_torchscript, key_in_ckpt='model'",
         lambda: verify_torchscript(bundle_path, NET_ID, config_file, key_in_ckpt="model"))
    _run(report, "extra_torchscript_matches_pytorch", "former tests/bundles/test_export.py",
         lambda: extra_torchscript_matches_pytorch(bundle_path, config_file))
    _run(report, "extra_roi_torchscript_matches_pytorch", "former tests/bundles/test_export.py (ROI network)",
         lambda: extra_roi_torchscript_matches_pytorch(bundle_path, config_file))
    _run(report, "extra_output_matches_metadata", "metadata.json network_data_format outputs",
         lambda: extra_output_matches_metadata(bundle_path, config_file))
    return report


def requirements(bundle: str, models_path: str) -> Report:
    """ci/get_bundle_requirements.py as the premerge scripts run it (``ALLOW_MONAI_RC=true``) and without it."""
    report: Report = {}
    for step, allow in (("requirements_allow_monai_rc", True), ("requirements", False)):
        _run(report, step, f"ci/get_bundle_requirements.py:get_requirements, ALLOW_MONAI_RC={str(allow).lower()}",
             lambda allow=allow: requirements_report(bundle, models_path, allow))
    return report


def unit(bundle: str, models_path: str, steps: list[dict[str, Any]]) -> Report:
    """ci/unit_tests/runner.py with a test_<bundle>.py made of ``steps`` (run in order: train, evaluate, infer, as
    the zoo's ``test_order``), each through ci/unit_tests/utils.py:check_workflow."""
    report: Report = {}
    bundle_root = os.path.join(models_path, bundle)
    for step in steps:
        _run(report, step["name"], "ci/unit_tests/test_<bundle>.py, ci/unit_tests/utils.py:check_workflow",
             lambda step=step: check_workflow(bundle_root, step))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["verify", "requirements", "unit"])
    parser.add_argument("-b", "--b", dest="bundle", required=True, help="bundle name.")
    parser.add_argument("-p", "--p", dest="models_path", default="models", help="models path.")
    parser.add_argument("-m", "--mode", default="full", choices=["min", "full"], help="verify bundle mode.")
    parser.add_argument("--schema", help="the vendored metadata schema (verify)")
    parser.add_argument("--schema-url", help="the URL the vendored schema is a copy of (verify)")
    parser.add_argument("--steps", help="JSON list of unit test steps (unit)")
    parser.add_argument("--report", required=True, help="JSON report to write")
    args = parser.parse_args(argv)

    if args.command != "requirements":  # the zoo's CI runs torch with its defaults; two shared cores here
        import torch

        torch.set_num_threads(1)
    if args.command == "verify":
        report = verify(args.bundle, args.models_path, args.mode, args.schema, args.schema_url)
    elif args.command == "requirements":
        report = requirements(args.bundle, args.models_path)
    else:
        report = unit(args.bundle, args.models_path, get_json_dict(args.steps))
    Path(args.report).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0 if all(entry["ok"] for entry in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
