"""Training throughput of a bundle against its model-only step, side by side, on the same data.

For each bundle (``hip_osteophyte_prior`` and ``knee_landmark_kneel`` by default, at their ``demo.json`` scale) a small
phantom cohort is generated and prepared as the bundle's README says (hip: ``hipmonai preprocess`` at 0.7 mm / 128 px
and a subject split; knee: ``hipmonai knee prepare --demo``), and its training items are repeated up to ``--samples``.
The bundle's trainer is built from its config files (``ConfigWorkflow``: the CacheDataset, augmentation, loader,
iteration step, post-processing, key metric and handlers of ``train.json``; validation is switched off through
``val_interval``, since it is a pass over other data). Two arms are then timed in alternating rounds, so that both
share whatever else the machine is doing:

* **model-only**: forward, the bundle's loss, backward and optimizer step (the parts of the trainer's iteration step,
  called directly: no engine event, decollation, post-processing or metric) on one pre-made batch in memory,
  ``len(loader)`` times;
* **bundle**: one real epoch, ``trainer.run()``, over the same number of samples.

Both run single-threaded (``torch.set_num_threads(1)``; run with ``OMP_NUM_THREADS=1``) on the CPU. Printed: images/s
of each arm (total images / total seconds over ``--rounds`` rounds after one warm-up round) and bundle / model-only,
the target being >= 0.9; the one-off cache fill at trainer construction is shown apart. ``--profile`` adds the
functions that take the most time in one more bundle epoch (``cProfile``), to find what costs more than the model.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_throughput.py --compare train#dataloader#prefetch_batches=0
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_throughput.py --bundles knee_landmark_kneel --profile
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_throughput.py --samples 4 --batch-size 2 --rounds 1 \\
        --set widen_factor=0.125 width=4     # a smoke run
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hipmonai.cli.bundle_options import parse_override
from hipmonai.engines.step import EngineStep
from hipmonai.paths import bundle_template_dir

BUNDLES = ("hip_osteophyte_prior", "knee_landmark_kneel")
#: the hip demo store: 0.7 mm, 128 px crops (the 89.6 mm field of view of 224 px at 0.4 mm; ``demo.json``)
HIP_DEMO = {"spacing_mm": 0.7, "crop_px": 128}


@dataclass
class ThroughputRow:
    """One bundle's arms: ``seconds`` of the timed rounds per arm (``"model"``, ``"bundle"`` and, with ``--compare``,
    ``"compare"``), each over ``images`` images."""

    bundle: str
    input_shape: tuple[int, ...]
    batch_size: int
    images: int
    seconds: dict[str, float]
    cache_s: float

    def images_per_s(self, arm: str) -> float:
        return self.images / self.seconds[arm]

    def ratio(self, arm: str = "bundle") -> float:
        """``arm``'s images/s over the model-only arm's."""
        return self.images_per_s(arm) / self.images_per_s("model")


def make_data(bundle: str, out: Path, subjects: int, seed: int = 0) -> dict[str, Any]:
    """Generate and prepare a phantom cohort for ``bundle`` under ``out``; returns the config overrides that point at
    it (``datalist`` or ``dataset_dir``)."""
    if bundle == "hip_osteophyte_prior":
        from hipmonai.data import make_datalist, write_manifest
        from hipmonai.phantoms import generate_hip_cohort
        from hipmonai.preprocessing import preprocess_cohort

        cohort = out / "hip_cohort"
        generate_hip_cohort(cohort, n_subjects=subjects, seed=seed, workers=1, progress=False)
        store = out / "hip.h5"
        preprocess_cohort(cohort / "dicom", cohort / "landmarks", cohort / "grades.csv", store, workers=1,
                          progress=False, **HIP_DEMO)
        return {"datalist": str(write_manifest(out / "manifest.json", make_datalist(store, seed=seed)))}
    if bundle == "knee_landmark_kneel":
        from hipmonai.cli.knee import DEMO_SCALE
        from hipmonai.data.knee import prepare_knee_data
        from hipmonai.phantoms import generate_knee_cohort

        cohort = out / "knee_cohort"
        generate_knee_cohort(cohort, n_subjects=subjects, seed=seed, workers=1, progress=False)
        prepare_knee_data(cohort / "dicom", cohort / "landmarks", out / "knee", grades_csv=cohort / "grades.csv",
                          seed=seed, **DEMO_SCALE)
        return {"dataset_dir": str(out / "knee"), "init_from_roi": False}
    raise ValueError(f"bundle must be one of {list(BUNDLES)}, got {bundle!r}.")


def build_trainer(bundle: str, overrides: Mapping[str, Any], samples: int, run_dir: Path) -> tuple[Any, float]:
    """The bundle's ``train#trainer`` from ``train.json`` + ``demo.json`` with ``overrides``, one epoch of ``samples``
    training items (the split's items repeated), no validation; returns it and the seconds its construction took
    (the cache fill)."""
    from monai.bundle import ConfigParser, ConfigWorkflow

    root = bundle_template_dir(bundle)
    files = [str(root / "configs" / "train.json"), str(root / "configs" / "demo.json")]
    settings = {"bundle_root": str(root), "ckpt_dir": str(run_dir), "output_dir": str(run_dir), "max_epochs": 1,
                "num_workers": 0, **overrides}
    settings["val_interval"] = 10**9  # never: validation is a pass over other data
    parser = ConfigParser()
    parser.read_config(files)
    parser.update(settings)
    items = list(parser.get_parsed_content("train#dataset#data"))
    if not items:
        raise ValueError(f"{bundle}: the generated training split is empty; use more --subjects.")
    settings["train#dataset#data"] = [items[i % len(items)] for i in range(samples)]
    workflow = ConfigWorkflow(config_file=files, workflow_type="train", **settings)
    workflow.initialize()
    started = time.perf_counter()
    trainer = workflow.parser.get_parsed_content("train#trainer")
    return trainer, time.perf_counter() - started


def model_step(trainer: Any, batch: Mapping[str, Any]) -> None:
    """Forward, the bundle's loss, backward and the optimizer step on ``batch`` with the trainer's network, optimizer
    and iteration step (:class:`hipmonai.engines.step.EngineStep`: ``prepare``, ``forward``, ``losses``), called
    directly: no engine event fires, so there is no decollation, post-processing, metric or handler."""
    step = trainer._process_function
    if not isinstance(step, EngineStep):
        raise TypeError(f"the model-only arm needs a hipmonai EngineStep as iteration_update, got "
                        f"{type(step).__name__}")
    prepared = step.prepare(trainer, batch)
    trainer.network.train()
    trainer.optimizer.zero_grad(set_to_none=True)
    output = step.forward(trainer, prepared)
    step.losses(trainer, prepared, output)["loss"].backward()
    trainer.optimizer.step()


def measure(bundle: str, overrides: Mapping[str, Any], samples: int, rounds: int, run_dir: Path,
            compare: Mapping[str, Any] | None = None) -> ThroughputRow:
    """Warm up every arm once, then time ``rounds`` rounds of model-only steps and bundle epochs (and epochs of a
    second bundle trainer built with the ``compare`` overrides on top, e.g. a loader setting before a change)."""
    trainer, cache_s = build_trainer(bundle, overrides, samples, run_dir / "bundle")
    trainers = {"bundle": trainer}
    if compare:
        trainers["compare"] = build_trainer(bundle, {**overrides, **compare}, samples, run_dir / "compare")[0]
    batch = next(iter(trainer.data_loader))
    steps = len(trainer.data_loader)
    batch_size = int(batch["image"].shape[0])
    arms = {"model": lambda: [model_step(trainer, batch) for _ in range(steps)],
            **{name: engine.run for name, engine in trainers.items()}}
    seconds = dict.fromkeys(arms, 0.0)
    for timed in [False] + [True] * rounds:
        for name, arm in arms.items():
            started = time.perf_counter()
            arm()
            if timed:
                seconds[name] += time.perf_counter() - started
    return ThroughputRow(bundle, tuple(batch["image"].shape[1:]), batch_size, steps * batch_size * rounds, seconds,
                         cache_s)


def profile_epoch(trainer: Any, top: int = 25) -> str:
    """The ``top`` functions by cumulative time over one more bundle epoch."""
    profiler = cProfile.Profile()
    profiler.runcall(trainer.run)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", nargs="+", default=list(BUNDLES), choices=list(BUNDLES))
    parser.add_argument("--subjects", type=int, default=6, help="phantom subjects generated per bundle")
    parser.add_argument("--samples", type=int, default=256,
                        help="training samples per epoch (the split repeated; the first batch of an epoch is never "
                             "prefetched, so short epochs understate the loader's background thread)")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds (one model-only pass, one epoch each)")
    parser.add_argument("--batch-size", type=int, help="instead of the configs' batch_size")
    parser.add_argument("--set", dest="overrides", nargs="*", type=parse_override, default=[], metavar="ID=VALUE",
                        help="config overrides for every bundle, VALUE as JSON; ids a bundle lacks are skipped")
    parser.add_argument("--compare", nargs="*", type=parse_override, default=[], metavar="ID=VALUE",
                        help="also time the bundle with these overrides, in the same rounds (e.g. "
                             "train#dataloader#prefetch_batches=0: the loader before the background thread)")
    parser.add_argument("--profile", action="store_true", help="profile one more bundle epoch")
    parser.add_argument("--data", type=Path, help="folder for the generated data (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.samples < 1 or args.rounds < 1 or args.subjects < 3:
        parser.error("--samples and --rounds must be >= 1, --subjects >= 3 (a subject split needs three)")
    torch.set_num_threads(1)
    compare = dict(args.compare)
    rows, profiles = [], []
    with tempfile.TemporaryDirectory() as scratch:
        data_root = args.data or Path(scratch)
        for bundle in args.bundles:
            from monai.bundle import ConfigParser

            known = ConfigParser()
            known.read_config(str(bundle_template_dir(bundle) / "configs" / "train.json"))
            overrides = {k: v for k, v in args.overrides if k in known}
            if args.batch_size is not None:
                overrides["batch_size"] = args.batch_size
            overrides.update(make_data(bundle, data_root / bundle, args.subjects))
            rows.append(measure(bundle, overrides, args.samples, args.rounds, Path(scratch) / f"{bundle}_run",
                                {k: v for k, v in compare.items() if k in known}))
            if args.profile:
                trainer, _ = build_trainer(bundle, overrides, args.samples, Path(scratch) / f"{bundle}_profile")
                profiles.append(f"{bundle}, one bundle epoch:\n{profile_epoch(trainer)}")
    print("\n".join(profiles))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch thread, CPU, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the end; {args.samples} samples per epoch, {args.rounds} timed "
          "rounds after one warm-up (the bundles' logging included)")
    header = f"{'bundle':<22} {'input':<14} {'batch':>5} {'model img/s':>12} {'bundle img/s':>13} {'ratio':>6}"
    if compare:
        header += f" {'compare img/s':>14} {'ratio':>6}"
    print(header + f" {'cache s':>8}")
    for row in rows:
        line = (f"{row.bundle:<22} {str(row.input_shape):<14} {row.batch_size:>5} {row.images_per_s('model'):>12.2f} "
                f"{row.images_per_s('bundle'):>13.2f} {row.ratio():>6.2f}")
        if "compare" in row.seconds:
            line += f" {row.images_per_s('compare'):>14.2f} {row.ratio('compare'):>6.2f}"
        print(line + f" {row.cache_s:>8.1f}")
    if compare:
        print(f"compare: the bundle with {' '.join(f'{k}={json.dumps(v)}' for k, v in compare.items())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
