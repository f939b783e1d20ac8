"""MixUpStep inside MONAI's SupervisedTrainer / SupervisedEvaluator: the step equals Eq. 9 computed by hand."""

from __future__ import annotations

import pytest
import torch
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.engines.utils import IterationEvents
from torch import nn
from torch.utils.data import DataLoader

from hipmonai.engines.mixup_step import MixUpStep
from hipmonai.losses.mixup import KneelMixUp

EVENTS = [
    IterationEvents.FORWARD_COMPLETED,
    IterationEvents.LOSS_COMPLETED,
    IterationEvents.BACKWARD_COMPLETED,
    IterationEvents.MODEL_COMPLETED,
]


class _Linear(nn.Module):
    """(B, 1, 4, 4) image -> (B, 1, 2) landmark, so the MixUp gradient is easy to recompute."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))[:, None, :]


def _data(n: int = 4, image_key: str = "image", label_key: str = "label") -> list[dict]:
    g = torch.Generator().manual_seed(0)
    return [{image_key: torch.randn(1, 4, 4, generator=g), label_key: torch.rand(1, 2, generator=g)} for _ in range(n)]


def _trainer(network: nn.Module, step: MixUpStep, data: list[dict], decollate: bool, batch_size: int = 4, **kwargs):
    return SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=DataLoader(data, batch_size=batch_size, shuffle=False),
        network=network,
        optimizer=torch.optim.SGD(network.parameters(), lr=0.1),
        loss_function=nn.L1Loss(),
        iteration_update=step,
        decollate=decollate,
        **kwargs,
    )


@pytest.mark.parametrize("weight_by", ["lambda", "lambda_prime"])
def test_one_step_matches_eq9_by_hand(weight_by):
    torch.manual_seed(0)
    network, reference = _Linear(), _Linear()
    reference.load_state_dict(network.state_dict())
    data = _data()
    trainer = _trainer(network, MixUpStep(alpha=0.75, weight_by=weight_by, seed=1), data, decollate=False)
    fired = []
    for event in EVENTS:
        trainer.add_event_handler(event, lambda engine, e=event: fired.append(e))
    trainer.run()

    # The same step by hand: same draw (same seed), Eq. 7 mixing with lambda', Eq. 9 weights.
    draw = KneelMixUp(alpha=0.75).set_random_state(seed=1)
    draw.randomize(len(data))
    assert draw.lam < 0.5  # seed 1: lambda = 0.325, so lambda and lambda' weights differ
    w = draw.lam if weight_by == "lambda" else draw.lam_prime
    x = torch.stack([d["image"] for d in data])
    p1 = torch.stack([d["label"] for d in data])
    perm = torch.as_tensor(draw.permutation)
    x_mixed = draw.lam_prime * x + (1 - draw.lam_prime) * x[perm]
    pred_before_step = reference(x).detach()
    loss_original = (reference(x) - p1).abs().mean()
    loss_mixed = (reference(x_mixed) - p1[perm]).abs().mean()
    loss = w * loss_original + (1 - w) * loss_mixed
    loss.backward()
    with torch.no_grad():
        for p in reference.parameters():
            p -= 0.1 * p.grad

    output = trainer.state.output
    assert float(output["loss"]) == pytest.approx(float(loss), rel=1e-6)
    assert float(output["loss_original"]) == pytest.approx(float(loss_original), rel=1e-6)
    assert float(output["loss_mixed"]) == pytest.approx(float(loss_mixed), rel=1e-6)
    assert float(output["mixup_lambda"]) == pytest.approx(draw.lam)
    assert float(output["mixup_lambda_prime"]) == pytest.approx(draw.lam_prime)
    torch.testing.assert_close(output["pred"].detach(), pred_before_step)  # o1: the unmixed images
    assert "pred_mixed" not in output
    for got, expected in zip(network.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(got, expected)
    assert fired == EVENTS


def test_seeded_runs_repeat_and_decollate_works():
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        trainer = _trainer(_Linear(), MixUpStep(seed=3), _data(), decollate=True)
        trainer.run()
        output = trainer.state.output
        assert isinstance(output, list) and len(output) == 4  # decollated per image by the trainer
        losses.append(float(output[0]["loss"]))
    assert losses[0] == losses[1]


def test_custom_keys():
    torch.manual_seed(0)
    step = MixUpStep(seed=0, image_key="img", label_key="landmarks")
    trainer = _trainer(_Linear(), step, _data(image_key="img", label_key="landmarks"), decollate=False)
    trainer.run()
    assert trainer.state.output["label"].shape == (4, 1, 2)
    with pytest.raises(KeyError, match=r"batch lacks keys \['img', 'landmarks'\]"):
        _trainer(_Linear(), MixUpStep(image_key="img", label_key="landmarks"), _data(), decollate=False).run()


def test_evaluator_does_not_mix():
    torch.manual_seed(0)
    network = _Linear()
    data = _data()
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=DataLoader(data, batch_size=4),
        network=network,
        iteration_update=MixUpStep(seed=0),
        decollate=False,
    )
    evaluator.loss_function = nn.L1Loss()
    evaluator.run()
    x = torch.stack([d["image"] for d in data])
    p1 = torch.stack([d["label"] for d in data])
    with torch.no_grad():
        expected = (network(x) - p1).abs().mean()
    assert float(evaluator.state.output["loss"]) == pytest.approx(float(expected), rel=1e-6)
    assert "loss_mixed" not in evaluator.state.output


def test_gradient_accumulation_flushes_at_epoch_end():
    torch.manual_seed(0)
    network = _Linear()
    before = [p.detach().clone() for p in network.parameters()]
    trainer = _trainer(
        network, MixUpStep(seed=0), _data(4), decollate=False, batch_size=2, epoch_length=1, accumulation_steps=2
    )
    trainer.run()
    assert any(not torch.equal(a, b) for a, b in zip(before, network.parameters(), strict=True))


def test_set_random_state_reseeds():
    step = MixUpStep()
    assert step.set_random_state(seed=8) is step
    step.mixup.randomize(4)
    again = KneelMixUp().set_random_state(seed=8)
    again.randomize(4)
    assert step.mixup.lam == again.lam


def test_bad_options():
    with pytest.raises(ValueError, match="alpha must be positive, got -1"):
        MixUpStep(alpha=-1)
    with pytest.raises(ValueError, match="weight_by must be one of"):
        MixUpStep(weight_by="both")
