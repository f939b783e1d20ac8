"""The main job's report shows each bundle's 95 % confidence intervals and flags constant grading heads, and still
renders results written before the intervals existed."""

from __future__ import annotations

import json
from pathlib import Path

from hipmonai.evaluation.main_report import TARGETS, build_main_report
from hipmonai.evaluation.report_page import render_markdown


def _ci(value: float, low: float, high: float) -> dict:
    return {"value": value, "ci_low": low, "ci_high": high, "level": 0.95, "n_subjects": 45}


def _write(path: Path, data: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.json").write_text(json.dumps(data))


def _job(tmp_path: Path, with_ci: bool) -> str:
    auc = {"baseline": [0.8, 0.7, 0.9, 0.6], "prior": [0.82, 0.69, 0.91, 0.55]}
    prior = {"target_names": list(TARGETS), "auc": auc, "figures": [],
             "table1": [{"metric": "com_distance_px", "target": t, "n": 20, "baseline_mean": 50.0,
                         "prior_mean": 30.0, "mean_diff": -20.0, "p_value": 1e-4} for t in TARGETS],
             "lesion_localisation": [{"target": "all", "n": 40, "pointing_baseline": 0.0, "pointing_prior": 0.05,
                                      "energy_baseline": 0.01, "energy_prior": 0.02}]}
    grading = {"case": "S1/V00/left", "models": {"Masked (all)": {
        "kappa": dict(zip(TARGETS, [0.45, 0.31, 0.29, 0.0], strict=True)), "mean_kappa": 0.2625,
        "global_accuracy": 0.73, "n_hips": 90}}}
    labelaug = {"n_images": 45, "n_landmarks": 28, "size_px": 128,
                "model_px": {"mre": 4.09, "rmse": 4.9, "sdr": {"2": 0.21}}, "mm": {"mre": 10.5, "rmse": 13.0,
                                                                              "sdr": {"2": 0.05}},
                "head_centre_error_vs_truth_mm": {"n": 88, "median": 6.55, "p90": 13.2, "max": 27.0}}
    knee = {"n_images": 15, "n_knees": 30, "pck_landmarks": [0, 4, 8, 9, 12, 15],
            "pck": {"1.0": 21.1, "1.5": 37.8, "2.0": 46.1, "2.5": 56.1}, "mre_mm": 2.26}
    if with_ci:
        prior["auc_ci"] = {"baseline": [_ci(v, v - 0.1, v + 0.05) for v in auc["baseline"]],
                           "prior": [_ci(v, v - 0.1, v + 0.05) for v in auc["prior"]],
                           "difference": [_ci(p - b, p - b - 0.04, p - b + 0.03)
                                          for b, p in zip(auc["baseline"], auc["prior"], strict=True)]}
        for row in prior["table1"]:
            row["mean_diff_ci"] = _ci(-20.0, -27.5, -12.25)
        prior["lesion_localisation"][0].update(pointing_tolerant_baseline=0.1, pointing_tolerant_prior=0.3)
        model = grading["models"]["Masked (all)"]
        model["kappa_ci"] = {t: _ci(k, k - 0.1, k + 0.1) for t, k in model["kappa"].items()}
        model["mean_kappa_ci"] = _ci(0.2625, 0.2, 0.33)
        model["constant_heads"], model["undefined_heads"] = ["osteo_acet_inf"], []
        labelaug["model_px"]["mre_ci"] = _ci(4.09, 3.5, 4.8)
        labelaug["model_px"]["sdr_ci"] = {"2": _ci(0.21, 0.18, 0.25)}
        labelaug["head_centre_error_vs_truth_mm"]["median_ci"] = _ci(6.55, 5.6, 8.4)
        knee["pck_ci"] = {k: _ci(v, v - 10, v + 10) for k, v in knee["pck"].items()}
        knee["pck_pairs"] = {k: v + 5 for k, v in knee["pck"].items()}
        knee["pck_pairs_ci"] = {k: _ci(v, v - 10, v + 10) for k, v in knee["pck_pairs"].items()}
        knee["mre_mm_ci"] = _ci(2.26, 1.9, 2.7)
    _write(tmp_path / "prior" / "report", prior)
    _write(tmp_path / "grading" / "report", grading)
    _write(tmp_path / "labelaug" / "eval", labelaug)
    _write(tmp_path / "knee" / "eval", knee)
    return render_markdown(build_main_report(tmp_path, [], {}, {"hip_subjects": 300}))


def test_intervals_and_constant_heads_are_reported(tmp_path):
    text = _job(tmp_path, with_ci=True)
    assert "0.800 (0.700 to 0.850)" in text  # AUC with its interval
    assert "+0.020 (-0.020 to +0.050)" in text  # the paired AUC difference
    assert "-20.0 (-27.5 to -12.2)" in text  # Table 1 mean difference
    assert "within 15 px: 0.100 → 0.300" in text
    assert "0.263 (0.200 to 0.330)" in text and "osteo_acet_inf (constant)" in text
    assert "constant head: osteo_acet_inf predicts one grade for every hip" in text
    assert "4.09 (3.50 to 4.80) px" in text and "6.55 (5.60 to 8.40) mm" in text
    assert "21.0 (18.0 to 25.0)" in text  # SDR in percent
    assert "46.1 (36.1 to 56.1) % per landmark" in text and "51.1 (41.1 to 61.1) % as the authors'" in text


def test_results_without_intervals_still_render(tmp_path):
    text = _job(tmp_path, with_ci=False)
    assert "0.800" in text and "+0.020" in text and "-20.0" in text
    assert "mean quadratic κ 0.263" in text and "constant head" not in text
    assert "two-stage PCK at 2 mm 46.1 % per landmark; MRE 2.26 mm" in text
