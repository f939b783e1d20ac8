"""Pelvis landmarks from the label-augmentation U-Net (Suh et al. 2023): the stand-in for BoneFinder.

:class:`PelvisLandmarkDetector` runs the bundle's U-Net on whole AP pelvis radiographs prepared exactly as in
training (:func:`hipmonai.transforms.pelvis_landmark_transforms`), takes the argmax of each landmark channel
(optionally refined to sub-pixel, :func:`hipmonai.transforms.heatmap.heatmap_argmax`) and maps the points back to
original-image pixels and millimetres. :meth:`PelvisLandmarkDetector.full_points_mm` gives the 160-point bilateral
list ``hipmonai preprocess`` expects, ``NaN`` where the detector has no point; :func:`write_detection_pts` writes
the detected points as a BoneFinder-style ``.pts`` a user can correct.

Confidence and absence: the network was trained with a BCE loss on label maps that are empty for landmarks outside
the image, so the sigmoid of a channel's peak logit is the landmark's confidence and an absent hip gives low peaks.
Each hip is reported present only when the median confidence of its landmarks reaches ``min_confidence`` and the
femoral head circle fitted to its points lies inside the image with a radius in the plausible range of
``configs/preprocessing.json`` (the rule preprocessing applies, :class:`hipmonai.transforms.FemoralHeadCircle`); the
landmarks of an absent hip are ``NaN``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.inferers import Inferer

from hipmonai.errors import InputError
from hipmonai.inference.knee_pipeline import points_to_original
from hipmonai.io.grades import SIDES
from hipmonai.io.landmark_groups import load_landmark_groups
from hipmonai.transforms.config import load_preprocessing_config, value_range
from hipmonai.transforms.geometry import fit_head_circle, fit_head_circles, head_circle_residual

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "PelvisDetectorInferer",
    "PelvisLandmarkDetector",
    "fit_head_circle",
    "fit_head_circles",
    "write_detection_pts",
]

#: Median landmark confidence (sigmoid of the peak logit) a hip needs to be reported present.
DEFAULT_MIN_CONFIDENCE = 0.5


#: largest RMS distance of the detected head points from their fitted circle, as a fraction of its radius, for a
#: hip to count as found (phantom test hips: a few %; scattered points on an image the model does not understand:
#: tens of %)
MAX_HEAD_CIRCLE_RESIDUAL = 0.25


class PelvisLandmarkDetector:
    """Whole-radiograph landmark detection with a trained pelvis U-Net.

    Args:
        network: the U-Net, ``(B, 1, S, S)`` -> ``(B, 2 K, S, S)`` logits (K = points of ``detection_subset``).
        size_px: the model input side ``S`` it was trained at (the manifest's ``size_px``).
        refine_window: 0 for the plain argmax (paper), or an odd window for the sub-pixel refinement.
        device: where the network runs.
        min_confidence: median landmark confidence, in ``(0, 1)``, a hip needs to be reported present.
        radius_range_mm: plausible femoral head radius ``(min, max)`` in mm; ``None``: ``configs/preprocessing.json``
            (the range preprocessing rejects hips with).

    Raises:
        ValueError: ``min_confidence`` outside ``(0, 1)`` or an invalid ``radius_range_mm``.

    Example:
        >>> from monai.networks.nets import UNet
        >>> det = PelvisLandmarkDetector(UNet(2, 1, 28, (4, 8), (2,)), size_px=64)
        >>> # det.predict_file("pelvis.dcm")["landmarks_mm"].shape == (28, 2)
    """

    def __init__(
        self,
        network: torch.nn.Module,
        size_px: int,
        refine_window: int = 0,
        device: str | torch.device = "cpu",
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        radius_range_mm: Sequence[float] | None = None,
    ) -> None:
        from hipmonai.transforms.pelvis import pelvis_landmark_transforms

        if not 0.0 < float(min_confidence) < 1.0:
            raise ValueError(f"min_confidence must be in (0, 1), got {min_confidence}.")
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.size_px = int(size_px)
        self.refine_window = int(refine_window)
        self.min_confidence = float(min_confidence)
        if radius_range_mm is None:
            radius_range_mm = load_preprocessing_config().radius_range_mm
        self.radius_range_mm = value_range(radius_range_mm, "radius_range_mm", 0.0)
        self.chain = pelvis_landmark_transforms(self.size_px, landmarks_key=None)
        self.groups = load_landmark_groups("hip")

    def predict_image(self, image: Any) -> dict[str, Any]:
        """Landmarks of one radiograph, with their confidence and whether each hip is there.

        Args:
            image: ``MetaTensor`` ``(1, W, H)`` with its pixel-to-mm affine (:func:`hipmonai.readers.load_radiograph`).

        Returns:
            A dict (``K`` = landmarks per hip, right hip first, i.e. image left):

            * ``"landmarks_px"``: ``(2 K, 2)`` original ``(x, y)`` pixels, ``NaN`` rows for a hip reported absent;
            * ``"landmarks_mm"``: the same in mm (pixels × spacing);
            * ``"raw_landmarks_px"``, ``"raw_landmarks_mm"``: the argmax points of every channel, absent hips
              included (for evaluation against labels, never for preprocessing);
            * ``"model_px"``: ``(2 K, 2)`` raw points in model-input pixels;
            * ``"confidence"``: ``(2 K,)`` sigmoid of each channel's peak logit, in ``[0, 1]``;
            * ``"hips"``: ``{"right": {...}, "left": {...}}``, each ``{"present": bool, "confidence": median of
              its landmarks' confidence, "reason": None or why it is absent}`` (:meth:`assess_hips`);
            * ``"px_affine"``: ``(3, 3)`` original -> model-input pixels; ``"spacing_mm"``: ``(2,)`` ``(x, y)``.
        """
        from monai.data import MetaTensor
        from monai.data.utils import affine_to_spacing

        from hipmonai.transforms.heatmap import heatmap_argmax

        if not isinstance(image, MetaTensor):
            raise InputError("PelvisLandmarkDetector needs a MetaTensor radiograph carrying its pixel-to-mm affine")
        spacing = np.asarray(affine_to_spacing(image.affine, r=2, suppress_zeros=False), dtype=np.float64)
        sample = self.chain({"image": image})
        batch = torch.as_tensor(np.asarray(sample["image"]), dtype=torch.float32)[None].to(self.device)
        with torch.inference_mode():
            logits = self.network(batch).float().cpu()
        model_px = heatmap_argmax(logits, refine_window=self.refine_window)[0].double().numpy()
        confidence = torch.sigmoid(logits[0].flatten(1).amax(dim=1)).double().numpy()
        raw_px = points_to_original(model_px, sample["px_affine"])
        raw_mm = raw_px * spacing
        hips = self.assess_hips(raw_mm, confidence, spacing, tuple(int(n) for n in image.shape[1:3]))
        absent = np.repeat([not hips[side]["present"] for side in SIDES], len(raw_px) // len(SIDES))
        landmarks_px = np.where(absent[:, None], np.nan, raw_px)
        return {"landmarks_px": landmarks_px, "landmarks_mm": landmarks_px * spacing, "raw_landmarks_px": raw_px,
                "raw_landmarks_mm": raw_mm, "model_px": model_px, "confidence": confidence, "hips": hips,
                "px_affine": np.asarray(sample["px_affine"]), "spacing_mm": spacing}

    def assess_hips(
        self,
        landmarks_mm: np.ndarray,
        confidence: np.ndarray,
        spacing_mm: Sequence[float],
        image_size_px: Sequence[int],
    ) -> dict[str, dict[str, Any]]:
        """Whether each hip of a detection is trustworthy (module docstring).

        Args:
            landmarks_mm: ``(2 K, 2)`` raw detected ``(x, y)`` points in mm, right hip first.
            confidence: ``(2 K,)`` landmark confidences in ``[0, 1]``.
            spacing_mm: ``(x, y)`` pixel spacing of the radiograph.
            image_size_px: ``(W, H)`` of the radiograph in pixels.

        Returns:
            ``{side: {"present": bool, "confidence": float, "reason": str | None}}`` for ``"right"`` and ``"left"``;
            the first failed check gives the reason: the median confidence below ``min_confidence``, an implausible
            femoral head radius, head points that do not lie on a circle (``MAX_HEAD_CIRCLE_RESIDUAL``), or a head
            centre outside the image.
        """
        confidence = np.asarray(confidence, dtype=np.float64)
        if len(confidence) != len(landmarks_mm) or len(confidence) % len(SIDES):
            raise ValueError(f"need one confidence per landmark of both hips, got {len(confidence)} confidences for "
                             f"{len(landmarks_mm)} landmarks.")
        per_side = len(confidence) // len(SIDES)
        full_mm = self.full_points_mm(landmarks_mm)
        hips = {}
        for index, side in enumerate(SIDES):
            score = float(np.median(confidence[index * per_side:(index + 1) * per_side]))
            reason = self._absence_reason(score, full_mm, side, spacing_mm, image_size_px)
            hips[side] = {"present": reason is None, "confidence": score, "reason": reason}
        return hips

    def _absence_reason(
        self, score: float, full_mm: np.ndarray, side: str, spacing_mm: Sequence[float], image_size_px: Sequence[int]
    ) -> str | None:
        """Why one hip is not trustworthy (the first failed check), or ``None`` (see :meth:`assess_hips`)."""
        if score < self.min_confidence:
            return f"hip not found: confidence {score:.2f} < {self.min_confidence:.2f}"
        try:
            circle = fit_head_circle(full_mm, side)
        except InputError as err:
            return f"femoral head not fitted: {err}"
        if circle is None:
            return "femoral head not fitted: fewer than 3 head landmarks"
        cx_mm, cy_mm, radius_mm = circle
        low, high = self.radius_range_mm
        if not low <= radius_mm <= high:
            return f"implausible femoral head radius {radius_mm:.1f} mm (plausible {low:g}-{high:g} mm)"
        residual = head_circle_residual(full_mm, side, circle)
        if residual > MAX_HEAD_CIRCLE_RESIDUAL:
            return (f"femoral head points do not lie on a circle: RMS residual {100 * residual:.0f} % of the radius "
                    f"(at most {100 * MAX_HEAD_CIRCLE_RESIDUAL:.0f} %)")
        cx_px, cy_px = cx_mm / float(spacing_mm[0]), cy_mm / float(spacing_mm[1])
        width, height = (int(n) for n in image_size_px)
        if not (0.0 <= cx_px <= width - 1 and 0.0 <= cy_px <= height - 1):
            return (f"femoral head outside the image: centre ({cx_px:.0f}, {cy_px:.0f}) px, image {width} x {height} "
                    "px")
        return None

    def predict_file(self, path: str | os.PathLike, spacing_xy_mm: Sequence[float] | None = None) -> dict[str, Any]:
        """:meth:`predict_image` on a DICOM file (``spacing_xy_mm``: fallback for files without spacing)."""
        from monai.data import MetaTensor

        from hipmonai.readers import load_radiograph

        array_wh, meta = load_radiograph(path, spacing_xy_mm)
        image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
        return self.predict_image(image)

    def full_points_mm(self, landmarks_mm: np.ndarray) -> np.ndarray:
        """Detected ``(2 K, 2)`` mm -> the bilateral ``(160, 2)`` list of preprocessing, ``NaN`` where undetected."""
        return self.groups.expand_detection(landmarks_mm)


def write_detection_pts(path: str | os.PathLike, landmarks_mm: np.ndarray) -> Path:
    """Write detected ``(2 K, 2)`` points (mm) as a ``.pts`` file of ``2 K`` points (right hip first).

    ``hipmonai preprocess`` reads such a file as the detection subset (it knows the file by its point count), so a
    user can correct the points in any ``.pts`` editor and rerun.
    """
    from hipmonai.io.pts import write_pts

    return write_pts(path, np.asarray(landmarks_mm, dtype=np.float64))


class PelvisDetectorInferer(Inferer):
    """MONAI ``Inferer`` for the bundle's ``inference.json``: whole radiographs ``(B, 1, W, H)`` ``MetaTensor``
    (batch size 1 when sizes differ) -> ``(B, 2 K, 2)`` original ``(x, y)`` pixels, with the evaluator's network;
    ``NaN`` for the points of a hip reported absent.

    Args:
        size_px, refine_window, min_confidence: see :class:`PelvisLandmarkDetector`.

    Raises:
        ValueError: ``min_confidence`` outside ``(0, 1)``.
    """

    def __init__(self, size_px: int, refine_window: int = 0, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> None:
        super().__init__()
        if not 0.0 < float(min_confidence) < 1.0:
            raise ValueError(f"min_confidence must be in (0, 1), got {min_confidence}.")
        self.size_px, self.refine_window, self.min_confidence = int(size_px), int(refine_window), float(min_confidence)

    def __call__(self, inputs: torch.Tensor, network: torch.nn.Module, *args: Any, **kwargs: Any) -> torch.Tensor:
        detector = PelvisLandmarkDetector(network, self.size_px, self.refine_window, device=inputs.device,
                                          min_confidence=self.min_confidence)
        outputs = [torch.as_tensor(detector.predict_image(inputs[i].cpu())["landmarks_px"], dtype=torch.float32)
                   for i in range(inputs.shape[0])]
        return torch.stack(outputs).to(inputs.device)
