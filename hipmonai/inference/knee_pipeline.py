"""Two-stage KNEEL inference on a bilateral PA knee radiograph (Tiulpin et al. 2019 §3.3, §4.5).

Per knee (right knee on the image's left half, docs/phantoms.md):

1. ROI stage — the knee's half image at ``roi_spacing_mm`` (:func:`hipmonai.transforms.knee.knee_roi_transforms`)
   through the ROI network (one point: the tibial centre, landmark 4), mapped back to original pixels;
2. landmark stage — a ``crop_mm`` square at ``landmark_spacing_mm`` around that centre, left knees flipped
   (:func:`hipmonai.transforms.knee.knee_landmark_transforms`), through the landmark network (16 points);
3. optional second pass (the paper's "2-stage" row of Table 2): re-centre the crop on the predicted tibial centre and
   run the landmark network again.

Every prediction goes back to the original image through the inverse of the chain's ``px_affine`` (resampling,
crop, flip), so the pipeline returns landmarks in original pixels and, through the DICOM spacing, in mm — the units
of the BoneFinder ``.pts`` files: ``(32, 2)`` ``(x, y)``, right knee 0-15, left knee 16-31.

:func:`evaluate_pipeline` runs it over a knee manifest split and reports PCK (Tiulpin et al. 2019 §4.3), outliers,
the mean radial error and cumulative error curves (PNG).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.inferers import Inferer

from hipmonai.errors import InputError
from hipmonai.io.pts import POINTS_PER_KNEE
from hipmonai.networks.checkpoint import load_checkpoint
from hipmonai.transforms.geometry import apply_affine_to_points

__all__ = [
    "KneeLandmarkPipeline",
    "KneePipelineInferer",
    "evaluate_pipeline",
    "init_from_roi",
    "plot_cumulative_errors",
    "points_to_original",
]

ROI_ONLY_PREFIXES = ("out_block.",)  # the only weights whose shape depends on the number of landmarks


def init_from_roi(network: torch.nn.Module, roi_checkpoint: str | os.PathLike) -> torch.nn.Module:
    """Initialise a landmark network from the ROI model (KNEEL §4.3): every layer but the last 1x1 conv."""
    return load_checkpoint(network, roi_checkpoint, exclude_prefixes=ROI_ONLY_PREFIXES)


def points_to_original(points_px: torch.Tensor | np.ndarray, px_affine: np.ndarray) -> np.ndarray:
    """``(N, 2)`` sample pixels -> original-image pixels via the inverse ``3 x 3`` ``px_affine`` (float64)."""
    points = np.asarray(torch.as_tensor(points_px).detach().cpu().double().numpy())
    return apply_affine_to_points(points, np.linalg.inv(np.asarray(px_affine, dtype=np.float64)), dtype=np.float64)


class KneeLandmarkPipeline:
    """ROI → landmark (→ second pass) inference on one bilateral knee radiograph (module docstring).

    Args:
        roi_network: ROI :class:`~hipmonai.networks.KneelHourglassNet` (1 landmark: the tibial centre).
        landmark_network: landmark network (16 landmarks).
        roi_spacing_mm, roi_size_px: ROI sampling (as :func:`hipmonai.data.knee.prepare_knee_data` used in training).
        landmark_spacing_mm, crop_mm: landmark crop sampling.
        second_pass: re-centre on the predicted tibial centre and predict again.
        centre_landmark: landmark index the ROI network predicts and the second pass re-centres on (4).
        grid: soft-argmax grid of both networks.
        device: where the networks run.

    Example:
        >>> from hipmonai.networks import KneelHourglassNet
        >>> pipe = KneeLandmarkPipeline(KneelHourglassNet(1, 1, 8, 3), KneelHourglassNet(1, 16, 8, 3),
        ...                             roi_spacing_mm=4.0, roi_size_px=(64, 80), landmark_spacing_mm=2.0)
        >>> # pipe.predict_file("knee.dcm")["landmarks_mm"].shape == (32, 2)
    """

    def __init__(
        self,
        roi_network: torch.nn.Module,
        landmark_network: torch.nn.Module,
        roi_spacing_mm: float = 1.0,
        roi_size_px: Sequence[int] = (256, 320),
        landmark_spacing_mm: float = 0.3,
        crop_mm: float = 140.0,
        second_pass: bool = False,
        centre_landmark: int = 4,
        grid: str = "pixel_centre",
        device: str | torch.device = "cpu",
    ) -> None:
        from hipmonai.transforms.knee import knee_landmark_transforms, knee_roi_transforms

        if not 0 <= centre_landmark < POINTS_PER_KNEE:
            raise ValueError(f"centre_landmark must be in 0..{POINTS_PER_KNEE - 1}, got {centre_landmark}.")
        self.device = torch.device(device)
        self.roi_network = roi_network.to(self.device).eval()
        self.landmark_network = landmark_network.to(self.device).eval()
        self.roi_chain = knee_roi_transforms(roi_spacing_mm, roi_size_px)
        self.landmark_chain = knee_landmark_transforms(landmark_spacing_mm, crop_mm)
        self.second_pass = bool(second_pass)
        self.centre_landmark = int(centre_landmark)
        self.grid = grid

    def _predict(self, network: torch.nn.Module, samples: list[dict]) -> list[np.ndarray]:
        """Run ``network`` on same-size samples; each prediction in original pixels ``(M, 2)``."""
        from hipmonai.networks.soft_argmax import normalized_to_pixels

        batch = torch.stack([torch.as_tensor(np.asarray(s["image"]), dtype=torch.float32) for s in samples])
        with torch.inference_mode():
            coords = network(batch.to(self.device)).float().cpu()
        size = [int(v) for v in batch.shape[2:]]
        pixels = normalized_to_pixels(coords, size, self.grid)
        return [points_to_original(p, s["px_affine"]) for p, s in zip(pixels, samples, strict=True)]

    def predict_image(self, image: Any, sides: Sequence[str] = ("right", "left")) -> dict[str, Any]:
        """Landmarks of the knees of one radiograph.

        Args:
            image: ``MetaTensor`` ``(1, W, H)`` with the reader's ``diag(sx, sy, 1, 1)`` pixel-to-mm affine.
            sides: knees to predict.

        Returns:
            ``{"landmarks_px": (16 * len(sides), 2), "roi_center_px": (len(sides), 2), "first_pass_px": ...}``,
            original-image ``(x, y)`` pixels, float64, knees in ``sides`` order.
        """
        sides = list(sides)
        roi_samples = [self.roi_chain({"image": image, "side": side}) for side in sides]
        centres = self._predict(self.roi_network, roi_samples)
        centres = [c[0] for c in centres]
        crops = [self.landmark_chain({"image": image, "side": s, "knee_center_px": c})
                 for s, c in zip(sides, centres, strict=True)]
        first = self._predict(self.landmark_network, crops)
        final = first
        if self.second_pass:
            crops = [self.landmark_chain({"image": image, "side": s, "knee_center_px": p[self.centre_landmark]})
                     for s, p in zip(sides, first, strict=True)]
            final = self._predict(self.landmark_network, crops)
        return {
            "landmarks_px": np.concatenate(final),
            "first_pass_px": np.concatenate(first),
            "roi_center_px": np.stack(centres),
        }

    def predict_file(self, path: str | os.PathLike, spacing_xy_mm: Sequence[float] | None = None) -> dict[str, Any]:
        """Read a DICOM radiograph and predict both knees.

        Returns:
            ``{"landmarks_px": (32, 2), "landmarks_mm": (32, 2), "roi_center_px": (2, 2), "roi_center_mm",
            "spacing_xy_mm": (2,), "source_uid_hash", "seconds"}`` — ``(x, y)``, right knee 0-15, left knee 16-31,
            mm = px x spacing (the ``.pts`` convention). No patient-identifying header value is returned.
        """
        from monai.data import MetaTensor

        from hipmonai.readers import load_radiograph

        started = time.perf_counter()
        array_wh, meta = load_radiograph(path, spacing_xy_mm)
        image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
        out = self.predict_image(image)
        spacing = np.asarray(meta["spacing_xy_mm"], dtype=np.float64)
        return {
            **out,
            "landmarks_mm": out["landmarks_px"] * spacing,
            "roi_center_mm": out["roi_center_px"] * spacing,
            "spacing_xy_mm": spacing,
            "source_uid_hash": meta["source_uid_hash"],
            "seconds": time.perf_counter() - started,
        }


class KneePipelineInferer(Inferer):
    """MONAI ``Inferer`` that runs a :class:`KneeLandmarkPipeline` with the evaluator's network as its landmark model.

    ``inputs`` is a batch of whole radiographs ``(B, 1, W, H)`` ``MetaTensor`` (batch size 1 when their sizes differ)
    carrying their pixel-to-mm affines; the output is ``(B, 32, 2)`` original ``(x, y)`` pixels (right knee 0-15,
    left 16-31).

    Args:
        pipeline: the pipeline (ROI network and sampling); its landmark network is replaced by the ``network`` the
            evaluator passes, so the bundle's ``network`` is the one that runs.
    """

    def __init__(self, pipeline: KneeLandmarkPipeline) -> None:
        super().__init__()
        self.pipeline = pipeline

    def __call__(self, inputs: torch.Tensor, network: torch.nn.Module, *args: Any, **kwargs: Any) -> torch.Tensor:
        from monai.data import MetaTensor

        self.pipeline.landmark_network = network.eval()
        outputs = []
        for index in range(inputs.shape[0]):
            image = inputs[index]
            if not isinstance(image, MetaTensor):
                raise InputError("KneePipelineInferer needs MetaTensor radiographs carrying their pixel-to-mm affine")
            landmarks = self.pipeline.predict_image(image.cpu())["landmarks_px"]
            outputs.append(torch.as_tensor(landmarks, dtype=torch.float32))
        return torch.stack(outputs).to(inputs.device)


def plot_cumulative_errors(curves: Mapping[str, np.ndarray], path: str | os.PathLike, max_mm: float = 10.0) -> Path:
    """Cumulative error distribution plot (KNEEL Figs. 5-6): one step curve per name of ``(N,)`` errors in mm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hipmonai.atomic import atomic_path
    from hipmonai.metrics.landmark_error import cumulative_error_distribution

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    for name, errors in curves.items():
        x, y = cumulative_error_distribution(np.asarray(errors, dtype=np.float64).reshape(-1, 1))
        ax.step(np.r_[0.0, x], np.r_[0.0, y] * 100, where="post", label=name)
    for r in (1.0, 1.5, 2.0, 2.5):
        ax.axvline(r, color="0.85", lw=0.8, zorder=0)
    ax.set(xlim=(0, max_mm), ylim=(0, 100), xlabel="radial error (mm)", ylabel="landmarks within error (%)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def evaluate_pipeline(
    pipeline: KneeLandmarkPipeline, items: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike
) -> dict[str, Any]:
    """Run the pipeline on every radiograph of ``items`` (knee manifest items with ``dicom``/``pts``) and report.

    Writes ``out_dir/results.json`` (summary), ``errors.csv`` (per knee and landmark, mm), ``predictions.csv``
    (landmarks in original px and mm per knee) and ``cumulative_errors.png``.

    Returns:
        ``{"n_knees", "n_images", "pck": {r: %}, "outliers_pct_knees", "outliers_pct_landmarks", "mre_mm",
        "roi_error_mm": {...}, "first_pass": {...}, "seconds_per_radiograph", ...}`` — PCK on the paper's landmarks
        0, 4, 8, 9, 12, 15 (``configs/landmark_groups.json``), outliers (≥ 10 mm) over all 16.
    """
    from hipmonai.atomic import write_text_atomic
    from hipmonai.data.knee import KNEE_SIDES
    from hipmonai.io import load_landmark_groups, read_pts
    from hipmonai.metrics.landmark_error import (
        KNEEL_PCK_THRESHOLDS_MM,
        OUTLIER_THRESHOLD_MM,
        mean_radial_error,
        outlier_rate,
        pck,
        radial_errors,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_image: dict[str, dict[str, Any]] = {}
    for item in items:
        entry = by_image.setdefault(item["dicom"], {"pts": item["pts"], "sides": {}})
        entry["sides"][item["side"]] = item
    if not by_image:
        raise InputError("no knees to evaluate (empty split)")
    pck_landmarks = load_landmark_groups("knee").pck_landmarks
    errors, first_errors, roi_errors, rows, seconds = [], [], [], [], []
    for dicom, entry in sorted(by_image.items()):
        result = pipeline.predict_file(dicom)
        seconds.append(result["seconds"])
        truth_mm = read_pts(entry["pts"], n_points=2 * POINTS_PER_KNEE)
        spacing = result["spacing_xy_mm"]
        for s, side in enumerate(KNEE_SIDES):
            if side not in entry["sides"]:
                continue
            item = entry["sides"][side]
            part = slice(s * POINTS_PER_KNEE, (s + 1) * POINTS_PER_KNEE)
            truth_px = truth_mm[part] / spacing
            err = radial_errors(result["landmarks_px"][part][None], truth_px[None], spacing)[0].numpy()
            first = radial_errors(result["first_pass_px"][part][None], truth_px[None], spacing)[0].numpy()
            roi = float(np.linalg.norm((result["roi_center_px"][s] - truth_px[4]) * spacing))
            errors.append(err)
            first_errors.append(first)
            roi_errors.append(roi)
            rows.append({"key": item["key"], "kl": item.get("kl", -1), "roi_error_mm": roi, "errors_mm": err,
                         "landmarks_px": result["landmarks_px"][part], "landmarks_mm": result["landmarks_mm"][part]})
    e, f = torch.as_tensor(np.stack(errors)), torch.as_tensor(np.stack(first_errors))

    def summary(err: torch.Tensor) -> dict[str, Any]:
        return {
            "pck": {str(r): 100 * float(v) for r, v in zip(KNEEL_PCK_THRESHOLDS_MM, pck(err, landmarks=pck_landmarks),
                                                            strict=True)},
            "outliers_pct_knees": 100 * float(outlier_rate(err, OUTLIER_THRESHOLD_MM, "case")),
            "outliers_pct_landmarks": 100 * float(outlier_rate(err, OUTLIER_THRESHOLD_MM, "landmark")),
            "mre_mm": float(mean_radial_error(err, pck_landmarks)),
            "mre_all_mm": float(mean_radial_error(err)),
        }

    roi = np.asarray(roi_errors)
    results = {
        "n_images": len(by_image),
        "n_knees": len(rows),
        "second_pass": pipeline.second_pass,
        "pck_landmarks": list(pck_landmarks),
        **summary(e),
        "first_pass": summary(f),
        "roi_error_mm": {"mean": float(roi.mean()), "median": float(np.median(roi)), "max": float(roi.max())},
        "seconds_per_radiograph": float(np.median(seconds)),
    }
    write_text_atomic(out / "results.json", json.dumps(results, indent=1) + "\n")
    header = ["key", "kl", "roi_error_mm", *[f"e{i}_mm" for i in range(POINTS_PER_KNEE)]]
    lines = [",".join(header)]
    lines += [",".join([r["key"], str(r["kl"]), f"{r['roi_error_mm']:.3f}", *[f"{v:.3f}" for v in r["errors_mm"]]])
              for r in rows]
    write_text_atomic(out / "errors.csv", "\n".join(lines) + "\n")
    with open(out / "predictions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "landmark", "x_px", "y_px", "x_mm", "y_mm"])
        for r in rows:
            for i in range(POINTS_PER_KNEE):
                writer.writerow([r["key"], i, *[f"{v:.3f}" for v in (*r["landmarks_px"][i], *r["landmarks_mm"][i])]])
    curves = {"ROI centre (landmark 4)": roi}
    if pipeline.second_pass:
        curves["first pass, landmarks 0,4,8,9,12,15"] = f[:, pck_landmarks].numpy()
    curves["final, landmarks 0,4,8,9,12,15"] = e[:, pck_landmarks].numpy()
    curves["final, all 16 landmarks"] = e.numpy()
    plot_cumulative_errors(curves, out / "cumulative_errors.png")
    return results
