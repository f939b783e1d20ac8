"""Export a trained checkpoint as a complete, shareable MONAI bundle folder (model-zoo layout).

    hipmonai bundle export hip_landmark_labelaug --checkpoint outputs/demo/labelaug/model/model.pt \\
        --metrics outputs/demo/labelaug/eval/metrics.csv --out my_bundles/hip_landmark_labelaug

The folder holds the packaged bundle's ``configs/``, ``docs/`` and ``LICENSE``; ``models/model.pt`` (the checkpoint,
which records the settings it was trained with) and ``models/model.ts`` (TorchScript, exported with
``monai.bundle ckpt_export`` from ``configs/inference.json``); ``configs/trained_with.json``, the checkpoint's
settings as a readable override file; and ``configs/metadata.json`` with the input shape of the trained network,
``hipmonai`` in ``required_packages_version`` and, when given, ``eval_metrics`` from an evaluation run. It runs from
anywhere once ``hipmonai`` is installed, and can be zipped and shared.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hipmonai import __version__
from hipmonai.atomic import write_text_atomic
from hipmonai.errors import InputError
from hipmonai.networks.checkpoint import trained_settings
from hipmonai.paths import bundle_template_dir

__all__ = ["TWO_STAGE_BUNDLES", "export_bundle", "read_metrics"]

#: bundles whose inference needs a second checkpoint: ``{bundle: (file name in models/, trained stage)}``
TWO_STAGE_BUNDLES = {"knee_landmark_kneel": ("model_roi.pt", "roi")}
_TEMPLATE_ITEMS = ("configs", "docs", "LICENSE")


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """Evaluation metrics ``{name: value}`` from a JSON object or a MONAI ``MetricsSaver`` ``metrics.csv``
    (``name,value`` or ``name<TAB>value`` per line; a NaN value becomes ``None``).

    Raises:
        InputError: missing or unreadable file, or a value that is not a number (CSV).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: metrics file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            metrics = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: not valid JSON ({err})") from err
        if not isinstance(metrics, dict):
            raise InputError(f"{path}: expected a JSON object of metrics")
        return metrics
    metrics: dict[str, Any] = {}
    delimiter = "\t" if "\t" in text.splitlines()[0] else ","
    for row in csv.reader(text.splitlines(), delimiter=delimiter):
        if not row:
            continue
        try:
            value = float(row[1])
        except (IndexError, ValueError) as err:
            raise InputError(f"{path}: expected 'name,value' lines, got {row!r}") from err
        metrics[row[0]] = value if math.isfinite(value) else None  # JSON has no NaN: an undefined metric is null
    if not metrics:
        raise InputError(f"{path}: no metrics")
    return metrics


def _input_shape(settings: Mapping[str, Any]) -> list[int]:
    if "input_size_px" in settings:  # KNEEL: [W, H] of the stage's input
        return [int(s) for s in settings["input_size_px"]]
    return [int(settings["image_size_px"])] * 2


def export_bundle(
    name: str,
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    roi_checkpoint: str | os.PathLike | None = None,
    metrics: Mapping[str, Any] | str | os.PathLike | None = None,
    overwrite: bool = False,
    torchscript: bool = True,
) -> Path:
    """Write the bundle ``name`` with ``checkpoint`` as a complete bundle folder ``out``.

    The folder is built next to ``out`` and moved into place at the end, so an interrupted export leaves no
    half-written bundle.

    Args:
        name: a packaged bundle (:func:`hipmonai.paths.bundle_names`).
        checkpoint: the trained ``model.pt``; it must record its settings (``trained_with``).
        out: the bundle folder to write.
        roi_checkpoint: the ROI stage checkpoint of a two-stage bundle (:data:`TWO_STAGE_BUNDLES`), required there.
        metrics: ``eval_metrics`` for metadata.json: a mapping or a file (:func:`read_metrics`); ``None`` keeps the
            template's.
        overwrite: replace an existing ``out``.
        torchscript: also write ``models/model.ts``.

    Returns:
        ``out``.

    Raises:
        InputError: unknown bundle, a checkpoint missing, without settings or of the wrong stage, a missing or
            superfluous ROI checkpoint, or ``out`` existing without ``overwrite``.
    """
    template = bundle_template_dir(name)
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"{out}: already exists; choose another --out or pass --overwrite")
    settings = trained_settings(checkpoint)
    second = TWO_STAGE_BUNDLES.get(name)
    if second is None and roi_checkpoint is not None:
        raise InputError(f"{name} has one checkpoint; --roi-checkpoint is only for {sorted(TWO_STAGE_BUNDLES)}")
    if second is not None:
        if roi_checkpoint is None:
            raise InputError(f"{name} needs its ROI checkpoint too (--roi-checkpoint)")
        stage = trained_settings(roi_checkpoint, ["stage"])["stage"]
        if stage != second[1]:
            raise InputError(f"{roi_checkpoint}: trained for stage {stage!r}, not {second[1]!r}")
    metrics = read_metrics(metrics) if isinstance(metrics, str | os.PathLike) else metrics

    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        for item in _TEMPLATE_ITEMS:
            source = template / item
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, partial / item)
        models = partial / "models"
        models.mkdir()
        shutil.copy2(checkpoint, models / "model.pt")
        if second is not None:
            shutil.copy2(roi_checkpoint, models / second[0])
        configs = partial / "configs"
        write_text_atomic(configs / "trained_with.json", json.dumps(settings, indent=4) + "\n")
        meta_path = configs / "metadata.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta.setdefault("required_packages_version", {})["hipmonai"] = __version__
        formats = meta["network_data_format"]
        image, pred = formats["inputs"]["image"], formats["outputs"]["pred"]
        if pred.get("spatial_shape") == image["spatial_shape"]:  # maps at the input's size (landmark heatmaps)
            pred["spatial_shape"] = _input_shape(settings)
        image["spatial_shape"] = _input_shape(settings)
        if metrics is not None:
            meta["eval_metrics"] = dict(metrics)
        write_text_atomic(meta_path, json.dumps(meta, indent=4) + "\n")
        if torchscript:
            from monai.bundle import ckpt_export

            ckpt_export(net_id="network_def", filepath=str(models / "model.ts"), ckpt_file=str(models / "model.pt"),
                        meta_file=str(meta_path), config_file=str(configs / "inference.json"), key_in_ckpt="model",
                        bundle_root=str(partial))
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out
