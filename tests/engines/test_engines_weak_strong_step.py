from __future__ import annotations

import pytest
import torch
from ignite.engine import Events
from monai.engines import SupervisedEvaluator, SupervisedTrainer

from hipmonai.engines import WeakStrongStep
from hipmonai.losses.masked_bce import MaskedBCEWithLogitsLoss
from hipmonai.losses.weak_strong import WeakStrongLoss
from hipmonai.networks.multitask_resnet import MultitaskResNet18, predicted_grades


def _batches(n: int = 2, size: int = 4, weak: bool = True) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(5)
    batches = []
    for _ in range(n):
        batch = {
            "image": torch.rand(size, 1, 32, 32, generator=gen),
            "grades": torch.randint(-1, 4, (size, 4), generator=gen),
        }
        if weak:
            batch["is_weak"] = torch.tensor([False, True, True, False])[:size]
            batch["weak_label"] = torch.tensor([-1.0, 1.0, 0.0, -1.0])[:size]
        batches.append(batch)
    return batches


def _net() -> MultitaskResNet18:
    torch.manual_seed(0)
    return MultitaskResNet18(widen_factor=0.0625)


def _train(net, batches, strategy="dual_mil"):
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=batches,
        network=net,
        optimizer=torch.optim.Adam(net.parameters(), lr=1e-2),
        loss_function=WeakStrongLoss(strategy),
        iteration_update=WeakStrongStep(),
    )
    seen = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append([dict(o) for o in e.state.output]))
    trainer.run()
    return seen, trainer


def test_two_iterations_report_the_weak_strong_terms():
    batches = _batches()
    net, reference = _net(), _net()
    seen, trainer = _train(net, batches)
    assert trainer.state.iteration == 2
    first = batches[0]
    reference.train()
    expected = WeakStrongLoss("dual_mil").terms(reference(first["image"]), first["grades"], first["is_weak"],
                                                 first["weak_label"])
    for key in ("loss", "loss_global", "loss_ordinal", "loss_mil"):
        assert seen[0][0][key] == pytest.approx(expected[key].item(), rel=1e-5), key
    assert seen[0][0]["loss_mil"] > 0
    items = seen[0]
    assert items[0]["pred"].shape == (17,) and items[0]["pred_grades"].shape == (4,)
    assert torch.equal(items[0]["grades"], first["grades"][0])
    assert torch.all(items[1]["grades"] == -1) and torch.all(items[2]["label"] == -1)  # weak grades hidden
    assert [bool(i["is_weak"]) for i in items] == [False, True, True, False]


def test_oracle_shows_every_grade():
    batches = _batches(n=1)
    seen, _ = _train(_net(), batches, strategy="oracle")
    assert torch.equal(seen[0][1]["grades"], batches[0]["grades"][1])


def test_evaluator_without_weak_keys_treats_everything_as_strong():
    net = _net()
    batches = _batches(weak=False)
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=batches, network=net,
        iteration_update=WeakStrongStep(loss=WeakStrongLoss("masked")),
    )
    seen = []
    evaluator.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output[0]))
    evaluator.run()
    net.eval()
    with torch.no_grad():
        pred = net(batches[1]["image"])
    expected = WeakStrongLoss("masked")(pred, batches[1]["grades"], torch.zeros(4, dtype=torch.bool), -torch.ones(4))
    assert seen[1]["loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert torch.equal(seen[1]["pred_grades"], predicted_grades(pred)[0])


def test_missing_loss_is_a_clear_error():
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=_batches(n=1), network=_net(), iteration_update=WeakStrongStep()
    )
    with pytest.raises(TypeError, match="WeakStrongLoss"):
        evaluator.run()
    with pytest.raises(TypeError, match="WeakStrongLoss"):
        WeakStrongStep(loss=MaskedBCEWithLogitsLoss())
