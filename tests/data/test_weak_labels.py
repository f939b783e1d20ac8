from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hipmonai import InputError
from hipmonai.data.weak_labels import (
    RHO_VALUES,
    make_weak_strong_datalist,
    parse_rho,
    split_weak_strong,
    weak_label_from_grades,
)


def _items(n_subjects: int = 40, seed: int = 0) -> list[dict]:
    """Two visits x two hips per subject for most, one hip for every fifth subject; random grades."""
    rng = np.random.default_rng(seed)
    items = []
    for s in range(n_subjects):
        for visit in ("V00", "V01"):
            for side in ("right",) if s % 5 == 0 else ("right", "left"):
                grades = rng.choice([0, 0, 0, 1, 2, 3, -1], size=4).tolist()
                items.append({"key": f"S{s:03d}/{visit}/{side}", "subject_id": f"S{s:03d}", "grades": grades})
    return items


def test_weak_label_rule_numpy_and_torch():
    grades = [[0, 0, 0, 0], [0, 2, -1, 0], [0, -1, 0, 0], [-1, -1, -1, -1], [3, 0, 0, 0]]
    expected = [0.0, 1.0, -1.0, -1.0, 1.0]
    np.testing.assert_array_equal(weak_label_from_grades(np.array(grades)), expected)
    out = weak_label_from_grades(torch.tensor(grades))
    assert out.dtype == torch.float32 and out.tolist() == expected
    assert float(weak_label_from_grades([0, 1, 0, 0])) == 1.0


@pytest.mark.parametrize("rho", RHO_VALUES)
def test_subjects_never_cross_and_ratio_is_met(rho):
    items = _items()
    split = split_weak_strong(items, n_strong=20, rho=rho, seed=123)
    strong_subjects = {i["subject_id"] for i in split["strong"]}
    weak_subjects = {i["subject_id"] for i in split["weak"]}
    assert not strong_subjects & weak_subjects
    assert len(split["strong"]) + len(split["weak"]) + len(split["unused"]) == len(items)
    assert 20 <= len(split["strong"]) < 24  # whole subjects: overshoot by less than one subject (<= 4 hips)
    assert all(not i["is_weak"] for i in split["strong"]) and all(i["is_weak"] for i in split["weak"])
    assert all(i["weak_label"] in (0.0, 1.0) for i in split["weak"])
    target = parse_rho(rho) * len(split["strong"])
    if math.isinf(target):
        leftover = [i for i in split["unused"] if i["subject_id"] not in strong_subjects and i["weak_label"] != -1]
        assert not leftover
    else:
        assert target <= len(split["weak"]) < target + 4 or (target == 0 and not split["weak"])
    assert split.summary["rho_achieved"] == pytest.approx(len(split["weak"]) / len(split["strong"]))


def test_deterministic_fixed_strong_and_nested_weak_sets():
    items = _items()
    runs = {rho: split_weak_strong(items, 20, rho, seed=123) for rho in RHO_VALUES}
    keys = {rho: [i["key"] for i in split["strong"]] for rho, split in runs.items()}
    assert all(k == keys[0] for k in keys.values())  # the strong subset is the same for every rho
    weak_sets = [{i["key"] for i in runs[rho]["weak"]} for rho in RHO_VALUES]
    assert all(a <= b for a, b in zip(weak_sets, weak_sets[1:], strict=False))  # larger rho only adds
    assert [i["key"] for i in split_weak_strong(items, 20, 2.5, seed=123)["weak"]] == [
        i["key"] for i in runs[2.5]["weak"]
    ]
    assert keys[0] != [i["key"] for i in split_weak_strong(items, 20, 1, seed=7)["strong"]]
    shuffled = list(reversed(items))  # input order does not matter
    assert sorted(i["key"] for i in split_weak_strong(shuffled, 20, 1, seed=123)["weak"]) == sorted(
        i["key"] for i in runs[1]["weak"]
    )


def test_items_are_copied_and_datalist_concatenates():
    items = _items(10)
    datalist = make_weak_strong_datalist(items, 8, 1, seed=123)
    assert "is_weak" not in items[0]
    split = split_weak_strong(items, 8, 1, seed=123)
    assert datalist == split["strong"] + split["weak"]
    strong = split["strong"][0]
    assert strong["weak_label"] == float(weak_label_from_grades(strong["grades"]))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_strong": 0, "rho": 1}, InputError, "n_strong"),
        ({"n_strong": 10_000, "rho": 1}, InputError, "n_strong"),
        ({"n_strong": 5, "rho": -1}, ValueError, "rho"),
        ({"n_strong": 5, "rho": "many"}, ValueError, "rho"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, message):
    with pytest.raises(error, match=message):
        split_weak_strong(_items(5), **kwargs)
    with pytest.raises(InputError, match="lacks 'subject_id'"):
        split_weak_strong([{"grades": [0, 0, 0, 0]}], 1, 0)
