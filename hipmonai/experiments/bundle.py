"""Drive a bundle from Python the way ``python -m monai.bundle run`` does, for experiments and reports.

Every run goes through :class:`monai.bundle.ConfigWorkflow` with the bundle's own config files plus id overrides
(``{"lambda_prior": 0, "datalist": "...", "train#trainer#max_epochs": 1}``), so an experiment trains exactly what
the bundle's documented command trains. Config file names are relative to the bundle folder unless absolute.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from hipmonai.errors import InputError
from hipmonai.networks.checkpoint import load_config_network

__all__ = [
    "RUN_RECORD",
    "TrainingRun",
    "bundle_parser",
    "config_paths",
    "evaluate_checkpoint",
    "read_training_run",
    "split_loader",
    "train_bundle",
    "train_or_resume",
]


def config_paths(bundle_dir: str | os.PathLike, config_files: Sequence[str | os.PathLike]) -> list[str]:
    """Absolute paths of ``config_files`` (relative ones are taken inside ``bundle_dir``); each must exist."""
    root = Path(bundle_dir)
    if not (root / "configs").is_dir():
        raise InputError(f"{root}: not a bundle folder (no configs/)")
    if not config_files:
        raise InputError("no bundle config files given")
    paths = []
    for name in config_files:
        path = Path(name)
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise InputError(f"{path}: bundle config file not found")
        paths.append(str(path.resolve()))
    return paths


def bundle_parser(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    overrides: Mapping[str, Any] | None = None,
):
    """A :class:`monai.bundle.ConfigParser` of the bundle configs with ``bundle_root`` and ``overrides`` applied."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(config_paths(bundle_dir, config_files))
    parser.read_meta(str(Path(bundle_dir) / "configs" / "metadata.json"))
    parser["bundle_root"] = str(Path(bundle_dir).resolve())
    for key, value in (overrides or {}).items():
        parser[key] = value
    return parser


def split_loader(parser, split: str = "test", batch_size: int | None = None, keep_lesion_mask: bool = True):
    """``DataLoader`` over one manifest split with the bundle's validation preprocessing (no augmentation).

    ``keep_lesion_mask`` adds ``lesion_mask`` to the bundle's ``item_keys`` (phantom stores only; absent otherwise).
    """
    from monai.data import DataLoader, Dataset

    from hipmonai.data import load_datalist

    if keep_lesion_mask:
        parser["item_keys"] = [*parser.get_parsed_content("item_keys"), "lesion_mask"]
    items = load_datalist(parser.get_parsed_content("datalist"), split)
    if not items:
        raise InputError(f"the {split!r} split of {parser.get_parsed_content('datalist')} is empty")
    dataset = Dataset(items, transform=parser.get_parsed_content("validate#preprocessing"))
    size = int(parser.get_parsed_content("batch_size") if batch_size is None else batch_size)
    return DataLoader(dataset, batch_size=size, shuffle=False, num_workers=0)


def evaluate_checkpoint(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    checkpoint: str | os.PathLike,
    split: str = "test",
    overrides: Mapping[str, Any] | None = None,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
):
    """Grad-CAM evaluation (:class:`hipmonai.evaluation.GradCAMEvaluator`) of one checkpoint on a split.

    Returns:
        ``(result, dataset, evaluator)``: the :class:`~hipmonai.evaluation.EvaluationResult`, the split's dataset
        (for the gallery) and the evaluator (to explain single items again).
    """
    from hipmonai.evaluation import GradCAMEvaluator

    parser = bundle_parser(bundle_dir, config_files, overrides)
    network = load_config_network(parser, checkpoint)
    loader = split_loader(parser, split, batch_size)
    evaluator = GradCAMEvaluator(network, parser.get_parsed_content("target_names"), device=device)
    return evaluator.evaluate(loader), loader.dataset, evaluator


@dataclass
class TrainingRun:
    """One training run of the bundle: its overrides, best validation loss and where its checkpoint is."""

    name: str
    overrides: dict[str, Any]
    run_dir: str
    checkpoint: str
    best_val_loss: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def train_bundle(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    run_dir: str | os.PathLike,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> TrainingRun:
    """Train with ``ConfigWorkflow(workflow_type="train")``; checkpoints and logs go to ``run_dir``.

    ``ckpt_dir`` and ``output_dir`` are set to ``run_dir``; the validation loss of every epoch is recorded from the
    bundle's ``validate#evaluator`` (its key metric, lower is better).
    """
    from ignite.engine import Events
    from monai.bundle import ConfigWorkflow

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    bundle_dir = Path(bundle_dir).resolve()
    settings = {"bundle_root": str(bundle_dir), "ckpt_dir": str(run_dir), "output_dir": str(run_dir),
                **dict(overrides or {})}
    started = time.perf_counter()
    workflow = ConfigWorkflow(
        config_file=config_paths(bundle_dir, config_files),
        meta_file=str(bundle_dir / "configs" / "metadata.json"),
        logging_file=str(bundle_dir / "configs" / "logging.conf"),
        workflow_type="train",
        **settings,
    )
    workflow.initialize()
    if "train#trainer" in workflow.parser:
        # build the trainer first, as `python -m monai.bundle run` does when it evaluates `run`: components are then
        # created (and draw from the seeded generators) in the same order, so the run equals the CLI's
        workflow.parser.get_parsed_content("train#trainer")
    evaluator = workflow.parser.get_parsed_content("validate#evaluator")
    key_metric = next(iter(workflow.parser.get_parsed_content("validate#key_metric")))
    history: list[dict[str, float]] = []

    def record(engine) -> None:
        history.append({"epoch": int(engine.state.epoch), **{k: float(v) for k, v in engine.state.metrics.items()}})

    evaluator.add_event_handler(Events.EPOCH_COMPLETED, record)
    workflow.run()
    workflow.finalize()
    losses = [(h[key_metric], h["epoch"]) for h in history if key_metric in h]
    best_loss, best_epoch = min(losses) if losses else (float("nan"), -1)
    return TrainingRun(
        name=name or run_dir.name,
        overrides={k: v for k, v in settings.items() if k != "bundle_root"},
        run_dir=str(run_dir),
        checkpoint=str(run_dir / "model.pt"),
        best_val_loss=float(best_loss),
        best_epoch=int(best_epoch),
        history=history,
        seconds=time.perf_counter() - started,
    )


RUN_RECORD = "run.json"
"""File name of a finished :class:`TrainingRun` in its ``run_dir``."""


def train_or_resume(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    run_dir: str | os.PathLike,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
    resume: bool = True,
) -> TrainingRun:
    """:func:`train_bundle`, recorded in ``run_dir/run.json``; with ``resume``, a finished run is read back instead.

    An experiment interrupted between runs therefore goes on where it stopped. The record is written only after
    training finished, so a run interrupted mid-training is trained again from the start.
    """
    from hipmonai.atomic import write_text_atomic

    record = Path(run_dir) / RUN_RECORD
    if resume and record.is_file():
        return read_training_run(record)
    run = train_bundle(bundle_dir, config_files, run_dir, overrides=overrides, name=name)
    write_text_atomic(record, json.dumps(asdict(run), indent=2, default=str))
    return run


def read_training_run(record: str | os.PathLike) -> TrainingRun:
    """The :class:`TrainingRun` that :func:`train_or_resume` recorded in ``record`` (a ``run.json``)."""
    try:
        return TrainingRun(**json.loads(Path(record).read_text(encoding="utf-8")))
    except (ValueError, TypeError) as err:
        raise InputError(f"{record}: not a training run record ({err}); delete it to train the run again") from err
