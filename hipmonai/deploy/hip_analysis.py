"""One AP pelvis radiograph in, landmarks, femoral head circles and osteophyte scores and grades out.

:class:`HipRadiographAnalyzer` chains three bundles the way a researcher would run them by hand, without any
deployment framework (the MONAI Deploy application in :mod:`hipmonai.deploy.app` wraps it):

1. ``hip_landmark_labelaug`` detects the 28 landmarks on the whole radiograph
   (:class:`hipmonai.inference.PelvisLandmarkDetector`), and the femoral head circles are fitted to them;
2. each hip is cropped, scaled and (left) flipped from those landmarks by the same chain as ``hipmonai preprocess``
   (:func:`hipmonai.transforms.hip_preprocessing`, ``configs/preprocessing.json``);
3. ``hip_osteophyte_prior`` gives the four osteophyte probabilities and ``hip_osteophyte_grading`` the probability of
   an osteophyte anywhere and the four OARSI grades of each hip.

Each network is the bundle's own ``network_def`` built from its ``configs/inference.json`` with the settings its
checkpoint records (:mod:`hipmonai.networks.checkpoint`), and loaded with ``weights_only``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hipmonai.errors import InputError, input_error_cause
from hipmonai.networks.checkpoint import load_config_network, trained_settings

__all__ = ["CHECKPOINT_NAMES", "HipAnalysis", "HipRadiographAnalyzer", "RadiographAnalysis", "read_radiograph",
           "trained_crop"]

ACCEPTED_MODALITIES = ("DX", "CR")
#: File names of the three checkpoints in a models folder (the MONAI Deploy app's ``-m``), per analyser model.
CHECKPOINT_NAMES = {"landmarks": "hip_landmark_labelaug.pt", "prior": "hip_osteophyte_prior.pt",
                    "grading": "hip_osteophyte_grading.pt"}


@dataclass
class HipAnalysis:
    """Results for one hip.

    Attributes:
        side: ``"right"`` or ``"left"`` (the patient's).
        landmarks_px: ``(14, 2)`` detected landmarks of this hip, original image ``(x, y)`` pixels (``NaN`` when the
            detector reports the hip absent; ``skipped`` then holds its reason).
        landmarks_mm: the same in mm (pixels × spacing).
        landmark_names: the 14 names, in the order of the bundle's ``metadata.json``.
        head_circle_mm: femoral head ``(centre_x, centre_y, radius)`` in mm, or ``None`` when it cannot be fitted.
        osteophyte_probability: ``{target: p}`` from the prior bundle (sigmoid of its four logits).
        any_osteophyte_probability: the grading bundle's global probability.
        grades: ``{target: OARSI grade 0-3}`` from the grading bundle's ordinal heads.
    """

    side: str
    landmarks_px: np.ndarray
    landmarks_mm: np.ndarray
    landmark_names: list[str]
    head_circle_mm: tuple[float, float, float] | None
    osteophyte_probability: dict[str, float] = field(default_factory=dict)
    any_osteophyte_probability: float | None = None
    grades: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None


@dataclass
class RadiographAnalysis:
    """Results for one radiograph: the reader's pseudonymous ``source_uid_hash``, its spacing, both hips, and the
    landmark detector's own result (:meth:`hipmonai.inference.PelvisLandmarkDetector.predict_image`: per-landmark
    confidences, per-hip presence; not part of :meth:`as_dict`)."""

    source_uid_hash: str
    spacing_xy_mm: tuple[float, float]
    image_size_wh: tuple[int, int]
    hips: list[HipAnalysis]
    detection: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays as nested lists; landmarks of a hip reported absent are left out)."""
        return {
            "source_uid_hash": self.source_uid_hash,
            "spacing_xy_mm": list(self.spacing_xy_mm),
            "image_size_wh": list(self.image_size_wh),
            "hips": [{
                "side": h.side,
                "landmarks": [{"name": n, "x_px": float(p[0]), "y_px": float(p[1]), "x_mm": float(m[0]),
                               "y_mm": float(m[1])}
                              for n, p, m in zip(h.landmark_names, h.landmarks_px, h.landmarks_mm, strict=True)
                              if np.isfinite(p).all()],
                "femoral_head_mm": None if h.head_circle_mm is None else dict(
                    zip(("centre_x", "centre_y", "radius"), h.head_circle_mm, strict=True)),
                "osteophyte_probability": h.osteophyte_probability,
                "any_osteophyte_probability": h.any_osteophyte_probability,
                "grades": h.grades,
                "skipped": h.skipped,
            } for h in self.hips],
        }


def _bundle_network(bundle: Path, configs: Sequence[str], checkpoint: Path, overrides: Mapping[str, Any] | None,
                    device: torch.device) -> tuple[torch.nn.Module, Any]:
    from hipmonai.experiments.bundle import bundle_parser

    parser = bundle_parser(bundle, list(configs), dict(overrides or {}))
    network = load_config_network(parser, checkpoint)
    return network.to(device).eval(), parser


def trained_crop(prior: str | os.PathLike, grading: str | os.PathLike) -> tuple[int | None, float | None]:
    """``(crop_px, spacing_mm)`` of the hip crops the osteophyte checkpoints were trained on: their
    ``image_size_px`` and the store's ``spacing_mm`` (``None`` where neither records it: the
    ``configs/preprocessing.json`` default applies).

    Raises:
        InputError: the two checkpoints were trained on different crops.
    """
    settings = [trained_settings(prior), trained_settings(grading)]
    found = {}
    for key, kind in (("image_size_px", int), ("spacing_mm", float)):
        values = [kind(s[key]) for s in settings if s.get(key) is not None]
        if len(values) == 2 and values[0] != values[1]:
            raise InputError(f"{grading}: trained with {key} {values[1]}, the prior checkpoint {prior} with "
                             f"{values[0]}; use checkpoints trained on the same hip crops")
        found[key] = values[0] if values else None
    return found["image_size_px"], found["spacing_mm"]


def read_radiograph(path: str | os.PathLike, spacing_xy_mm: Sequence[float] | None = None
                    ) -> tuple[np.ndarray, dict[str, Any]]:
    """Read one DX/CR radiograph, the file checked first (what the analyser and ``hipmonai predict`` read).

    Args:
        path: the DICOM file.
        spacing_xy_mm: fallback ``(x, y)`` pixel spacing in mm for a file without a usable spacing.

    Returns:
        ``(array_wh, meta)`` of :func:`hipmonai.readers.load_radiograph`: ``(W, H)`` float32, bone bright, and the
        reader's metadata (``spacing_xy_mm``, ``affine``, ``source_uid_hash``, ...).

    Raises:
        InputError: not a readable DICOM file, not a radiograph (modality other than DX/CR), unreadable pixels, or
            no spacing.
    """
    import pydicom

    from hipmonai.readers import load_radiograph

    name = Path(path).name
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as err:  # pydicom raises several types for a foreign or corrupt file
        raise InputError(f"{name}: not a readable DICOM file ({type(err).__name__})") from err
    modality = str(getattr(header, "Modality", "")).upper()
    if modality and modality not in ACCEPTED_MODALITIES:
        raise InputError(f"{name}: modality {modality!r} is not a radiograph (DX or CR)")
    return load_radiograph(path, spacing_xy_mm)


class HipRadiographAnalyzer:
    """Landmarks, femoral heads, osteophyte probabilities and grades of AP pelvis radiographs.

    Args:
        detector: a :class:`hipmonai.inference.PelvisLandmarkDetector`.
        prior_network: the prior bundle's ResNet, ``(B, 1, W, H)`` -> ``(B, 4)`` logits.
        grading_network: the grading bundle's network, ``(B, 1, W, H)`` -> ``(B, 1 + 4 K)`` packed logits.
        target_names: the four osteophyte targets, in the networks' output order.
        spacing_mm: crop spacing in mm (default ``configs/preprocessing.json``; must match the bundles' training data).
        crop_px: crop side in pixels (default ``configs/preprocessing.json``).
        device: where the networks run.
    """

    def __init__(
        self,
        detector: Any,
        prior_network: torch.nn.Module,
        grading_network: torch.nn.Module,
        target_names: Sequence[str],
        spacing_mm: float | None = None,
        crop_px: int | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        from hipmonai.io import load_landmark_groups
        from hipmonai.transforms import hip_preprocessing

        self.device = torch.device(device)
        self.detector = detector
        self.prior_network = prior_network.to(self.device).eval()
        self.grading_network = grading_network.to(self.device).eval()
        self.target_names = list(target_names)
        self.chain = hip_preprocessing(spacing_mm=spacing_mm, crop_px=crop_px)  # None: configs/preprocessing.json
        self.groups = load_landmark_groups("hip")
        self.detection_names = _detection_names(self.groups)

    @classmethod
    def from_bundles(
        cls,
        models: Mapping[str, str | os.PathLike],
        bundles_dir: str | os.PathLike | None = None,
        configs: Mapping[str, Sequence[str]] | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        device: str | torch.device = "cpu",
        spacing_mm: float | None = None,
        crop_px: int | None = None,
    ) -> HipRadiographAnalyzer:
        """Build the three networks from their bundles.

        Args:
            models: checkpoints ``{"landmarks": ..., "prior": ..., "grading": ...}``.
            bundles_dir: the folder holding the bundles (default: the bundle templates packaged with hipmonai,
                :func:`hipmonai.paths.bundle_template_dir`).
            configs: config files per model, relative to its bundle (default ``["configs/inference.json"]``, which
                reads the network and input sizes from the checkpoint).
            overrides: config id overrides per model.
            device: where the networks run.
            spacing_mm, crop_px: the hip crops (default: those the osteophyte checkpoints record, see
                :func:`trained_crop`).

        Raises:
            InputError: a checkpoint or bundle is missing, or a checkpoint does not fit its network.
        """
        from hipmonai.paths import bundle_template_dir
        from hipmonai.preprocessing.detector import detector_from_parser

        missing = [k for k in ("landmarks", "prior", "grading") if k not in models]
        if missing:
            raise InputError(f"HipRadiographAnalyzer needs checkpoints for {missing}")
        configs, overrides = dict(configs or {}), dict(overrides or {})
        names = {"landmarks": "hip_landmark_labelaug", "prior": "hip_osteophyte_prior",
                 "grading": "hip_osteophyte_grading"}
        device = torch.device(device)
        built: dict[str, tuple[torch.nn.Module, Any]] = {}
        for key, bundle in names.items():
            checkpoint = Path(models[key])
            if not checkpoint.is_file():
                raise InputError(f"{checkpoint}: {key} checkpoint not found")
            bundle_dir = Path(bundles_dir) / bundle if bundles_dir is not None else bundle_template_dir(bundle)
            built[key] = _bundle_network(bundle_dir, configs.get(key, ["configs/inference.json"]), checkpoint,
                                         overrides.get(key), device)
        detector = detector_from_parser(built["landmarks"][1], models["landmarks"], device=str(device))
        trained_px, trained_mm = trained_crop(models["prior"], models["grading"])
        crop_px = trained_px if crop_px is None else crop_px
        spacing_mm = trained_mm if spacing_mm is None else spacing_mm
        from hipmonai.io import TARGETS

        return cls(detector, built["prior"][0], built["grading"][0], TARGETS, spacing_mm=spacing_mm, crop_px=crop_px,
                   device=device)

    def analyze_file(self, path: str | os.PathLike | Any, spacing_xy_mm: Sequence[float] | None = None,
                     ) -> RadiographAnalysis:
        """Analyse one DICOM file (``spacing_xy_mm``: fallback for files without a usable spacing).

        ``path`` may also be a pydicom ``Dataset`` read from a file (its ``filename`` is read again with the
        project's reader, so every file goes through the same checks).

        Raises:
            InputError: not a DX/CR image, unreadable pixels, no spacing.
        """
        import pydicom

        if isinstance(path, pydicom.Dataset):
            filename = getattr(path, "filename", None)
            if not filename or not Path(filename).is_file():
                raise InputError("a pydicom Dataset without its file cannot be analysed; pass the file path")
            path = filename
        array_wh, meta = read_radiograph(path, spacing_xy_mm)
        return self.analyze_array(array_wh, meta)

    def analyze_array(self, array_wh: np.ndarray, meta: Mapping[str, Any]) -> RadiographAnalysis:
        """Analyse a radiograph already read by :func:`hipmonai.readers.load_radiograph` (``(W, H)``, its meta)."""
        from monai.data import MetaTensor

        from hipmonai.evaluation.grading import decode_multitask_output
        from hipmonai.io.pts import POINTS_PER_HIP, mm_to_px
        from hipmonai.transforms.geometry import fit_head_circles

        spacing = tuple(float(s) for s in meta["spacing_xy_mm"])
        image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
        detection = self.detector.predict_image(image)
        full_mm = self.detector.full_points_mm(detection["landmarks_mm"])
        circles = fit_head_circles(full_mm)
        points_px = mm_to_px(full_mm, spacing)
        affine = np.diag([spacing[0], spacing[1], 1.0, 1.0])
        per_side = len(detection["landmarks_px"]) // 2
        hips: list[HipAnalysis] = []
        for index, side in enumerate(("right", "left")):
            rows = slice(index * per_side, (index + 1) * per_side)
            hip = HipAnalysis(side, detection["landmarks_px"][rows], detection["landmarks_mm"][rows],
                              self.detection_names[rows], circles.get(side))
            if not detection["hips"][side]["present"]:  # the detector's reason, e.g. "hip not found: ..."
                hip.skipped = detection["hips"][side]["reason"]
                hips.append(hip)
                continue
            item = {"image": MetaTensor(array_wh[None], affine=affine),
                    "landmarks": points_px[index * POINTS_PER_HIP:(index + 1) * POINTS_PER_HIP], "side": side}
            try:
                crop = self.chain(item)["image"]
            except Exception as err:  # MONAI's Compose wraps a transform's InputError in RuntimeError
                cause = input_error_cause(err)
                if cause is None:
                    raise
                hip.skipped = str(cause)
                hips.append(hip)
                continue
            batch = torch.as_tensor(np.asarray(crop), dtype=torch.float32)[None].to(self.device)
            with torch.inference_mode():
                prior = torch.sigmoid(self.prior_network(batch)[0].float()).cpu()
                packed = self.grading_network(batch)[0].float().cpu()
            decoded = decode_multitask_output(packed, len(self.target_names))
            hip.osteophyte_probability = {t: float(p) for t, p in zip(self.target_names, prior, strict=True)}
            hip.any_osteophyte_probability = float(decoded[0])
            hip.grades = {t: int(g) for t, g in zip(self.target_names, decoded[1:], strict=True)}
            hips.append(hip)
        return RadiographAnalysis(str(meta.get("source_uid_hash", "")), spacing,
                                  (int(array_wh.shape[0]), int(array_wh.shape[1])), hips, detection)


def _detection_names(groups: Any) -> list[str]:
    """Names of the bilateral detection subset as in the landmark bundle's ``metadata.json``: ``right_13``, ...
    (side, then the point's index in its hip's 80-point BoneFinder layout)."""
    return [f"right_{i}" if i < groups.n_points else f"left_{i - groups.n_points}"
            for i in groups.bilateral_detection_subset]
