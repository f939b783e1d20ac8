"""Osteophyte grades CSV: ``subject_id, visit, side, osteo_fem_sup, osteo_fem_inf, osteo_acet_sup,
osteo_acet_inf`` with OARSI grades 0-3 and empty = unknown.

The file is UTF-8 (a byte-order mark is allowed); spaces after the commas are ignored, in the header and in the
values, so the header may be written as the README prints it. Every row must hold as many fields as the header: an
unknown grade is an empty field (``S1, V00, left, 1, , 0, 0``), never a missing one.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import TARGETS

SIDES = ("right", "left")
_SIDE_ALIASES = {"right": "right", "r": "right", "left": "left", "l": "left"}
UNKNOWN_GRADE = -1
MAX_GRADE = 3


#: weak (image-level) label of a hip with no positive grade but an unknown one: it might carry an osteophyte
UNKNOWN_WEAK_LABEL = -1.0


def weak_label_from_grades(grades: Any) -> Any:
    """Image-level label from quadrant grades ``(..., Q)``: 1 if any grade > 0, 0 if all grades are known and 0.

    A hip with no positive grade but an unknown one (``-1``) gets :data:`UNKNOWN_WEAK_LABEL` (-1): it might carry
    an osteophyte in the unknown quadrant. Accepts numpy arrays, torch tensors and nested sequences.

    Returns:
        ``(...)`` float32 array/tensor (torch in, torch out; otherwise numpy) with values 1, 0 or -1.
    """
    if hasattr(grades, "dim") and not isinstance(grades, np.ndarray):  # a torch tensor, kept in torch
        positive, unknown = (grades > 0).any(dim=-1), (grades < 0).any(dim=-1)
        return positive.float() + UNKNOWN_WEAK_LABEL * (~positive & unknown).float()
    array = np.asarray(grades)
    if array.ndim < 1:
        raise ValueError(f"grades must have a quadrant axis (..., Q), got {grades!r}.")
    positive, unknown = (array > 0).any(axis=-1), (array < 0).any(axis=-1)
    return (positive + UNKNOWN_WEAK_LABEL * (~positive & unknown)).astype(np.float32)


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


def _grades_text(path: Path) -> str:
    """The file decoded as UTF-8 (BOM removed); :class:`InputError` naming the file when it is unreadable or not
    UTF-8 (with the line of the first bad byte, and how to fix it)."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read grades CSV ({err.strerror})") from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(
            f"{path}: grades CSV is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}); "
            "save it as UTF-8 (e.g. 'CSV UTF-8' in a spreadsheet program) and rerun"
        ) from None


def read_grades_csv(path: str | os.PathLike) -> GradesTable:
    """Read a grades CSV; unusable rows are collected in ``rejected`` (with line number and reason), not raised.

    A row is unusable when it holds another number of fields than the header, has an empty ``subject_id`` or
    ``visit``, a side other than right/left (R/L), a grade outside 0-3, or repeats a ``(subject_id, visit, side)``.

    Raises:
        InputError: the file cannot be read, is not UTF-8, or lacks a required column.
    """
    path = Path(path)
    table = GradesTable()
    reader = csv.reader(io.StringIO(_grades_text(path), newline=""), skipinitialspace=True)
    header = [name.strip() for name in next(reader, [])]
    missing = [c for c in ("subject_id", "visit", "side", *TARGETS) if c not in header]
    if missing:
        raise InputError(f"{path}: grades CSV lacks columns {missing}")
    for fields in reader:
        if not fields:  # a blank line
            continue
        where = f"{path.name} line {reader.line_num}"
        if len(fields) != len(header):
            hint = " (write an unknown grade as an empty field)" if len(fields) < len(header) else ""
            table.rejected.append((where, f"{len(fields)} fields, the header has {len(header)}{hint}"))
            continue
        row = dict(zip(header, fields, strict=True))
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
