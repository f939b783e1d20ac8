"""The weak-to-strong sweep of Ye et al. 2026 (section 3.3, Tables 1-4) on the ``hip_osteophyte_grading`` bundle.

For every supervision strategy and weak-to-strong ratio ``rho`` the bundle is trained through
:func:`hipmonai.experiments.train_bundle` (``ConfigWorkflow``, the bundle's own configs plus the ids ``strategy`` and
``rho``), so the sweep trains exactly what ``python -m monai.bundle run`` trains. The strong subset is fixed (the
bundle's ``n_strong`` and ``subset_seed``); weak subsets grow with ``rho``
(:func:`hipmonai.data.weak_labels.split_weak_strong`).

Points that are the same training are trained once:

- ``strong_only`` is defined at ``rho = 0`` only (the bundle forces its training ``rho`` to 0);
- ``masked`` and ``dual_mil`` at ``rho = 0`` have no weak sample, so their loss equals ``strong_only``'s term for
  term (Ye et al. 2026 Tables 2-4 report the identical ``bounds_1000_0`` row for both): they reuse that run;
- ``oracle`` treats the whole training pool as strong ("100% strong"), i.e. ``rho = "all"``.

Each run records, per epoch, the validation metrics of the bundle's evaluator; two checkpoints are kept by the
bundle itself, ``model.pt`` (maximum validation mean kappa, the paper's selection) and ``model_min_loss.pt``
(minimum validation loss), and both are evaluated on the test split, so the model-selection finding of Ye et al. 2026
section 4.3 can be checked. The best *step* is the epoch times the iterations per epoch (``drop_last``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipmonai.atomic import write_text_atomic
from hipmonai.data.weak_labels import RHO_VALUES, parse_rho
from hipmonai.errors import InputError
from hipmonai.experiments.bundle import bundle_parser, split_loader, train_bundle
from hipmonai.io.strict_json import strict_json
from hipmonai.losses.weak_strong import STRATEGIES
from hipmonai.networks.checkpoint import load_config_network

__all__ = ["SELECTIONS", "SweepPoint", "evaluate_grading_checkpoint", "rho_label", "run_sweep", "sweep_points"]

#: Checkpoint selections: name -> (checkpoint file written by the bundle, history key, higher is better).
SELECTIONS = {"kappa": ("model.pt", "val_mean_kappa", True), "loss": ("model_min_loss.pt", "val_loss", False)}


def rho_label(rho: float | str) -> str:
    """``"all"`` or the number without trailing zeros (``0.5``, ``1``, ``2.5``) — as used in run names."""
    value = parse_rho(rho)
    return "all" if math.isinf(value) else f"{value:g}"


@dataclass(frozen=True)
class SweepPoint:
    """One row of the sweep: its ``strategy`` and ``rho``, and the run folder ``trained_as`` that trains it."""

    strategy: str
    rho: str
    name: str
    trained_as: str

    @property
    def alias_of(self) -> str | None:
        """The run this point reuses, ``None`` when it is trained under its own name."""
        return None if self.trained_as == self.name else self.trained_as


def _name(strategy: str, rho: str) -> str:
    return f"{strategy}_rho{rho}"


def sweep_points(
    strategies: Sequence[str] = STRATEGIES, rhos: Sequence[float | str] = RHO_VALUES
) -> list[SweepPoint]:
    """The sweep's rows for the chosen strategies and ratios, in the given order (module docstring for the rules).

    Raises:
        InputError: an unknown strategy, an invalid ``rho``, or nothing to run.
    """
    for strategy in strategies:
        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; choose from {list(STRATEGIES)}")
    try:
        labels = list(dict.fromkeys(rho_label(r) for r in rhos))
    except ValueError as err:
        raise InputError(str(err)) from err
    if not strategies or not labels:
        raise InputError("the sweep needs at least one strategy and one rho")
    points: list[SweepPoint] = []
    for strategy in dict.fromkeys(strategies):
        if strategy == "strong_only":
            chosen = ["0"]
        elif strategy == "oracle":
            chosen = ["all"]
        else:
            chosen = labels
        for label in chosen:
            name = _name(strategy, label)
            trained_as = _name("strong_only", "0") if strategy in ("masked", "dual_mil") and label == "0" else name
            points.append(SweepPoint(strategy, label, name, trained_as))
    return points


def _pick(history: Sequence[Mapping[str, float]], key: str, higher: bool) -> Mapping[str, float] | None:
    """First epoch with the best finite ``key`` (the checkpoint savers keep the first best, too)."""
    best = None
    for entry in history:
        value = entry.get(key, math.nan)
        if not math.isfinite(value):
            continue
        if best is None or (value > best[key] if higher else value < best[key]):
            best = entry
    return best


def _val_row(entry: Mapping[str, float] | None, steps_per_epoch: int, targets: Sequence[str]) -> dict[str, Any]:
    entry = entry or {}
    epoch = int(entry.get("epoch", -1))
    return {
        "epoch": epoch,
        "step": epoch * steps_per_epoch if epoch > 0 else -1,
        "val_loss": float(entry.get("val_loss", math.nan)),
        "global_accuracy": float(entry.get("val_global_accuracy", math.nan)),
        "kappa": {t: float(entry.get(f"val_kappa_{t}", math.nan)) for t in targets},
        "mean_kappa": float(entry.get("val_mean_kappa", math.nan)),
    }


def evaluate_grading_checkpoint(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    checkpoint: str | os.PathLike,
    overrides: Mapping[str, Any] | None = None,
    split: str = "test",
    device: str = "cpu",
):
    """Grading metrics of one checkpoint on one manifest split with the bundle's validation preprocessing.

    Returns:
        ``(metrics, result)``: :func:`hipmonai.evaluation.grading.grading_metrics` and the
        :class:`~hipmonai.evaluation.grading.GradingResult`.
    """
    from hipmonai.evaluation.grading import grading_metrics, predict_grading

    parser = bundle_parser(bundle_dir, config_files, overrides)
    network = load_config_network(parser, checkpoint)
    loader = split_loader(parser, split, keep_lesion_mask=False)
    result = predict_grading(network, loader, parser.get_parsed_content("target_names"), device=device)
    return grading_metrics(result), result


def _train_point(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    run_dir: Path,
    strategy: str,
    rho: str,
    overrides: Mapping[str, Any],
    device: str,
) -> dict[str, Any]:
    from hipmonai.data import load_datalist
    from hipmonai.data.weak_labels import split_weak_strong

    settings = {**overrides, "strategy": strategy, "rho": rho}
    parser = bundle_parser(bundle_dir, config_files, settings)
    targets = list(parser.get_parsed_content("target_names"))
    split = split_weak_strong(load_datalist(parser.get_parsed_content("datalist"), "training"),
                              int(parser.get_parsed_content("n_strong")), parser.get_parsed_content("training_rho"),
                              seed=int(parser.get_parsed_content("subset_seed")))
    summary = split.summary
    n_train = summary["n_strong"] + summary["n_weak"]
    batch_size = int(parser.get_parsed_content("batch_size"))
    steps_per_epoch = n_train // batch_size
    if steps_per_epoch < 1:
        raise InputError(f"{run_dir.name}: {n_train} training hips make no full batch of {batch_size} (drop_last); "
                         "lower batch_size or raise n_strong")
    run = train_bundle(bundle_dir, config_files, run_dir, settings, name=run_dir.name)
    val = {sel: _val_row(_pick(run.history, key, higher), steps_per_epoch, targets)
           for sel, (_, key, higher) in SELECTIONS.items()}
    test = {}
    for sel, (filename, _, _) in SELECTIONS.items():
        test[sel], _ = evaluate_grading_checkpoint(bundle_dir, config_files, run_dir / filename, settings,
                                                   device=device)
    return {
        "run": run_dir.name,
        "strategy": strategy,
        "rho": rho,
        "n_strong": summary["n_strong"],
        "n_weak": summary["n_weak"],
        "n_weak_positive": summary["weak_positive"],
        "rho_achieved": summary["rho_achieved"],
        "steps_per_epoch": steps_per_epoch,
        "seconds": run.seconds,
        "overrides": settings,
        "run_dir": str(run_dir),
        "history": run.history,
        "val": val,
        "test": test,
    }


def _csv(rows: Sequence[Mapping[str, Any]], targets: Sequence[str]) -> str:
    header = ["strategy", "rho", "run", "alias_of", "n_strong", "n_weak", "n_weak_positive", "seconds"]
    for sel in SELECTIONS:
        header += [f"val_{sel}_step", f"val_{sel}_loss", f"val_{sel}_global_accuracy",
                   *[f"val_{sel}_kappa_{t}" for t in targets], f"val_{sel}_mean_kappa",
                   f"test_{sel}_global_accuracy", *[f"test_{sel}_kappa_{t}" for t in targets],
                   f"test_{sel}_mean_kappa"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        values = [row["strategy"], row["rho"], row["run"], row.get("alias_of") or "", row["n_strong"],
                  row["n_weak"], row["n_weak_positive"], f"{row['seconds']:.0f}"]
        for sel in SELECTIONS:
            v, t = row["val"][sel], row["test"][sel]
            values += [v["step"], v["val_loss"], v["global_accuracy"], *[v["kappa"][n] for n in targets],
                       v["mean_kappa"], t["global_accuracy"], *[t["kappa"][n] for n in targets], t["mean_kappa"]]
        writer.writerow(values)
    return buffer.getvalue()


def _findings(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plain statements of what the sweep shows on the paper's questions (measured; nothing tuned)."""
    test = {(r["strategy"], r["rho"]): r["test"]["kappa"]["mean_kappa"] for r in rows}
    lines = []
    if test:
        best = max(test, key=lambda k: -math.inf if not math.isfinite(test[k]) else test[k])
        lines.append(f"Highest test mean kappa: {best[0]} at rho={best[1]} ({test[best]:.4f}).")
    if ("masked", "all") in test and ("strong_only", "0") in test:
        diff = test[("masked", "all")] - test[("strong_only", "0")]
        lines.append(f"Masked baseline with all weak labels vs strong-only: {test[('masked', 'all')]:.4f} vs "
                     f"{test[('strong_only', '0')]:.4f} ({diff:+.4f}).")
    for strategy in ("dual_mil", "pure_mil", "masked"):
        series = sorted(((parse_rho(rho), value) for (s, rho), value in test.items() if s == strategy),
                        key=lambda p: p[0])
        if len(series) >= 2 and all(math.isfinite(v) for _, v in series):
            peak_rho, peak = max(series, key=lambda p: p[1])
            last_rho, last = series[-1]
            verdict = "degrades from its peak at the highest rho" if last < peak else "no degradation at highest rho"
            lines.append(f"{strategy}: peak test mean kappa {peak:.4f} at rho={rho_label(peak_rho)}, {last:.4f} at the "
                         f"highest rho ({rho_label(last_rho)}); {verdict}.")
    gains = [r["test"]["kappa"]["mean_kappa"] - r["test"]["loss"]["mean_kappa"] for r in rows
             if not r.get("alias_of")  # a reused run counts once
             and math.isfinite(r["test"]["kappa"]["mean_kappa"]) and math.isfinite(r["test"]["loss"]["mean_kappa"])]
    if gains:
        better = sum(g > 0 for g in gains)
        lines.append(f"Model selection: the max-kappa checkpoint has the higher test mean kappa in {better} of "
                     f"{len(gains)} trained runs (mean gain {sum(gains) / len(gains):+.4f}) over the min-loss "
                     "checkpoint.")
    return lines


def run_sweep(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    strategies: Sequence[str] = STRATEGIES,
    rhos: Sequence[float | str] = RHO_VALUES,
    overrides: Mapping[str, Any] | None = None,
    resume: bool = True,
    device: str = "cpu",
    figures: bool = True,
    commands: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Train and evaluate every (strategy, rho) of the sweep and write its tables.

    Args:
        bundle_dir: the ``hip_osteophyte_grading`` bundle folder.
        config_files: bundle configs (e.g. ``["configs/train.json", "configs/demo.json"]``).
        out_dir: one sub-folder per trained run (``model.pt``, ``model_min_loss.pt``, ``run.json``) and
            ``sweep_results.{md,csv,json}`` (+ ``confusion_matrices.png`` when ``figures``).
        strategies, rhos: the grid (:func:`sweep_points`); ``rhos`` may hold ``"all"``.
        overrides: further config id overrides for every run (e.g. ``{"max_epochs": 5}``).
        resume: reuse a run's ``run.json`` when it exists (an interrupted sweep goes on where it stopped).
        device: where the test evaluation runs (training uses the bundle's ``device``).
        figures: also draw the test confusion matrices of the kappa-selected checkpoints.
        commands: command lines to quote in ``sweep_results.md``.

    Returns:
        One row per sweep point, as written to ``sweep_results.json`` (see
        :func:`hipmonai.evaluation.grading.sweep_tables` for the fields).
    """
    from hipmonai.evaluation.grading import plot_confusion_matrices, sweep_tables

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    points = sweep_points(strategies, rhos)
    overrides = {k: v for k, v in dict(overrides or {}).items() if k not in ("strategy", "rho")}
    targets = list(bundle_parser(bundle_dir, config_files, overrides).get_parsed_content("target_names"))
    started = time.perf_counter()
    records: dict[str, dict[str, Any]] = {}
    rows = []
    for point in points:
        if point.trained_as not in records:
            run_dir = out / point.trained_as
            record_path = run_dir / "run.json"
            if resume and record_path.is_file():
                records[point.trained_as] = json.loads(record_path.read_text(encoding="utf-8"))
            else:
                strategy, rho = ("strong_only", "0") if point.alias_of else (point.strategy, point.rho)
                record = _train_point(bundle_dir, config_files, run_dir, strategy, rho, overrides, device)
                write_text_atomic(record_path, json.dumps(record, indent=2))
                records[point.trained_as] = record
        record = records[point.trained_as]
        rows.append({**{k: v for k, v in record.items() if k != "history"}, "strategy": point.strategy,
                     "rho": point.rho, "run": point.name, "alias_of": point.alias_of})
    tables = sweep_tables(rows, targets)
    findings = _findings(rows)
    parts = ["# Weak-to-strong sweep (Ye et al. 2026)", ""]
    if commands:
        parts += ["```bash", *commands, "```", ""]
    first = records[points[0].trained_as]
    parts += [f"Strong subset: {first['n_strong']} hips; per run overrides: `{json.dumps(overrides)}`. "
              "Rows marked `= strong-only` reuse the strong-only run (no weak sample at rho = 0, same loss).", ""]
    parts += ["## Findings (measured)", "", *[f"- {line}" for line in findings], ""]
    for key, title in (("table1", "Table 1: test mean kappa, checkpoints selected by maximum validation mean kappa"),
                       ("table2", "Table 2: validation, selected by minimum validation loss"),
                       ("table3", "Table 3: validation, selected by maximum validation mean kappa"),
                       ("table4", "Table 4: test set, kappa-selected checkpoints"),
                       ("table4_loss", "Table 4b: test set, loss-selected checkpoints"),
                       ("model_selection", "Model selection: min validation loss vs max validation mean kappa")):
        parts += [f"## {title}", "", tables[key]]
    if figures:
        matrices = {f"{r['strategy']} rho={r['rho']}": [r["test"]["kappa"]["confusion"][t] for t in targets]
                    for r in rows if not r["alias_of"]}
        plot_confusion_matrices(matrices, out / "confusion_matrices.png", targets)
        parts += ["Test confusion matrices (kappa-selected): `confusion_matrices.png`.", ""]
    parts.append(f"Sweep wall time in this call: {time.perf_counter() - started:.0f} s.")
    write_text_atomic(out / "sweep_results.md", "\n".join(parts) + "\n")
    write_text_atomic(out / "sweep_results.csv", _csv(rows, targets))
    write_text_atomic(out / "sweep_results.json", strict_json({"findings": findings, "rows": rows}, indent=2))
    return rows
