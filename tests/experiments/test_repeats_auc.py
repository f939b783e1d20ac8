"""AUC across repeated runs (``hipmonai prior repeats``): means, differences and SciPy's Wilcoxon across runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import wilcoxon

from hipmonai.experiments.repeats import auc_summary


def test_auc_summary_against_hand_values_and_scipy():
    aucs = [{"seed": s, "target_names": ["a", "b"], "baseline": [b, 0.5], "prior": [p, 0.5 if s else None]}
            for s, (b, p) in enumerate([(0.80, 0.85), (0.90, 0.88), (0.70, 0.79), (0.60, 0.66)])]
    a, b = auc_summary(aucs)
    diffs = np.array([0.05, -0.02, 0.09, 0.06])
    assert a["n_runs"] == 4 and a["baseline"] == pytest.approx(0.75) and a["prior"] == pytest.approx(0.795)
    assert a["mean_diff"] == pytest.approx(diffs.mean()) and a["sd_diff"] == pytest.approx(diffs.std(ddof=1))
    assert (a["min_diff"], a["max_diff"]) == pytest.approx((-0.02, 0.09))
    assert a["p_value"] == pytest.approx(wilcoxon([0.85, 0.88, 0.79, 0.66], [0.80, 0.90, 0.70, 0.60]).pvalue)
    # a run without a prior AUC is left out; all-tied differences give no test
    assert b["n_runs"] == 3 and b["mean_diff"] == 0 and math.isnan(b["p_value"])
    assert auc_summary([]) == []
