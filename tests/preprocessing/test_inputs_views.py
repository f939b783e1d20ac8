"""A visit folder with several radiographs: the AP/PA pelvis view is chosen by rule from the header, every other
image is listed as skipped with the rule, and no identifying header value reaches a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from hipmonai.phantoms.dicom_writer import FakePatient, write_dx
from hipmonai.preprocessing.inputs import discover_images

PATIENT = FakePatient.draw(np.random.default_rng(3))


def _dx(path: Path, view_position: str = "", **text: str) -> Path:
    """A tiny DX file with ``ViewPosition`` and free-text tags (SeriesDescription=..., ImageComments=...)."""
    write_dx(path, np.zeros((4, 5)), (0.2, 0.2), PATIENT, view_position=view_position)
    if text:
        ds = pydicom.dcmread(path)
        for keyword, value in text.items():
            setattr(ds, keyword, value)
        ds.save_as(path)
    return path


def _reasons(skipped: list[dict[str, str]]) -> dict[str, str]:
    return {entry["input"]: entry["reason"] for entry in skipped}


def test_lateral_first_by_path_loses_to_the_ap_view(tmp_path):
    visit = tmp_path / "S1" / "V00"
    _dx(visit / "a_lateral.dcm", "LL")
    _dx(visit / "b_pelvis.dcm", "AP")
    tasks, skipped = discover_images(tmp_path)
    assert [t.relative for t in tasks] == ["S1/V00/b_pelvis.dcm"]
    assert _reasons(skipped) == {
        "S1/V00/a_lateral.dcm": "S1/V00/b_pelvis.dcm chosen for S1/V00: ViewPosition AP; this one is ViewPosition LL"
    }


def test_text_tags_decide_when_view_position_is_empty(tmp_path):
    visit = tmp_path / "S1" / "V01"
    _dx(visit / "1.dcm", SeriesDescription="Scout")
    _dx(visit / "2.dcm", ProtocolName="HIP LATERAL")
    _dx(visit / "3.dcm", SeriesDescription="Pelvis AP", ImageComments="standing")
    _dx(visit / "4.dcm", ImageComments="localizer")
    tasks, skipped = discover_images(tmp_path)
    assert [t.relative for t in tasks] == ["S1/V01/3.dcm"]
    reasons = _reasons(skipped)
    assert set(reasons) == {"S1/V01/1.dcm", "S1/V01/2.dcm", "S1/V01/4.dcm"}
    rule = "S1/V01/3.dcm chosen for S1/V01: SeriesDescription names AP/PA; "
    assert all(r.startswith(rule) for r in reasons.values())
    assert reasons["S1/V01/1.dcm"].endswith("this one is a scout/localizer (SeriesDescription)")
    assert reasons["S1/V01/2.dcm"].endswith("this one is a lateral view (ProtocolName)")
    assert reasons["S1/V01/4.dcm"].endswith("this one is a scout/localizer (ImageComments)")


def test_view_position_ranks_before_text_and_ties_go_to_the_earliest_path(tmp_path):
    visit = tmp_path / "S2" / "V00"
    _dx(visit / "a.dcm", SeriesDescription="AP pelvis")
    _dx(visit / "c.dcm", "PA")
    _dx(visit / "b.dcm", "AP")
    tasks, skipped = discover_images(tmp_path)
    assert [t.relative for t in tasks] == ["S2/V00/b.dcm"]
    reasons = _reasons(skipped)
    rule = "S2/V00/b.dcm chosen for S2/V00: ViewPosition AP/PA, the earliest by path of 2 such images"
    assert reasons["S2/V00/c.dcm"] == f"{rule}; this one is ViewPosition PA"
    assert reasons["S2/V00/a.dcm"] == f"{rule}; this one is labelled AP/PA in SeriesDescription only"


def test_unlabelled_images_fall_back_to_the_earliest_path_with_the_rule_named(tmp_path):
    for name in ("y.dcm", "x.dcm"):
        _dx(tmp_path / "S3" / "V00" / name)
    tasks, skipped = discover_images(tmp_path)
    assert [t.relative for t in tasks] == ["S3/V00/x.dcm"]
    assert _reasons(skipped) == {
        "S3/V00/y.dcm": "S3/V00/x.dcm chosen for S3/V00: no image labelled AP/PA in the header, the earliest by path "
                        "of 2; this one has no view in the header"
    }


def test_no_image_chosen_when_every_one_is_excluded(tmp_path):
    visit = tmp_path / "S4" / "V00"
    _dx(visit / "a.dcm", "LL")
    _dx(visit / "b.dcm", ProtocolName="frog leg lateral")
    tasks, skipped = discover_images(tmp_path)
    assert tasks == []
    reasons = _reasons(skipped)
    assert reasons["S4/V00/a.dcm"] == "no AP/PA view among the 2 images of S4/V00; this one is ViewPosition LL"
    assert reasons["S4/V00/b.dcm"].endswith("this one is a lateral view (ProtocolName)")


def test_reasons_never_carry_identifying_or_free_text_values(tmp_path):
    visit = tmp_path / "S5" / "V00"
    _dx(visit / "a.dcm", "XYZ", ImageComments=f"{PATIENT.name} LAT {PATIENT.patient_id}")
    _dx(visit / "b.dcm", SeriesDescription=f"AP pelvis for {PATIENT.name}")
    _, skipped = discover_images(tmp_path)
    text = repr(skipped)
    assert "S5/V00/b.dcm chosen" in text
    for value in (*PATIENT.identifying_values(), "XYZ", "pelvis for"):
        assert value not in text, value


def test_single_images_are_not_opened(tmp_path):
    path = tmp_path / "S6" / "V00" / "only.dcm"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not read at discovery")
    tasks, skipped = discover_images(tmp_path)
    assert [t.relative for t in tasks] == ["S6/V00/only.dcm"] and skipped == []


def test_unreadable_header_in_a_multi_image_visit(tmp_path):
    visit = tmp_path / "S7" / "V00"
    (visit).mkdir(parents=True)
    (visit / "a.dcm").write_bytes(b"garbage" * 40)
    _dx(visit / "b.dcm")
    tasks, skipped = discover_images(tmp_path)
    assert [t.relative for t in tasks] == ["S7/V00/b.dcm"]
    reason = _reasons(skipped)["S7/V00/a.dcm"]
    assert "this one is unreadable" in reason and "not a DICOM file" in reason and str(tmp_path) not in reason


@pytest.mark.parametrize("index", [True, False], ids=["index_csv", "folders"])
def test_index_csv_visits_use_the_same_rule(tmp_path, index):
    _dx(tmp_path / "d" / "one.dcm", "LL")
    _dx(tmp_path / "d" / "two.dcm", "AP")
    index_csv = None
    if index:
        index_csv = tmp_path / "index.csv"
        index_csv.write_text("path,subject_id,visit\none.dcm,S8,V02\ntwo.dcm,S8,V02\n")
    tasks, skipped = discover_images(tmp_path / "d", index_csv=index_csv)
    if index:
        assert [t.relative for t in tasks] == ["two.dcm"] and [s["input"] for s in skipped] == ["one.dcm"]
    else:  # flat files are keyed by their own name: two subjects, nothing skipped
        assert len(tasks) == 2 and skipped == []
