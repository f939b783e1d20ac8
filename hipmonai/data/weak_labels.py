"""Weak (image-level) labels and the strong/weak subsets of Ye et al. 2026 (section 3.3).

A weak label is ``1`` when any quadrant grade is ``> 0``. Paper 002 keeps a fixed strongly labelled subset and
adds a weakly labelled pool of ``rho = |weak| / |strong|`` times its size, ``rho`` in {0, 0.5, 1, 2.5, 5, all}.
Both subsets are drawn by *subject*: all visits and both hips of a subject are strong, weak, or unused, never
split between the two. The draw is one seeded permutation of the subjects: the strong subset comes first and is
the same for every ``rho``, and the weak subsets are prefixes of the rest, so a larger ``rho`` only adds subjects.

Items are MONAI datalist entries as :func:`hipmonai.data.load_datalist` returns them (``subject_id`` and
``grades`` in :data:`hipmonai.io.TARGETS` order, ``-1`` = unknown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hipmonai.errors import InputError
from hipmonai.io.grades import UNKNOWN_WEAK_LABEL, weak_label_from_grades

__all__ = [
    "RHO_VALUES",
    "UNKNOWN_WEAK_LABEL",
    "WeakStrongSplit",
    "make_weak_strong_datalist",
    "parse_rho",
    "split_weak_strong",
    "weak_label_from_grades",
]

#: The weak-to-strong ratios swept in Ye et al. 2026 (``"all"`` = the whole remaining pool).
RHO_VALUES = (0, 0.5, 1, 2.5, 5, "all")


def parse_rho(rho: float | str) -> float:
    """``rho`` as a float (``"all"`` -> ``inf``); raises ``ValueError`` for a negative or non-numeric value."""
    if isinstance(rho, str):
        if rho.strip().lower() == "all":
            return math.inf
        try:
            rho = float(rho)
        except ValueError as err:
            raise ValueError(f"rho must be a number >= 0 or 'all', got {rho!r}.") from err
    value = float(rho)
    if not value >= 0:
        raise ValueError(f"rho must be a number >= 0 or 'all', got {rho!r}.")
    return value


class WeakStrongSplit(dict):
    """Result of :func:`split_weak_strong`: ``{"strong": [...], "weak": [...], "unused": [...]}`` of items.

    Attributes (also in ``summary``): requested and achieved sizes, the subjects of each subset.
    """

    @property
    def summary(self) -> dict[str, Any]:
        strong, weak = self["strong"], self["weak"]
        return {
            "n_strong": len(strong),
            "n_weak": len(weak),
            "n_unused": len(self["unused"]),
            "rho_achieved": (len(weak) / len(strong)) if strong else 0.0,
            "strong_subjects": len({item["subject_id"] for item in strong}),
            "weak_subjects": len({item["subject_id"] for item in weak}),
            "weak_positive": int(sum(item["weak_label"] == 1.0 for item in weak)),
        }


def _take_subjects(order: Sequence[str], by_subject: Mapping[str, list], target: float) -> tuple[list[str], int]:
    """Subjects from the front of ``order`` until at least ``target`` items are taken (all for ``inf``)."""
    taken, count = [], 0
    for subject in order:
        if count >= target:
            break
        taken.append(subject)
        count += len(by_subject[subject])
    return taken, count


def split_weak_strong(
    items: Sequence[Mapping[str, Any]],
    n_strong: int,
    rho: float | str,
    seed: int = 123,
    subject_key: str = "subject_id",
    grades_key: str = "grades",
) -> WeakStrongSplit:
    """Draw the fixed strong subset and the weak subset for ``rho`` by subject (Ye et al. 2026 section 3.3).

    Subjects are sorted and permuted with ``numpy.random.default_rng(seed)``. Strong subjects are taken from the
    front until they hold at least ``n_strong`` hips; weak subjects follow in the same order until they hold at
    least ``rho * |strong|`` hips whose weak label is known (all of them for ``"all"``). Because whole subjects are
    taken, each count may exceed its target by less than one subject's hips; ``summary["rho_achieved"]`` reports the
    ratio obtained. Hips of weak subjects whose weak label cannot be told (``-1``, see
    :func:`weak_label_from_grades`) carry no supervision and go to ``"unused"`` with the subjects not drawn.

    Args:
        items: datalist entries with ``subject_key`` and ``grades_key`` (4 grades, -1 = unknown).
        n_strong: hips in the strong subset (1000 in Ye et al. 2026), 1..len(items).
        rho: weak-to-strong ratio (:data:`RHO_VALUES`, any number >= 0, or ``"all"``).
        seed: permutation seed (Ye et al. 2026: 123).

    Returns:
        A :class:`WeakStrongSplit`; every item is a copy with ``is_weak`` (bool) and ``weak_label`` (float: 1, 0,
        or -1) added. Strong items keep their grades; weak items keep them too (the oracle strategy and audits use
        them) — :class:`hipmonai.losses.weak_strong.WeakStrongLoss` never reads the grades of a weak item except
        in the oracle strategy.

    Raises:
        InputError: an item lacks a subject or grades, or ``n_strong`` is outside ``1..len(items)``.
    """
    rho_value = parse_rho(rho)
    if not 1 <= int(n_strong) <= len(items):
        raise InputError(f"n_strong must be in 1..{len(items)} (the number of items), got {n_strong}.")
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for index, item in enumerate(items):
        if subject_key not in item or grades_key not in item:
            raise InputError(f"item {index} ({item.get('key', '?')}) lacks '{subject_key}' or '{grades_key}'.")
        grades = np.asarray(item[grades_key])
        if grades.ndim != 1:
            raise InputError(f"item {index} ({item.get('key', '?')}): {grades_key} must be one grade per quadrant.")
        entry = dict(item)
        entry["weak_label"] = float(weak_label_from_grades(grades))
        by_subject.setdefault(str(item[subject_key]), []).append(entry)
    order = [str(s) for s in np.random.default_rng(seed).permutation(sorted(by_subject))]
    strong_subjects, _ = _take_subjects(order, by_subject, int(n_strong))
    rest = order[len(strong_subjects):]
    n_strong_taken = sum(len(by_subject[s]) for s in strong_subjects)
    usable = {s: [e for e in by_subject[s] if e["weak_label"] != UNKNOWN_WEAK_LABEL] for s in rest}
    weak_subjects, _ = _take_subjects(rest, usable, rho_value * n_strong_taken)
    strong_set, weak_set = set(strong_subjects), set(weak_subjects)
    split = WeakStrongSplit(strong=[], weak=[], unused=[])
    for subject in order:
        for entry in by_subject[subject]:
            if subject in strong_set:
                split["strong"].append({**entry, "is_weak": False})
            elif subject in weak_set and entry["weak_label"] != UNKNOWN_WEAK_LABEL:
                split["weak"].append({**entry, "is_weak": True})
            else:
                split["unused"].append({**entry, "is_weak": True})
    return split


def make_weak_strong_datalist(
    items: Sequence[Mapping[str, Any]],
    n_strong: int,
    rho: float | str,
    seed: int = 123,
    subject_key: str = "subject_id",
    grades_key: str = "grades",
) -> list[dict[str, Any]]:
    """The training datalist for one ``rho``: strong items then weak items of :func:`split_weak_strong`."""
    split = split_weak_strong(items, n_strong, rho, seed=seed, subject_key=subject_key, grades_key=grades_key)
    return split["strong"] + split["weak"]
