from __future__ import annotations

import math

import pytest
import torch

from hipmonai.losses.weak_strong import STRATEGIES, WeakStrongLoss

# six samples, four quadrants, four grades
GRADES = torch.tensor(
    [
        [0, 1, 2, -1],  # 0 strong, global 1
        [0, 0, 0, 0],  # 1 strong, global 0
        [3, 3, 3, 3],  # 2 weak positive (grades hidden unless oracle)
        [0, 0, 0, 0],  # 3 weak negative
        [-1, -1, -1, -1],  # 4 weak, label unknown
        [0, -1, 0, 0],  # 5 strong, global unknown (no positive, one unknown)
    ]
)
IS_WEAK = torch.tensor([False, False, True, True, True, False])
WEAK_LABEL = torch.tensor([-1.0, -1.0, 1.0, 0.0, -1.0, -1.0])  # strong samples' value is never read


@pytest.fixture
def pred():
    return torch.randn(6, 17, generator=torch.Generator().manual_seed(0))


def _bce(z: float, y: float) -> float:
    p = 1 / (1 + math.exp(-z))
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def _cramer(logits: list[float], grade: int) -> float:
    e = [math.exp(v) for v in logits]
    p = [v / sum(e) for v in e]
    return sum((sum(p[: c + 1]) - (1.0 if grade <= c else 0.0)) ** 2 for c in range(3))


def _p0_product(row: torch.Tensor) -> float:
    out = 1.0
    for q in range(4):
        e = [math.exp(v) for v in row[1 + 4 * q : 5 + 4 * q].tolist()]
        out *= e[0] / sum(e)
    return out


def _expected(pred, bce_targets, ordinal_targets, mil_targets):
    """Reference: mean BCE over {sample: target}, per-quadrant mean Cramér over {(sample, q): grade}, mean MIL."""
    rows = pred.double()
    bce = sum(_bce(rows[i, 0].item(), y) for i, y in bce_targets.items()) / max(len(bce_targets), 1)
    ordinal = 0.0
    for q in range(4):
        items = [(i, g) for (i, qq), g in ordinal_targets.items() if qq == q]
        if items:
            ordinal += sum(_cramer(rows[i, 1 + 4 * q : 5 + 4 * q].tolist(), g) for i, g in items) / len(items)
    mil = 0.0
    if mil_targets:
        terms = []
        for i, y in mil_targets.items():
            prod = _p0_product(rows[i])
            terms.append(-math.log(1 - prod + 1e-7) if y == 1 else -math.log(prod + 1e-7))
        mil = sum(terms) / len(terms)
    return {"loss_global": bce, "loss_ordinal": ordinal, "loss_mil": mil, "loss": bce + ordinal + mil}


def _grades_of(samples, zero=()):
    out = {}
    for i in samples:
        for q in range(4):
            g = 0 if i in zero else int(GRADES[i, q])
            if g >= 0:
                out[(i, q)] = g
    return out


CASES = {
    "strong_only": ({0: 1.0, 1: 0.0}, _grades_of([0, 1, 5]), {}),
    "masked": ({0: 1.0, 1: 0.0, 2: 1.0, 3: 0.0}, _grades_of([0, 1, 5, 3], zero=(3,)), {}),
    "dual_mil": ({0: 1.0, 1: 0.0, 2: 1.0, 3: 0.0}, _grades_of([0, 1, 5, 3], zero=(3,)), {2: 1}),
    "pure_mil": ({}, _grades_of([0, 1, 5]), {2: 1, 3: 0}),
    "oracle": ({0: 1.0, 1: 0.0, 2: 1.0, 3: 0.0}, _grades_of([0, 1, 2, 3, 4, 5]), {}),
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_routes_samples_as_specified(strategy, pred):
    terms = WeakStrongLoss(strategy).terms(pred, GRADES, IS_WEAK, WEAK_LABEL)
    expected = _expected(pred, *CASES[strategy])
    for key, value in expected.items():
        assert terms[key].item() == pytest.approx(value, rel=1e-5, abs=1e-7), key
    if strategy == "pure_mil":
        assert terms["loss_global"].item() == 0.0
    assert WeakStrongLoss(strategy)(pred, GRADES, IS_WEAK, WEAK_LABEL).item() == pytest.approx(terms["loss"].item())


def test_uniform_prediction_by_hand():
    pred = torch.zeros(2, 17)
    grades = torch.tensor([[0, 1, 2, 3], [0, 0, 0, 0]])
    terms = WeakStrongLoss("dual_mil").terms(pred, grades, torch.tensor([False, True]), torch.tensor([-1.0, 1.0]))
    # BCE(0, y) = log 2 for both; Cramér with P = (.25, .5, .75): grade 0 -> .875, 1 -> .375, 2 -> .375, 3 -> .875
    assert terms["loss_global"].item() == pytest.approx(math.log(2))
    assert terms["loss_ordinal"].item() == pytest.approx(0.875 + 0.375 + 0.375 + 0.875)
    assert terms["loss_mil"].item() == pytest.approx(-math.log(1 - 0.25**4 + 1e-7), rel=1e-5)


def test_weak_grades_are_never_read_outside_oracle(pred):
    other_grades = GRADES.clone()
    other_grades[IS_WEAK] = torch.tensor([1, 2, 3, 0])
    for strategy in ("strong_only", "masked", "dual_mil", "pure_mil"):
        a = WeakStrongLoss(strategy).terms(pred, GRADES, IS_WEAK, WEAK_LABEL)["loss"]
        b = WeakStrongLoss(strategy).terms(pred, other_grades, IS_WEAK, WEAK_LABEL)["loss"]
        assert a.item() == pytest.approx(b.item()), strategy
    assert WeakStrongLoss("oracle")(pred, GRADES, IS_WEAK, WEAK_LABEL).item() != pytest.approx(
        WeakStrongLoss("oracle")(pred, other_grades, IS_WEAK, WEAK_LABEL).item()
    )


def test_gradients_flow_and_all_weak_batch_in_strong_only_is_zero():
    pred = torch.randn(2, 17, requires_grad=True)
    loss = WeakStrongLoss("strong_only")(pred, GRADES[2:4], torch.tensor([True, True]), torch.tensor([1.0, 0.0]))
    assert loss.item() == 0.0 and loss.requires_grad
    loss = WeakStrongLoss("dual_mil")(pred, GRADES[2:4], torch.tensor([True, True]), torch.tensor([1.0, 0.0]))
    loss.backward()
    assert pred.grad[:, 0].abs().sum() > 0 and pred.grad[:, 1:].abs().sum() > 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: WeakStrongLoss("semi"), "strategy"),
        (lambda: WeakStrongLoss()(torch.zeros(6, 17), GRADES[:, :3], IS_WEAK, WEAK_LABEL), "grades"),
        (lambda: WeakStrongLoss()(torch.zeros(6, 17), GRADES, IS_WEAK[:3], WEAK_LABEL), "is_weak"),
        (lambda: WeakStrongLoss()(torch.zeros(6, 17), GRADES, IS_WEAK, torch.full((6,), 0.5)), "weak_label"),
        (lambda: WeakStrongLoss()(torch.zeros(6, 16), GRADES, IS_WEAK, WEAK_LABEL), "multitask output"),
        (lambda: WeakStrongLoss()(torch.zeros(6, 17), GRADES + 1, IS_WEAK, WEAK_LABEL), "-1..3"),
    ],
)
def test_bad_inputs_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
