"""Paired statistics of Chen et al.: Table 1 (per-image Wilcoxon, baseline vs prior), Table 2 (target co-occurrence)
and Tables A1/A2 (repeated runs).

Metric arrays are ``(N, C)``: N test hips, C targets; ``NaN`` = undefined (e.g. an all-zero heatmap). Differences
are *prior minus baseline*, so negative values mean the prior-guided model is closer / more compact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

from hipmonai.evaluation.classification import known_labels

__all__ = [
    "co_occurrence_matrix",
    "paired_wilcoxon",
    "paired_wilcoxon_table",
    "repeated_runs_table",
    "run_means_table",
]


def paired_wilcoxon(baseline: Sequence[float], prior: Sequence[float]) -> dict[str, float]:
    """Two-sided Wilcoxon signed-rank test of paired values (``scipy.stats.wilcoxon``, zero differences dropped).

    Pairs with a ``NaN`` on either side are excluded first.

    Returns:
        ``n`` (pairs used), ``baseline_mean``, ``baseline_sd``, ``prior_mean``, ``prior_sd`` (sample sd, ``ddof=1``),
        ``mean_diff`` (prior - baseline), ``improved`` (pairs with prior < baseline), ``statistic`` (W) and
        ``p_value``; statistics are ``NaN`` when undefined (no pair, or every difference zero).
    """
    b, p = np.asarray(baseline, dtype=np.float64), np.asarray(prior, dtype=np.float64)
    if b.shape != p.shape or b.ndim != 1:
        raise ValueError(f"baseline and prior must be 1-D of one length, got shapes {b.shape} and {p.shape}.")
    keep = np.isfinite(b) & np.isfinite(p)
    b, p = b[keep], p[keep]
    n = int(b.size)
    out = {
        "n": n,
        "baseline_mean": float(b.mean()) if n else math.nan,
        "baseline_sd": float(b.std(ddof=1)) if n > 1 else math.nan,
        "prior_mean": float(p.mean()) if n else math.nan,
        "prior_sd": float(p.std(ddof=1)) if n > 1 else math.nan,
        "mean_diff": float((p - b).mean()) if n else math.nan,
        "improved": int((p < b).sum()),
        "statistic": math.nan,
        "p_value": math.nan,
    }
    if n and np.any(p != b):
        result = wilcoxon(p, b, zero_method="wilcox", alternative="two-sided")
        out["statistic"], out["p_value"] = float(result.statistic), float(result.pvalue)
    return out


def paired_wilcoxon_table(
    baseline: Mapping[str, Any],
    prior: Mapping[str, Any],
    labels: Any,
    mask: Any | None = None,
    target_names: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Paper 001 Table 1: per metric and target, the paired test on the hips with a *positive* known label.

    Args:
        baseline, prior: metric name -> ``(N, C)`` values of the two models on the same hips (same order).
        labels: ``(N, C)`` binary labels (``-1`` = unknown); only known positives are paired.
        mask: optional ``(N, C)`` known-label flags.
        target_names: column names (default ``target_0`` ...).
        metrics: metric names and order (default: those of ``baseline``).

    Returns:
        One row per (metric, target): ``metric``, ``target`` and the fields of :func:`paired_wilcoxon`.
    """
    positives = known_labels(labels, mask) & (np.asarray(labels, dtype=np.float64) > 0)
    names = list(target_names) if target_names is not None else [f"target_{c}" for c in range(positives.shape[1])]
    if len(names) != positives.shape[1]:
        raise ValueError(f"{len(names)} target names for {positives.shape[1]} label columns.")
    rows = []
    for metric in list(metrics) if metrics is not None else list(baseline):
        if metric not in baseline or metric not in prior:
            raise KeyError(f"metric {metric!r} missing from the baseline or the prior results.")
        b, p = np.asarray(baseline[metric], dtype=np.float64), np.asarray(prior[metric], dtype=np.float64)
        if b.shape != positives.shape or p.shape != positives.shape:
            raise ValueError(f"{metric}: values of shape {b.shape} / {p.shape} do not match labels {positives.shape}.")
        for c, target in enumerate(names):
            rows.append({"metric": metric, "target": target,
                         **paired_wilcoxon(b[positives[:, c], c], p[positives[:, c], c])})
    return rows


def run_means_table(
    baseline: Mapping[str, Any],
    prior: Mapping[str, Any],
    labels: Any,
    mask: Any | None = None,
    target_names: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Paper 001 Table A2 rows of one run: per metric and target the paired means on positive hips.

    Returns:
        Rows with ``metric``, ``target``, ``n``, ``baseline_mean``, ``prior_mean``, ``mean_diff``.
    """
    keep = ("metric", "target", "n", "baseline_mean", "prior_mean", "mean_diff")
    return [{k: row[k] for k in keep}
            for row in paired_wilcoxon_table(baseline, prior, labels, mask, target_names, metrics)]


def repeated_runs_table(runs: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Paper 001 Table A1: Wilcoxon signed-rank over repeated runs of the per-run means.

    Args:
        runs: one list of :func:`run_means_table` rows per run (seed).

    Returns:
        Per (metric, target), in the first run's order: ``metric``, ``target``, ``n_runs``, ``baseline`` and
        ``prior`` (means over runs of the run means), ``mean_diff``, ``improved`` (runs with prior < baseline),
        ``statistic`` (W) and ``p_value`` of the paired test across runs.
    """
    if not runs:
        raise ValueError("repeated_runs_table needs at least one run.")
    order: list[tuple[str, str]] = []
    values: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for rows in runs:
        for row in rows:
            key = (row["metric"], row["target"])
            if key not in values:
                order.append(key)
                values[key] = []
            values[key].append((row["baseline_mean"], row["prior_mean"]))
    table = []
    for key in order:
        pairs = np.asarray(values[key], dtype=np.float64)
        test = paired_wilcoxon(pairs[:, 0], pairs[:, 1])
        table.append({"metric": key[0], "target": key[1], "n_runs": test["n"], "baseline": test["baseline_mean"],
                      "prior": test["prior_mean"], "mean_diff": test["mean_diff"], "improved": test["improved"],
                      "statistic": test["statistic"], "p_value": test["p_value"]})
    return table


def co_occurrence_matrix(labels: Any, mask: Any | None = None) -> np.ndarray:
    """Paper 001 Table 2: Pearson correlation (phi coefficient) between binary targets, ``(C, C)``.

    Each pair of targets uses the hips where both labels are known; ``NaN`` where a target is constant there.
    """
    y = np.asarray(labels, dtype=np.float64)
    known = known_labels(y, mask)
    positive = (y > 0).astype(np.float64)
    n_targets = y.shape[1]
    out = np.eye(n_targets)
    for i in range(n_targets):
        for j in range(i + 1, n_targets):
            both = known[:, i] & known[:, j]
            a, b = positive[both, i], positive[both, j]
            value = math.nan
            if both.sum() > 1 and a.std() > 0 and b.std() > 0:
                value = float(np.corrcoef(a, b)[0, 1])
            out[i, j] = out[j, i] = value
    return out
