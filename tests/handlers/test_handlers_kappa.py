from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from sklearn.metrics import cohen_kappa_score

from hipmonai.handlers import QuadraticWeightedKappa


def _engine(outputs: list) -> Engine:
    return Engine(lambda engine, batch: outputs[engine.state.iteration - 1])


def test_attached_handler_reports_mean_kappa_like_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, size=(30, 4))
    y_pred = np.clip(y + rng.integers(-1, 2, size=y.shape), 0, 3)
    y[0, 2] = -1
    # decollated engine output: one dict per sample, as WeakStrongStep + SupervisedEvaluator give
    batches = [
        [{"pred_grades": torch.as_tensor(p), "grades": torch.as_tensor(t)} for p, t in zip(y_pred[i:i + 10],
                                                                                            y[i:i + 10], strict=True)]
        for i in range(0, 30, 10)
    ]
    engine = _engine(batches)
    QuadraticWeightedKappa().attach(engine, "mean_kappa")
    engine.run(range(3), max_epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.mean([
            cohen_kappa_score(y[y[:, q] >= 0, q], y_pred[y[:, q] >= 0, q], weights="quadratic", labels=[0, 1, 2, 3])
            for q in range(4)
        ])
    assert engine.state.metrics["mean_kappa"] == pytest.approx(expected)
    assert engine.state.metric_details["mean_kappa"].shape == (30, 2, 4)


def test_per_quadrant_reduction_and_custom_transform():
    outputs = [{"p": torch.tensor([[0, 1], [2, 3]]), "t": torch.tensor([[0, 1], [2, 2]])}]
    engine = _engine(outputs)
    QuadraticWeightedKappa(reduction="none", output_transform=lambda o: (o["p"], o["t"]), save_details=False).attach(
        engine, "kappa"
    )
    engine.run([0], max_epochs=1)
    kappas = engine.state.metrics["kappa"]
    assert kappas.shape == (2,) and kappas[0].item() == pytest.approx(1.0)
