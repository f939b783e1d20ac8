"""Find a user's inputs: DICOM files, their BoneFinder ``.pts`` and (phantoms) lesion masks, keyed by subject and visit.

Layout understood (paths relative to the DICOM folder; landmark and lesion folders mirror it)::

    DICOM/{subject_id}/{visit}/{name}.dcm     -> subject_id, visit
    DICOM/{subject_id}/{name}.dcm             -> subject_id, visit "V00"
    DICOM/{name}.dcm                          -> subject_id = name, visit "V00"

or any layout with ``--index CSV`` (columns ``path, subject_id, visit``; path relative to the DICOM folder).

Companion files are matched by relative path: ``S1/V00/IM0001.dcm`` takes ``LANDMARKS/S1/V00/IM0001.pts``. A flat
``LANDMARKS/IM0001.pts`` is used only when exactly one DICOM file is named ``IM0001``; when several are, none of them
takes it and each is skipped with the ambiguity as its reason (likewise for lesion masks).

A visit with several images keeps one, chosen by rule from the headers (pixels are not read; see
:func:`hipmonai.readers.dicom_header.projection_view`): scouts/localizers and lateral views are excluded, then an
image with ViewPosition AP/PA is preferred, then one whose SeriesDescription/ProtocolName/ImageComments names AP/PA,
then an unlabelled one; ties go to the earliest relative path. Every other image is listed as skipped with the rule
and what its own header says, never with a header value other than a ViewPosition defined term.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hipmonai.errors import InputError
from hipmonai.readers.dicom_header import ProjectionView, projection_view, read_dicom

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


def _stem(relative: Path) -> str:
    """The name without its last suffix (``IM0001.dcm`` -> ``IM0001``): companion files are named after it."""
    return relative.name[: -len(relative.suffix)] if relative.suffix else relative.name


def _companion(
    root: Path | None, relative: Path, suffixes: tuple[str, ...], stem_counts: Counter[str], kind: str
) -> Path | None:
    """The file under ``root`` for the DICOM file ``relative``: mirrored by relative path, else flat by stem.

    Raises:
        InputError: only a flat file exists and several DICOM files share its stem (the message names relative paths
            only and where the file should be).
    """
    if root is None:
        return None
    stem = _stem(relative)
    for suffix in suffixes:
        mirrored = root / relative.parent / f"{stem}{suffix}"
        if mirrored.is_file():
            return mirrored
    for suffix in suffixes:
        flat = root / f"{stem}{suffix}"
        if flat.is_file():
            if stem_counts[stem] > 1:
                raise InputError(
                    f"{kind} {flat.name} (flat, matched by file name) is ambiguous: {stem_counts[stem]} DICOM files "
                    f"are named {stem}; put it at {(relative.parent / flat.name).as_posix()} to mirror the DICOM folder"
                )
            return flat
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


def _header_view(path: Path, relative: str) -> tuple[ProjectionView | None, str]:
    """The projection of one file from its header, or ``(None, why it cannot be read)`` with relative paths only."""
    try:
        return projection_view(read_dicom(path, pixels=False)), ""
    except InputError as err:
        return None, str(err).replace(f"{path}: ", "", 1).replace(str(path), relative)


_VIEW_RANK = {"ap": 0, "ap_text": 1, "unlabelled": 2}


def _choose_view(root: Path, relatives: list[str], key: str) -> tuple[str | None, list[dict[str, str]]]:
    """Pick the AP/PA image among the several images of one visit (see the module docstring).

    Args:
        root: the DICOM folder.
        relatives: the visit's images, relative posix paths sorted.
        key: ``subject/visit``, for the reasons.

    Returns:
        ``(chosen, skipped)``: the chosen relative path (None when every image is lateral, a scout or unreadable) and
        a ``{"input", "reason"}`` entry for every other image.
    """
    views: dict[str, ProjectionView | None] = {}
    clauses: dict[str, str] = {}
    for relative in relatives:
        view, problem = _header_view(root / relative, relative)
        views[relative] = view
        clauses[relative] = f"is unreadable ({problem})" if view is None else view.describe()
    candidates = [r for r in relatives if views[r] is not None and views[r].frontal]
    if not candidates:
        return None, [{"input": r, "reason": f"no AP/PA view among the {len(relatives)} images of {key}; "
                                            f"this one {clauses[r]}"} for r in relatives]
    best = min(_VIEW_RANK[views[r].kind] for r in candidates)
    tied = [r for r in candidates if _VIEW_RANK[views[r].kind] == best]
    chosen, view = tied[0], views[tied[0]]
    if view.kind == "ap":
        rule = f"ViewPosition {view.value}" if len(tied) == 1 else "ViewPosition AP/PA"
    elif view.kind == "ap_text":
        rule = f"{view.tag} names AP/PA" if len(tied) == 1 else "a text tag names AP/PA"
    else:
        rule = "no image labelled AP/PA in the header"
    if len(tied) > 1:
        rule += f", the earliest by path of {len(tied)}" + (" such images" if view.kind != "unlabelled" else "")
    elif view.kind == "unlabelled":
        rule += ", the only one not lateral, scout or unreadable"
    return chosen, [{"input": r, "reason": f"{chosen} chosen for {key}: {rule}; this one {clauses[r]}"}
                    for r in relatives if r != chosen]


def discover_images(
    dicom_dir: str | os.PathLike,
    landmarks_dir: str | os.PathLike | None = None,
    lesions_dir: str | os.PathLike | None = None,
    index_csv: str | os.PathLike | None = None,
) -> tuple[list[ImageTask], list[dict[str, str]]]:
    """List the radiographs under ``dicom_dir`` with their subject, visit and companion files.

    Returns:
        ``(tasks, skipped)``: tasks sorted by relative path; ``skipped`` (sorted by input) holds ``{"input",
        "reason"}`` for files that are not used: not in the index, not the chosen view of a visit with several
        images, or with only an ambiguous flat companion file. Reasons name relative paths only.

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
    skipped: list[dict[str, str]] = []
    relatives = [p.relative_to(root) for p in sorted(root.rglob("*")) if _is_dicom_candidate(p)]
    stem_counts = Counter(_stem(relative) for relative in relatives)
    visits: dict[tuple[str, str], list[str]] = {}
    for relative in relatives:
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
            subject_id, visit = _stem(relative), DEFAULT_VISIT
        visits.setdefault((subject_id, visit), []).append(name)
    tasks: list[ImageTask] = []
    for (subject_id, visit), names in visits.items():
        name = names[0]
        if len(names) > 1:
            name, not_chosen = _choose_view(root, sorted(names), f"{subject_id}/{visit}")
            skipped.extend(not_chosen)
            if name is None:
                continue
        relative = Path(name)
        try:
            landmarks_path = _companion(landmarks_root, relative, (".pts",), stem_counts, "landmarks")
            lesions_path = _companion(lesions_root, relative, (".nii.gz", ".nii"), stem_counts, "lesion mask")
        except InputError as err:
            skipped.append({"input": name, "reason": str(err)})
            continue
        tasks.append(ImageTask(relative=name, dicom_path=root / relative, subject_id=subject_id, visit=visit,
                               landmarks_path=landmarks_path, lesions_path=lesions_path))
    if not tasks and not skipped:
        raise InputError(f"{root}: no DICOM files found (looked for *.dcm, *.dicom and files with a DICM preamble)")
    return sorted(tasks, key=lambda t: t.relative), sorted(skipped, key=lambda s: s["input"])
