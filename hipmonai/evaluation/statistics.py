"""Paired statistics of Chen et al.: Table 1 (per-image Wilcoxon, baseline vs prior), Table 2 (target co-occurrence)
and Tables A1/A2 (repeated runs); the subject-level bootstrap that gives every reported figure its 95 % confidence
interval, and the mean ± sd of repeated runs.

Metric arrays are ``(N, C)``: N test hips, C targets; ``NaN`` = undefined (e.g. an all-zero heatmap). Differences
are *prior minus baseline*, so negative values mean the prior-guided model is closer / more compact.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

from hipmonai.evaluation.classification import known_labels

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "co_occurrence_matrix",
    "format_ci",
    "mean_sd",
    "paired_wilcoxon",
    "paired_wilcoxon_table",
    "repeated_runs_table",
    "run_means_table",
    "subject_bootstrap",
    "subject_of",
]

#: resamples of :func:`subject_bootstrap` unless a caller asks for others
BOOTSTRAP_RESAMPLES = 2000


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


def subject_of(key: str) -> str:
    """The subject of a case key: the part before the first ``/`` (``subject/visit/side`` -> ``subject``)."""
    return str(key).split("/", 1)[0]


def subject_bootstrap(
    statistic: Callable[[np.ndarray], Any],
    subjects: Sequence[Hashable],
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Subject-level percentile bootstrap: a statistic of cases with a confidence interval over subjects.

    Cases of one subject (both hips, both knees, several landmarks) are not independent, so each resample draws
    *subjects* with replacement and takes every case of each drawn subject, as often as it was drawn. A resample
    whose statistic is undefined (``NaN``, e.g. an AUC without a positive) is dropped; the interval is the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of the rest (Efron and Tibshirani 1993, ch. 13).

    Args:
        statistic: ``statistic(rows)`` -> a float or an array of floats, where ``rows`` is an int array of case
            indices (with repeats); it is called once with every case for the point estimate.
        subjects: ``(N,)`` subject of each case.
        n_resamples: bootstrap resamples.
        level: confidence level.
        seed: seed of the resampling (fixed, so a report is reproducible).

    Returns:
        ``value`` (the statistic on every case), ``ci_low``, ``ci_high`` (floats, or lists for an array statistic;
        ``NaN`` where fewer than two resamples were defined), ``level``, ``n_subjects``, ``n_cases``,
        ``n_resamples`` (requested) and ``n_defined`` (resamples with a finite statistic, the smallest over the
        entries of an array statistic).

    Example::

        >>> import numpy as np
        >>> ci = subject_bootstrap(lambda rows: np.mean(np.array([1.0, 2.0, 3.0, 4.0])[rows]), ["a", "a", "b", "c"])
        >>> ci["value"], ci["n_subjects"]
        (2.5, 3)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples!r}.")
    labels = list(subjects)
    if not labels:
        raise ValueError("subject_bootstrap needs at least one case.")
    order: dict[Hashable, list[int]] = {}
    for row, subject in enumerate(labels):
        order.setdefault(subject, []).append(row)
    groups = [np.asarray(rows, dtype=np.int64) for rows in order.values()]
    everything = np.arange(len(labels), dtype=np.int64)
    value = np.asarray(statistic(everything), dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = np.empty((n_resamples, *value.shape), dtype=np.float64)
    for b in range(n_resamples):
        chosen = rng.integers(0, len(groups), size=len(groups))
        draws[b] = np.asarray(statistic(np.concatenate([groups[g] for g in chosen])), dtype=np.float64)
    finite = np.isfinite(draws)
    defined = finite.sum(axis=0)
    tail = 100.0 * (1.0 - level) / 2.0
    with warnings.catch_warnings():  # an entry without a defined resample is NaN, set below
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(draws, [tail, 100.0 - tail], axis=0)
    low, high = np.where(defined > 1, low, np.nan), np.where(defined > 1, high, np.nan)

    def plain(array: np.ndarray) -> float | list:
        return float(array) if array.ndim == 0 else array.tolist()

    return {"value": plain(value), "ci_low": plain(np.asarray(low)), "ci_high": plain(np.asarray(high)),
            "level": float(level), "n_subjects": len(groups), "n_cases": len(labels), "n_resamples": int(n_resamples),
            "n_defined": int(np.min(defined)) if defined.size else 0}


def format_ci(estimate: Mapping[str, Any] | None, digits: int = 3, scale: float = 1.0, signed: bool = False) -> str:
    """``"0.812 (0.751 to 0.870)"`` from a :func:`subject_bootstrap` result; ``"n/a"`` for a missing or undefined one.

    Args:
        estimate: mapping with ``value``, ``ci_low``, ``ci_high`` (floats).
        digits: decimals.
        scale: factor applied to all three (``100`` for percentages).
        signed: write a ``+`` before positive values (differences).
    """
    if not estimate:
        return "n/a"
    values = [estimate.get(k) for k in ("value", "ci_low", "ci_high")]
    if values[0] is None or not math.isfinite(float(values[0])):
        return "n/a"
    sign = "+" if signed else ""
    text = f"{scale * float(values[0]):{sign}.{digits}f}"
    if all(v is not None and math.isfinite(float(v)) for v in values[1:]):
        text += f" ({scale * float(values[1]):{sign}.{digits}f} to {scale * float(values[2]):{sign}.{digits}f})"
    return text


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    """Repeated runs: ``mean``, ``sd`` (sample, ``ddof=1``; ``NaN`` for one run) and ``n`` of the finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return {"mean": float(v.mean()) if v.size else math.nan,
            "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan, "n": int(v.size)}
