"""Size and CPU speed of the KNEEL hourglass network (Tiulpin et al. 2019).

Prints the parameter count and the median forward latency (eval mode, no autograd) at each batch size for a
square single-channel input, on a fixed number of torch threads. Defaults: the released code's configuration
(width 24, depth 4) at 450 x 450 px, batch 1 and 16, 2 threads.

    .venv/bin/python benchmarks/kneel_network.py
    .venv/bin/python benchmarks/kneel_network.py --depth 6 --batches 1 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from hipmonai.networks.hourglass import KneelHourglassNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=450, help="input side in px (W = H)")
    parser.add_argument("--width", type=int, default=24, help="network width N")
    parser.add_argument("--depth", type=int, default=4, help="hourglass depth d")
    parser.add_argument("--landmarks", type=int, default=16, help="number of output landmarks M")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16], help="batch sizes to time")
    parser.add_argument("--repeats", type=int, default=7, help="timed forward passes per batch size")
    parser.add_argument("--warmup", type=int, default=2, help="untimed forward passes per batch size")
    args = parser.parse_args()
    if args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        parser.error(f"need repeats >= 1, warmup >= 0, threads >= 1; got {args.repeats}, {args.warmup}, {args.threads}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = KneelHourglassNet(
        in_channels=1,
        n_landmarks=args.landmarks,
        width=args.width,
        depth=args.depth,
        input_size=(args.size, args.size),
    ).eval()
    n_params = sum(p.numel() for p in net.parameters())
    print(
        f"KneelHourglassNet width={args.width} depth={args.depth} landmarks={args.landmarks}: "
        f"{n_params:,} parameters ({n_params / 1e6:.2f} M)"
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()} "
        f"({os.cpu_count()} logical CPUs), load average {os.getloadavg()[0]:.2f}"
    )
    with torch.inference_mode():
        for batch in args.batches:
            x = torch.randn(batch, 1, args.size, args.size)
            for _ in range(args.warmup):
                net(x)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            print(
                f"batch {batch:3d} @ {args.size}x{args.size}: median {median * 1e3:9.1f} ms "
                f"({median * 1e3 / batch:7.1f} ms/image; min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f} ms, "
                f"{args.repeats} runs)"
            )


if __name__ == "__main__":
    main()
