"""Grades CSV as users write it: spaces after commas, non-UTF-8 files, rows with a field missing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hipmonai.errors import InputError
from hipmonai.io.grades import read_grades_csv

README_HEADER = "subject_id, visit, side, osteo_fem_sup, osteo_fem_inf, osteo_acet_sup, osteo_acet_inf\n"


def test_header_and_values_with_spaces_after_commas(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text(README_HEADER + "S1, V00, right, 0, 1, 2, 3\nS1, V00, L, , 1, NA, 0\n", encoding="utf-8")
    table = read_grades_csv(path)
    assert table.rejected == []
    np.testing.assert_array_equal(table.get("S1", "V00", "right"), [0, 1, 2, 3])
    np.testing.assert_array_equal(table.get("S1", "V00", "left"), [-1, 1, -1, 0])


def test_readme_example_is_read_as_printed(tmp_path):
    readme = Path(__file__).resolve().parents[2] / "README.md"
    blocks = re.findall(r"```csv\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    example = [block for block in blocks if block.startswith(README_HEADER)]
    assert len(example) == 1, "README.md shows one grades CSV example starting with the documented header"
    path = tmp_path / "readme.csv"
    path.write_text(example[0], encoding="utf-8")
    table = read_grades_csv(path)
    assert table.rejected == [] and len(table.grades) == example[0].count("\n") - 1


def test_latin1_file_names_the_file_and_asks_for_utf8(tmp_path):
    path = tmp_path / "grades_latin1.csv"
    path.write_bytes((README_HEADER + "Sébastien,V00,right,0,0,0,0\n").encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_grades_csv(path)
    message = str(info.value)
    assert str(path) in message and "UTF-8" in message and "line 2" in message and "\n" not in message


def test_short_and_long_rows_are_rejected_with_their_line(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text(README_HEADER + "S1,V00,right,0,1,2\nS2,V00,right,0,1,2,3,0\nS3,V00,left,0,1,2,\n")
    table = read_grades_csv(path)
    reasons = dict(table.rejected)
    assert reasons == {
        "grades.csv line 2": "6 fields, the header has 7 (write an unknown grade as an empty field)",
        "grades.csv line 3": "8 fields, the header has 7",
    }
    assert table.get("S1", "V00", "right") is None and table.get("S2", "V00", "right") is None
    np.testing.assert_array_equal(table.get("S3", "V00", "left"), [0, 1, 2, -1])  # an empty last field is unknown
