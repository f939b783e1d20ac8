"""The main job's report: the four bundles' results on the phantom cohorts, in one markdown + HTML page.

:func:`build_main_report` reads what the main job's evaluation steps wrote (each bundle's ``results.json`` and PNG
figures, see :mod:`hipmonai.experiments.main_job` for the folder layout) and turns it into a
:class:`~hipmonai.evaluation.report_page.ReportDocument`: key tables per bundle, every figure with a caption saying
what it shows, the step timings, and the commands that reproduce each part. Missing results (a step that did not
run) become a note instead of an error, so a partial job still gets a page.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hipmonai.evaluation.report_page import ReportDocument, ReportFigure, ReportSection, ReportTable
from hipmonai.evaluation.statistics import format_ci

__all__ = ["build_main_report"]

TARGETS = ("osteo_fem_sup", "osteo_fem_inf", "osteo_acet_sup", "osteo_acet_inf")
BUNDLE_README = "bundles/{}/docs/README.md"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _p(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def _ci(estimate: Any, fallback: Any = None, digits: int = 3, scale: float = 1.0, signed: bool = False) -> str:
    """A value with its 95 % CI (a ``subject_bootstrap`` dict), or the bare ``fallback`` number for older results."""
    if isinstance(estimate, Mapping) and "value" in estimate:
        return format_ci(estimate, digits, scale, signed)
    if fallback is None or (isinstance(fallback, float) and not math.isfinite(fallback)):
        return "n/a"
    return f"{scale * fallback:{'+' if signed else ''}.{digits}f}"


def _at(sequence: Any, index: int) -> Any:
    """``sequence[index]`` or ``None``."""
    return sequence[index] if isinstance(sequence, Sequence) and index < len(sequence) else None


def _commands(steps: Sequence[Any], names: Sequence[str]) -> list[str]:
    """``(cd CWD && COMMAND)`` lines of the named steps (``Step`` objects with ``name``, ``cwd``, ``shell_text``)."""
    chosen = [s for s in steps if s.name in names]
    return [f"(cd {s.cwd} && {s.shell_text()})" for s in chosen]


def _results(section: ReportSection, folder: Path) -> dict[str, Any] | None:
    """``folder/results.json`` of a bundle's evaluation step, or ``None`` with a note in ``section``."""
    results = _read(folder / "results.json")
    if results is None:
        section.paragraphs.append(f"No results: `{folder / 'results.json'}` was not written (see the step logs in "
                                  "`logs/`).")
    return results


def _cohort_section(out: Path, scale: Mapping[str, Any], steps: Sequence[Any]) -> ReportSection:
    section = ReportSection(
        "Phantom cohorts",
        [f"Synthetic AP pelvis ({scale.get('hip_subjects')} subjects, both hips) and bilateral PA knee "
         f"({scale.get('knee_subjects')} subjects) radiographs, written as DICOM with BoneFinder-style `.pts` "
         "landmarks, OARSI osteophyte grades and, for the phantoms only, the true lesion masks. The real cohorts "
         "(CHECK, OAI) are restricted; the phantoms exercise every step the real data goes through.",
         "Hips are preprocessed into the HDF5 store (0.4 mm spacing, 224 px crop centred on the femoral head, "
         "5–95 % percentile scaling, left hips flipped) and split 70/15/15 by subject."],
    )
    for name, what in (("hip", "hip"), ("knee", "knee")):
        sheet = out / "cohorts" / name / "contact_sheet.png"
        section.figures.append(ReportFigure(
            sheet, f"Contact sheet of the {what} phantoms: a few radiographs of the cohort with their landmarks, "
                   "to check at a glance that anatomy, exposure and annotations look plausible.",
            name=f"cohort_{name}_contact_sheet"))
    section.commands = _commands(steps, ["hip_cohort", "knee_cohort", "hip_store", "hip_split", "pelvis_cache",
                                         "knee_cache"])
    return section


def _prior_section(out: Path, steps: Sequence[Any]) -> ReportSection:
    bundle = "hip_osteophyte_prior"
    section = ReportSection(
        f"{bundle}: landmark CAM prior",
        ["A ResNet-18 learns the four osteophyte labels from image-level labels only; the prior arm adds the "
         "plateau-Gaussian landmark penalty on its class activation maps (λ = 2), the baseline is the same config "
         "with λ = 0. Both are evaluated on the test split: ROC AUC, and Grad-CAM centre-of-mass and peak "
         "distances to the target's landmarks on positive hips, baseline vs prior with paired Wilcoxon tests. "
         f"Full report: `prior/report/report.md`; method and demo-scale results: `{BUNDLE_README.format(bundle)}`."],
    )
    report = out / "prior" / "report"
    results = _results(section, report)
    if results is None:
        return section
    names = results.get("target_names", list(TARGETS))
    auc, auc_ci = results.get("auc", {}), results.get("auc_ci", {})
    baseline_auc, prior_auc = auc.get("baseline", []), auc.get("prior", [])
    deltas = [None if b is None or p is None else p - b for b, p in zip(baseline_auc, prior_auc, strict=False)]
    auc_rows = [[t, _ci(_at(auc_ci.get("baseline"), i), _at(baseline_auc, i)),
                 _ci(_at(auc_ci.get("prior"), i), _at(prior_auc, i)),
                 _ci(_at(auc_ci.get("difference"), i), _at(deltas, i), signed=True)] for i, t in enumerate(names)]
    section.tables.append(ReportTable(
        ["target", "AUC baseline", "AUC prior", "difference prior − baseline"], auc_rows,
        "Test ROC AUC per target, with 95 % confidence intervals (subject-level bootstrap)."))
    section.tables.append(ReportTable(
        ["metric", "target", "n", "baseline mean", "prior mean", "mean difference (95 % CI)", "p (Wilcoxon)"],
        [[r["metric"].replace("_px", " (px)").replace("_", " "), r["target"], str(r["n"]), _num(r["baseline_mean"], 1),
          _num(r["prior_mean"], 1), _ci(r.get("mean_diff_ci"), r["mean_diff"], 1, signed=True), _p(r["p_value"])]
         for r in results.get("table1", []) if r["metric"] in ("com_distance_px", "peak_distance_px")],
        "Grad-CAM distance to the target's nearest landmark on positive test hips (Chen et al. Table 1 layout); "
        "the interval is the subject-level bootstrap of the mean paired difference."))
    com = {r["target"]: r for r in results.get("table1", []) if r["metric"] == "com_distance_px"}
    overall = next((r for r in results.get("lesion_localisation", []) if r["target"] == "all"), None)
    section.headline = (
        "Grad-CAM centre-of-mass distance to the landmarks, baseline → prior: "
        + ", ".join(f"{t} {_num(com[t]['baseline_mean'], 1)} → {_num(com[t]['prior_mean'], 1)} px "
                    f"(difference {_ci(com[t].get('mean_diff_ci'), com[t]['mean_diff'], 1, signed=True)}, "
                    f"p {_p(com[t]['p_value'])})" for t in names if t in com)
        + "; AUC changes " + ", ".join(row[3] for row in auc_rows)
        + ("" if overall is None else f"; pointing game {_num(overall['pointing_baseline'])} → "
                                      f"{_num(overall['pointing_prior'])}"
                                      + ("" if "pointing_tolerant_baseline" not in overall else
                                         f" (within 15 px: {_num(overall['pointing_tolerant_baseline'])} → "
                                         f"{_num(overall['pointing_tolerant_prior'])})")))
    lesion = results.get("lesion_localisation", [])
    if lesion:
        section.tables.append(ReportTable(
            ["target", "n", "pointing game baseline", "pointing game prior", "within 15 px baseline",
             "within 15 px prior", "energy in lesion baseline", "energy in lesion prior"],
            [[r["target"], str(r["n"]), _num(r["pointing_baseline"]), _num(r["pointing_prior"]),
              _num(r.get("pointing_tolerant_baseline")), _num(r.get("pointing_tolerant_prior")),
              _num(r["energy_baseline"]), _num(r["energy_prior"])] for r in lesion],
            "Phantom lesion masks: share of positive hips whose Grad-CAM peak lies inside the true lesion (strict) "
            "or within 15 px of it, and the share of Grad-CAM energy inside it."))
    captions = {
        "roc_curves.png": "ROC curve of each target on the test split, baseline and prior; the AUC is in the legend.",
        "localisation.png": "Grad-CAM centre-of-mass and peak distances to the landmarks per positive test hip, "
                            "baseline vs prior: lower is closer to the anatomy the label is about.",
        "mean_gradcam.png": "Mean Grad-CAM over the positive test hips per target with the mean landmarks (Chen et al. "
                            "Figure 4): where each model looks on average.",
        "cooccurrence.png": "How often the four osteophyte labels occur together in the cohort (Chen et al. Table 2): "
                            "why a model can predict one target by looking at another.",
        "gallery.png": "Cases where the two models differ most: the radiograph crop with the target's landmarks, "
                       "the lesion outline and both Grad-CAMs.",
    }
    for name in results.get("figures", list(captions)):
        section.figures.append(ReportFigure(report / name, captions.get(name, name)))
    section.commands = _commands(steps, ["prior_baseline", "prior_prior", "prior_report"])
    return section


def _grading_section(out: Path, steps: Sequence[Any]) -> ReportSection:
    bundle = "hip_osteophyte_grading"
    section = ReportSection(
        f"{bundle}: weak/strong multitask grading",
        ["A global osteophyte head plus four ordinal heads (Cramér loss) trained with masked supervision: a few "
         "hips carry the four OARSI grades (strong), every other training hip only the image-level label (weak). "
         "Quadratic weighted kappa per head on the test split. The weak-to-strong sweep over five strategies is "
         f"`hipmonai grading sweep` (see `{BUNDLE_README.format(bundle)}`)."],
    )
    report = out / "grading" / "report"
    results = _results(section, report)
    if results is None:
        return section
    rows = []
    for label, model in results.get("models", {}).items():
        kappa, kappa_ci = model.get("kappa", {}), model.get("kappa_ci", {})
        flagged = ", ".join([f"{t} (constant)" for t in model.get("constant_heads", [])]
                            + [f"{t} (undefined)" for t in model.get("undefined_heads", [])])
        rows.append([label, *(_ci(kappa_ci.get(t), kappa.get(t)) for t in TARGETS),
                     _ci(model.get("mean_kappa_ci"), model.get("mean_kappa")), flagged or "none",
                     _num(model.get("global_accuracy")), str(model.get("n_hips"))])
    first = next(iter(results.get("models", {}).values()), {})
    constant = first.get("constant_heads", [])
    section.headline = (f"mean quadratic κ {_ci(first.get('mean_kappa_ci'), first.get('mean_kappa'))} ("
                        + ", ".join(f"{t} {_num(first.get('kappa', {}).get(t))}" for t in TARGETS) + ")"
                        + (f"; constant head: {', '.join(constant)} predicts one grade for every hip" if constant
                           else ""))
    section.tables.append(ReportTable(
        ["model", *TARGETS, "mean κ", "flagged heads", "global accuracy", "hips"], rows,
        "Quadratic weighted kappa of the predicted OARSI grades on the test split, with 95 % confidence intervals "
        "(subject-level bootstrap). A flagged head predicts one grade for every hip (constant: its κ is 0 by "
        "construction, not by chance) or has an undefined κ."))
    section.figures += [
        ReportFigure(report / "confusion_matrices.png",
                     "Confusion matrices (true grade rows, predicted grade columns) of each ordinal head: where "
                     "the grades are confused, usually with their neighbours."),
        ReportFigure(report / "gradcam_heads.png",
                     f"Grad-CAM of each ordinal head for one test hip ({results.get('case', '')}): which region "
                     "each head's grade comes from."),
    ]
    section.commands = _commands(steps, ["grading_masked", "grading_report"])
    return section


def _labelaug_section(out: Path, steps: Sequence[Any]) -> ReportSection:
    bundle = "hip_landmark_labelaug"
    section = ReportSection(
        f"{bundle}: landmark detection with label augmentation",
        ["A U-Net predicts 28 pelvis landmarks as heatmaps; the landmark labels start dilated and are eroded on a "
         "curriculum, with the positive/negative re-weighting (S − N)/N. Errors on the test radiographs in the "
         "model's pixels and in mm of the original image, and the femoral head circles fitted to the predicted "
         f"contour points against the phantom's true circles. Method and demo results: "
         f"`{BUNDLE_README.format(bundle)}`."],
    )
    evaluation = out / "labelaug" / "eval"
    results = _results(section, evaluation)
    if results is None:
        return section
    rows = []
    for unit, key in (("model px", "model_px"), ("mm", "mm")):
        block = results.get(key, {})
        sdr = block.get("sdr", {})
        sdr_ci = block.get("sdr_ci", {})
        rows.append([unit, _ci(block.get("mre_ci"), block.get("mre"), 2), _num(block.get("rmse"), 2),
                     *(_ci(sdr_ci.get(k), sdr.get(k), 1, scale=100) for k in ("2", "2.5", "3", "4"))])
    section.tables.append(ReportTable(
        ["unit", "MRE", "RMSE", "SDR 2 (%)", "SDR 2.5 (%)", "SDR 3 (%)", "SDR 4 (%)"], rows,
        f"Landmark errors over {results.get('n_images')} test radiographs × {results.get('n_landmarks')} landmarks "
        f"({results.get('size_px')} px model input); SDR = share within the radius; 95 % confidence intervals "
        "from the subject-level bootstrap."))
    centre = results.get("head_centre_error_vs_truth_mm") or {}
    model_px, mm = results.get("model_px", {}), results.get("mm", {})
    section.headline = (f"MRE {_ci(model_px.get('mre_ci'), model_px.get('mre'), 2)} px at {results.get('size_px')} "
                        f"px input ({_ci(mm.get('mre_ci'), mm.get('mre'), 2)} mm); femoral head centre error median "
                        f"{_ci(centre.get('median_ci'), centre.get('median'), 2)} mm")
    circle_rows = []
    for label, key in (("head centre error (mm)", "head_centre_error_vs_truth_mm"),
                       ("head radius error (mm)", "head_radius_error_vs_truth_mm")):
        block = results.get(key) or {}
        circle_rows.append([label, str(block.get("n", "n/a")), _ci(block.get("median_ci"), block.get("median"), 2),
                            _num(block.get("p90"), 2), _num(block.get("max"), 2)])
    section.tables.append(ReportTable(["femoral head circle", "hips", "median", "90th percentile", "max"],
                                      circle_rows, "Circle fitted to the predicted head contour vs the true circle."))
    section.figures += [
        ReportFigure(evaluation / "cumulative_errors.png",
                     "Cumulative distribution of the landmark errors: the share of landmarks within each error "
                     "(higher and further left is better)."),
        ReportFigure(evaluation / "gallery.png",
                     "Test radiographs with the predicted landmarks and femoral head circles over the true ones."),
    ]
    section.commands = _commands(steps, ["labelaug_train", "labelaug_eval"])
    return section


def _knee_section(out: Path, steps: Sequence[Any]) -> ReportSection:
    bundle = "knee_landmark_kneel"
    section = ReportSection(
        f"{bundle}: KNEEL knee landmarks",
        ["Two hourglass networks with soft-argmax, trained with wing loss, MixUp (as the authors' released code "
         "computes it) and cutout: an ROI stage finds each "
         "knee on the half images, and the landmark stage, initialised from the ROI model, localises 16 landmarks "
         "per knee in a crop around it (left knees flipped), then re-centres on the predicted tibial centre. "
         f"Errors in mm of the original radiograph. Method and demo results: `{BUNDLE_README.format(bundle)}`."],
    )
    evaluation = out / "knee" / "eval"
    results = _results(section, evaluation)
    if results is None:
        return section
    pck, pck_ci = results.get("pck", {}), results.get("pck_ci", {})
    pairs, pairs_ci = results.get("pck_pairs", {}), results.get("pck_pairs_ci", {})
    section.headline = (f"two-stage PCK at 2 mm {_ci(pck_ci.get('2.0'), pck.get('2.0'), 1)} % per landmark"
                        + (f", {_ci(pairs_ci.get('2.0'), pairs.get('2.0'), 1)} % as the authors' evaluation "
                           "averages landmark pairs" if pairs else "")
                        + f"; MRE {_ci(results.get('mre_mm_ci'), results.get('mre_mm'), 2)} mm")
    thresholds = ("1.0", "1.5", "2.0", "2.5")
    rows = [["per landmark", *(_ci(pck_ci.get(k), pck.get(k), 1) for k in thresholds)]]
    if pairs:
        rows.append(["landmark pairs averaged (released evaluation)",
                     *(_ci(pairs_ci.get(k), pairs.get(k), 1) for k in thresholds)])
    section.tables.append(ReportTable(
        ["PCK definition", *(f"PCK {k.rstrip('0').rstrip('.')} mm (%)" for k in thresholds)], rows,
        f"Two-stage pipeline on {results.get('n_images')} test radiographs ({results.get('n_knees')} knees), PCK on "
        f"landmarks {', '.join(str(i) for i in results.get('pck_landmarks', []))} (Tiulpin et al. 2019), with 95 % "
        "confidence intervals (bootstrap over radiographs). The authors' released evaluation averages the errors of "
        "landmarks 0 and 8, and 9 and 15, before thresholding."))
    section.tables.append(ReportTable(
        ["knees", "outlier knees (%)", "MRE (mm)", "ROI centre error, median (mm)", "s per radiograph"],
        [[str(results.get("n_knees")), _num(results.get("outliers_pct_knees"), 1),
          _ci(results.get("mre_mm_ci"), results.get("mre_mm"), 2),
          _num((results.get("roi_error_mm") or {}).get("median"), 2),
          _num(results.get("seconds_per_radiograph"), 2)]],
        "An outlier knee has a landmark 10 mm or more off."))
    section.figures.append(ReportFigure(
        evaluation / "cumulative_errors.png",
        "Cumulative distribution of the landmark errors in mm per landmark group: the share of landmarks within "
        "each error."))
    section.commands = _commands(steps, ["knee_roi", "knee_landmarks", "knee_eval"])
    return section


def build_main_report(
    out: str | os.PathLike,
    steps: Sequence[Any],
    step_seconds: Mapping[str, tuple[str, float]],
    scale: Mapping[str, Any],
    wall_seconds: float | None = None,
    command: str = "make demo",
) -> ReportDocument:
    """The report of one main job run.

    Args:
        out: the job folder.
        steps: the job's ``Step`` objects (for titles and reproduce commands).
        step_seconds: ``{name: (status, seconds)}`` of this run (``"cached"`` steps report their earlier time).
        scale: the job's sizes (``MainJobScale`` as a dict).
        wall_seconds: the whole run's wall time (``None`` when unknown).
        command: the command that ran the job.
    """
    out = Path(out)
    ran = sum(1 for status, _ in step_seconds.values() if status == "done")
    timing = (f"This run took {wall_seconds / 60:.1f} min of wall time ({ran} steps run, "
              f"{len(step_seconds) - ran} reused from an earlier run)." if wall_seconds is not None else "")
    if ran < len(step_seconds):
        total = sum(seconds for _, seconds in step_seconds.values())
        timing += (f" The steps' own run times add up to {total / 60:.1f} min on two slots (see Steps and "
                   "timings).")
    document = ReportDocument(
        "hipmonai main job: four radiograph methods on the phantom cohorts",
        [f"Written by `{command}`. It generates the phantom cohorts, preprocesses them, trains and evaluates the "
         "four bundles at the main job's scale and collects their results here. " + timing,
         "The main job trains for minutes, not hours: its networks are narrower and its trainings shorter than the "
         "papers' (and than each bundle's `demo.json`), so these numbers show that every step works end to end and "
         "in which direction each method moves; the bundle READMEs report the longer demo runs and the acceptance "
         "checks."],
    )
    bundles = [_prior_section(out, steps), _grading_section(out, steps), _labelaug_section(out, steps),
               _knee_section(out, steps)]
    document.sections.append(ReportSection(
        "At a glance",
        ["One line per bundle, test split of the phantom cohorts; the sections below have the tables and figures."],
        tables=[ReportTable(["bundle", "result"],
                            [[s.title.split(":")[0], s.headline or "no results"] for s in bundles])]))
    document.sections += [_cohort_section(out, scale, steps), *bundles]
    step_rows = []
    for step in steps:
        status, seconds = step_seconds.get(step.name, ("not run", float("nan")))
        step_rows.append([step.name, step.title, status, _num(seconds, 0)])
    document.sections.append(ReportSection(
        "Steps and timings",
        ["Each step is one documented command; its log is `logs/<step>.log`. Steps run two at a time, one thread "
         "each. A rerun reuses finished steps (their stamps are in `steps/`) unless their command or an input "
         "step changed."],
        tables=[ReportTable(["step", "what", "status", "seconds"], step_rows)],
    ))
    scale_rows = [[key, str(value)] for key, value in scale.items()]
    document.sections[-1].tables.append(ReportTable(["setting", "value"], scale_rows, "Main job scale."))
    return document
