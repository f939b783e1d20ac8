from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import wilcoxon

from hipmonai.evaluation import co_occurrence_matrix, paired_wilcoxon, paired_wilcoxon_table, repeated_runs_table


def test_paired_wilcoxon_by_hand_and_against_scipy():
    baseline = [10.0, 12.0, 9.0, 15.0, np.nan, 11.0]
    prior = [7.0, 13.0, 5.0, 10.0, 3.0, 9.0]
    out = paired_wilcoxon(baseline, prior)
    diffs = np.array([-3.0, 1.0, -4.0, -5.0, -2.0])  # the NaN pair is dropped
    assert out["n"] == 5 and out["improved"] == 4
    assert out["mean_diff"] == pytest.approx(diffs.mean())
    assert out["baseline_mean"] == pytest.approx(57 / 5) and out["prior_sd"] == pytest.approx(np.std([7, 13, 5, 10, 9],
                                                                                                       ddof=1))
    # ranks of |d| = 3,1,4,5,2 -> 3,1,4,5,2; positive differences sum to 1 -> W = 1
    assert out["statistic"] == pytest.approx(1.0)
    assert out["p_value"] == pytest.approx(wilcoxon([7, 13, 5, 10, 9], [10, 12, 9, 15, 11]).pvalue)


def test_undefined_tests_are_nan():
    assert math.isnan(paired_wilcoxon([1.0, 2.0], [1.0, 2.0])["p_value"])
    empty = paired_wilcoxon([np.nan], [1.0])
    assert empty["n"] == 0 and math.isnan(empty["mean_diff"])


def test_table_uses_known_positives_only():
    labels = np.array([[1, 0], [1, 1], [0, 1], [-1, 1]], dtype=float)
    baseline = {"d": np.array([[5.0, 50.0], [6.0, 60.0], [99.0, 70.0], [99.0, 80.0]])}
    prior = {"d": np.array([[1.0, 10.0], [2.0, 20.0], [0.0, 30.0], [0.0, 40.0]])}
    rows = paired_wilcoxon_table(baseline, prior, labels, target_names=["a", "b"])
    assert [(r["target"], r["n"]) for r in rows] == [("a", 2), ("b", 3)]
    assert rows[0]["baseline_mean"] == pytest.approx(5.5) and rows[1]["mean_diff"] == pytest.approx(-40.0)


def test_repeated_runs_all_improving_gives_w_zero_and_the_smallest_p():
    runs = [[{"metric": "m", "target": "t", "n": 10, "baseline_mean": 50.0 + i, "prior_mean": 20.0 + 0.5 * i,
              "mean_diff": -30.0}] for i in range(5)]
    (row,) = repeated_runs_table(runs)
    assert row["n_runs"] == 5 and row["improved"] == 5 and row["statistic"] == 0.0
    assert row["p_value"] == pytest.approx(2 / 2**5)  # exact two-sided p for n = 5
    assert row["baseline"] == pytest.approx(52.0) and row["mean_diff"] == pytest.approx(-31.0)


def test_co_occurrence_is_pearson_on_pairwise_known_labels():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 3)) > 0.5).astype(float)
    labels[:5, 0] = -1
    matrix = co_occurrence_matrix(labels)
    known = labels[:, 0] >= 0
    assert matrix[0, 1] == pytest.approx(np.corrcoef(labels[known, 0], labels[known, 1])[0, 1])
    assert matrix[1, 2] == pytest.approx(np.corrcoef(labels[:, 1], labels[:, 2])[0, 1])
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert np.allclose(matrix, matrix.T)


class TestSubjectBootstrap:
    def test_matches_scipy_percentile_bootstrap_for_independent_cases(self):
        from scipy.stats import bootstrap

        from hipmonai.evaluation.statistics import subject_bootstrap

        values = np.random.default_rng(3).normal(2.0, 1.0, 80)
        ours = subject_bootstrap(lambda rows: values[rows].mean(), np.arange(80), n_resamples=4000)
        ref = bootstrap((values,), np.mean, n_resamples=4000, method="percentile", random_state=1).confidence_interval
        assert ours["value"] == pytest.approx(values.mean())
        assert ours["ci_low"] == pytest.approx(ref.low, abs=0.03)
        assert ours["ci_high"] == pytest.approx(ref.high, abs=0.03)
        assert ours["n_subjects"] == ours["n_cases"] == 80

    def test_resamples_subjects_not_cases(self):
        from hipmonai.evaluation.statistics import subject_bootstrap

        values = np.random.default_rng(4).normal(0.0, 1.0, 40)
        single = subject_bootstrap(lambda rows: values[rows].mean(), np.arange(40), n_resamples=500)
        doubled = np.repeat(values, 2)  # two identical hips per subject: no extra information
        paired = subject_bootstrap(lambda rows: doubled[rows].mean(), np.repeat(np.arange(40), 2), n_resamples=500)
        assert paired["ci_low"] == pytest.approx(single["ci_low"])
        assert paired["ci_high"] == pytest.approx(single["ci_high"])
        assert paired["n_subjects"] == 40 and paired["n_cases"] == 80

    def test_undefined_resamples_dropped_and_array_statistics(self):
        from hipmonai.evaluation.statistics import subject_bootstrap

        labels = np.array([0, 0, 0, 1])
        out = subject_bootstrap(lambda rows: np.nan if labels[rows].sum() == 0 else labels[rows].mean(),
                                ["a", "b", "c", "d"], n_resamples=300)
        assert 0 < out["n_defined"] < 300 and np.isfinite(out["ci_low"])
        vector = subject_bootstrap(lambda rows: np.array([1.0, np.nan]), ["a", "b"], n_resamples=20)
        assert vector["ci_low"][0] == 1.0 and np.isnan(vector["ci_low"][1]) and vector["n_defined"] == 0

    def test_bad_arguments(self):
        from hipmonai.evaluation.statistics import subject_bootstrap

        with pytest.raises(ValueError, match="level"):
            subject_bootstrap(np.mean, [1], level=1.5)
        with pytest.raises(ValueError, match="at least one case"):
            subject_bootstrap(np.mean, [])

    def test_format_ci_and_mean_sd(self):
        from hipmonai.evaluation.statistics import format_ci, mean_sd, subject_of

        assert format_ci({"value": 0.8123, "ci_low": 0.75, "ci_high": 0.87}) == "0.812 (0.750 to 0.870)"
        assert format_ci({"value": 0.01, "ci_low": -0.02, "ci_high": 0.04}, 2, signed=True) == "+0.01 (-0.02 to +0.04)"
        assert format_ci({"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}, 1, scale=100) == "50.0 (40.0 to 60.0)"
        assert format_ci(None) == "n/a" and format_ci({"value": float("nan")}) == "n/a"
        assert format_ci({"value": 1.0, "ci_low": float("nan"), "ci_high": float("nan")}, 1) == "1.0"
        stats = mean_sd([1.0, 2.0, 3.0, float("nan")])
        assert stats == {"mean": 2.0, "sd": 1.0, "n": 3}
        assert np.isnan(mean_sd([1.0])["sd"])
        assert subject_of("S001/V00/left") == "S001"
