"""Landmark predictions as a JSON-ready result: what MONAI Label returns to its client for a landmark model."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.transforms import MapTransform

from hipmonai.io.landmark_groups import load_landmark_groups
from hipmonai.transforms.geometry import fit_head_circles

__all__ = ["LandmarksToResultd", "landmarks_result"]


def landmarks_result(points_px: Any, points_mm: Any, names: Sequence[str], head_circles: bool = False,
                     ) -> dict[str, Any]:
    """``{"landmarks": [{"name", "x_px", "y_px", "x_mm", "y_mm"}, ...]}`` from ``(K, 2)`` pixel and mm points; a point
    with ``NaN`` (e.g. of a hip the detector reports absent) is left out, so the result is strict JSON.

    Args:
        points_px: ``(K, 2)`` ``(x, y)`` original image pixels.
        points_mm: ``(K, 2)`` the same in mm.
        names: the K landmark names.
        head_circles: also fit the femoral head circles (``points`` are the hip detection subset, see
            :func:`~hipmonai.transforms.geometry.fit_head_circles`) into
            ``"femoral_heads": {side: {"centre_x_mm", ...}}``.
    """
    px = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    mm = np.asarray(points_mm, dtype=np.float64).reshape(-1, 2)
    if not len(px) == len(mm) == len(names):
        raise ValueError(f"need one name per point, got {len(names)} names for {len(px)} / {len(mm)} points.")
    result: dict[str, Any] = {"landmarks": [
        {"name": str(n), "x_px": float(p[0]), "y_px": float(p[1]), "x_mm": float(m[0]), "y_mm": float(m[1])}
        for n, p, m in zip(names, px, mm, strict=True) if np.isfinite(p).all() and np.isfinite(m).all()]}
    if head_circles:
        circles = fit_head_circles(load_landmark_groups("hip").expand_detection(mm))
        result["femoral_heads"] = {side: {"centre_x_mm": c[0], "centre_y_mm": c[1], "radius_mm": c[2]}
                                   for side, c in circles.items()}
    return result


class LandmarksToResultd(MapTransform):
    """Dictionary transform: ``data[result_key] = landmarks_result(data[px_key], data[mm_key], names)``.

    Args:
        keys: the pixel points key (e.g. ``"pred"``, ``(K, 2)``).
        names: the K landmark names (e.g. the values of the bundle's ``channel_def``).
        mm_suffix: the mm points are ``data[key + mm_suffix]`` (what :class:`PixelsToMmd` writes).
        result_key: where the dict goes (MONAI Label returns ``data["result"]`` as its JSON).
        head_circles: add the femoral head circles (hip detection subset only).
    """

    def __init__(self, keys: KeysCollection, names: Sequence[str], mm_suffix: str = "_mm",
                 result_key: Hashable = "result", head_circles: bool = False) -> None:
        super().__init__(keys)
        self.names, self.mm_suffix, self.result_key = list(names), mm_suffix, result_key
        self.head_circles = bool(head_circles)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            px = np.asarray(d[key].detach().cpu() if hasattr(d[key], "detach") else d[key])
            mm_key = f"{key}{self.mm_suffix}"
            mm = np.asarray(d[mm_key].detach().cpu() if hasattr(d[mm_key], "detach") else d[mm_key])
            d[self.result_key] = landmarks_result(px, mm, self.names, self.head_circles)
        return d
