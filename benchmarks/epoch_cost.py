"""What does training at the papers' scale cost per epoch on this machine? Seconds per iteration, images per second,
peak memory and the time for 1000 training images, for each bundle's network at its ``train.json`` defaults.

For each bundle the network is built from its packaged ``train.json`` (``network_def`` with the paper defaults:
ResNet-18 at 224 px, batch 64 and 32; U-Net at 512 px, batch 8; KNEEL hourglass width 24, depth 6 on the 467 px
landmark crop, batch 16), with the config's optimizer (Adam at its learning rate). One iteration is a forward pass on
a random batch of the paper's input size, a scalar loss (the mean of the output: the bundles' own losses, the CAM
prior and the heatmap BCE, add little next to the network) and the optimizer step; data loading and augmentation
are not included, so this is the floor of an epoch. After ``--warmup`` iterations, ``--iterations`` are timed
(median). Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on the CPU each bundle runs in a forked child
process and the figure is the growth of its peak resident set (``ru_maxrss``) over its size at the start (a rough
figure: it includes the allocator's caches).

Run on the machine you will train on (here: 2 CPU cores, one thread per process)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/epoch_cost.py --device cpu --iterations 3
    .venv/bin/python benchmarks/epoch_cost.py --device cuda:0 --iterations 20       # on a GPU machine
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from hipmonai.paths import bundle_template_dir

# config ids that train.json reads from the training data, at the papers' values (what the data would give)
PAPER_INPUTS: dict[str, dict[str, object]] = {
    "hip_osteophyte_prior": {},
    "hip_osteophyte_grading": {},
    "hip_landmark_labelaug": {"image_size_px": 512, "n_landmarks": 28},
    "knee_landmark_kneel": {"input_size_px": [467, 467], "init_from_roi": False},
}


@dataclass
class CostRow:
    """One bundle's measured training cost."""

    bundle: str
    input_shape: tuple[int, ...]
    batch_size: int
    seconds_per_iteration: float
    peak_memory_mb: float

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.seconds_per_iteration

    @property
    def seconds_per_1000_images(self) -> float:
        return 1000.0 / self.images_per_second


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _rss_mb() -> float:
    """The current resident set of this process (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def _measure_in_child(queue: multiprocessing.Queue, *args: object) -> None:
    queue.put(measure(*args))


def measure_isolated(bundle: str, device: torch.device, iterations: int, warmup: int,
                     batch_size: int | None = None) -> CostRow:
    """:func:`measure` in a forked child on the CPU (so that its peak memory is its own), in this process on CUDA."""
    if device.type == "cuda":
        return measure(bundle, device, iterations, warmup, batch_size)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_measure_in_child, args=(queue, bundle, device, iterations, warmup, batch_size))
    child.start()
    row = queue.get()
    child.join()
    return row


def measure(bundle: str, device: torch.device, iterations: int, warmup: int, batch_size: int | None = None
            ) -> CostRow:
    """Time ``iterations`` training steps of ``bundle``'s paper-scale network on random input (``batch_size``:
    instead of the config's, e.g. to fit a smaller GPU)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle_template_dir(bundle) / "configs" / "train.json"))
    parser.update({"bundle_root": str(bundle_template_dir(bundle)), **PAPER_INPUTS[bundle]})
    network = parser.get_parsed_content("network_def").to(device).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=float(parser.get_parsed_content("learning_rate")))
    batch = int(batch_size or parser.get_parsed_content("batch_size"))
    size = parser.get_parsed_content("input_size_px") if "input_size_px" in PAPER_INPUTS[bundle] else \
        [int(parser.get_parsed_content("image_size_px"))] * 2
    shape = (batch, 1, *[int(s) for s in size])
    x = torch.rand(shape, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = network(x)
        out = out[0] if isinstance(out, tuple | list) else out
        out.float().mean().backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    rss_before = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
            else _peak_rss_mb() - rss_before)
    return CostRow(bundle, tuple(shape[1:]), batch, statistics.median(times), peak)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bundles", nargs="+", default=list(PAPER_INPUTS), choices=list(PAPER_INPUTS))
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per bundle (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations first")
    parser.add_argument("--batch-size", type=int, help="instead of each train.json's batch_size")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 0:
        parser.error("--iterations must be >= 1 and --warmup >= 0")
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'bundle':<24} {'input (C,H,W)':<16} {'batch':>5} {'s/iter':>8} {'img/s':>7} {'s/1000 img':>11} "
          f"{'peak MB':>9}")
    for bundle in args.bundles:
        row = measure_isolated(bundle, device, args.iterations, args.warmup, args.batch_size)
        print(f"{row.bundle:<24} {str(row.input_shape):<16} {row.batch_size:>5} {row.seconds_per_iteration:>8.2f} "
              f"{row.images_per_second:>7.2f} {row.seconds_per_1000_images:>11.0f} {row.peak_memory_mb:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
