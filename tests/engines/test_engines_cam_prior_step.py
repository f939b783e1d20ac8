from __future__ import annotations

import pytest
import torch
from ignite.engine import Events
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import StatsHandler

from hipmonai.engines import CAMPriorStep, loss_terms_transform
from hipmonai.losses.cam_prior import LandmarkCAMPriorLoss
from hipmonai.losses.masked_bce import MaskedBCEWithLogitsLoss
from hipmonai.networks.resnet_cam import ResNet18CAM

NAN = float("nan")


def _batches(n: int = 2, size: int = 4) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(11)
    batches = []
    for _ in range(n):
        landmarks = torch.full((size, 4, 3, 2), NAN)
        landmarks[:, :, 0] = torch.rand(size, 4, 2, generator=gen) * 32
        landmarks[0, 3] = NAN  # one target without landmarks
        mask = (torch.rand(size, 4, generator=gen) > 0.25).float()
        batches.append(
            {
                "image": torch.rand(size, 1, 32, 32, generator=gen),
                "label": (torch.rand(size, 4, generator=gen) > 0.5).float(),
                "label_mask": mask,
                "target_landmarks": landmarks,
            }
        )
    return batches


def _net(return_features: bool = True) -> ResNet18CAM:
    torch.manual_seed(0)
    return ResNet18CAM(widen_factor=0.0625, return_features=return_features)


def _train(net, batches, step=None, loss=None, **kwargs) -> tuple[list[dict], SupervisedTrainer]:
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=batches,
        network=net,
        optimizer=torch.optim.Adam(net.parameters(), lr=1e-2),
        loss_function=MaskedBCEWithLogitsLoss() if loss is None else loss,
        iteration_update=step,
        **kwargs,
    )
    seen = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(dict(e.state.output[0])))
    trainer.run()
    return seen, trainer


@pytest.mark.parametrize("accumulation_steps", [1, 2])
def test_lambda_zero_is_exactly_the_masked_bce_baseline(accumulation_steps):
    batches = _batches(n=3)
    step_net, plain_net = _net(), _net(return_features=False)
    seen, _ = _train(step_net, batches, CAMPriorStep(lambda_prior=0.0), accumulation_steps=accumulation_steps)
    # the baseline: MONAI's own iteration on the logits-only network, unknown labels encoded as -1
    plain_batches = [
        {"image": b["image"], "label": torch.where(b["label_mask"] > 0, b["label"], torch.full_like(b["label"], -1))}
        for b in batches
    ]
    plain_seen, _ = _train(plain_net, plain_batches, accumulation_steps=accumulation_steps)
    assert [s["loss"] for s in seen] == [s["loss"] for s in plain_seen]  # decollation gives python floats
    assert all(s["loss_prior"] == 0.0 and s["loss_bce"] == s["loss"] for s in seen)
    for (name, a), b in zip(step_net.state_dict().items(), plain_net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_lambda_zero_does_not_need_landmarks():
    batches = [{k: v for k, v in b.items() if k != "target_landmarks"} for b in _batches()]
    seen, _ = _train(_net(), batches, CAMPriorStep(lambda_prior=0.0))
    assert len(seen) == 2


def test_lambda_positive_adds_the_prior_of_the_differentiable_cams():
    batches = _batches()
    net, reference = _net(), _net()
    prior = LandmarkCAMPriorLoss(radius_px=4, sigma_px=6)
    seen, trainer = _train(net, batches, CAMPriorStep(lambda_prior=2.0, prior_loss=prior))
    first = batches[0]
    reference.train()
    logits, features = reference(first["image"])
    expected_bce = MaskedBCEWithLogitsLoss()(logits, first["label"], first["label_mask"])
    expected_prior = prior(reference.class_activation_maps(features), first["target_landmarks"], input_size=(32, 32))
    assert seen[0]["loss_bce"] == pytest.approx(expected_bce.item(), rel=1e-5)
    assert seen[0]["loss_prior"] == pytest.approx(expected_prior.item(), rel=1e-5)
    assert seen[0]["loss_prior"] > 0
    assert seen[0]["loss"] == pytest.approx(expected_bce.item() + 2.0 * expected_prior.item(), rel=1e-5)
    assert set(seen[0]) >= {"image", "label", "label_mask", "pred", "loss", "loss_bce", "loss_prior"}
    assert "features" not in seen[0] and seen[0]["pred"].shape == (4,)  # decollated per sample
    assert trainer.state.iteration == 2


def test_prior_changes_the_update_compared_with_baseline():
    batches = _batches(n=1)
    baseline, guided = _net(), _net()
    _train(baseline, batches, CAMPriorStep(lambda_prior=0.0))
    _train(guided, batches, CAMPriorStep(lambda_prior=2.0))
    assert not torch.equal(baseline.fc.weight, guided.fc.weight)
    assert not torch.equal(baseline.layer1[0].conv1.weight, guided.layer1[0].conv1.weight)


@pytest.mark.parametrize("prior_in_eval_loss", [False, True])
def test_evaluator_reports_losses_without_updating(prior_in_eval_loss):
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    step = CAMPriorStep(lambda_prior=2.0, prior_in_eval_loss=prior_in_eval_loss)
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=_batches(), network=net, iteration_update=step
    )
    seen = []
    evaluator.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output[0]))
    evaluator.run()
    assert len(seen) == 2 and seen[0]["loss_prior"] > 0
    expected = seen[0]["loss_bce"] + (2.0 * seen[0]["loss_prior"] if prior_in_eval_loss else 0.0)
    assert seen[0]["loss"] == pytest.approx(expected, rel=1e-6)
    net.eval()
    with torch.no_grad():
        logits, _ = net(_batches()[0]["image"])
    first = _batches()[0]
    assert seen[0]["loss_bce"] == pytest.approx(
        MaskedBCEWithLogitsLoss()(logits, first["label"], first["label_mask"]).item(), rel=1e-5
    )
    for name, value in net.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0, msg=name)


def test_custom_keys_and_stats_transform():
    batches = [
        {"img": b["image"], "y": torch.where(b["label_mask"] > 0, b["label"], -1.0), "zones": b["target_landmarks"]}
        for b in _batches(n=1)
    ]
    step = CAMPriorStep(lambda_prior=1.0, image_key="img", label_key="y", mask_key=None, landmarks_key="zones")
    seen, trainer = _train(_net(), batches, step)
    values = loss_terms_transform(["loss", "loss_bce", "loss_prior", "absent"])(trainer.state.output)
    assert set(values) == {"loss", "loss_bce", "loss_prior"} and all(isinstance(v, float) for v in values.values())
    assert values["loss"] == pytest.approx(values["loss_bce"] + values["loss_prior"], rel=1e-5)
    assert loss_terms_transform()(None) == {}
    StatsHandler(output_transform=loss_terms_transform(["loss", "loss_prior"])).iteration_completed(trainer)


def test_errors_name_the_problem():
    with pytest.raises(KeyError, match="target_landmarks"):
        _train(_net(), [{k: v for k, v in b.items() if k != "target_landmarks"} for b in _batches(n=1)],
               CAMPriorStep(lambda_prior=1.0))
    with pytest.raises(TypeError, match=r"\(logits, features\)"):
        _train(_net(return_features=False), _batches(n=1), CAMPriorStep())
    with pytest.raises(ValueError, match="lambda_prior"):
        CAMPriorStep(lambda_prior=-1.0)


def test_bce_loss_option_replaces_the_engine_loss():
    batches = _batches(n=1)
    pos_weight = torch.tensor([1.0, 2.0, 3.0, 4.0])
    weighted = MaskedBCEWithLogitsLoss(pos_weight=pos_weight)
    seen, _ = _train(_net(), batches, CAMPriorStep(lambda_prior=0.0, bce_loss=weighted))
    reference = _net().train()
    logits, _ = reference(batches[0]["image"])
    expected = weighted(logits, batches[0]["label"], batches[0]["label_mask"])
    assert seen[0]["loss"] == pytest.approx(expected.item(), rel=1e-5)
