"""Base class of hipmonai's iteration functions for MONAI's Ignite engines.

A step is passed as ``iteration_update`` to :class:`monai.engines.SupervisedTrainer` *and*
:class:`monai.engines.SupervisedEvaluator`; it reads the keys it needs from the batch dictionary, runs the
network, computes the loss and its parts, and returns ``engine.state.output``. With a trainer it reproduces
``SupervisedTrainer._iteration`` (train mode, zero_grad, AMP through ``engine.scaler``, gradient accumulation,
``IterationEvents``); with an evaluator it runs under ``engine.mode`` (eval + no_grad) and still reports the loss,
so validation-loss model selection (Chen et al. section 3.2) needs no second forward pass.

Loss parts are 0-dim tensors in the output, so ``StatsHandler`` / ``TensorBoardStatsHandler`` can plot them with
``output_transform=hipmonai.engines.loss_terms_transform()`` (works on the decollated list as well).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from monai.data import MetaTensor
from monai.engines import Evaluator, Trainer
from monai.engines.utils import IterationEvents

__all__ = ["EngineStep", "loss_terms_transform", "unwrap_network"]


def unwrap_network(network: torch.nn.Module) -> torch.nn.Module:
    """The module inside ``DataParallel`` / ``DistributedDataParallel`` wrappers (itself otherwise)."""
    while isinstance(network, torch.nn.DataParallel | torch.nn.parallel.DistributedDataParallel):
        network = network.module
    return network


def loss_terms_transform(keys: Sequence[str] = ("loss",)) -> Callable[[Any], dict[str, float]]:
    """``output_transform`` for stats handlers: ``{key: float}`` for ``keys`` present in the engine output.

    Accepts the output dict or the decollated list of per-sample dicts (loss values are replicated there).
    """
    keys = tuple(keys)

    def _transform(output: Any) -> dict[str, float]:
        first = output[0] if isinstance(output, Sequence) and not isinstance(output, Mapping) and output else output
        if not isinstance(first, Mapping):
            return {}
        return {k: float(torch.as_tensor(first[k]).detach().float().mean()) for k in keys if k in first}

    return _transform


class EngineStep(ABC):
    """Iteration function shared by trainer and evaluator; subclasses define :meth:`forward` and :meth:`losses`.

    Args:
        keys: batch keys to move to the engine's device (other entries are passed through untouched).
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)

    def prepare(self, engine: Any, batchdata: Mapping[str, Any]) -> dict[str, Any]:
        """Check the batch has every key and move those tensors (``MetaTensor`` -> plain) to ``engine.state.device``."""
        if not isinstance(batchdata, Mapping):
            raise TypeError(f"{type(self).__name__} needs a dictionary batch, got {type(batchdata).__name__}.")
        missing = [k for k in self.keys if k not in batchdata]
        if missing:
            raise KeyError(f"{type(self).__name__}: batch lacks keys {missing} (has {sorted(map(str, batchdata))}).")
        batch = dict(batchdata)
        kwargs = getattr(engine, "to_kwargs", {}) or {}
        for key in self.keys:
            value = batch[key]
            if isinstance(value, MetaTensor):
                value = value.as_tensor()
            if isinstance(value, torch.Tensor):
                value = value.to(device=engine.state.device, non_blocking=engine.non_blocking, **kwargs)
            batch[key] = value
        return batch

    @abstractmethod
    def forward(self, engine: Any, batch: dict[str, Any]) -> dict[str, Any]:
        """Run ``engine.network``; return the output entries (at least ``"pred"``, plus image/label for handlers)."""

    @abstractmethod
    def losses(self, engine: Any, batch: dict[str, Any], output: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The total ``"loss"`` (with graph when training) and its named parts."""

    def _forward_and_loss(self, engine: Any, batch: dict[str, Any]) -> None:
        engine.state.output.update(self.forward(engine, batch))
        engine.fire_event(IterationEvents.FORWARD_COMPLETED)
        terms = self.losses(engine, batch, engine.state.output)
        engine.state.output.update({k: (v if k == "loss" else v.detach()) for k, v in terms.items()})
        engine.fire_event(IterationEvents.LOSS_COMPLETED)

    def __call__(self, engine: Any, batchdata: Mapping[str, Any]) -> dict[str, Any]:
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        if isinstance(engine, Trainer):
            return self._train(engine, batchdata)
        if isinstance(engine, Evaluator):
            return self._evaluate(engine, batchdata)
        raise TypeError(f"{type(self).__name__} runs in a MONAI Trainer or Evaluator, got {type(engine).__name__}.")

    def _train(self, engine: Any, batchdata: Mapping[str, Any]) -> dict[str, Any]:
        batch = self.prepare(engine, batchdata)
        engine.state.output = {}
        acc = int(getattr(engine, "accumulation_steps", 1))
        local_iter = engine.state.iteration - 1
        epoch_length = engine.state.epoch_length
        if epoch_length is not None:
            local_iter %= epoch_length
        should_zero_grad = local_iter % acc == 0
        should_step = (local_iter + 1) % acc == 0 or (epoch_length is not None and local_iter + 1 == epoch_length)
        engine.network.train()
        if should_zero_grad:
            engine.optimizer.zero_grad(set_to_none=getattr(engine, "optim_set_to_none", False))
        if engine.amp and engine.scaler is not None:
            with torch.autocast("cuda", **engine.amp_kwargs):
                self._forward_and_loss(engine, batch)
            loss = engine.state.output["loss"]
            engine.scaler.scale(loss / acc if acc > 1 else loss).backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            if should_step:
                engine.scaler.step(engine.optimizer)
                engine.scaler.update()
        else:
            self._forward_and_loss(engine, batch)
            loss = engine.state.output["loss"]
            (loss / acc if acc > 1 else loss).backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            if should_step:
                engine.optimizer.step()
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output

    def _evaluate(self, engine: Any, batchdata: Mapping[str, Any]) -> dict[str, Any]:
        batch = self.prepare(engine, batchdata)
        engine.state.output = {}
        with engine.mode(engine.network):
            if engine.amp:
                with torch.autocast("cuda", **engine.amp_kwargs):
                    self._forward_and_loss(engine, batch)
            else:
                self._forward_and_loss(engine, batch)
        engine.state.output["loss"] = engine.state.output["loss"].detach()
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
