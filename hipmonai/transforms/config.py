"""``configs/preprocessing.json``: the one place that holds the hip preprocessing defaults.

Every transform argument of :mod:`hipmonai.transforms` that is left ``None`` takes its value from this file,
so bundles, MONAI Label/Deploy and ``hipmonai preprocess`` share one default.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hipmonai.errors import InputError
from hipmonai.paths import config_dir

__all__ = ["PreprocessingConfig", "load_preprocessing_config"]

CONFIG_NAME = "preprocessing.json"


@dataclass(frozen=True)
class PreprocessingConfig:
    """Hip preprocessing defaults.

    Attributes:
        spacing_mm: target pixel spacing ``(x, y)`` in mm.
        crop_px: side of the square crop in pixels at ``spacing_mm``.
        percentiles: ``(lower, upper)`` intensity percentiles mapped to ``(0, 1)``.
        clip_intensity: whether scaled intensities are clipped to ``[0, 1]``.
        radius_range_mm: plausible femoral head radius ``(min, max)`` in mm.
    """

    spacing_mm: tuple[float, float]
    crop_px: int
    percentiles: tuple[float, float]
    clip_intensity: bool
    radius_range_mm: tuple[float, float]


def spacing_pair(value: float | Sequence[float], name: str = "spacing_mm") -> tuple[float, float]:
    """``value`` (one number or ``(x, y)``) as a positive, finite ``(x, y)`` pair.

    Raises:
        ValueError: not one or two positive finite numbers.
    """
    values = [value] * 2 if isinstance(value, int | float) else list(value)
    if len(values) != 2 or not all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"{name} must be one positive number or a positive (x, y) pair, got {value!r}")
    return float(values[0]), float(values[1])


def value_range(
    value: Sequence[float], name: str, low: float = -math.inf, high: float = math.inf
) -> tuple[float, float]:
    """``value`` as an increasing pair ``(a, b)`` with ``low <= a < b <= high``.

    Raises:
        ValueError: not such a pair.
    """
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    ok = len(values) == 2 and all(isinstance(v, int | float) and math.isfinite(v) for v in values)
    if not ok or not low <= values[0] < values[1] <= high:
        raise ValueError(f"{name} must be an increasing pair within [{low}, {high}], got {value!r}")
    return float(values[0]), float(values[1])


def crop_size(value: int, name: str = "crop_px") -> int:
    """``value`` as a positive integer crop side in pixels.

    Raises:
        ValueError: not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def load_preprocessing_config(path: str | os.PathLike | None = None) -> PreprocessingConfig:
    """Read and validate the preprocessing defaults.

    Args:
        path: the JSON file; default ``configs/preprocessing.json`` (see :func:`hipmonai.config_dir`).

    Returns:
        the validated :class:`PreprocessingConfig`.

    Raises:
        InputError: the file is missing or malformed, or a value is invalid (the message names file and key).
    """
    path = Path(path) if path is not None else config_dir() / CONFIG_NAME
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: cannot load preprocessing defaults ({err})") from err
    try:
        percentiles = spec["percentiles"]
        clip = percentiles["clip"]
        if not isinstance(clip, bool):
            raise ValueError(f"percentiles.clip must be true or false, got {clip!r}")
        return PreprocessingConfig(
            spacing_mm=spacing_pair(spec["spacing_mm"]),
            crop_px=crop_size(spec["crop_px"]),
            percentiles=value_range((percentiles["lower"], percentiles["upper"]), "percentiles", 0.0, 100.0),
            clip_intensity=clip,
            radius_range_mm=value_range(spec["radius_range_mm"], "radius_range_mm", 0.0),
        )
    except KeyError as err:
        raise InputError(f"{path}: missing key {err}") from err
    except (TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err
