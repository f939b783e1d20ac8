from __future__ import annotations

import numpy as np
import pytest

from hipmonai.errors import InputError
from hipmonai.io.grades import normalise_side, parse_grade, read_grades_csv

HEADER = "subject_id,visit,side,osteo_fem_sup,osteo_fem_inf,osteo_acet_sup,osteo_acet_inf\n"


def test_reads_grades_with_unknowns_and_rejects_bad_rows(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text(
        HEADER
        + "S1,V00,right,0,1,2,3\n"
        + "S1,V00,L,,1,NA,0\n"
        + "S2,V00,right,4,0,0,0\n"
        + "S3,V00,middle,0,0,0,0\n"
        + "S1,V00,right,0,0,0,0\n"
        + "S4,V00,left,1.5,0,0,0\n"
    )
    table = read_grades_csv(path)
    np.testing.assert_array_equal(table.get("S1", "V00", "right"), [0, 1, 2, 3])
    np.testing.assert_array_equal(table.get("S1", "V00", "left"), [-1, 1, -1, 0])
    reasons = dict(table.rejected)
    assert reasons["grades.csv line 4"] == "osteo_fem_sup=4 outside 0-3"
    assert "side must be right/left" in reasons["grades.csv line 5"]
    assert reasons["grades.csv line 6"] == "duplicate row for S1/V00/right"
    assert reasons["grades.csv line 7"] == "osteo_fem_sup=1.5 outside 0-3"
    assert len(table.grades) == 2


def test_missing_column_is_an_error(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("subject_id,visit,side,osteo_fem_sup\nS1,V00,right,0\n")
    with pytest.raises(InputError, match="lacks columns"):
        read_grades_csv(path)


def test_parse_helpers():
    assert parse_grade(" 2 ", "x") == 2
    assert parse_grade("", "x") == -1
    with pytest.raises(InputError, match="x='a' is not a number"):
        parse_grade("a", "x")
    assert normalise_side("R") == "right"
    with pytest.raises(InputError, match="side"):
        normalise_side("both")
