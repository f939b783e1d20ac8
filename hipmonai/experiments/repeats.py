"""Repeated runs of baseline and prior over seeds, with the Table A1/A2 analysis of Chen et al.

For each seed the store is split anew by subject (:func:`hipmonai.data.make_datalist` with that seed) and both
models are trained with that seed (``seed`` id of the bundle), so a run varies the split *and* the initialisation,
as the paper's appendix does ("each run used the same seed for both the model training and the data split"). Each
pair is evaluated with Grad-CAM on its test split; Table A2 lists the per-run means on positive hips, Table A1 the
Wilcoxon signed-rank test across runs of those means (n = number of runs; with every run improving, W = 0 and the
smallest two-sided p for n runs is ``2 / 2^n``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.atomic import write_text_atomic
from hipmonai.experiments.bundle import evaluate_checkpoint, train_or_resume
from hipmonai.io.strict_json import strict_json

__all__ = ["ARMS", "run_repeats"]

#: The two arms of a run and their lambda override (``None``: the bundle's configured lambda).
ARMS = {"baseline": 0.0, "prior": None}


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def run_repeats(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    store: str | os.PathLike,
    seeds: Sequence[int],
    out_dir: str | os.PathLike,
    overrides: Mapping[str, Any] | None = None,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    resume: bool = True,
) -> dict[str, Any]:
    """Train and evaluate baseline and prior for every seed; write Tables A1 and A2.

    Args:
        bundle_dir, config_files: the bundle and its configs (e.g. ``train.json`` + ``demo.json``).
        store: the preprocessed HDF5 store to split.
        seeds: split and training seeds (Chen et al.: 0-11 and 123).
        out_dir: ``seed{S}/manifest.json``, ``seed{S}/{baseline,prior}/`` runs, and ``repeats.{md,json}``,
            ``table_a1.csv``, ``table_a2.csv``.
        overrides: further id overrides for every run (e.g. ``{"max_epochs": 5}``).
        fractions: training/validation/test shares of subjects.
        resume: reuse finished runs (``run.json``) and evaluations (``evaluation.json``).

    Returns:
        ``{"table_a1": rows, "table_a2": rows, "auc": per-seed AUCs}``.
    """
    from hipmonai.data import make_datalist, write_manifest
    from hipmonai.evaluation import LOCALISATION_METRICS, masked_roc_auc, repeated_runs_table, run_means_table

    if len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {list(seeds)}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs_rows, table_a2, aucs = [], [], []
    for seed in seeds:
        seed_dir = out / f"seed{seed}"
        manifest = seed_dir / "manifest.json"
        if not (resume and manifest.is_file()):
            write_manifest(manifest, make_datalist(store, seed=int(seed), fractions=fractions))
        evaluation = seed_dir / "evaluation.json"
        if resume and evaluation.is_file():
            saved = json.loads(evaluation.read_text(encoding="utf-8"))
            rows, auc = saved["rows"], saved["auc"]
        else:
            common = {**dict(overrides or {}), "datalist": str(manifest.resolve()), "seed": int(seed)}
            results = {}
            for arm, lam in ARMS.items():
                arm_overrides = dict(common) if lam is None else {**common, "lambda_prior": lam}
                run = train_or_resume(bundle_dir, config_files, seed_dir / arm, arm_overrides, name=arm, resume=resume)
                results[arm], _, _ = evaluate_checkpoint(bundle_dir, config_files, run.checkpoint, "test",
                                                         overrides=common)
            base, prior = results["baseline"], results["prior"]
            rows = run_means_table(base.metrics, prior.metrics, base.labels, base.label_mask, base.target_names,
                                   LOCALISATION_METRICS)
            auc = {arm: masked_roc_auc(r.probabilities, r.labels, r.label_mask).tolist() for arm, r in results.items()}
            auc["target_names"] = list(base.target_names)
            write_text_atomic(evaluation, json.dumps({"rows": rows, "auc": auc}, indent=2, allow_nan=True))
        runs_rows.append(rows)
        table_a2.extend({"seed": int(seed), **row} for row in rows)
        aucs.append({"seed": int(seed), **auc})
    table_a1 = repeated_runs_table(runs_rows)
    _write_tables(out, table_a1, table_a2, aucs, list(seeds))
    return {"table_a1": table_a1, "table_a2": table_a2, "auc": aucs}


def _csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def auc_summary(aucs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per target, the test AUC of both arms across runs: means, the prior-minus-baseline difference (mean, sample
    SD, min, max) and the two-sided Wilcoxon signed-rank p over the paired runs (NaN below 2 runs or all ties).

    Args:
        aucs: one entry per run, ``{"seed", "target_names", "baseline": [C], "prior": [C]}``.
    """
    from scipy.stats import wilcoxon

    if not aucs:
        return []
    rows = []
    for c, target in enumerate(aucs[0]["target_names"]):
        pairs = [(e["baseline"][c], e["prior"][c]) for e in aucs
                 if e["baseline"][c] is not None and e["prior"][c] is not None
                 and math.isfinite(e["baseline"][c]) and math.isfinite(e["prior"][c])]
        base = np.array([b for b, _ in pairs], dtype=float)
        prior = np.array([p for _, p in pairs], dtype=float)
        diff = prior - base
        p_value = float("nan")
        if len(diff) >= 2 and np.any(diff != 0):
            p_value = float(wilcoxon(prior, base).pvalue)
        nan = float("nan")
        rows.append({"target": target, "n_runs": len(diff),
                     "baseline": float(base.mean()) if len(diff) else nan,
                     "prior": float(prior.mean()) if len(diff) else nan,
                     "mean_diff": float(diff.mean()) if len(diff) else nan,
                     "sd_diff": float(diff.std(ddof=1)) if len(diff) >= 2 else nan,
                     "min_diff": float(diff.min()) if len(diff) else nan,
                     "max_diff": float(diff.max()) if len(diff) else nan,
                     "p_value": p_value})
    return rows


def _write_tables(out: Path, table_a1, table_a2, aucs, seeds) -> None:
    lines = ["# Repeated runs: baseline vs prior", "",
             f"Seeds (split and training): {', '.join(map(str, seeds))}. Per-run means on positive test hips; "
             "differences prior minus baseline.", "",
             "## Table A1 (Wilcoxon signed-rank across runs)", "",
             "| Metric | Target | n runs | Baseline | Prior | Mean diff. | Improved | W | p |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table_a1:
        p = r["p_value"]
        lines.append(f"| {r['metric']} | {r['target']} | {r['n_runs']} | {_fmt(r['baseline'])} | {_fmt(r['prior'])} | "
                     f"{_fmt(r['mean_diff'])} | {r['improved']}/{r['n_runs']} | {_fmt(r['statistic'])} | "
                     f"{'n/a' if not math.isfinite(p) else f'{p:.6f}'} |")
    lines += ["", "## Table A2 (every run)", "", "| Seed | Metric | Target | n | Baseline mean | Prior mean | Diff. |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['seed']} | {r['metric']} | {r['target']} | {r['n']} | {_fmt(r['baseline_mean'])} | "
              f"{_fmt(r['prior_mean'])} | {_fmt(r['mean_diff'])} |" for r in table_a2]
    lines += ["", "## Test ROC AUC per run", "", "| Seed | Target | Baseline | Prior |", "|---|---|---|---|"]
    for entry in aucs:
        for c, target in enumerate(entry["target_names"]):
            lines.append(f"| {entry['seed']} | {target} | {_fmt(entry['baseline'][c], 3)} | "
                         f"{_fmt(entry['prior'][c], 3)} |")
    summary = auc_summary(aucs)
    if summary:
        lines += ["", "## Test ROC AUC across runs (prior minus baseline, Wilcoxon signed-rank across runs)", "",
                  "| Target | n runs | Baseline mean | Prior mean | Mean diff. | SD diff. | Min diff. | Max diff. "
                  "| p |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['target']} | {r['n_runs']} | {_fmt(r['baseline'], 3)} | {_fmt(r['prior'], 3)} | "
                  f"{_fmt(r['mean_diff'], 3)} | {_fmt(r['sd_diff'], 3)} | {_fmt(r['min_diff'], 3)} | "
                  f"{_fmt(r['max_diff'], 3)} | {_fmt(r['p_value'], 3)} |"
                  for r in summary]
    write_text_atomic(out / "repeats.md", "\n".join(lines) + "\n")
    write_text_atomic(out / "table_a1.csv", _csv(table_a1))
    write_text_atomic(out / "table_a2.csv", _csv(table_a2))
    write_text_atomic(out / "repeats.json", strict_json(
        {"seeds": seeds, "table_a1": table_a1, "table_a2": table_a2, "auc": aucs, "auc_summary": summary}, indent=2,
        default=lambda v: None))
