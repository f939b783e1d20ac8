"""Iteration function of the ``hip_landmark_labelaug`` bundle: dilated landmark labels per step (Suh et al. 2023).

Batch keys (constructor options; defaults shown):

- ``"image"``: ``(B, 1, W, H)`` images.
- ``"label"``: ``(B, L, 2)`` landmark ``(x, y)`` pixel coordinates of the image, ``NaN`` = missing.

Each call renders the ``(B, L, W, H)`` label maps with the current :attr:`LabelAugmentationStep.dilation` ``k``
(:func:`hipmonai.transforms.label_augmentation.dilated_landmark_labels`; a
:class:`hipmonai.handlers.LabelCurriculum` lowers ``k`` between epochs), so spatial augmentations move the points
and the maps follow. The loss is ``engine.loss_function(pred, maps, valid)``
(:class:`hipmonai.losses.DynamicReweightedBCELoss`). ``engine.state.output``: ``"image"``, ``"label"`` (the
coordinates, so ``HeatmapArgmaxd`` postprocessing and ``LandmarkError`` metrics compare points), ``"pred"``
(``(B, L, W, H)`` logits), ``"loss"`` and ``"label_dilation"`` (0-dim).
"""

from __future__ import annotations

from typing import Any

import torch

from hipmonai.engines.step import EngineStep
from hipmonai.transforms.label_augmentation import check_dilation, dilated_landmark_labels

__all__ = ["LabelAugmentationStep"]


class LabelAugmentationStep(EngineStep):
    """``iteration_update`` for ``SupervisedTrainer`` / ``SupervisedEvaluator`` with label augmentation.

    Args:
        dilation: initial ``k`` (the curriculum handler overwrites it at every epoch start).
        image_key, label_key: batch keys (module docstring).

    Example (bundle config)::

        "train_step": {"_target_": "hipmonai.engines.LabelAugmentationStep", "dilation": 65},
        "iteration_update": "@train_step"
    """

    def __init__(self, dilation: int = 0, image_key: str = "image", label_key: str = "label") -> None:
        self._dilation = check_dilation(dilation)
        self.image_key, self.label_key = image_key, label_key
        super().__init__([image_key, label_key])

    @property
    def dilation(self) -> int:
        return self._dilation

    @dilation.setter
    def dilation(self, value: int) -> None:
        self._dilation = check_dilation(value)

    def forward(self, engine: Any, batch: dict[str, Any]) -> dict[str, Any]:
        image = batch[self.image_key]
        return {"image": image, "label": batch[self.label_key], "pred": engine.inferer(image, engine.network)}

    def losses(self, engine: Any, batch: dict[str, Any], output: dict[str, Any]) -> dict[str, torch.Tensor]:
        pred, points = output["pred"], torch.as_tensor(batch[self.label_key]).to(output["pred"].device)
        if points.ndim != 3 or points.shape[:2] != pred.shape[:2]:
            raise ValueError(f"label must be (B, L, 2) landmarks for (B, L, W, H) = {list(pred.shape)} heatmaps, "
                             f"got {list(points.shape)}.")
        maps = dilated_landmark_labels(points, pred.shape[2:], self._dilation)
        valid = torch.isfinite(points).all(dim=-1)
        return {"loss": engine.loss_function(pred, maps, valid),
                "label_dilation": torch.tensor(float(self._dilation))}
