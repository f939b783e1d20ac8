"""Strict JSON for result files: NaN and infinities (an undefined kappa or AUC) become ``null``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["strict_json", "to_strict"]


def to_strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (recursively; NumPy scalars and arrays included)."""
    if isinstance(value, Mapping):
        return {k: to_strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_strict(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def strict_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`to_strict` ``(value)`` with ``allow_nan=False``, so any JSON reader accepts it."""
    return json.dumps(to_strict(value), allow_nan=False, **kwargs)
