"""Gather each osteophyte target's landmarks from a hip's 80 points for the CAM prior.

Landmarks are ``(x, y)`` pixels of the image they travel with (docs/conventions.md), ``NaN`` = missing. The
groups come from ``configs/landmark_groups.json`` (:func:`hipmonai.io.load_landmark_groups`), in
:data:`hipmonai.io.TARGETS` order; groups of different sizes are ``NaN``-padded to the longest, so every sample
gives the same ``(4, P_max, 2)`` shape and batches collate.

Left hips need nothing special: preprocessing flips a left hip's crop *and* its landmarks, and the
landmark indices name anatomy (67 is the lateral acetabular edge on either side), so gathering by index on the
crop coordinates gives the target zone where the flipped image shows it. Apply this transform after every
spatial transform that moves the landmarks (e.g. a random rotation), or on landmarks already moved.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, ensure_tuple

from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import load_landmark_groups

__all__ = ["TargetLandmarks", "TargetLandmarksd", "target_index_table"]


def target_index_table(groups: Mapping[str, Sequence[int]]) -> np.ndarray:
    """``(C, P_max)`` int64 index table of the groups (in their order), ``-1`` = padding."""
    if not groups:
        raise InputError("no target landmark groups given")
    width = max(len(indices) for indices in groups.values())
    if width == 0:
        raise InputError(f"every target landmark group is empty: {dict(groups)}")
    table = np.full((len(groups), width), -1, dtype=np.int64)
    for row, indices in enumerate(groups.values()):
        table[row, : len(indices)] = indices
    return table


class TargetLandmarks(Transform):
    """``(..., N, 2)`` hip landmarks -> ``(..., C, P_max, 2)`` target landmark groups, ``NaN``-padded.

    Args:
        groups: target name -> landmark indices; default: the hip targets of ``configs/landmark_groups.json``.
        n_points: points expected per hip (default: the hip model's, 80); a bilateral 160-point array is an error
            (split it per hip first, :func:`hipmonai.io.split_bilateral`).

    Example::

        >>> landmarks = np.random.default_rng(0).uniform(0, 224, (80, 2)).astype(np.float32)
        >>> TargetLandmarks()(landmarks).shape  # (targets, longest group, xy)
        (4, 4, 2)
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, groups: Mapping[str, Sequence[int]] | None = None, n_points: int | None = None) -> None:
        hip = load_landmark_groups("hip") if groups is None or n_points is None else None
        self.groups = dict(hip.targets if groups is None else groups)
        self.n_points = int(hip.n_points if n_points is None else n_points)
        self.table = target_index_table(self.groups)
        bad = sorted({int(i) for i in self.table.ravel() if i >= self.n_points or i < -1})
        if bad:
            raise InputError(f"target landmark indices {bad} outside 0..{self.n_points - 1}")

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(self.groups)

    def __call__(self, landmarks: NdarrayOrTensor) -> NdarrayOrTensor:
        """
        Args:
            landmarks: ``(..., N, 2)`` ``(x, y)`` pixels (numpy or torch), ``N`` = ``n_points``.

        Returns:
            ``(..., C, P_max, 2)`` float32 of the same kind (a ``MetaTensor`` comes back as a plain tensor).
        """
        shape = tuple(landmarks.shape)
        if len(shape) < 2 or shape[-1] != 2 or shape[-2] != self.n_points:
            raise InputError(
                f"landmarks must be (..., {self.n_points}, 2) (x, y) points of one hip, got shape {shape}"
            )
        flat = self.table.ravel()
        take = np.where(flat < 0, 0, flat)
        pad = flat < 0
        if isinstance(landmarks, torch.Tensor):
            points = torch.as_tensor(landmarks).as_subclass(torch.Tensor).to(torch.float32)
            out = points[..., torch.as_tensor(take, device=points.device), :].clone()
            out[..., torch.as_tensor(pad, device=points.device), :] = float("nan")
        else:
            out = np.asarray(landmarks, dtype=np.float32)[..., take, :].copy()
            out[..., pad, :] = np.nan
        return out.reshape(*shape[:-2], *self.table.shape, 2)


class TargetLandmarksd(MapTransform):
    """Dictionary twin of :class:`TargetLandmarks`: ``data[output_key] = TargetLandmarks(data[key])``.

    Args:
        keys: landmark keys to read (default ``"landmarks"``, as :class:`hipmonai.data.LoadHipScand` names them).
        output_keys: keys to write, one per key (default ``"target_landmarks"``, the key
            :class:`hipmonai.engines.CAMPriorStep` reads).
        groups, n_points: see :class:`TargetLandmarks`.
        allow_missing_keys: skip absent keys instead of raising.
    """

    def __init__(
        self,
        keys: KeysCollection = "landmarks",
        output_keys: KeysCollection = "target_landmarks",
        groups: Mapping[str, Sequence[int]] | None = None,
        n_points: int | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_keys = ensure_tuple(output_keys)
        if len(self.output_keys) != len(self.keys):
            raise ValueError(f"need one output key per key, got keys={self.keys} output_keys={self.output_keys}.")
        self.gather = TargetLandmarks(groups=groups, n_points=n_points)

    backend = TargetLandmarks.backend

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key, output_key in self.key_iterator(d, self.output_keys):
            d[output_key] = self.gather(d[key])
        return d
