"""Cost of the Grad-CAM evaluation of a split against plain inference on it (acceptance bound: at most 3x).

Loads the split once into memory (so data loading is excluded from both), then times, alternating the arms:

- plain inference: the network's forward pass (logits) over every batch, ``torch.no_grad``;
- Grad-CAM evaluation: :meth:`hipmonai.evaluation.GradCAMEvaluator.evaluate` -- probabilities, Grad-CAM of all four
  targets on the last convolutional stage (monai.visualize.GradCAM, upsampled, normalised) and every localisation
  metric (distances, spread, pointing game, energy inside the lesion mask);
- for reference, Grad-CAM with MONAI's hooks on the whole network (:class:`hipmonai.metrics.GradCAMExtractor`), one
  forward and full backward pass per target.

    .venv/bin/python benchmarks/gradcam_cost.py --config configs/train.json configs/demo.json \\
        --checkpoint outputs/hip_prior/demo/prior/model.pt
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hipmonai.evaluation import GradCAMEvaluator
from hipmonai.experiments import bundle_parser, load_checkpoint, split_loader
from hipmonai.metrics import GradCAMExtractor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default="bundles/hip_osteophyte_prior")
    parser.add_argument("--config", nargs="+", default=["configs/train.json", "configs/demo.json"])
    parser.add_argument("--checkpoint", default=None, help="bundle checkpoint (default: untrained weights)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the split per arm (median)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = bundle_parser(args.bundle, args.config)
    network = config.get_parsed_content("network_def")
    if args.checkpoint:
        load_checkpoint(network, args.checkpoint)
    network.eval()
    batches = list(split_loader(config, args.split))
    n_hips = sum(len(b["image"]) for b in batches)
    names = config.get_parsed_content("target_names")
    evaluator = GradCAMEvaluator(network, names)
    full = GradCAMExtractor(network)

    def plain() -> None:
        with torch.no_grad():
            for batch in batches:
                network(batch["image"].as_tensor())

    def gradcam_eval() -> None:
        evaluator.evaluate(batches)

    def full_backward() -> None:
        for batch in batches:
            full(batch["image"].as_tensor(), class_indices=range(len(names)))

    arms = {"plain inference": plain, "Grad-CAM evaluation": gradcam_eval, "full-backward Grad-CAM (reference)":
            full_backward}
    for fn in arms.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(args.repeats):
        for name, fn in arms.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["plain inference"]
    print(f"{args.split} split: {n_hips} hips, {len(batches)} batches, {args.threads} threads, median of "
          f"{args.repeats} passes")
    for name, seconds in medians.items():
        print(f"{name:<38} {seconds:7.2f} s  ({seconds / base:.2f}x plain inference)")
    print(f"ratio Grad-CAM evaluation / plain inference: {medians['Grad-CAM evaluation'] / base:.2f}  (target <= 3)")


if __name__ == "__main__":
    main()
