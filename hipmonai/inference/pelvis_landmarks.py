"""Pelvis landmarks from the label-augmentation U-Net (paper 003; SPEC 5.3): the stand-in for BoneFinder.

:class:`PelvisLandmarkDetector` runs the bundle's U-Net on whole AP pelvis radiographs prepared exactly as in
training (:func:`hipmonai.transforms.pelvis_landmark_transforms`), takes the argmax of each landmark channel
(optionally refined to sub-pixel, :func:`hipmonai.transforms.heatmap.heatmap_argmax`) and maps the points back to
original-image pixels and millimetres. :meth:`PelvisLandmarkDetector.full_points_mm` gives the 160-point bilateral
list ``hipmonai preprocess`` expects, ``NaN`` where the detector has no point; :func:`write_detection_pts` writes
the detected points as a BoneFinder-style ``.pts`` a user can correct.
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
from hipmonai.inference.knee_pipeline import load_kneel_weights, points_to_original
from hipmonai.io.landmark_groups import load_landmark_groups

__all__ = ["PelvisDetectorInferer", "PelvisLandmarkDetector", "fit_head_circles", "write_detection_pts"]


class PelvisLandmarkDetector:
    """Whole-radiograph landmark detection with a trained pelvis U-Net.

    Args:
        network: the U-Net, ``(B, 1, S, S)`` -> ``(B, 2 K, S, S)`` logits (K = points of ``detection_subset``).
        size_px: the model input side ``S`` it was trained at (the manifest's ``size_px``).
        refine_window: 0 for the plain argmax (paper), or an odd window for the sub-pixel refinement.
        device: where the network runs.

    Example:
        >>> from monai.networks.nets import UNet
        >>> det = PelvisLandmarkDetector(UNet(2, 1, 28, (4, 8), (2,)), size_px=64)
        >>> # det.predict_file("pelvis.dcm")["landmarks_mm"].shape == (28, 2)
    """

    def __init__(
        self, network: torch.nn.Module, size_px: int, refine_window: int = 0, device: str | torch.device = "cpu"
    ) -> None:
        from hipmonai.transforms.pelvis import pelvis_landmark_transforms

        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.size_px = int(size_px)
        self.refine_window = int(refine_window)
        self.chain = pelvis_landmark_transforms(self.size_px, landmarks_key=None)
        self.groups = load_landmark_groups("hip")

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | os.PathLike,
        size_px: int,
        channels: Sequence[int],
        strides: Sequence[int],
        num_res_units: int = 0,
        refine_window: int = 0,
        device: str | torch.device = "cpu",
    ) -> PelvisLandmarkDetector:
        """Build the bundle's MONAI ``UNet`` with these options and load ``checkpoint`` (``weights_only``)."""
        from monai.networks.nets import UNet

        n_landmarks = len(load_landmark_groups("hip").bilateral_detection_subset)
        network = UNet(spatial_dims=2, in_channels=1, out_channels=n_landmarks, channels=tuple(channels),
                       strides=tuple(strides), num_res_units=int(num_res_units))
        return cls(load_kneel_weights(network, checkpoint), size_px, refine_window, device)

    def predict_image(self, image: Any) -> dict[str, Any]:
        """Landmarks of one radiograph.

        Args:
            image: ``MetaTensor`` ``(1, W, H)`` with its pixel-to-mm affine (:func:`hipmonai.readers.load_radiograph`).

        Returns:
            ``{"landmarks_px": (2 K, 2) original (x, y) pixels, "landmarks_mm": (2 K, 2) mm, "model_px": (2 K, 2)
            model-input pixels, "px_affine": (3, 3), "spacing_mm": (2,)}``.
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
        original = points_to_original(model_px, sample["px_affine"])
        return {"landmarks_px": original, "landmarks_mm": original * spacing, "model_px": model_px,
                "px_affine": np.asarray(sample["px_affine"]), "spacing_mm": spacing}

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


def fit_head_circles(points_mm: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Femoral head circles ``{side: (centre_x_mm, centre_y_mm, radius_mm)}`` from a bilateral 160-point list.

    Uses the ``femoral_head`` curve of ``configs/landmark_groups.json`` and the Taubin fit of preprocessing; a side
    with fewer than three finite head points is left out.
    """
    from hipmonai.transforms.geometry import fit_circle_taubin

    groups = load_landmark_groups("hip")
    head = groups.curves["femoral_head"]
    points_mm = np.asarray(points_mm, dtype=np.float64)
    circles = {}
    for index, side in enumerate(("right", "left")):
        pts = points_mm[[index * groups.n_points + i for i in head]]
        if np.isfinite(pts).all(axis=1).sum() >= 3:
            cx, cy, radius = fit_circle_taubin(pts)
            circles[side] = (float(cx), float(cy), float(radius))
    return circles


class PelvisDetectorInferer(Inferer):
    """MONAI ``Inferer`` for the bundle's ``inference.json``: whole radiographs ``(B, 1, W, H)`` ``MetaTensor``
    (batch size 1 when sizes differ) -> ``(B, 2 K, 2)`` original ``(x, y)`` pixels, with the evaluator's network.

    Args:
        size_px, refine_window: see :class:`PelvisLandmarkDetector`.
    """

    def __init__(self, size_px: int, refine_window: int = 0) -> None:
        super().__init__()
        self.size_px, self.refine_window = int(size_px), int(refine_window)

    def __call__(self, inputs: torch.Tensor, network: torch.nn.Module, *args: Any, **kwargs: Any) -> torch.Tensor:
        detector = PelvisLandmarkDetector(network, self.size_px, self.refine_window, device=inputs.device)
        outputs = [torch.as_tensor(detector.predict_image(inputs[i].cpu())["landmarks_px"], dtype=torch.float32)
                   for i in range(inputs.shape[0])]
        return torch.stack(outputs).to(inputs.device)
