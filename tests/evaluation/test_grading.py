"""hipmonai.evaluation.grading: evaluator metrics, test-split metrics against scikit-learn, per-head Grad-CAM, figures
and the sweep tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import cohen_kappa_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from hipmonai.evaluation.grading import (
    GlobalAccuracyMetric,
    GradingResult,
    MeanLossMetric,
    confusion_matrices,
    decode_multitask_output,
    grading_metrics,
    ordinal_head_gradcam,
    plot_confusion_matrices,
    plot_head_gradcam,
    predict_grading,
    quadrant_grades_transform,
    select_gradcam_case,
    sweep_tables,
)
from hipmonai.io import TARGETS
from hipmonai.networks import MultitaskResNet18


def _packed(global_logit, grades, num_grades=4):
    """Packed logits (B, 17) whose global logit and argmax grades are the given ones."""
    out = torch.full((len(grades), 1 + 4 * num_grades), -5.0)
    out[:, 0] = torch.as_tensor(global_logit, dtype=torch.float32)
    for b, row in enumerate(grades):
        for q, g in enumerate(row):
            out[b, 1 + q * num_grades + g] = 5.0
    return out


def test_mean_loss_metric_weights_batches_by_size_on_dict_and_decollated_outputs():
    metric = MeanLossMetric()
    metric.update({"loss": torch.tensor(2.0), "pred": torch.zeros(3, 17)})
    metric.update([{"loss": 1.0, "pred": torch.zeros(17)}])  # decollated list of one sample
    assert metric.compute() == pytest.approx((2.0 * 3 + 1.0) / 4)
    metric.reset()
    assert math.isnan(metric.compute())
    with pytest.raises(ValueError, match="non-finite"):
        metric.update({"loss": torch.tensor(float("nan")), "pred": torch.zeros(1, 17)})


def test_global_accuracy_metric_uses_any_grade_and_skips_unknown_targets():
    metric = GlobalAccuracyMetric()
    grades = torch.tensor([[0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1], [-1, -1, -1, -1], [0, -1, 0, 0]])
    pred = _packed([-3.0, 3.0, -3.0, 3.0, 3.0], [[0, 0, 0, 0]] * 5)
    metric.update([{"pred": p, "grades": g} for p, g in zip(pred, grades, strict=True)])
    # known targets: 0 (right), 1 (right), 1 (wrong); the all-unknown and the 0-with-unknown hips are skipped
    assert metric.compute() == pytest.approx(2 / 3)


def test_quadrant_transform_and_decode():
    output = [{"pred_grades": torch.tensor([0, 1, 2, 3]), "grades": torch.tensor([0, 1, 3, -1])}] * 2
    y_pred, y = quadrant_grades_transform("osteo_acet_sup")(output)
    assert y_pred.shape == (2, 1) and y_pred[0, 0] == 2 and y[0, 0] == 3
    assert quadrant_grades_transform(3)(output)[1][0, 0] == -1
    with pytest.raises(ValueError, match="quadrant"):
        quadrant_grades_transform("osteo_knee")
    decoded = decode_multitask_output(_packed([0.0], [[3, 0, 1, 2]])[0])
    assert decoded[0] == pytest.approx(0.5) and decoded[1:].tolist() == [3.0, 0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="one hip"):
        decode_multitask_output(torch.zeros(2, 17))


def test_confusion_matrices_and_kappa_agree_with_sklearn():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, size=(60, 4))
    true[::7, 2] = -1  # unknown grades are dropped
    pred = np.clip(true + rng.integers(-1, 2, size=true.shape), 0, 3)
    pred[true < 0] = rng.integers(0, 4, size=int((true < 0).sum()))
    cms = confusion_matrices(pred, true)
    assert cms.shape == (4, 4, 4)
    result = GradingResult(keys=[f"S{i}" for i in range(60)], quadrant_names=TARGETS, grades=true, pred_grades=pred,
                           grade_probabilities=np.zeros((60, 4, 4)), global_probability=rng.random(60))
    metrics = grading_metrics(result)
    for q, name in enumerate(TARGETS):
        known = true[:, q] >= 0
        np.testing.assert_array_equal(cms[q], sk_confusion_matrix(true[known, q], pred[known, q], labels=[0, 1, 2, 3]))
        expected = cohen_kappa_score(true[known, q], pred[known, q], weights="quadratic", labels=[0, 1, 2, 3])
        assert metrics["kappa"][name] == pytest.approx(expected)
        assert metrics["confusion"][name] == cms[q].tolist()
    assert metrics["mean_kappa"] == pytest.approx(np.mean(list(metrics["kappa"].values())))
    target = (true > 0).any(axis=1)
    known_target = target | (true >= 0).all(axis=1)
    expected_acc = ((result.global_probability > 0.5) == target)[known_target].mean()
    assert metrics["global_accuracy"] == pytest.approx(expected_acc)
    with pytest.raises(ValueError, match="0..3"):
        confusion_matrices(np.full((2, 4), 4), np.zeros((2, 4), dtype=int))


def test_predict_grading_runs_the_network_in_eval_mode():
    torch.manual_seed(0)
    net = MultitaskResNet18(widen_factor=0.125).train()
    batches = [{"image": torch.rand(3, 1, 32, 32), "grades": torch.tensor([[0, 1, 2, 3]] * 3),
                "key": ["a", "b", "c"]}]
    result = predict_grading(net, batches)
    assert result.keys == ["a", "b", "c"] and result.pred_grades.shape == (3, 4)
    np.testing.assert_allclose(result.grade_probabilities.sum(-1), 1.0, rtol=1e-5)
    with torch.no_grad():
        expected = net.eval()(batches[0]["image"])
    np.testing.assert_array_equal(result.pred_grades, expected[:, 1:].reshape(3, 4, 4).argmax(-1).numpy())
    with pytest.raises(KeyError, match="grades"):
        predict_grading(net, [{"image": torch.rand(1, 1, 32, 32)}])


def test_select_gradcam_case_prefers_one_osteophyte_of_the_highest_grade():
    grades = np.array([[1, 1, 0, 0], [0, 0, 2, 0], [3, 2, 0, 0], [0, 3, 0, 0], [0, 3, 0, -1]])
    assert select_gradcam_case(grades) == 3
    assert select_gradcam_case(np.array([[1, 1, 0, 0], [0, 2, 2, 0]])) == 1
    with pytest.raises(ValueError, match="no hip"):
        select_gradcam_case(np.zeros((3, 4), dtype=int))


def test_ordinal_head_gradcam_explains_the_chosen_grades(tmp_path):
    torch.manual_seed(0)
    net = MultitaskResNet18(widen_factor=0.125)
    image = torch.rand(1, 64, 48)
    maps, explained = ordinal_head_gradcam(net, image, grades=[3, 0, -1, 1])
    assert maps.shape == (4, 64, 48) and maps.min() >= 0 and maps.max() <= 1
    with torch.no_grad():
        predicted = net.eval()(image[None])[:, 1:].reshape(4, 4).argmax(-1).tolist()
    assert explained == [3, 0, predicted[2], 1]
    assert ordinal_head_gradcam(net, image[None], "predicted")[1] == predicted
    with pytest.raises(ValueError, match="grades"):
        ordinal_head_gradcam(net, image, grades=[4, 0, 0, 0])
    lesion = np.zeros((4, 64, 48), dtype=np.uint8)
    lesion[0, 10:14, 5:9] = 1
    path = plot_head_gradcam(image, {"A": maps, "B": maps}, tmp_path / "heads.png", TARGETS,
                             {"A": explained, "B": explained}, [3, 0, 0, 1], lesion, title="S0001/V00/right")
    assert path.stat().st_size > 1000
    path = plot_confusion_matrices({"A": np.ones((4, 4, 4), dtype=int)}, tmp_path / "cm.png")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="maps"):
        plot_head_gradcam(image, {"A": maps[:2]}, tmp_path / "bad.png")


def _row(strategy, rho, test_kappa, loss_kappa, n_weak, alias=None):
    val = {"epoch": 2, "step": 6, "val_loss": 1.0, "global_accuracy": 0.8,
           "kappa": {t: test_kappa for t in TARGETS}, "mean_kappa": test_kappa}
    test = {"global_accuracy": 0.9, "kappa": {t: test_kappa for t in TARGETS}, "mean_kappa": test_kappa}
    test_loss = {**test, "kappa": {t: loss_kappa for t in TARGETS}, "mean_kappa": loss_kappa}
    return {"strategy": strategy, "rho": rho, "run": f"{strategy}_rho{rho}", "alias_of": alias, "n_strong": 100,
            "n_weak": n_weak, "n_weak_positive": n_weak // 2, "val": {"kappa": val, "loss": {**val, "step": 3}},
            "test": {"kappa": test, "loss": test_loss}}


def test_sweep_tables_follow_the_paper_layout():
    rows = [_row("masked", "all", 0.55, 0.40, 320), _row("oracle", "all", 0.70, 0.60, 320),
            _row("strong_only", "0", 0.45, 0.45, 0), _row("masked", "0", 0.45, 0.45, 0, alias="strong_only_rho0"),
            _row("masked", "1", 0.50, 0.30, 100)]
    tables = sweep_tables(rows)
    assert set(tables) == {"table1", "table2", "table3", "table4", "table4_loss", "model_selection"}
    lines = tables["table1"].splitlines()
    assert lines[2].startswith("| Oracle | all (320)")  # oracle first, then strong-only, then masked by rho
    assert "Masked Baseline | 0 (0) | = strong-only" in tables["table1"]
    assert "0.5500 (peak)" in tables["table1"] and "0.5000 (peak)" not in tables["table1"]
    assert "| Best Step | Val Loss | Global Acc | Femur Sup | Femur Inf | Acet. Sup | Acet. Inf | Mean κ |" in \
        tables["table2"]
    assert "| 3 |" in tables["table2"] and "| 6 |" in tables["table3"]
    assert "0.4000" in tables["table4_loss"] and "+0.1500" not in tables["model_selection"]
    assert "0.1500" in tables["model_selection"]
