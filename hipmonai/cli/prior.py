"""``hipmonai prior report|grid|repeats``: evaluation and experiments of the ``hip_osteophyte_prior`` bundle.

- ``report``: Grad-CAM evaluation of a baseline and a prior checkpoint on one split, written as a markdown report
  with PNG figures (:func:`hipmonai.evaluation.write_prior_report`);
- ``grid``: the prior's (lambda, r, sigma) grid search selected by validation loss
  (:func:`hipmonai.experiments.run_grid`);
- ``repeats``: baseline and prior over several split/training seeds with Tables A1/A2
  (:func:`hipmonai.experiments.run_repeats`).

Every training goes through ``monai.bundle.ConfigWorkflow`` with the bundle's config files.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from hipmonai.cli.bundle_options import add_bundle_options
from hipmonai.errors import InputError

DEFAULT_BUNDLE = "hip_osteophyte_prior"


def _common(parser: argparse.ArgumentParser) -> None:
    add_bundle_options(parser, DEFAULT_BUNDLE, override_example="max_epochs=5 datalist=M.json")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prior",
        help="evaluate and run experiments with the hip_osteophyte_prior bundle (Chen et al.)",
        description="Report, grid search and repeated runs for the landmark CAM prior bundle.",
    )
    sub = parser.add_subparsers(dest="prior_command", metavar="ACTION", required=True)

    report = sub.add_parser(
        "report",
        help="baseline vs prior: AUC, Grad-CAM localisation, Wilcoxon tables, figures",
        description="Evaluate a baseline and a prior checkpoint of the bundle on one manifest split with Grad-CAM "
                    "(last convolutional stage) and write report.md, PNG figures, results.json and per_case.csv.",
    )
    _common(report)
    report.add_argument("--baseline", type=Path, required=True, help="baseline checkpoint (lambda_prior = 0)")
    report.add_argument("--prior", type=Path, required=True, help="prior-guided checkpoint")
    report.add_argument("--split", default="test", choices=("training", "validation", "test"),
                        help="manifest split to evaluate (default: test)")
    report.add_argument("--batch-size", type=int, default=None, help="evaluation batch (default: the config's)")
    report.add_argument("--no-gallery", action="store_true", help="skip the case gallery")
    report.set_defaults(func=run)

    grid = sub.add_parser(
        "grid",
        help="grid search over lambda, r, sigma selected by validation loss",
        description="Train the bundle for every (lambda, r, sigma) of the paper's grid plus its boundary extension "
                    "(r and sigma in pixels of a 224 px crop, scaled to the bundle input), rank by the lowest "
                    "validation loss and write grid_results.{md,csv,json}. Finished points are reused on rerun.",
    )
    _common(grid)
    grid.add_argument("--lambdas", type=float, nargs="+", default=None, help="lambda values (default 0.5 1 2)")
    grid.add_argument("--radii", type=float, nargs="+", default=None, help="r in paper px (default 5 10 20)")
    grid.add_argument("--sigmas", type=float, nargs="+", default=None, help="sigma in paper px (default 10 20 30)")
    grid.add_argument("--no-boundary", action="store_true", help="leave out the paper's four boundary points")
    grid.add_argument("--fresh", action="store_true", help="retrain points that already have a run.json")
    grid.set_defaults(func=run)

    repeats = sub.add_parser(
        "repeats",
        help="baseline and prior over several seeds, with Tables A1/A2",
        description="For every seed: split the store by subject with that seed, train baseline (lambda 0) and prior "
                    "with that seed, evaluate both with Grad-CAM on the test split; then the Wilcoxon test across "
                    "runs (Table A1) and the per-run table (A2). Finished runs are reused on rerun.",
    )
    _common(repeats)
    repeats.add_argument("--h5", type=Path, required=True, help="preprocessed HDF5 store to split")
    repeats.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default 0 1 2)")
    repeats.add_argument("--fresh", action="store_true", help="retrain seeds that already have results")
    repeats.set_defaults(func=run)
    return parser


def _report(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    import numpy as np

    from hipmonai.evaluation.report import select_gallery_cases, write_prior_report
    from hipmonai.experiments import evaluate_checkpoint

    results, datasets, evaluators = {}, {}, {}
    for arm, checkpoint in (("baseline", args.baseline), ("prior", args.prior)):
        results[arm], datasets[arm], evaluators[arm] = evaluate_checkpoint(
            args.bundle, args.config, checkpoint, args.split, overrides=overrides, batch_size=args.batch_size)
        print(f"{arm}: {len(results[arm].keys)} hips in {results[arm].seconds:.1f} s")
    gallery = []
    if not args.no_gallery:
        for case in select_gallery_cases(results["baseline"], results["prior"]):
            item = datasets["baseline"][case["index"]]
            c = case["target"]
            image = item["image"][None]
            maps = {arm: evaluators[arm].explain(image) for arm in ("baseline", "prior")}
            lesion = item.get("lesion_mask")
            gallery.append({
                **case,
                "key": item["key"],
                "image": np.asarray(item["image"][0]),
                "landmarks": np.asarray(item["target_landmarks"][c]),
                "lesion": None if lesion is None else np.asarray(lesion[c]),
                "label": results["baseline"].labels[case["index"], c],
                "baseline_map": maps["baseline"][1][0, c].numpy(),
                "prior_map": maps["prior"][1][0, c].numpy(),
                "baseline_prob": float(maps["baseline"][0][0, c]),
                "prior_prob": float(maps["prior"][0][0, c]),
            })
    command = "hipmonai " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "report" in sys.argv else ""
    summary = write_prior_report(
        results["baseline"], results["prior"], args.out, gallery=gallery, commands=[command] if command else [],
        context={"baseline checkpoint": str(args.baseline), "prior checkpoint": str(args.prior), "split": args.split,
                 "config": " + ".join(args.config), "overrides": json.dumps(overrides) if overrides else "none"},
    )
    for check in summary["acceptance"]:
        print(f"{'PASS' if check['passed'] else 'FAIL'}  {check['check']:<42} {check['target']:<16} {check['value']}")
    print(f"wrote {Path(args.out) / 'report.md'}")
    return 0


def run(args: argparse.Namespace) -> int:
    overrides = dict(args.overrides)
    if not args.bundle.is_dir():
        raise InputError(f"{args.bundle}: bundle folder not found")
    if args.prior_command == "report":
        return _report(args, overrides)
    if args.prior_command == "grid":
        from hipmonai.experiments.grid import PAPER_BOUNDARY, PAPER_GRID, grid_points, run_grid

        points = grid_points(
            args.lambdas or PAPER_GRID["lambda_prior"], args.radii or PAPER_GRID["radius_px"],
            args.sigmas or PAPER_GRID["sigma_px"], () if args.no_boundary else PAPER_BOUNDARY)
        rows = run_grid(args.bundle, args.config, args.out, points, overrides, resume=not args.fresh)
        best = rows[0]
        print(f"{len(rows)} runs; selected lambda={best['lambda_prior']:g} r={best['r_paper_px']:g} "
              f"sigma={best['sigma_paper_px']:g} (val loss {best['best_val_loss']:.4f})")
        print(f"wrote {Path(args.out) / 'grid_results.md'}")
        return 0
    if args.prior_command == "repeats":
        from hipmonai.experiments.repeats import run_repeats

        if not args.h5.is_file():
            raise InputError(f"{args.h5}: store not found")
        run_repeats(args.bundle, args.config, args.h5, args.seeds, args.out, overrides, resume=not args.fresh)
        print(f"wrote {Path(args.out) / 'repeats.md'}")
        return 0
    raise InputError(f"unknown action {args.prior_command!r}")
