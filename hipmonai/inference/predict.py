"""One-command prediction from trained bundles (``hipmonai predict hip|knee``): the path that needs no BoneFinder.

The bundles folder holds one complete MONAI bundle per name, as ``hipmonai demo`` exports them to
``outputs/demo/bundles``::

    BUNDLES/hip_landmark_labelaug/   configs/inference.json, configs/metadata.json, models/model.pt   (hip: required)
    BUNDLES/hip_osteophyte_prior/    the same                          (hip, optional: osteophyte probabilities)
    BUNDLES/hip_osteophyte_grading/  the same                          (hip, optional: OARSI grades)
    BUNDLES/knee_landmark_kneel/     the same + models/model_roi.pt     (knee)

Every network is built from its bundle's own ``configs/inference.json`` with ``bundle_root`` = the bundle folder and
``ckpt_path`` = its ``models/model.pt``; the inference configs read their sizes from the checkpoint
(:func:`hipmonai.networks.trained_settings`), so nothing but the folder is needed. The hip side runs
:class:`hipmonai.deploy.HipRadiographAnalyzer` (landmarks, femoral heads, probabilities, grades) when the prior and
grading bundles are both there, else the landmark detector alone
(:func:`hipmonai.preprocessing.detector.build_detector`); the knee side runs the knee bundle's ``pipeline``
(:class:`hipmonai.inference.KneeLandmarkPipeline`).

Outputs under ``OUT``, per radiograph (``NAME`` = its path under the DICOM folder given, or its file name for a file
given directly, without the suffix — the layout ``hipmonai preprocess --landmarks`` reads back)::

    NAME.pts    landmarks in mm (hip: the detector's 28 points, right hip first, written only when both hips are
                found, as ``hipmonai preprocess --detector-checkpoint`` does; knee: 32 points, right knee first)
    NAME.json   points in px and mm with names, per hip/knee results (see :meth:`HipPredictor.predict`)
    NAME.png    the radiograph with points, femoral head circles and the per-hip/knee results
    summary.csv, summary.json   one row per input file: analysed, or failed with the reason

No DICOM header value but the pixel spacing, the image size and the pseudonymous ``source_uid_hash`` reaches an
output or a log line: no name, ID, date or institution.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hipmonai.atomic import write_text_atomic
from hipmonai.deploy.hip_analysis import read_radiograph
from hipmonai.errors import InputError, input_error_cause
from hipmonai.inference.overlay import OverlayGroup, write_overlay
from hipmonai.io.strict_json import strict_json

__all__ = [
    "BUNDLE_HINT",
    "DEFAULT_BUNDLES_DIR",
    "HIP_BUNDLES",
    "KNEE_BUNDLE",
    "HipPredictor",
    "KneePredictor",
    "Prediction",
    "find_bundle",
    "find_dicom_inputs",
    "output_stems",
    "predict_files",
    "resolve_device",
]

logger = logging.getLogger(__name__)

#: where ``hipmonai demo`` exports its trained bundles (relative to the working directory)
DEFAULT_BUNDLES_DIR = Path("outputs", "demo", "bundles")
#: the hip bundles by role (the keys of :meth:`hipmonai.deploy.HipRadiographAnalyzer.from_bundles`'s ``models``)
HIP_BUNDLES = {"landmarks": "hip_landmark_labelaug", "prior": "hip_osteophyte_prior",
               "grading": "hip_osteophyte_grading"}
KNEE_BUNDLE = "knee_landmark_kneel"
BUNDLE_HINT = "run `hipmonai demo` (it exports its trained bundles to outputs/demo/bundles) or pass --bundles DIR"
INFERENCE_CONFIG = "configs/inference.json"
SUMMARY_NAME = "summary"
SIDES = ("right", "left")
_DICOM_SUFFIXES = (".dcm", ".dicom")


# --------------------------------------------------------------------------------------------------- bundles


def find_bundle(bundles_dir: str | os.PathLike, name: str, checkpoints: Sequence[str] = ("model.pt",),
                required: bool = True) -> Path | None:
    """The folder of bundle ``name`` under ``bundles_dir`` when it holds what inference needs.

    Args:
        bundles_dir: the folder of exported bundles (one sub-folder per bundle name).
        name: the bundle name, e.g. ``"hip_landmark_labelaug"``.
        checkpoints: the files its ``models/`` folder must hold.
        required: raise when the bundle is missing or incomplete (else return ``None``).

    Raises:
        InputError: ``bundles_dir`` is not a folder, or (``required``) the bundle lacks ``configs/inference.json``,
            ``configs/metadata.json`` or a checkpoint; the line says to run ``hipmonai demo`` or pass ``--bundles``.
    """
    root = Path(bundles_dir)
    if not root.is_dir():
        raise InputError(f"{root}: bundles folder not found; {BUNDLE_HINT}")
    folder = root / name
    needed = [folder / INFERENCE_CONFIG, folder / "configs" / "metadata.json",
              *(folder / "models" / c for c in checkpoints)]
    missing = [p for p in needed if not p.is_file()]
    if not missing:
        return folder
    if not required:
        return None
    what = "bundle not found" if not folder.is_dir() else f"incomplete bundle (no {missing[0].relative_to(folder)})"
    raise InputError(f"{folder}: {what}; {BUNDLE_HINT}")


def _bundle_metadata(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "configs" / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{folder / 'configs' / 'metadata.json'}: not readable JSON ({err})") from err


def _channel_names(metadata: Mapping[str, Any]) -> dict[str, str]:
    """``{channel index as text: name}`` of the bundle's output (``network_data_format.outputs.pred.channel_def``)."""
    try:
        return {str(k): str(v) for k, v in metadata["network_data_format"]["outputs"]["pred"]["channel_def"].items()}
    except (KeyError, TypeError, AttributeError):
        return {}


@contextmanager
def _input_errors() -> Iterator[None]:
    """Re-raise an :class:`InputError` that MONAI's config parser wrapped (``RuntimeError`` while evaluating an
    expression) as itself, so the user sees its one line."""
    try:
        yield
    except InputError:
        raise
    except Exception as err:
        cause = input_error_cause(err)
        if cause is None:
            raise
        raise InputError(str(cause)) from err


def resolve_device(device: str | None) -> str:
    """``device`` checked (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...); ``None``: ``"cuda"`` when available, else CPU.

    Raises:
        InputError: not a torch device, or a CUDA device where CUDA is not available.
    """
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise InputError(f"--device {device}: not a torch device (e.g. cpu, cuda, cuda:0)") from err
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available here; use --device cpu")
    return str(parsed)


# ---------------------------------------------------------------------------------------------------- inputs


def find_dicom_inputs(inputs: Sequence[str | os.PathLike]) -> list[tuple[str, Path | None, str | None]]:
    """The DICOM files of ``inputs``: files as given, folders searched recursively (``*.dcm``, ``*.dicom`` and
    suffix-less files with the ``DICM`` preamble, as ``hipmonai preprocess`` finds them).

    Returns:
        ``(name, path, problem)`` per file in input order (a file given twice is listed once): ``name`` the path
        under its folder argument (posix) or the file name; ``problem`` a reason when the input does not exist
        (``path`` ``None`` then).
    """
    from hipmonai.preprocessing.inputs import _is_dicom_candidate

    found: list[tuple[str, Path | None, str | None]] = []
    seen: set[Path] = set()
    for given in inputs:
        root = Path(given)
        if root.is_dir():
            files = [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*")) if _is_dicom_candidate(p)]
        elif root.is_file():
            files = [(root.name, root)]
        else:
            found.append((str(root), None, "not found (no such file or folder)"))
            continue
        for name, path in files:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append((name, path, None))
    return found


def output_stems(names: Sequence[str]) -> list[str]:
    """Output path stems (posix, relative to ``OUT``) for input names: the name without its suffix (the layout of
    :func:`hipmonai.preprocessing.detector.predicted_pts_path`), made unique with ``_2``, ``_3``, ... and never the
    summary's name."""
    stems: list[str] = []
    used = {SUMMARY_NAME}
    for name in names:
        rel = Path(name)
        base = (rel.parent / (rel.stem if rel.suffix else rel.name)).as_posix()
        stem, n = base, 1
        while stem in used:
            n += 1
            stem = f"{base}_{n}"
        used.add(stem)
        stems.append(stem)
    return stems




# ------------------------------------------------------------------------------------------------ predictions


@dataclass
class Prediction:
    """One radiograph's results, ready to write.

    Attributes:
        record: the JSON document (JSON values; ``NaN`` written as ``null``).
        pts_mm: ``(N, 2)`` points in mm for the ``.pts`` file, or ``None`` when none is written (``record`` says why).
        image_wh: the radiograph ``(W, H)`` for the overlay.
        overlay: what the overlay draws, one group per hip or knee.
        row: the summary columns of this radiograph (besides input, status, reason and the output paths).
    """

    record: dict[str, Any]
    pts_mm: np.ndarray | None
    image_wh: np.ndarray
    overlay: list[OverlayGroup]
    row: dict[str, Any] = field(default_factory=dict)


class Predictor(Protocol):
    """What :func:`predict_files` needs of a predictor."""

    kind: str
    bundles: dict[str, str]
    device: str

    def predict(self, path: Path, spacing_xy_mm: Sequence[float] | None = None) -> Prediction: ...


def _point(name: str, px: np.ndarray, mm: np.ndarray, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra, "x_px": float(px[0]), "y_px": float(px[1]), "x_mm": float(mm[0]),
            "y_mm": float(mm[1])}


def _circle_record(circle_mm: Sequence[float] | None, spacing: np.ndarray) -> dict[str, float] | None:
    """A femoral head circle ``(cx, cy, r)`` in mm as JSON, with its centre in pixels and ``radius_px`` = the radius
    over the geometric mean spacing (exact for square pixels)."""
    if circle_mm is None or not np.isfinite(circle_mm).all():
        return None
    cx, cy, radius = (float(v) for v in circle_mm)
    return {"centre_x_px": cx / spacing[0], "centre_y_px": cy / spacing[1],
            "radius_px": radius / float(np.sqrt(spacing[0] * spacing[1])),
            "centre_x_mm": cx, "centre_y_mm": cy, "radius_mm": radius}


class HipPredictor:
    """Landmarks, femoral heads and (with the prior and grading bundles) osteophyte probabilities and grades of AP
    pelvis radiographs, from a bundles folder.

    Args:
        detector: a :class:`hipmonai.inference.PelvisLandmarkDetector` (the analyser's, when there is one).
        channel_names: ``{index: name}`` of the detector's landmarks (the landmark bundle's ``metadata.json``).
        analyzer: a :class:`hipmonai.deploy.HipRadiographAnalyzer`, or ``None`` for landmarks only.
        bundles: ``{bundle name: version}`` of the bundles used.
        scores_note: why there are no scores (``None`` with an analyser).
        device: where the networks run.
    """

    kind = "hip"

    def __init__(self, detector: Any, channel_names: Mapping[str, str], analyzer: Any = None,
                 bundles: Mapping[str, str] | None = None, scores_note: str | None = None,
                 device: str = "cpu") -> None:
        self.analyzer = analyzer
        self.detector = detector
        if analyzer is not None:
            analyzer.detector = self.detector
        self.channel_names = dict(channel_names)
        self.bundles = dict(bundles or {})
        self.scores_note = scores_note
        self.device = device

    @classmethod
    def from_bundles(cls, bundles_dir: str | os.PathLike = DEFAULT_BUNDLES_DIR, device: str | None = None,
                     ) -> HipPredictor:
        """Build from ``bundles_dir``: the landmark bundle is required; the prior and grading bundles, when both are
        there, add probabilities and grades (hip crops of the size their checkpoints were trained on).

        Raises:
            InputError: the folder or the landmark bundle is missing, or a checkpoint does not fit its config.
        """
        from hipmonai.preprocessing.detector import DetectorSpec, build_detector

        device = resolve_device(device)
        folders = {role: find_bundle(bundles_dir, name, required=role == "landmarks")
                   for role, name in HIP_BUNDLES.items()}
        landmarks = folders["landmarks"]
        assert landmarks is not None
        bundles = {HIP_BUNDLES["landmarks"]: str(_bundle_metadata(landmarks).get("version", ""))}
        names = _channel_names(_bundle_metadata(landmarks))
        with _input_errors():
            if folders["prior"] is not None and folders["grading"] is not None:
                from hipmonai.deploy.hip_analysis import HipRadiographAnalyzer

                models = {role: folder / "models" / "model.pt" for role, folder in folders.items() if folder}
                analyzer = HipRadiographAnalyzer.from_bundles(models=models, bundles_dir=Path(bundles_dir),
                                                              device=device)
                for role in ("prior", "grading"):
                    bundles[HIP_BUNDLES[role]] = str(_bundle_metadata(folders[role]).get("version", ""))
                return cls(analyzer.detector, names, analyzer, bundles, None, device)
            present = [HIP_BUNDLES[r] for r in ("prior", "grading") if folders[r] is not None]
            note = (f"no osteophyte scores: {Path(bundles_dir)} lacks "
                    f"{' and '.join(HIP_BUNDLES[r] for r in ('prior', 'grading') if folders[r] is None)}")
            if present:  # the analyser scores with both networks; one alone gives nothing
                logger.warning("%s (both are needed for scores); writing landmarks only", note)
            spec = DetectorSpec(checkpoint=str(landmarks / "models" / "model.pt"), predicted_dir="",
                                bundle_dir=str(landmarks), config_files=(INFERENCE_CONFIG,))
            detector = build_detector(spec, device=device)
        return cls(detector, names, None, bundles, note, device)

    def predict(self, path: Path, spacing_xy_mm: Sequence[float] | None = None) -> Prediction:
        """Analyse one radiograph.

        Returns:
            A :class:`Prediction` whose ``record`` holds ``input`` (filled by :func:`predict_files`),
            ``source_uid_hash``, ``spacing_xy_mm`` ``[x, y]`` mm, ``image_size_wh`` ``[W, H]`` px, ``bundles``,
            ``landmarks`` (the found hips' points: ``name``, ``side``, ``x_px``, ``y_px``, ``x_mm``, ``y_mm``,
            ``confidence`` in [0, 1]), ``hips`` (per side: ``present``, ``confidence`` (median of its landmarks),
            ``reason`` (why absent or not scored, else ``null``), ``femoral_head`` (centre and radius in px and mm, or
            ``null``), ``osteophyte_probability`` ``{target: p}``, ``any_osteophyte_probability``, ``grades``
            ``{target: 0-3}`` (``null`` without scores)), ``scores`` (``null``, or why there are none) and ``pts``
            (``null``, or why no ``.pts`` is written).

        Raises:
            InputError: the file cannot be analysed (see :func:`read_radiograph`).
        """
        from monai.data import MetaTensor

        from hipmonai.transforms.geometry import fit_head_circles

        array_wh, meta = read_radiograph(path, spacing_xy_mm)
        analysis = None
        if self.analyzer is not None:
            analysis = self.analyzer.analyze_array(array_wh, meta)
            detection = analysis.detection
        else:
            import torch

            image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
            detection = self.detector.predict_image(image)
        spacing = np.asarray(meta["spacing_xy_mm"], dtype=np.float64)
        px, mm = detection["landmarks_px"], detection["landmarks_mm"]
        confidence = np.asarray(detection["confidence"], dtype=np.float64)
        per_side = len(px) // len(SIDES)
        circles = ({side: h.head_circle_mm for side, h in zip(SIDES, analysis.hips, strict=True)} if analysis
                   else fit_head_circles(self.detector.full_points_mm(mm)))
        landmarks, hips, groups, row = [], [], [], {}
        for index, side in enumerate(SIDES):
            rows = range(index * per_side, (index + 1) * per_side)
            found = detection["hips"][side]
            landmarks += [_point(self.channel_names.get(str(i), f"landmark_{i}"), px[i], mm[i], side=side,
                                 confidence=float(confidence[i])) for i in rows if np.isfinite(px[i]).all()]
            hip_scores = analysis.hips[index] if analysis else None
            scored = hip_scores is not None and hip_scores.skipped is None
            head = _circle_record(circles.get(side), spacing)
            hip = {"side": side, "present": bool(found["present"]), "confidence": float(found["confidence"]),
                   "reason": found["reason"] or (hip_scores.skipped if hip_scores is not None else None),
                   "femoral_head": head,
                   "osteophyte_probability": dict(hip_scores.osteophyte_probability) if scored else None,
                   "any_osteophyte_probability": hip_scores.any_osteophyte_probability if scored else None,
                   "grades": dict(hip_scores.grades) if scored else None}
            hips.append(hip)
            row.update({f"{side}_present": hip["present"], f"{side}_confidence": round(hip["confidence"], 4),
                        f"{side}_reason": hip["reason"] or ""})
            for target, p in (hip["osteophyte_probability"] or {}).items():
                row[f"{side}_{target}_probability"] = round(p, 4)
            for target, grade in (hip["grades"] or {}).items():
                row[f"{side}_{target}_grade"] = grade
            if hip["any_osteophyte_probability"] is not None:
                row[f"{side}_any_osteophyte_probability"] = round(hip["any_osteophyte_probability"], 4)
            circle_px = None if head is None else (head["centre_x_px"], head["centre_y_px"],
                                                   head["radius_mm"] / spacing[0], head["radius_mm"] / spacing[1])
            groups.append(OverlayGroup(f"{side} hip", px[index * per_side:(index + 1) * per_side], circle_px,
                                       _hip_note(hip)))
        absent = [h["side"] for h in hips if not h["present"]]
        record = {"input": None, "source_uid_hash": str(meta.get("source_uid_hash", "")),
                  "spacing_xy_mm": spacing.tolist(), "image_size_wh": [int(n) for n in array_wh.shape[:2]],
                  "bundles": self.bundles, "landmarks": landmarks, "hips": hips, "scores": self.scores_note,
                  "pts": None if not absent else
                  f"no .pts: the {' and '.join(absent)} {'hips were' if len(absent) > 1 else 'hip was'} not found "
                  "(the .pts format has no missing points)"}
        return Prediction(record, None if absent else np.asarray(mm, dtype=np.float64), array_wh, groups, row)


def _hip_note(hip: Mapping[str, Any]) -> str:
    """The overlay text of one hip: presence and confidence, then probabilities and grades per target."""
    if not hip["present"]:
        return f"not found\n{_wrap(hip['reason'] or '')}"
    lines = [f"found, confidence {hip['confidence']:.2f}"]
    probabilities, grades = hip["osteophyte_probability"] or {}, hip["grades"] or {}
    for target in dict.fromkeys([*probabilities, *grades]):
        p = f"p={probabilities[target]:.2f}" if target in probabilities else ""
        g = f"grade {grades[target]}" if target in grades else ""
        lines.append(f"{target.removeprefix('osteo_'):<9} {p} {g}".rstrip())
    if hip["any_osteophyte_probability"] is not None:
        lines.append(f"any osteophyte p={hip['any_osteophyte_probability']:.2f}")
    if hip["reason"]:
        lines.append(_wrap(hip["reason"]))
    return "\n".join(lines)


def _wrap(text: str, width: int = 44) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if text else ""


class KneePredictor:
    """Two-stage KNEEL landmarks (ROI, then 16 landmarks per knee) of bilateral PA knee radiographs, from the
    ``knee_landmark_kneel`` bundle's ``pipeline``.

    Args:
        pipeline: a :class:`hipmonai.inference.KneeLandmarkPipeline`.
        channel_names: ``{index: description}`` of the named landmarks (the bundle's ``metadata.json``).
        bundles: ``{bundle name: version}``.
        device: where the networks run.
    """

    kind = "knee"

    def __init__(self, pipeline: Any, channel_names: Mapping[str, str], bundles: Mapping[str, str] | None = None,
                 device: str = "cpu") -> None:
        self.pipeline = pipeline
        self.channel_names = dict(channel_names)
        self.bundles = dict(bundles or {})
        self.device = device

    @classmethod
    def from_bundles(cls, bundles_dir: str | os.PathLike = DEFAULT_BUNDLES_DIR, device: str | None = None,
                     ) -> KneePredictor:
        """Build the bundle's ``pipeline`` from its ``configs/inference.json`` (networks and crop sizes from
        ``models/model.pt`` and ``models/model_roi.pt``).

        Raises:
            InputError: the folder or bundle is missing, or a checkpoint does not fit its config.
        """
        from hipmonai.experiments.bundle import bundle_parser

        device = resolve_device(device)
        folder = find_bundle(bundles_dir, KNEE_BUNDLE, ("model.pt", "model_roi.pt"))
        assert folder is not None
        metadata = _bundle_metadata(folder)
        with _input_errors():
            parser = bundle_parser(folder, [INFERENCE_CONFIG], {"device": f"$torch.device({device!r})"})
            pipeline = parser.get_parsed_content("pipeline")
        return cls(pipeline, _channel_names(metadata), {KNEE_BUNDLE: str(metadata.get("version", ""))}, device)

    def predict(self, path: Path, spacing_xy_mm: Sequence[float] | None = None) -> Prediction:
        """Predict both knees of one radiograph with the pipeline's ``predict_file``.

        Returns:
            A :class:`Prediction` whose ``record`` holds ``input``, ``source_uid_hash``, ``spacing_xy_mm``,
            ``image_size_wh``, ``bundles``, ``landmarks`` (32: ``name`` ``right_0`` ... ``left_15``, ``knee``,
            ``index`` 0-15, ``description`` of the named ones, ``x_px``, ``y_px``, ``x_mm``, ``y_mm``) and ``knees``
            (per side: ``roi_centre_px``/``roi_centre_mm`` ``[x, y]``, the ROI stage's tibial centre); ``pts_mm``
            the 32 points in mm, right knee first (the BoneFinder knee ``.pts`` layout).

        Raises:
            InputError: the file cannot be analysed (see :func:`read_radiograph`).
        """
        from hipmonai.io.pts import POINTS_PER_KNEE

        array_wh, _ = read_radiograph(path, spacing_xy_mm)  # checks the file; the pipeline reads it again
        result = self.pipeline.predict_file(path, spacing_xy_mm)
        px, mm = np.asarray(result["landmarks_px"]), np.asarray(result["landmarks_mm"])
        landmarks, knees, groups = [], [], []
        for index, side in enumerate(SIDES):
            rows = range(index * POINTS_PER_KNEE, (index + 1) * POINTS_PER_KNEE)
            landmarks += [_point(f"{side}_{i - rows.start}", px[i], mm[i], knee=side, index=i - rows.start,
                                 description=self.channel_names.get(str(i - rows.start))) for i in rows]
            centre_px, centre_mm = result["roi_center_px"][index], result["roi_center_mm"][index]
            knees.append({"side": side, "roi_centre_px": [float(v) for v in centre_px],
                          "roi_centre_mm": [float(v) for v in centre_mm]})
            groups.append(OverlayGroup(f"{side} knee", px[rows.start:rows.stop], None,
                                       f"{POINTS_PER_KNEE} landmarks\nROI centre ({centre_px[0]:.0f}, "
                                       f"{centre_px[1]:.0f}) px"))
        record = {"input": None, "source_uid_hash": str(result["source_uid_hash"]),
                  "spacing_xy_mm": [float(v) for v in result["spacing_xy_mm"]],
                  "image_size_wh": [int(n) for n in array_wh.shape[:2]], "bundles": self.bundles,
                  "landmarks": landmarks, "knees": knees, "pts": None}
        finite = bool(np.isfinite(mm).all())
        if not finite:
            record["pts"] = "no .pts: a landmark is not finite"
        return Prediction(record, mm.astype(np.float64) if finite else None, array_wh, groups,
                          {"n_landmarks": int(np.isfinite(px).all(axis=1).sum())})


# --------------------------------------------------------------------------------------------------- the run


def _failure(err: BaseException) -> str:
    """One line for a radiograph that could not be analysed."""
    cause = input_error_cause(err)
    text = str(cause) if cause is not None else f"unexpected error ({type(err).__name__}: {err})"
    return " ".join(text.split())


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]], first: Sequence[str]) -> Path:
    columns = list(dict.fromkeys([*first, *(k for r in rows for k in r)]))  # first seen, first listed
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())


def predict_files(
    predictor: Predictor,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    spacing_xy_mm: Sequence[float] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Predict every DICOM file of ``inputs`` and write its ``.pts``, JSON and overlay PNG, and the summary.

    A file that cannot be analysed (corrupt, not a radiograph, no spacing, ...) gets a ``failed`` row with the reason
    in ``summary.csv``/``summary.json`` and a warning line; the run goes on.

    Args:
        predictor: a :class:`HipPredictor` or :class:`KneePredictor`.
        inputs: DICOM files and folders (searched recursively, :func:`find_dicom_inputs`).
        out: the output folder (created).
        spacing_xy_mm: fallback ``(x, y)`` pixel spacing in mm for files without a usable one.
        progress: show a progress bar (tqdm).

    Returns:
        The summary: ``kind``, ``bundles``, ``device``, ``images_found``, ``images_analysed``, ``images_failed``,
        ``failed`` (``[{"input", "reason"}]``), ``images`` (the summary rows), ``summary_csv``, ``seconds``.

    Raises:
        InputError: ``inputs`` hold no DICOM file at all.
    """
    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    started = time.perf_counter()
    out = Path(out)
    found = find_dicom_inputs(inputs)
    if not found:
        raise InputError(f"no DICOM files found in {', '.join(str(i) for i in inputs)}")
    out.mkdir(parents=True, exist_ok=True)
    stems = output_stems([name for name, _, _ in found])
    rows: list[dict[str, Any]] = []
    with logging_redirect_tqdm():  # warnings print above the progress bar, not through it
        for (name, path, problem), stem in tqdm(list(zip(found, stems, strict=True)),
                                                desc=f"predict {predictor.kind}", unit="image", disable=not progress,
                                                dynamic_ncols=True):
            if path is None:
                rows.append({"input": name, "status": "failed", "reason": problem})
                logger.warning("%s: %s", name, problem)
                continue
            try:
                prediction = predictor.predict(path, spacing_xy_mm)
            except Exception as err:  # one bad file must not stop the run; its reason goes to the summary
                reason = _failure(err)
                logger.warning("%s: %s", name, reason)
                logger.debug("%s failed", name, exc_info=True)
                rows.append({"input": name, "status": "failed", "reason": reason})
                continue
            rows.append(_write_prediction(prediction, name, out, stem))
    analysed = sum(r["status"] == "analysed" for r in rows)
    summary = {
        "kind": predictor.kind, "bundles": predictor.bundles, "device": predictor.device,
        "images_found": len(rows), "images_analysed": analysed, "images_failed": len(rows) - analysed,
        "failed": [{"input": r["input"], "reason": r["reason"]} for r in rows if r["status"] == "failed"],
        "images": rows, "summary_csv": f"{SUMMARY_NAME}.csv", "seconds": round(time.perf_counter() - started, 3),
    }
    _write_csv(out / f"{SUMMARY_NAME}.csv", rows,
               ["input", "status", "reason", "source_uid_hash", "json", "pts", "overlay"])
    write_text_atomic(out / f"{SUMMARY_NAME}.json", strict_json(summary, indent=1) + "\n")
    return summary


def _write_prediction(prediction: Prediction, name: str, out: Path, stem: str) -> dict[str, Any]:
    """Write one radiograph's ``.pts``, JSON and PNG under ``out``; returns its summary row."""
    from hipmonai.io.pts import write_pts

    record = prediction.record
    record["input"] = name
    paths = {"json": f"{stem}.json", "pts": f"{stem}.pts" if prediction.pts_mm is not None else None,
             "overlay": f"{stem}.png"}
    record["outputs"] = paths
    if prediction.pts_mm is not None:
        write_pts(out / paths["pts"], prediction.pts_mm)
    write_overlay(out / paths["overlay"], prediction.image_wh, prediction.overlay,
                  title=f"image {record.get('source_uid_hash') or 'without a reference'}")
    write_text_atomic(out / paths["json"], strict_json(record, indent=1) + "\n")
    return {"input": name, "status": "analysed", "reason": "", "source_uid_hash": record["source_uid_hash"],
            **{k: v or "" for k, v in paths.items()}, **prediction.row}
