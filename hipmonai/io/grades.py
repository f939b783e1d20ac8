"""Osteophyte grades CSV: ``subject_id, visit, side, osteo_fem_sup, osteo_fem_inf, osteo_acet_sup,
osteo_acet_inf`` with OARSI grades 0-3 and empty = unknown."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import TARGETS

SIDES = ("right", "left")
_SIDE_ALIASES = {"right": "right", "r": "right", "left": "left", "l": "left"}
UNKNOWN_GRADE = -1
MAX_GRADE = 3


@dataclass
class GradesTable:
    """Grades keyed by ``(subject_id, visit, side)``.

    Attributes:
        grades: key -> ``(4,)`` int8 array in :data:`TARGETS` order, ``-1`` = unknown.
        rejected: ``(row description, reason)`` for every row that could not be used.
    """

    grades: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def get(self, subject_id: str, visit: str, side: str) -> np.ndarray | None:
        return self.grades.get((subject_id, visit, side))


def normalise_side(value: str) -> str:
    """``"R"``, ``"right"``, ... -> ``"right"``; raises :class:`InputError` for anything else."""
    side = _SIDE_ALIASES.get(str(value).strip().lower())
    if side is None:
        raise InputError(f"side must be right/left (or R/L), got {value!r}")
    return side


def parse_grade(value: str | None, column: str) -> int:
    """One cell -> grade 0..3, or -1 when empty; raises :class:`InputError` naming the column and value."""
    text = (value or "").strip()
    if text == "" or text.lower() in {"na", "nan"}:
        return UNKNOWN_GRADE
    try:
        grade = float(text)
    except ValueError as err:
        raise InputError(f"{column}={text!r} is not a number") from err
    if not grade.is_integer() or not 0 <= grade <= MAX_GRADE:
        raise InputError(f"{column}={text} outside 0-{MAX_GRADE}")
    return int(grade)


def read_grades_csv(path: str | os.PathLike) -> GradesTable:
    """Read a grades CSV; unusable rows are collected in ``rejected`` (with line number and reason), not raised.

    Raises:
        InputError: the file cannot be read or lacks a required column.
    """
    path = Path(path)
    table = GradesTable()
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as err:
        raise InputError(f"{path}: cannot read grades CSV ({err.strerror})") from err
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("subject_id", "visit", "side", *TARGETS) if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: grades CSV lacks columns {missing}")
        for row in reader:
            where = f"{path.name} line {reader.line_num}"
            try:
                subject, visit = row["subject_id"].strip(), row["visit"].strip()
                if not subject or not visit:
                    raise InputError("empty subject_id or visit")
                side = normalise_side(row["side"])
                grades = np.array([parse_grade(row[t], t) for t in TARGETS], dtype=np.int8)
            except InputError as err:
                table.rejected.append((where, str(err)))
                continue
            key = (subject, visit, side)
            if key in table.grades:
                table.rejected.append((where, f"duplicate row for {subject}/{visit}/{side}"))
                continue
            table.grades[key] = grades
    return table
