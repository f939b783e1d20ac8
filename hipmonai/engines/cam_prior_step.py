"""Iteration function of the ``hip_osteophyte_prior`` bundle: ``L = L_BCE + lambda * L_prior`` (Chen et al. eq. (8)).

Batch keys (constructor options; defaults shown), as :class:`hipmonai.data.LoadHipScand` +
:class:`hipmonai.transforms.target_landmarks.TargetLandmarksd` + collation give them:

- ``"image"``: ``(B, 1, W, H)`` float images (x before y).
- ``"label"``: ``(B, 4)`` float binary targets in :data:`hipmonai.io.TARGETS` order (value at unknown entries ignored).
- ``"label_mask"``: ``(B, 4)``, ``> 0`` where the label is known (``mask_key=None``: unknown = label ``-1``).
- ``"target_landmarks"``: ``(B, 4, P, 2)`` ``(x, y)`` input pixels, ``NaN``-padded (only read when ``lambda > 0``).

``engine.state.output`` (before decollation): ``"image"``, ``"label"``, ``"label_mask"``, ``"pred"`` (logits
``(B, 4)``), ``"loss"`` (total, with graph during training), ``"loss_bce"``, ``"loss_prior"`` (detached 0-dim).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from monai.engines import Trainer

from hipmonai.engines.step import EngineStep, unwrap_network
from hipmonai.losses.cam_prior import LandmarkCAMPriorLoss
from hipmonai.losses.masked_bce import MaskedBCEWithLogitsLoss

__all__ = ["CAMPriorStep"]


class CAMPriorStep(EngineStep):
    """``iteration_update`` for ``SupervisedTrainer`` / ``SupervisedEvaluator`` with the landmark CAM prior.

    The network must return ``(logits, features)`` (:class:`hipmonai.networks.resnet_cam.ResNet18CAM` with
    ``return_features=True``) and offer ``class_activation_maps(features)``; CAMs are computed from the features
    in the same graph, so the prior trains the backbone and the classifier weights. ``L_BCE`` is
    ``bce_loss(logits, label, mask)`` (``(logits, label)`` when ``mask_key=None``) with ``bce_loss`` the constructor
    argument, else the trainer's ``loss_function``, else (an evaluator has none)
    :class:`~hipmonai.losses.masked_bce.MaskedBCEWithLogitsLoss`.
    With ``lambda_prior=0`` no CAM or prior is computed: the step is exactly the masked-BCE baseline and reports
    ``loss_prior = 0``.

    In an evaluator the reported ``"loss"`` is ``L_BCE`` alone by default — Chen et al. (section 3.2) add the prior
    "during the training phase only" and selects ``(lambda, r, sigma)`` by the lowest validation loss, which must
    therefore be comparable across ``lambda`` — while ``"loss_prior"`` is still computed and reported for monitoring;
    ``prior_in_eval_loss=True`` makes the evaluator's ``"loss"`` the full ``L_BCE + lambda * L_prior``.

    Args:
        lambda_prior: weight ``lambda`` of the prior (Chen et al. default 2; 0 = baseline), >= 0.
        prior_loss: the prior (default ``LandmarkCAMPriorLoss()``: r = 20 px, sigma = 30 px); its ``input_size`` is
            replaced by each batch's image size.
        bce_loss: the classification loss (default: see above).
        prior_in_eval_loss: include ``lambda * L_prior`` in an evaluator's ``"loss"`` (default ``False``).
        image_key, label_key, mask_key, landmarks_key: batch keys (module docstring).

    Example (bundle config)::

        "iteration_update": {"_target_": "hipmonai.engines.CAMPriorStep", "lambda_prior": 2.0,
                             "prior_loss": {"_target_": "hipmonai.losses.LandmarkCAMPriorLoss",
                                            "radius_px": 20, "sigma_px": 30}}
    """

    def __init__(
        self,
        lambda_prior: float = 2.0,
        prior_loss: LandmarkCAMPriorLoss | None = None,
        bce_loss: Callable[..., torch.Tensor] | None = None,
        prior_in_eval_loss: bool = False,
        image_key: str = "image",
        label_key: str = "label",
        mask_key: str | None = "label_mask",
        landmarks_key: str = "target_landmarks",
    ) -> None:
        if not lambda_prior >= 0:
            raise ValueError(f"lambda_prior must be >= 0, got {lambda_prior}.")
        self.lambda_prior = float(lambda_prior)
        self.prior_loss = LandmarkCAMPriorLoss() if prior_loss is None else prior_loss
        self.bce_loss = bce_loss
        self.prior_in_eval_loss = bool(prior_in_eval_loss)
        self._default_bce = MaskedBCEWithLogitsLoss()
        self.image_key, self.label_key = image_key, label_key
        self.mask_key, self.landmarks_key = mask_key, landmarks_key
        keys = [image_key, label_key]
        if mask_key is not None:
            keys.append(mask_key)
        if self.lambda_prior > 0:
            keys.append(landmarks_key)
        super().__init__(keys)

    def forward(self, engine: Any, batch: dict[str, Any]) -> dict[str, Any]:
        image = batch[self.image_key]
        out = engine.inferer(image, engine.network)
        if not (isinstance(out, tuple | list) and len(out) == 2):
            raise TypeError(
                "CAMPriorStep needs a network returning (logits, features), e.g. ResNet18CAM(return_features=True); "
                f"got {type(out).__name__}."
            )
        logits, features = out
        output = {"image": image, "label": batch[self.label_key], "pred": logits, "features": features}
        if self.mask_key is not None:
            output["label_mask"] = batch[self.mask_key]
        return output

    def losses(self, engine: Any, batch: dict[str, Any], output: dict[str, Any]) -> dict[str, torch.Tensor]:
        logits, features = output["pred"], output.pop("features")
        label = batch[self.label_key].to(logits.dtype)
        bce = self.bce_loss if self.bce_loss is not None else getattr(engine, "loss_function", None)
        if bce is None:
            bce = self._default_bce
        loss_bce = bce(logits, label) if self.mask_key is None else bce(logits, label, batch[self.mask_key])
        if self.lambda_prior == 0:
            loss_prior = logits.new_zeros(())
            return {"loss": loss_bce, "loss_bce": loss_bce, "loss_prior": loss_prior}
        cams = unwrap_network(engine.network).class_activation_maps(features)
        landmarks = batch[self.landmarks_key]
        loss_prior = self.prior_loss(cams.float(), landmarks, input_size=tuple(batch[self.image_key].shape[2:]))
        if isinstance(engine, Trainer) or self.prior_in_eval_loss:
            total = loss_bce + self.lambda_prior * loss_prior
        else:
            total = loss_bce
        return {"loss": total, "loss_bce": loss_bce, "loss_prior": loss_prior}
