"""hipmonai.experiments.weak_strong_sweep: the sweep plan, checkpoint selection from the history, findings.
(The end-to-end sweep on the bundle runs in tests/bundles/test_hip_osteophyte_grading.py.)"""

from __future__ import annotations

import math

import pytest

from hipmonai.errors import InputError
from hipmonai.experiments.weak_strong_sweep import _findings, _pick, _val_row, rho_label, sweep_points
from hipmonai.io import TARGETS


def test_rho_label():
    assert [rho_label(r) for r in (0, 0.5, 1.0, 2.5, "5", "all", "ALL", math.inf)] == \
        ["0", "0.5", "1", "2.5", "5", "all", "all", "all"]
    with pytest.raises(ValueError):
        rho_label(-1)


def test_sweep_points_follow_the_paper_definitions():
    points = sweep_points(["oracle", "strong_only", "masked", "dual_mil", "pure_mil"], [0, 1, "all", 1.0])
    names = [(p.strategy, p.rho, p.trained_as) for p in points]
    assert names == [
        ("oracle", "all", "oracle_rhoall"),
        ("strong_only", "0", "strong_only_rho0"),
        ("masked", "0", "strong_only_rho0"),  # no weak sample: the same loss as strong-only
        ("masked", "1", "masked_rho1"),
        ("masked", "all", "masked_rhoall"),
        ("dual_mil", "0", "strong_only_rho0"),
        ("dual_mil", "1", "dual_mil_rho1"),
        ("dual_mil", "all", "dual_mil_rhoall"),
        ("pure_mil", "0", "pure_mil_rho0"),  # no global head: a run of its own
        ("pure_mil", "1", "pure_mil_rho1"),
        ("pure_mil", "all", "pure_mil_rhoall"),
    ]
    assert points[2].alias_of == "strong_only_rho0" and points[3].alias_of is None
    assert len({p.trained_as for p in points}) == 9


def test_sweep_points_reject_bad_input():
    with pytest.raises(InputError, match="unknown strategy"):
        sweep_points(["mil"], [0])
    with pytest.raises(InputError, match="rho"):
        sweep_points(["masked"], ["lots"])
    with pytest.raises(InputError, match="at least one"):
        sweep_points([], [0])


def test_pick_keeps_the_first_best_finite_epoch_like_the_checkpoint_savers():
    history = [{"epoch": 1, "val_mean_kappa": math.nan, "val_loss": 2.0},
               {"epoch": 2, "val_mean_kappa": 0.3, "val_loss": 1.0},
               {"epoch": 3, "val_mean_kappa": 0.5, "val_loss": 1.5},
               {"epoch": 4, "val_mean_kappa": 0.5, "val_loss": 1.0}]
    assert _pick(history, "val_mean_kappa", True)["epoch"] == 3
    assert _pick(history, "val_loss", False)["epoch"] == 2
    assert _pick([], "val_loss", False) is None
    row = _val_row({**history[2], "val_global_accuracy": 0.9, **{f"val_kappa_{t}": 0.1 for t in TARGETS}}, 13, TARGETS)
    assert row["step"] == 39 and row["global_accuracy"] == 0.9 and row["kappa"]["osteo_fem_sup"] == 0.1
    assert _val_row(None, 13, TARGETS)["step"] == -1


def _row(strategy, rho, kappa, loss_kappa):
    return {"strategy": strategy, "rho": rho,
            "test": {"kappa": {"mean_kappa": kappa}, "loss": {"mean_kappa": loss_kappa}}}


def test_findings_state_the_measured_answers():
    rows = [_row("oracle", "all", 0.8, 0.7), _row("strong_only", "0", 0.4, 0.4), _row("masked", "all", 0.6, 0.5),
            {**_row("dual_mil", "0", 0.4, 0.4), "alias_of": "strong_only_rho0"},
            _row("dual_mil", "1", 0.55, 0.5), _row("dual_mil", "all", 0.5, 0.5)]
    text = "\n".join(_findings(rows))
    assert "Highest test mean kappa: oracle at rho=all (0.8000)" in text
    assert "0.6000 vs 0.4000 (+0.2000)" in text
    assert "dual_mil: peak test mean kappa 0.5500 at rho=1, 0.5000 at the highest rho (all); degrades" in text
    assert "in 3 of 5 trained runs" in text  # the reused dual_mil rho=0 row counts once
