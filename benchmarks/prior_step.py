"""Cost of one training step with the landmark CAM prior against a baseline step at the same batch.

Both steps run through MONAI's ``SupervisedTrainer`` with :class:`hipmonai.engines.CAMPriorStep` (lambda = 2 and
lambda = 0) on the same network shape and the same in-memory batch, so the ratio isolates the prior: CAMs from the
fc weights, the plateau Gaussian penalty and their backward pass. Steps alternate between the two arms (to share
any CPU contention) after warm-up; the median step time of each arm is reported.

    .venv/bin/python benchmarks/prior_step.py                                   # demo scale: 128 px, width 0.5
    .venv/bin/python benchmarks/prior_step.py --image-size 224 --widen 1 --batch 64  # paper scale
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from monai.engines import SupervisedTrainer

from hipmonai.engines import CAMPriorStep
from hipmonai.losses import LandmarkCAMPriorLoss, MaskedBCEWithLogitsLoss
from hipmonai.networks import ResNet18CAM


def make_batch(batch: int, size: int, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    landmarks = torch.full((batch, 4, 4, 2), float("nan"))
    landmarks[:, :, :2] = torch.rand(batch, 4, 2, 2, generator=gen) * (size - 1)
    return {
        "image": torch.rand(batch, 1, size, size, generator=gen),
        "label": (torch.rand(batch, 4, generator=gen) > 0.6).float(),
        "label_mask": (torch.rand(batch, 4, generator=gen) > 0.1).float(),
        "target_landmarks": landmarks,
    }


def make_trainer(lambda_prior: float, args: argparse.Namespace, batch: dict) -> SupervisedTrainer:
    torch.manual_seed(args.seed)
    net = ResNet18CAM(widen_factor=args.widen)
    scale = args.image_size / 224
    step = CAMPriorStep(lambda_prior=lambda_prior,
                        prior_loss=LandmarkCAMPriorLoss(20 * scale, 30 * scale, (args.image_size, args.image_size)))
    return SupervisedTrainer(device=torch.device("cpu"), max_epochs=1, train_data_loader=[batch], network=net,
                             optimizer=torch.optim.Adam(net.parameters(), 1e-4),
                             loss_function=MaskedBCEWithLogitsLoss(), iteration_update=step, decollate=False)


def one_step(trainer: SupervisedTrainer, batch: dict) -> float:
    trainer.state.iteration = 1
    trainer.state.epoch_length = 1
    started = time.perf_counter()
    trainer._process_function(trainer, batch)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=128, help="square input side in px (demo 128, paper 224)")
    parser.add_argument("--widen", type=float, default=0.5, help="ResNet-18 widen_factor (demo 0.5, paper 1)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (demo 32, paper 64)")
    parser.add_argument("--steps", type=int, default=10, help="measured steps per arm")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured steps per arm")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch = make_batch(args.batch, args.image_size, args.seed)
    trainers = {"baseline": make_trainer(0.0, args, batch), "prior": make_trainer(2.0, args, batch)}
    for trainer in trainers.values():
        trainer.state.device = torch.device("cpu")
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for i in range(args.warmup + args.steps):
        for name, trainer in trainers.items():
            elapsed = one_step(trainer, batch)
            if i >= args.warmup:
                times[name].append(elapsed)
    base, prior = statistics.median(times["baseline"]), statistics.median(times["prior"])
    print(f"input {args.image_size} px, widen_factor {args.widen}, batch {args.batch}, {args.threads} threads, "
          f"{args.steps} steps per arm (median)")
    print(f"baseline step (lambda=0): {base * 1000:.1f} ms")
    print(f"prior step    (lambda=2): {prior * 1000:.1f} ms")
    print(f"ratio prior / baseline:   {prior / base:.3f}  (target <= 1.15)")


if __name__ == "__main__":
    main()
