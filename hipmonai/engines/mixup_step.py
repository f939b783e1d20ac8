"""Iteration function of the ``knee_landmark_kneel`` bundle: KNEEL's MixUp loss (Tiulpin et al. 2019 §3.3, Eq. 9).

The maths (Eqs. 5-9) lives in :class:`hipmonai.losses.mixup.KneelMixUp`; the engine mechanics (train mode,
zero_grad, AMP, gradient accumulation, ``IterationEvents``, evaluator mode) in
:class:`hipmonai.engines.step.EngineStep`.

Batch keys (constructor options; defaults shown):

- ``"image"``: ``(B, C, W, H)`` images ``x1``.
- ``"label"``: ``(B, M, 2)`` landmarks ``p1`` in the unit the network predicts (normalised ``(x, y)`` for
  :class:`hipmonai.networks.hourglass.KneelHourglassNet`).

``engine.state.output`` (before decollation): ``"image"``, ``"label"``, ``"pred"`` (``o1``, the output on the
*unmixed* images, so training metrics describe real images), ``"loss"`` (Eq. 9 with graph during training) and the
detached 0-dim parts ``"loss_original"`` (``L(p1, o1)``), ``"loss_mixed"`` (``L(p2, o')``), ``"mixup_lambda"``,
``"mixup_lambda_prime"``. In a ``SupervisedEvaluator`` nothing is mixed: ``"loss"`` = ``"loss_original"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.engines import Trainer

from hipmonai.engines.step import EngineStep
from hipmonai.losses.mixup import KneelMixUp

__all__ = ["MixUpStep"]


class MixUpStep(EngineStep):
    """``iteration_update`` for ``SupervisedTrainer`` / ``SupervisedEvaluator`` with KNEEL's MixUp (Eqs. 5-9).

    Each training call draws ``lambda`` and a batch permutation, runs the network twice — on the original images
    ``x1`` (output ``o1``) and on the mixed images ``x' = lambda' x1 + (1 - lambda') x2`` (output ``o'``); two separate
    forward passes as in the authors' code, so batch-norm statistics are never pooled over clean and mixed images —
    and back-propagates ``w1 L(p1, o1) + w2 L(p2, o')`` with ``L = engine.loss_function`` (averaged if not scalar).

    Args:
        alpha: Beta parameter of Eq. 5 (paper: 0.75).
        weight_by: ``"lambda"`` (paper) or ``"lambda_prime"``, see :class:`~hipmonai.losses.mixup.KneelMixUp`.
        seed: seed of the draws; ``None`` leaves MONAI's global random state in charge.
        image_key, label_key: batch keys (module docstring).

    Example (bundle config)::

        "iteration_update": {"_target_": "hipmonai.engines.mixup_step.MixUpStep", "alpha": 0.75, "seed": 42}
    """

    def __init__(
        self,
        alpha: float = 0.75,
        weight_by: str = "lambda",
        seed: int | None = None,
        image_key: str = "image",
        label_key: str = "label",
    ) -> None:
        self.mixup = KneelMixUp(alpha=alpha, weight_by=weight_by)
        if seed is not None:
            self.mixup.set_random_state(seed=seed)
        self.image_key, self.label_key = image_key, label_key
        super().__init__([image_key, label_key])

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> MixUpStep:
        """Reseed the draws (MONAI ``Randomizable.set_random_state`` semantics)."""
        self.mixup.set_random_state(seed=seed, state=state)
        return self

    def forward(self, engine: Any, batch: dict[str, Any]) -> dict[str, Any]:
        image = batch[self.image_key]
        output = {"image": image, "label": batch[self.label_key], "pred": engine.inferer(image, engine.network)}
        if isinstance(engine, Trainer):
            self.mixup.randomize(image.shape[0])
            output["pred_mixed"] = engine.inferer(self.mixup.mix(image), engine.network)
        return output

    def losses(self, engine: Any, batch: dict[str, Any], output: dict[str, Any]) -> dict[str, torch.Tensor]:
        pred, label = output["pred"], batch[self.label_key]
        if "pred_mixed" not in output:
            loss_original = engine.loss_function(pred, label).mean()
            return {"loss": loss_original, "loss_original": loss_original}
        loss_original, loss_mixed = self.mixup.terms(engine.loss_function, pred, label, output.pop("pred_mixed"))
        return {
            "loss": self.mixup.combine(loss_original, loss_mixed),
            "loss_original": loss_original,
            "loss_mixed": loss_mixed,
            "mixup_lambda": torch.tensor(self.mixup.lam),
            "mixup_lambda_prime": torch.tensor(self.mixup.lam_prime),
        }
