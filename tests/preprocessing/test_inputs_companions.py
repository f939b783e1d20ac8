"""Companion files (``.pts``, lesion masks) are matched to a radiograph by relative path; the flat-by-stem fallback
only when the stem names one DICOM file."""

from __future__ import annotations

from pathlib import Path

import pytest

from hipmonai.preprocessing.inputs import discover_images


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def same_stem_tree(tmp_path: Path) -> Path:
    """Three subjects whose radiograph is each called ``IM0001.dcm`` (one image per visit: no header is read)."""
    for subject in ("S1", "S2", "S3"):
        _touch(tmp_path / "dicom" / subject / "V00" / "IM0001.dcm")
    return tmp_path


def test_flat_pts_is_not_shared_by_images_with_the_same_name(same_stem_tree):
    root = same_stem_tree
    _touch(root / "landmarks" / "IM0001.pts")
    tasks, skipped = discover_images(root / "dicom", root / "landmarks")
    assert tasks == []
    assert [s["input"] for s in skipped] == ["S1/V00/IM0001.dcm", "S2/V00/IM0001.dcm", "S3/V00/IM0001.dcm"]
    for entry in skipped:
        reason = entry["reason"]
        assert "IM0001.pts" in reason and "3 DICOM files" in reason and "ambiguous" in reason, reason
        assert str(root) not in reason  # relative paths only
        assert f"{Path(entry['input']).parent.as_posix()}/IM0001.pts" in reason  # says where the file should be


def test_mirrored_pts_wins_and_stray_flat_file_is_ambiguous_for_the_others(same_stem_tree):
    root = same_stem_tree
    _touch(root / "landmarks" / "IM0001.pts")
    mirrored = _touch(root / "landmarks" / "S2" / "V00" / "IM0001.pts")
    tasks, skipped = discover_images(root / "dicom", root / "landmarks")
    assert [(t.relative, t.landmarks_path) for t in tasks] == [("S2/V00/IM0001.dcm", mirrored)]
    assert [s["input"] for s in skipped] == ["S1/V00/IM0001.dcm", "S3/V00/IM0001.dcm"]


def test_flat_lesion_mask_is_ambiguous_too(same_stem_tree):
    root = same_stem_tree
    for subject in ("S1", "S2", "S3"):
        _touch(root / "landmarks" / subject / "V00" / "IM0001.pts")
    _touch(root / "lesions" / "IM0001.nii.gz")
    tasks, skipped = discover_images(root / "dicom", root / "landmarks", root / "lesions")
    assert tasks == [] and len(skipped) == 3
    assert all("IM0001.nii.gz" in s["reason"] and "ambiguous" in s["reason"] for s in skipped)


def test_flat_fallback_kept_when_the_stem_is_unique(tmp_path):
    for subject in ("S1", "S2"):
        _touch(tmp_path / "dicom" / subject / "V00" / f"{subject}_V00.dcm")
    flat = [_touch(tmp_path / "landmarks" / f"{subject}_V00.pts") for subject in ("S1", "S2")]
    tasks, skipped = discover_images(tmp_path / "dicom", tmp_path / "landmarks")
    assert skipped == [] and [t.landmarks_path for t in tasks] == flat


def test_missing_companion_is_not_a_discovery_skip(same_stem_tree):
    (same_stem_tree / "landmarks").mkdir()
    tasks, skipped = discover_images(same_stem_tree / "dicom", same_stem_tree / "landmarks")
    assert skipped == [] and [t.landmarks_path for t in tasks] == [None, None, None]
