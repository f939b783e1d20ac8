"""The baseline-vs-prior report of Chen et al.: markdown tables plus PNG figures (matplotlib, Agg backend).

Written by :func:`write_prior_report` from two :class:`~hipmonai.evaluation.EvaluationResult` s of the same hips:

- ``report.md``: per-target ROC AUC (Figure 2 numbers), Table 1 (paired Wilcoxon on positives: n, mean +- sd,
  mean difference prior - baseline, W, p), true-lesion localisation (pointing game, energy inside the lesion mask;
  phantoms only), Table 2 (target co-occurrence), the acceptance checks and the figure list;
- ``roc_curves.png`` (Figure 2), ``localisation.png`` (Figure 3 and A2: distance and spread distributions),
  ``mean_gradcam.png`` (Figure 4: mean Grad-CAM over positives with mean target landmarks), ``cooccurrence.png``
  (Table 2) and ``gallery.png`` (Figure 6 analogue);
- ``results.json`` (every number above) and ``per_case.csv`` (one row per hip and target).

Heatmaps are ``(W, H)`` (x first, docs/conventions.md) and are drawn transposed so x runs left to right.
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
from hipmonai.evaluation.classification import masked_roc_auc, masked_roc_curves
from hipmonai.evaluation.gradcam_eval import LESION_METRICS, LOCALISATION_METRICS, EvaluationResult
from hipmonai.evaluation.statistics import co_occurrence_matrix, paired_wilcoxon, paired_wilcoxon_table

__all__ = ["ACCEPTANCE", "acceptance_checks", "select_gallery_cases", "write_prior_report"]

#: Acceptance thresholds of the prior-vs-baseline comparison (measured, never tuned): Wilcoxon p for CoM and peak
#: distance, |delta AUC|.
ACCEPTANCE = {"p_value": 0.001, "max_abs_auc_change": 0.03}
METRIC_TITLES = {
    "com_distance_px": "Centre-of-mass distance (px)",
    "peak_distance_px": "Peak distance (px)",
    "spread_px": "Heatmap spread (px)",
    "pointing_game": "Pointing game (peak in lesion)",
    "energy_inside": "Energy inside lesion mask",
}


def _check_pair(baseline: EvaluationResult, prior: EvaluationResult) -> None:
    if baseline.keys != prior.keys:
        raise ValueError("baseline and prior were evaluated on different hips (keys differ); pass the same split.")
    if baseline.target_names != prior.target_names:
        raise ValueError(f"target names differ: {baseline.target_names} vs {prior.target_names}.")


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _fmt_p(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.2e}" if value < 0.001 else f"{value:.3f}"


def lesion_summary(baseline: EvaluationResult, prior: EvaluationResult) -> list[dict[str, Any]]:
    """Per target and pooled over targets: mean pointing game and energy inside the lesion mask on known positives.

    Returns rows ``target`` (or ``"all"``), ``n`` (positives with a lesion mask), ``pointing_baseline``,
    ``pointing_prior``, ``energy_baseline``, ``energy_prior``, ``energy_p_value`` (paired Wilcoxon); empty when the
    results carry no lesion metrics (real data).
    """
    if not all(name in baseline.metrics and name in prior.metrics for name in LESION_METRICS):
        return []
    positives = baseline.positives
    rows = []
    columns = [(name, [c]) for c, name in enumerate(baseline.target_names)]
    columns.append(("all", list(range(len(baseline.target_names)))))
    for target, cols in columns:
        sel = np.zeros_like(positives)
        sel[:, cols] = positives[:, cols]
        pb, pp = baseline.metrics["pointing_game"][sel], prior.metrics["pointing_game"][sel]
        eb, ep = baseline.metrics["energy_inside"][sel], prior.metrics["energy_inside"][sel]
        defined = np.isfinite(pb) & np.isfinite(pp)
        energy = paired_wilcoxon(eb, ep)
        rows.append({
            "target": target,
            "n": int(defined.sum()),
            "pointing_baseline": float(pb[defined].mean()) if defined.any() else math.nan,
            "pointing_prior": float(pp[defined].mean()) if defined.any() else math.nan,
            "energy_baseline": energy["baseline_mean"],
            "energy_prior": energy["prior_mean"],
            "energy_p_value": energy["p_value"],
        })
    return rows


def acceptance_checks(
    auc_baseline: Sequence[float],
    auc_prior: Sequence[float],
    table1: Sequence[Mapping[str, Any]],
    lesions: Sequence[Mapping[str, Any]],
    target_names: Sequence[str],
) -> list[dict[str, Any]]:
    """The acceptance criteria of the prior-vs-baseline comparison, each with its measured value and whether it holds.

    - per target: CoM and peak distance reduced (mean diff < 0) with Wilcoxon p < 0.001;
    - per target: |AUC(prior) - AUC(baseline)| <= 0.03;
    - pooled over targets: pointing game of the prior >= the baseline's (phantoms only).
    """
    checks = []
    for row in table1:
        if row["metric"] not in ("com_distance_px", "peak_distance_px"):
            continue
        ok = bool(row["mean_diff"] < 0 and row["p_value"] < ACCEPTANCE["p_value"])
        checks.append({"check": f"{row['metric']} reduced, p < {ACCEPTANCE['p_value']}", "target": row["target"],
                       "value": f"diff {_fmt(row['mean_diff'])} px, p {_fmt_p(row['p_value'])}, n {row['n']}",
                       "passed": ok})
    for c, target in enumerate(target_names):
        change = float(auc_prior[c] - auc_baseline[c])
        checks.append({"check": f"|AUC change| <= {ACCEPTANCE['max_abs_auc_change']}", "target": target,
                       "value": f"{change:+.3f}", "passed": bool(abs(change) <= ACCEPTANCE["max_abs_auc_change"])})
    pooled = [row for row in lesions if row["target"] == "all"]
    if pooled:
        row = pooled[0]
        checks.append({"check": "pointing game prior >= baseline", "target": "all",
                       "value": f"{_fmt(row['pointing_prior'], 3)} vs {_fmt(row['pointing_baseline'], 3)} "
                                f"(n {row['n']})",
                       "passed": bool(row["pointing_prior"] >= row["pointing_baseline"])})
    return checks


def select_gallery_cases(
    baseline: EvaluationResult, prior: EvaluationResult, metric: str = "com_distance_px"
) -> list[dict[str, Any]]:
    """Cases for the gallery (Chen et al. Figure 6 analogue), per target: the known-positive hip whose ``metric``
    improved most, the one that improved least (or got worse), and the known-negative hip with the highest baseline
    score (a possible false positive).

    Returns:
        Dicts ``index`` (row of the results), ``target`` (column), ``reason``.
    """
    _check_pair(baseline, prior)
    cases = []
    diff = prior.metrics[metric] - baseline.metrics[metric]
    negatives = (baseline.label_mask > 0) & (baseline.labels <= 0)
    for c, target in enumerate(baseline.target_names):
        pos = np.flatnonzero(baseline.positives[:, c] & np.isfinite(diff[:, c]))
        if pos.size:
            best, worst = pos[np.argmin(diff[pos, c])], pos[np.argmax(diff[pos, c])]
            cases.append({"index": int(best), "target": c, "reason": f"{target}: positive, largest improvement"})
            if worst != best:
                cases.append({"index": int(worst), "target": c, "reason": f"{target}: positive, smallest improvement"})
        neg = np.flatnonzero(negatives[:, c])
        if neg.size:
            top = neg[np.argmax(baseline.probabilities[neg, c])]
            cases.append({"index": int(top), "target": c, "reason": f"{target}: negative, highest baseline score"})
    return cases


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def _plot_roc(baseline: EvaluationResult, prior: EvaluationResult, path: Path) -> None:
    plt = _plt()
    names = baseline.target_names
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.6))
    curves = {label: masked_roc_curves(r.probabilities, r.labels, r.label_mask)
              for label, r in (("baseline", baseline), ("prior", prior))}
    for c, ax in enumerate(np.atleast_1d(axes)):
        for label, style in (("baseline", "--"), ("prior", "-")):
            curve = curves[label][c]
            if curve["fpr"].size:
                ax.plot(curve["fpr"], curve["tpr"], style, label=f"{label} AUC {curve['auc']:.3f}")
        ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
        n_pos, n_neg = curves["baseline"][c]["n_pos"], curves["baseline"][c]["n_neg"]
        ax.set_title(f"{names[c]}\n({n_pos} pos / {n_neg} neg)", fontsize=9)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower right", fontsize=8)
        ax.set_aspect("equal")
    _save(fig, path)


def _plot_localisation(baseline: EvaluationResult, prior: EvaluationResult, path: Path) -> None:
    plt = _plt()
    names = baseline.target_names
    fig, axes = plt.subplots(1, len(LOCALISATION_METRICS), figsize=(4.6 * len(LOCALISATION_METRICS), 3.8))
    positives = baseline.positives
    for ax, metric in zip(np.atleast_1d(axes), LOCALISATION_METRICS, strict=True):
        data, positions = [], []
        for c in range(len(names)):
            for offset, result in ((-0.18, baseline), (0.18, prior)):
                values = result.metrics[metric][positives[:, c], c]
                data.append(values[np.isfinite(values)])
                positions.append(c + offset)
        parts = ax.boxplot(data, positions=positions, widths=0.3, patch_artist=True, showfliers=False)
        for i, box in enumerate(parts["boxes"]):
            box.set_facecolor("#bbbbbb" if i % 2 == 0 else "#4c9be8")
        ax.set_xticks(range(len(names)), [n.replace("osteo_", "") for n in names], fontsize=8)
        ax.set_title(f"{METRIC_TITLES[metric]}\npositives; grey baseline, blue prior", fontsize=9)
    _save(fig, path)


def _plot_mean_gradcam(baseline: EvaluationResult, prior: EvaluationResult, path: Path) -> None:
    plt = _plt()
    names = baseline.target_names
    fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 6.6), squeeze=False)
    for row, (label, result) in enumerate((("baseline", baseline), ("prior", prior))):
        for c, name in enumerate(names):
            ax = axes[row, c]
            ax.imshow(result.mean_heatmaps[c].T, cmap="jet", vmin=0, vmax=max(float(result.mean_heatmaps[c].max()),
                                                                                1e-6))
            points = result.mean_landmarks[c]
            points = points[np.isfinite(points).all(axis=1)]
            ax.scatter(points[:, 0], points[:, 1], s=18, c="white", edgecolors="black", linewidths=0.5)
            ax.set_title(f"{label}: {name}\n(n = {int(result.n_positive[c])})", fontsize=9)
            ax.axis("off")
    fig.suptitle("Mean Grad-CAM over positive hips; white points: mean target landmarks", fontsize=10)
    _save(fig, path)


def _plot_cooccurrence(matrix: np.ndarray, names: Sequence[str], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="coolwarm")
    short = [n.replace("osteo_", "") for n in names]
    ax.set_xticks(range(len(names)), short, rotation=30, fontsize=8)
    ax.set_yticks(range(len(names)), short, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, _fmt(matrix[i, j], 3), ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title("Target co-occurrence (Pearson r)", fontsize=9)
    _save(fig, path)


def _plot_gallery(cases: Sequence[Mapping[str, Any]], path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(len(cases), 3, figsize=(9, 3.1 * len(cases)), squeeze=False)
    for row, case in enumerate(cases):
        image = np.asarray(case["image"])
        points = np.asarray(case["landmarks"])
        points = points[np.isfinite(points).all(axis=1)]
        panels = (("image", None, ""), ("baseline", case["baseline_map"], f" p={case['baseline_prob']:.2f}"),
                  ("prior", case["prior_map"], f" p={case['prior_prob']:.2f}"))
        for col, (label, heatmap, score) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(image.T, cmap="gray")
            if heatmap is not None:
                ax.imshow(np.asarray(heatmap).T, cmap="jet", alpha=0.45, vmin=0, vmax=1)
            elif case.get("lesion") is not None and np.asarray(case["lesion"]).any():
                ax.contour(np.asarray(case["lesion"]).T > 0, levels=[0.5], colors="yellow", linewidths=0.8)
            ax.scatter(points[:, 0], points[:, 1], s=14, c="white", edgecolors="black", linewidths=0.5)
            title = f"{case['key']} y={int(case['label'])}" if col == 0 else f"{label}{score}"
            ax.set_title(title if col else f"{case['reason']}\n{title}", fontsize=8)
            ax.axis("off")
    _save(fig, path)


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _per_case_csv(baseline: EvaluationResult, prior: EvaluationResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    metrics = [m for m in (*LOCALISATION_METRICS, *LESION_METRICS) if m in baseline.metrics]
    writer.writerow(["key", "target", "label", "known", "prob_baseline", "prob_prior",
                     *[f"{m}_{arm}" for m in metrics for arm in ("baseline", "prior")]])
    for i, key in enumerate(baseline.keys):
        for c, target in enumerate(baseline.target_names):
            values = [f"{r.metrics[m][i, c]:.4f}" for m in metrics for r in (baseline, prior)]
            writer.writerow([key, target, int(baseline.labels[i, c]), int(baseline.label_mask[i, c] > 0),
                             f"{baseline.probabilities[i, c]:.4f}", f"{prior.probabilities[i, c]:.4f}", *values])
    return buffer.getvalue()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_prior_report(
    baseline: EvaluationResult,
    prior: EvaluationResult,
    out_dir: str | os.PathLike,
    gallery: Sequence[Mapping[str, Any]] = (),
    commands: Sequence[str] = (),
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the report of one baseline / prior pair evaluated on the same hips.

    Args:
        baseline, prior: evaluation results of the two models on the same split (same keys, same order).
        out_dir: folder to write into (created).
        gallery: cases from :func:`select_gallery_cases` completed with ``key``, ``image`` ``(W, H)``,
            ``landmarks`` ``(P, 2)``, ``lesion`` ``(W, H)`` or ``None``, ``label``, ``baseline_map`` and
            ``prior_map`` ``(W, H)``, ``baseline_prob`` and ``prior_prob``.
        commands: the command lines that produced the models and this report (quoted in the markdown).
        context: extra facts for the header and ``results.json`` (e.g. checkpoint paths, split, timings).

    Returns:
        The ``results.json`` content (AUCs, Table 1 rows, lesion rows, co-occurrence, acceptance checks).
    """
    _check_pair(baseline, prior)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = baseline.target_names
    auc_b = masked_roc_auc(baseline.probabilities, baseline.labels, baseline.label_mask)
    auc_p = masked_roc_auc(prior.probabilities, prior.labels, prior.label_mask)
    table1 = paired_wilcoxon_table(baseline.metrics, prior.metrics, baseline.labels, baseline.label_mask, names,
                                   LOCALISATION_METRICS)
    lesions = lesion_summary(baseline, prior)
    cooccurrence = co_occurrence_matrix(baseline.labels, baseline.label_mask)
    checks = acceptance_checks(auc_b, auc_p, table1, lesions, names)

    _plot_roc(baseline, prior, out / "roc_curves.png")
    _plot_localisation(baseline, prior, out / "localisation.png")
    _plot_mean_gradcam(baseline, prior, out / "mean_gradcam.png")
    _plot_cooccurrence(cooccurrence, names, out / "cooccurrence.png")
    figures = ["roc_curves.png", "localisation.png", "mean_gradcam.png", "cooccurrence.png"]
    if gallery:
        _plot_gallery(gallery, out / "gallery.png")
        figures.append("gallery.png")

    known = baseline.label_mask > 0
    n_hips = len(baseline.keys)
    lines = ["# Landmark CAM prior vs baseline (evaluation of Chen et al.)", ""]
    lines.append(f"{n_hips} hips; Grad-CAM of the last convolutional stage (monai.visualize.GradCAM), upsampled to "
                 f"{baseline.image_size[0]} x {baseline.image_size[1]} px, min-max normalised per map. Localisation "
                 "metrics on known-positive labels only; differences are prior minus baseline (negative = closer / "
                 "more compact).")
    for name, value in (context or {}).items():
        lines.append(f"- {name}: {value}")
    if commands:
        lines += ["", "Commands:", "", "```bash", *commands, "```"]
    lines += ["", "## Classification (ROC AUC, unknown labels excluded)", ""]
    lines.append(_markdown_table(
        ["Target", "pos / neg", "Baseline", "Prior", "Diff."],
        [[t, f"{int(((baseline.labels[:, c] > 0) & known[:, c]).sum())} / "
             f"{int(((baseline.labels[:, c] <= 0) & known[:, c]).sum())}",
          _fmt(auc_b[c], 3), _fmt(auc_p[c], 3), _fmt(auc_p[c] - auc_b[c], 3)] for c, t in enumerate(names)]))
    lines += ["", "## Localisation and compactness (Table 1 layout; paired Wilcoxon signed-rank)", ""]
    lines.append(_markdown_table(
        ["Metric", "Target", "n", "Baseline", "Prior", "Mean diff.", "W", "p"],
        [[METRIC_TITLES[r["metric"]], r["target"], r["n"], f"{_fmt(r['baseline_mean'])} ± {_fmt(r['baseline_sd'])}",
          f"{_fmt(r['prior_mean'])} ± {_fmt(r['prior_sd'])}", _fmt(r["mean_diff"]), _fmt(r["statistic"]),
          _fmt_p(r["p_value"])] for r in table1]))
    if lesions:
        lines += ["", "## True-lesion localisation (phantom lesion masks, known positives)", ""]
        lines.append(_markdown_table(
            ["Target", "n", "Pointing game baseline", "Pointing game prior", "Energy inside baseline",
             "Energy inside prior", "p (energy)"],
            [[r["target"], r["n"], _fmt(r["pointing_baseline"], 3), _fmt(r["pointing_prior"], 3),
              _fmt(r["energy_baseline"], 3), _fmt(r["energy_prior"], 3), _fmt_p(r["energy_p_value"])]
             for r in lesions]))
    lines += ["", "## Target co-occurrence (Table 2 layout, Pearson r on known label pairs of these hips)", ""]
    short = [n.replace("osteo_", "") for n in names]
    lines.append(_markdown_table(["", *short], [[short[i], *[_fmt(v, 3) for v in cooccurrence[i]]]
                                                for i in range(len(names))]))
    lines += ["", "## Acceptance checks", ""]
    lines.append(_markdown_table(["Check", "Target", "Measured", "Passed"],
                                 [[c["check"], c["target"], c["value"], "yes" if c["passed"] else "**no**"]
                                  for c in checks]))
    lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in figures]
    lines.append("")
    write_text_atomic(out / "report.md", "\n".join(lines))
    write_text_atomic(out / "per_case.csv", _per_case_csv(baseline, prior))
    results = {
        "n_hips": n_hips,
        "target_names": list(names),
        "auc": {"baseline": auc_b, "prior": auc_p},
        "table1": table1,
        "lesion_localisation": lesions,
        "cooccurrence": cooccurrence,
        "acceptance": checks,
        "all_passed": all(c["passed"] for c in checks),
        "seconds": {"baseline": baseline.seconds, "prior": prior.seconds},
        "context": dict(context or {}),
        "figures": figures,
    }
    results = _jsonable(results)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2))
    return results
