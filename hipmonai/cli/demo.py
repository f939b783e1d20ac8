"""``hipmonai demo``: the main job on the embedded phantom cohorts (what the README's run command calls).

Generates the phantom hip and knee cohorts, preprocesses them, trains and evaluates the four bundles
(hip_osteophyte_prior baseline and prior, hip_osteophyte_grading, hip_landmark_labelaug, knee_landmark_kneel) with
their documented commands, and writes one report, ``<out>/report/report.html`` and ``report.md``. Steps run two at
a time; each is cached, so a rerun (or a run after an interruption) only redoes what is missing or changed.
``--scale smoke`` runs the same graph on a few subjects for one epoch (the tests use it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEMO_SEED = 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job on the embedded phantom cohorts (all four bundles, one report)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="outputs/demo", help="job folder (cohorts, stores, models, logs, report)")
    parser.add_argument("--scale", default="demo", choices=["demo", "smoke"],
                        help="demo: the README's main job; smoke: a few subjects, one epoch (default: demo)")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="seed of the cohorts and the splits")
    parser.add_argument("--slots", type=int, default=2, help="steps running at once (default: 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per step (default: 1)")
    parser.add_argument("--force", action="store_true", help="redo every step even when cached")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hipmonai.atomic import write_text_atomic
    from hipmonai.evaluation.main_report import build_main_report
    from hipmonai.evaluation.report_page import write_report_page
    from hipmonai.experiments.main_job import SCALES, main_job_steps, scale_summary
    from hipmonai.experiments.step_runner import StepFailed, run_steps

    out = Path(args.out)
    scale = SCALES[args.scale]
    steps = main_job_steps(out, scale, seed=args.seed)
    print(f"hipmonai main job ({args.scale} scale): {len(steps)} steps into {out}, {args.slots} at a time")
    started = time.perf_counter()
    try:
        results = run_steps(steps, out, slots=args.slots, threads=args.threads, force=args.force)
    except StepFailed as failure:
        result = failure.result
        print(f"\nstep {result.step.name!r} failed ({result.step.title}); last lines of {result.log}:")
        print("\n".join(f"    {line}" for line in result.tail))
        print("\nFinished steps are kept: rerun the same command to continue from here.")
        return 1
    wall = time.perf_counter() - started
    step_seconds = {name: (r.status, r.seconds) for name, r in results.items()}
    document = build_main_report(out, steps, step_seconds, scale_summary(scale), wall_seconds=wall,
                                 command=f"hipmonai demo --scale {args.scale}")
    written = write_report_page(document, out / "report")
    write_text_atomic(out / "report" / "timings.json", json.dumps(
        {"wall_seconds": round(wall, 1), "steps": {k: {"status": s, "seconds": round(v, 1)}
                                                    for k, (s, v) in step_seconds.items()}}, indent=1) + "\n")
    print(f"\ndone in {wall / 60:.1f} min; report: {written['html']} (and {written['markdown'].name})")
    return 0
