"""Strict JSON of result files: non-finite numbers become null, everything else is unchanged."""

from __future__ import annotations

import json
import math

import numpy as np

from hipmonai.io.strict_json import strict_json, to_strict


def test_non_finite_values_become_null_everywhere():
    value = {"kappa": {"a": float("nan"), "b": 0.5}, "auc": [np.float32(0.7), np.nan, math.inf],
             "grid": np.array([[1.0, -np.inf]]), "n": np.int64(3), "label": "x", "none": None}
    assert to_strict(value) == {"kappa": {"a": None, "b": 0.5}, "auc": [value["auc"][0].item(), None, None],
                                "grid": [[1.0, None]], "n": 3, "label": "x", "none": None}
    text = strict_json(value)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["kappa"] == {"a": None, "b": 0.5}
