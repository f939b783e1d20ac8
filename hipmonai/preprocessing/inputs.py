"""Find a user's inputs: DICOM files, their BoneFinder ``.pts`` and (phantoms) lesion masks, keyed by subject and visit.

Layout understood (paths relative to the DICOM folder; landmark and lesion folders mirror it)::

    DICOM/{subject_id}/{visit}/{name}.dcm     -> subject_id, visit
    DICOM/{subject_id}/{name}.dcm             -> subject_id, visit "V00"
    DICOM/{name}.dcm                          -> subject_id = name, visit "V00"

or any layout with ``--index CSV`` (columns ``path, subject_id, visit``; path relative to the DICOM folder).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from hipmonai.errors import InputError

DEFAULT_VISIT = "V00"
DICOM_SUFFIXES = {".dcm", ".dicom", ""}


@dataclass(frozen=True)
class ImageTask:
    """One radiograph to preprocess.

    Attributes:
        relative: path under the DICOM folder (posix); the only name of the input that reaches summaries and logs.
        dicom_path: the file.
        subject_id, visit: the study's pseudonymous subject code and visit label.
        landmarks_path: the matching ``.pts`` (None when none was found).
        lesions_path: the phantom lesion mask ``.nii.gz`` (None for real data).
    """

    relative: str
    dicom_path: Path
    subject_id: str
    visit: str
    landmarks_path: Path | None = None
    lesions_path: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.subject_id}/{self.visit}"


def _is_dicom_candidate(path: Path) -> bool:
    if path.name.startswith(".") or not path.is_file():
        return False
    if path.suffix.lower() in {".dcm", ".dicom"}:
        return True
    if path.suffix == "":
        with path.open("rb") as handle:
            head = handle.read(132)
        return head[128:132] == b"DICM"
    return False


def _mirror(root: Path | None, relative: Path, suffixes: tuple[str, ...]) -> Path | None:
    """The file under ``root`` mirroring ``relative`` with one of ``suffixes`` (or flat by stem)."""
    if root is None:
        return None
    stem = relative.name[: -len(relative.suffix)] if relative.suffix else relative.name
    for suffix in suffixes:
        for candidate in (root / relative.parent / f"{stem}{suffix}", root / f"{stem}{suffix}"):
            if candidate.is_file():
                return candidate
    return None


def _read_index(index_csv: Path) -> dict[str, tuple[str, str]]:
    try:
        with index_csv.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"path", "subject_id", "visit"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(f"{index_csv}: index CSV lacks columns {sorted(missing)}")
            return {
                Path(row["path"].strip()).as_posix(): (row["subject_id"].strip(), row["visit"].strip() or DEFAULT_VISIT)
                for row in reader
            }
    except OSError as err:
        raise InputError(f"{index_csv}: cannot read index CSV ({err.strerror})") from err


def discover_images(
    dicom_dir: str | os.PathLike,
    landmarks_dir: str | os.PathLike | None = None,
    lesions_dir: str | os.PathLike | None = None,
    index_csv: str | os.PathLike | None = None,
) -> tuple[list[ImageTask], list[dict[str, str]]]:
    """List the radiographs under ``dicom_dir`` with their subject, visit and companion files.

    Returns:
        ``(tasks, skipped)``: tasks sorted by relative path; ``skipped`` holds ``{"input", "reason"}`` for files
        that cannot be keyed (not in the index, or a second image for the same subject and visit).

    Raises:
        InputError: ``dicom_dir`` is not a folder, or it holds no DICOM file.
    """
    root = Path(dicom_dir)
    if not root.is_dir():
        raise InputError(f"{root}: DICOM folder not found")
    landmarks_root = Path(landmarks_dir) if landmarks_dir is not None else None
    if landmarks_root is not None and not landmarks_root.is_dir():
        raise InputError(f"{landmarks_root}: landmark folder not found")
    lesions_root = Path(lesions_dir) if lesions_dir is not None else None
    index = _read_index(Path(index_csv)) if index_csv is not None else None
    tasks: list[ImageTask] = []
    skipped: list[dict[str, str]] = []
    seen: dict[tuple[str, str], str] = {}
    for path in sorted(p for p in root.rglob("*") if _is_dicom_candidate(p)):
        relative = path.relative_to(root)
        name = relative.as_posix()
        if index is not None:
            if name not in index:
                skipped.append({"input": name, "reason": "not listed in the index CSV"})
                continue
            subject_id, visit = index[name]
        elif len(relative.parts) >= 3:
            subject_id, visit = relative.parts[0], relative.parts[1]
        elif len(relative.parts) == 2:
            subject_id, visit = relative.parts[0], DEFAULT_VISIT
        else:
            subject_id, visit = path.stem, DEFAULT_VISIT
        if (subject_id, visit) in seen:
            skipped.append(
                {"input": name, "reason": f"{seen[subject_id, visit]} already provides {subject_id}/{visit}"}
            )
            continue
        seen[subject_id, visit] = name
        tasks.append(
            ImageTask(
                relative=name,
                dicom_path=path,
                subject_id=subject_id,
                visit=visit,
                landmarks_path=_mirror(landmarks_root, relative, (".pts",)),
                lesions_path=_mirror(lesions_root, relative, (".nii.gz", ".nii")),
            )
        )
    if not tasks and not skipped:
        raise InputError(f"{root}: no DICOM files found (looked for *.dcm, *.dicom and files with a DICM preamble)")
    return tasks, skipped
