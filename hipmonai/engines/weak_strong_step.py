"""Iteration function of the ``hip_osteophyte_grading`` bundle (Ye et al. 2026).

Batch keys (constructor options; defaults shown):

- ``"image"``: ``(B, 1, W, H)`` float images (x before y).
- ``"grades"``: ``(B, 4)`` integer OARSI grades in :data:`hipmonai.io.TARGETS` order, ``-1`` = unknown.
- ``"is_weak"``: ``(B,)`` bool, True for weakly labelled samples (absent: every sample is strong, e.g. validation).
- ``"weak_label"``: ``(B,)`` float 1 / 0 / -1 image labels (absent: -1, only read for weak samples).

:func:`hipmonai.data.weak_labels.make_weak_strong_datalist` adds ``is_weak`` and ``weak_label`` to datalist items.

``engine.state.output`` (before decollation): ``"image"``, ``"pred"`` (packed logits ``(B, 1 + 4 * 4)``, see
:mod:`hipmonai.networks.multitask_resnet`), ``"pred_grades"`` (``(B, 4)`` argmax grades), ``"grades"`` and
``"label"`` (``(B, 4)`` grades the loss was allowed to see: a weak sample's grades are ``-1`` except in the oracle
strategy, so training-set metrics cannot peek), ``"is_weak"``, ``"loss"`` and the detached parts ``"loss_global"``,
``"loss_ordinal"``, ``"loss_mil"``.
"""

from __future__ import annotations

from typing import Any

import torch

from hipmonai.engines.step import EngineStep
from hipmonai.io.grades import UNKNOWN_WEAK_LABEL
from hipmonai.losses.weak_strong import WeakStrongLoss
from hipmonai.networks.multitask_resnet import predicted_grades

__all__ = ["WeakStrongStep"]


class WeakStrongStep(EngineStep):
    """``iteration_update`` for ``SupervisedTrainer`` / ``SupervisedEvaluator`` with weak/strong routing.

    The loss is ``loss`` if given, else the trainer's ``loss_function``; it must be a
    :class:`hipmonai.losses.weak_strong.WeakStrongLoss` (its ``terms`` give the logged parts). An evaluator has
    no ``loss_function``: pass the training strategy's loss so the validation loss is comparable. The network
    returns the packed multitask logits (:class:`hipmonai.networks.multitask_resnet.MultitaskResNet18`).

    Args:
        loss: the :class:`~hipmonai.losses.weak_strong.WeakStrongLoss` (default: the engine's ``loss_function``).
        image_key, grades_key, is_weak_key, weak_label_key: batch keys (module docstring).
        num_quadrants: ordinal heads in the packed output.
    """

    def __init__(
        self,
        loss: WeakStrongLoss | None = None,
        image_key: str = "image",
        grades_key: str = "grades",
        is_weak_key: str = "is_weak",
        weak_label_key: str = "weak_label",
        num_quadrants: int = 4,
    ) -> None:
        if loss is not None and not isinstance(loss, WeakStrongLoss):
            raise TypeError(f"loss must be a WeakStrongLoss, got {type(loss).__name__}.")
        self.loss = loss
        self.image_key, self.grades_key = image_key, grades_key
        self.is_weak_key, self.weak_label_key = is_weak_key, weak_label_key
        self.num_quadrants = num_quadrants
        super().__init__([image_key, grades_key])

    def prepare(self, engine: Any, batchdata: Any) -> dict[str, Any]:
        batch = super().prepare(engine, batchdata)
        device, size = engine.state.device, batch[self.grades_key].shape[0]
        if self.is_weak_key in batch:
            batch[self.is_weak_key] = torch.as_tensor(batch[self.is_weak_key], device=device).bool().reshape(size)
        else:
            batch[self.is_weak_key] = torch.zeros(size, dtype=torch.bool, device=device)
        if self.weak_label_key in batch:
            weak_label = torch.as_tensor(batch[self.weak_label_key], device=device)
            batch[self.weak_label_key] = weak_label.float().reshape(size)
        else:
            batch[self.weak_label_key] = torch.full((size,), UNKNOWN_WEAK_LABEL, device=device)
        return batch

    def forward(self, engine: Any, batch: dict[str, Any]) -> dict[str, Any]:
        pred = engine.inferer(batch[self.image_key], engine.network)
        if not isinstance(pred, torch.Tensor):
            raise TypeError(f"WeakStrongStep needs a network returning one packed tensor, got {type(pred).__name__}.")
        grades = batch[self.grades_key].long()
        is_weak = batch[self.is_weak_key]
        oracle = self._loss(engine).strategy == "oracle"
        visible = grades if oracle else torch.where(is_weak[:, None], torch.full_like(grades, -1), grades)
        return {
            "image": batch[self.image_key],
            "pred": pred,
            "pred_grades": predicted_grades(pred.detach(), self.num_quadrants),
            "grades": visible,
            "label": visible,
            "is_weak": is_weak,
        }

    def _loss(self, engine: Any) -> WeakStrongLoss:
        loss_fn = self.loss if self.loss is not None else getattr(engine, "loss_function", None)
        if not isinstance(loss_fn, WeakStrongLoss):
            raise TypeError(
                f"WeakStrongStep needs a WeakStrongLoss (argument `loss` or the trainer's loss_function), "
                f"got {type(loss_fn).__name__}."
            )
        return loss_fn

    def losses(self, engine: Any, batch: dict[str, Any], output: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss_fn = self._loss(engine)
        grades, is_weak, weak_label = batch[self.grades_key], batch[self.is_weak_key], batch[self.weak_label_key]
        return loss_fn.terms(output["pred"], grades, is_weak, weak_label)
