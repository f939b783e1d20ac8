"""Landmarks without BoneFinder: the ``hip_landmark_labelaug`` bundle's model as ``hipmonai preprocess``'s detector.

When a radiograph has no ``.pts`` file and a detector is configured, preprocessing predicts the detection subset
(``configs/landmark_groups.json``) with :class:`hipmonai.inference.PelvisLandmarkDetector`, writes the points as a
``.pts`` file under ``predicted_dir`` (mirroring the DICOM folder, in mm, right hip first) so a user can correct
them, and carries on with the 160-point list that has ``NaN`` where the detector has no point. A corrected file can
be given back with ``--landmarks``: :func:`read_hip_pts` accepts the detector's point count as well as BoneFinder's.

A hip the detector does not trust (median landmark confidence below the bundle config's ``min_confidence``, or a
femoral head circle outside the image or of an implausible radius; see
:meth:`hipmonai.inference.PelvisLandmarkDetector.assess_hips`) has ``NaN`` points, so preprocessing skips it with the
detector's reason. No ``.pts`` is written for a radiograph with such a hip: the file format has no missing points, and
a file holding the untrusted points would be read back as if they were landmarks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hipmonai.errors import InputError
from hipmonai.io.landmark_groups import check_hip_sides, load_landmark_groups
from hipmonai.io.pts import POINTS_PER_HIP, read_pts
from hipmonai.networks.checkpoint import load_config_network
from hipmonai.paths import bundle_template_dir

__all__ = [
    "DEFAULT_DETECTOR_BUNDLE",
    "DetectorSpec",
    "build_detector",
    "detect_landmarks_mm",
    "detector_from_parser",
    "predicted_pts_path",
    "read_hip_pts",
]

DEFAULT_DETECTOR_BUNDLE = bundle_template_dir("hip_landmark_labelaug")


@dataclass(frozen=True)
class DetectorSpec:
    """Where the detector comes from (picklable, so worker processes build their own).

    Attributes:
        checkpoint: the trained U-Net (``model.pt`` of the bundle's training).
        bundle_dir: the ``hip_landmark_labelaug`` bundle.
        config_files: its configs defining ``network_def``, ``image_size_px``, ``refine_window`` and
            ``min_confidence`` (default ``configs/inference.json``, which reads the sizes from the checkpoint).
        overrides: config id overrides (e.g. ``{"image_size_px": 256}``, ``{"min_confidence": 0.3}``).
        predicted_dir: where the predicted ``.pts`` files are written.
    """

    checkpoint: str
    predicted_dir: str
    bundle_dir: str = str(DEFAULT_DETECTOR_BUNDLE)
    config_files: tuple[str, ...] = ("configs/inference.json",)
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def as_params(self) -> dict[str, Any]:
        """The spec as plain JSON values (for the resume check of preprocessing)."""
        return {"checkpoint": str(Path(self.checkpoint).resolve()), "predicted_dir": str(self.predicted_dir),
                "bundle_dir": str(Path(self.bundle_dir).resolve()), "config_files": list(self.config_files),
                "overrides": dict(self.overrides)}


def build_detector(spec: DetectorSpec, device: str = "cpu") -> Any:
    """A :class:`hipmonai.inference.PelvisLandmarkDetector` from the bundle configs and the checkpoint.

    Raises:
        InputError: the bundle, a config or the checkpoint is missing, or the checkpoint does not fit the network.
    """
    from hipmonai.experiments.bundle import bundle_parser

    bundle = Path(spec.bundle_dir)
    if not (bundle / "configs").is_dir():
        raise InputError(f"{bundle}: not a bundle folder (no configs/)")
    missing = [f for f in spec.config_files if not (bundle / f).is_file()]
    if missing:
        raise InputError(f"{bundle}: config files not found: {missing}")
    if not Path(spec.checkpoint).is_file():
        raise InputError(f"{spec.checkpoint}: detector checkpoint not found")
    return detector_from_parser(bundle_parser(bundle, list(spec.config_files), dict(spec.overrides)),
                                spec.checkpoint, device)


def detector_from_parser(parser: Any, checkpoint: str | os.PathLike, device: str = "cpu") -> Any:
    """A :class:`hipmonai.inference.PelvisLandmarkDetector` from a parsed bundle config (``network_def``,
    ``image_size_px``, ``refine_window`` and ``min_confidence``, which defaults to
    :data:`hipmonai.inference.pelvis_landmarks.DEFAULT_MIN_CONFIDENCE` in configs without it, e.g. ``train.json``)
    and a checkpoint (``weights_only``).

    Raises:
        InputError: the checkpoint is missing or does not fit the network, or ``min_confidence`` is outside (0, 1).
    """
    from hipmonai.inference import PelvisLandmarkDetector
    from hipmonai.inference.pelvis_landmarks import DEFAULT_MIN_CONFIDENCE

    min_confidence = parser.get_parsed_content("min_confidence", default=DEFAULT_MIN_CONFIDENCE)
    try:
        min_confidence = float(min_confidence)
    except (TypeError, ValueError) as err:
        raise InputError(f"min_confidence must be a number in (0, 1), got {min_confidence!r}") from err
    if not 0.0 < min_confidence < 1.0:
        raise InputError(f"min_confidence must be in (0, 1), got {min_confidence}")
    network = load_config_network(parser, checkpoint)
    return PelvisLandmarkDetector(network, int(parser.get_parsed_content("image_size_px")),
                                  int(parser.get_parsed_content("refine_window")), device=device,
                                  min_confidence=min_confidence)


def read_hip_pts(path: str | os.PathLike) -> np.ndarray:
    """A bilateral hip ``.pts`` in mm -> ``(160, 2)``: a BoneFinder file (160 points) or a detector file (the
    bilateral detection subset, 28 points by default), whose other points come back as ``NaN``.

    Both list the patient's right hip first; :func:`hipmonai.io.landmark_groups.check_hip_sides` refuses a file
    whose right hip's femoral head does not lie left of (at smaller x than) the left hip's, as in an AP view.

    Raises:
        InputError: unreadable, another number of points (both accepted counts are named), or right and left hips
            swapped (the message names the file and the x ranges of both femoral heads).
    """
    groups = load_landmark_groups("hip")
    points = read_pts(path)
    if len(points) == 2 * POINTS_PER_HIP:
        full = points
    elif len(points) == len(groups.bilateral_detection_subset):
        full = groups.expand_detection(points)
    else:
        raise InputError(f"{path}: expected {2 * POINTS_PER_HIP} points (BoneFinder) or "
                         f"{len(groups.bilateral_detection_subset)} (detector subset), found {len(points)}")
    try:
        check_hip_sides(full, groups)
    except InputError as err:
        raise InputError(f"{path}: {err}") from err
    return full


def predicted_pts_path(predicted_dir: str | os.PathLike, relative: str) -> Path:
    """``predicted_dir/{relative without suffix}.pts`` — mirrors the DICOM folder like ``--landmarks`` does."""
    rel = Path(relative)
    return Path(predicted_dir) / rel.parent / f"{rel.stem if rel.suffix else rel.name}.pts"


def detect_landmarks_mm(
    detector: Any, image: Any, relative: str, predicted_dir: str | os.PathLike
) -> tuple[np.ndarray, Path | None, dict[str, dict[str, Any]]]:
    """Predict one radiograph's detection subset; write its ``.pts`` when both hips are present.

    Args:
        detector: a :class:`hipmonai.inference.PelvisLandmarkDetector`.
        image: the radiograph ``MetaTensor`` ``(1, W, H)`` with its pixel-to-mm affine.
        relative: its path under the DICOM folder (names the ``.pts``).
        predicted_dir: the folder of predicted ``.pts`` files.

    Returns:
        ``(points_mm, path, hips)``: the ``(160, 2)`` mm list (``NaN`` for undetected points and for every point of
        a hip reported absent), the ``.pts`` written (``None`` when a hip is absent) and the detector's
        ``{side: {"present", "confidence", "reason"}}``.
    """
    from hipmonai.inference import write_detection_pts

    result = detector.predict_image(image)
    landmarks_mm = result["landmarks_mm"]
    path = None
    if all(hip["present"] for hip in result["hips"].values()):
        path = write_detection_pts(predicted_pts_path(predicted_dir, relative), landmarks_mm)
    return detector.full_points_mm(landmarks_mm), path, result["hips"]
