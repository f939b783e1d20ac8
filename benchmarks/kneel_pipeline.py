"""Full-pipeline speed and training throughput of the KNEEL bundle (Tiulpin et al. 2019) on CPU.

1. Seconds per radiograph of the two-stage pipeline (:class:`hipmonai.inference.KneeLandmarkPipeline`: DICOM read,
   ROI stage on both half images, landmark stage on both knees, optional second pass), median over ``--images``
   radiographs of a knee cohort (``--dicom``/``--landmarks``, as ``hipmonai knee prepare`` takes them). Networks
   come from ``--roi-checkpoint``/``--checkpoint`` or are untrained at ``--width``/``--depth`` (speed does not
   depend on the weights).
2. Training images per second of one landmark-stage step as the bundle trains it: wing loss with MixUp (two forward
   passes and one backward pass, :class:`hipmonai.losses.mixup.KneelMixUp`) and Adam, at the crop size of the
   scale, batch ``--batch``.

Scales: ``paper`` (ROI 1 mm, 256 x 320 px; landmarks 0.3 mm, 140 mm = 467 px) and ``demo`` (2 mm, 128 x 160 px;
1 mm, 140 px), as ``hipmonai knee prepare`` writes them.

    .venv/bin/python benchmarks/kneel_pipeline.py --dicom outputs/phantoms/knee_demo/dicom \\
        --landmarks outputs/phantoms/knee_demo/landmarks
    .venv/bin/python benchmarks/kneel_pipeline.py --dicom outputs/phantoms/knee_demo/dicom \\
        --landmarks outputs/phantoms/knee_demo/landmarks --scale demo --width 8 \\
        --roi-checkpoint bundles/knee_landmark_kneel/models/model_roi.pt \\
        --checkpoint bundles/knee_landmark_kneel/models/model.pt
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from hipmonai.cli.knee import DEMO_SCALE, PAPER_SCALE
from hipmonai.data.knee import find_knee_images
from hipmonai.inference import KneeLandmarkPipeline
from hipmonai.losses import WingLoss
from hipmonai.losses.mixup import KneelMixUp
from hipmonai.networks import KneelHourglassNet
from hipmonai.networks.checkpoint import load_checkpoint
from hipmonai.transforms.knee import crop_size_px


def training_images_per_second(width: int, depth: int, size_px: int, batch: int, steps: int) -> float:
    """Median images/s of a wing + MixUp + Adam step on ``(batch, 1, size_px, size_px)`` random images."""
    torch.manual_seed(0)
    net = KneelHourglassNet(1, 16, width, depth).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn, mixup = WingLoss(), KneelMixUp(alpha=0.75)
    mixup.set_random_state(seed=0)
    images, target = torch.rand(batch, 1, size_px, size_px), torch.rand(batch, 16, 2)
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        mixup.randomize(batch)
        pred, pred_mixed = net(images), net(mixup.mix(images))
        mixup.loss(loss_fn, pred, target, pred_mixed).backward()
        optimizer.step()
        if step:  # the first step is a warm-up
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dicom", required=True, help="folder of knee DICOM files ({subject}/{visit}/*.dcm)")
    parser.add_argument("--landmarks", required=True, help="folder of their .pts files mirroring --dicom")
    parser.add_argument("--scale", choices=["paper", "demo"], default="paper", help="sampling of both stages")
    parser.add_argument("--width", type=int, default=24, help="network width N (default: 24, the released model)")
    parser.add_argument("--depth", type=int, default=4, help="hourglass depth d (default: 4, the released model)")
    parser.add_argument("--roi-checkpoint", help="trained ROI model (default: untrained)")
    parser.add_argument("--checkpoint", help="trained landmark model (default: untrained)")
    parser.add_argument("--second-pass", action="store_true", help="time the re-centred second pass too")
    parser.add_argument("--images", type=int, default=5, help="radiographs to time (after one warm-up)")
    parser.add_argument("--batch", type=int, default=16, help="training batch size")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    if min(args.images, args.steps, args.batch, args.threads) < 1:
        parser.error("images, steps, batch and threads must be >= 1")

    torch.set_num_threads(args.threads)
    scale = PAPER_SCALE if args.scale == "paper" else DEMO_SCALE
    roi = KneelHourglassNet(1, 1, args.width, args.depth)
    landmarks = KneelHourglassNet(1, 16, args.width, args.depth)
    if args.roi_checkpoint:
        load_checkpoint(roi, args.roi_checkpoint)
    if args.checkpoint:
        load_checkpoint(landmarks, args.checkpoint)
    pipeline = KneeLandmarkPipeline(roi, landmarks, second_pass=args.second_pass, **scale)
    n_params = sum(p.numel() for p in landmarks.parameters())
    crop = crop_size_px(scale["crop_mm"], scale["landmark_spacing_mm"])
    print(f"KNEEL pipeline, {args.scale} scale (ROI {scale['roi_spacing_mm']} mm {tuple(scale['roi_size_px'])} px, "
          f"landmarks {scale['landmark_spacing_mm']} mm {crop} px), width {args.width}, depth {args.depth}: "
          f"{n_params:,} parameters per network; second pass: {args.second_pass}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()} "
          f"({os.cpu_count()} logical CPUs), load average {os.getloadavg()[0]:.2f}")

    images = find_knee_images(args.dicom, args.landmarks)[: args.images + 1]
    seconds = [pipeline.predict_file(image.dicom)["seconds"] for image in images]
    timed = seconds[1:] or seconds
    print(f"full pipeline: median {statistics.median(timed):.2f} s per radiograph (2 knees; min {min(timed):.2f}, "
          f"max {max(timed):.2f} s, {len(timed)} radiographs)")
    rate = training_images_per_second(args.width, args.depth, crop, args.batch, args.steps)
    print(f"training (wing + MixUp + Adam, batch {args.batch}, {crop} x {crop} px): {rate:.1f} images/s")


if __name__ == "__main__":
    main()
