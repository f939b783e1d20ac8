"""``hipmonai grading sweep|report``: sweep and evaluation of the ``hip_osteophyte_grading`` bundle (Ye et al. 2026).

- ``sweep``: train every supervision strategy over the weak-to-strong ratios and write the tables in the layout of
  Ye et al. 2026 Table 1 and Tables 2-4 (:func:`hipmonai.experiments.weak_strong_sweep.run_sweep`);
- ``report``: evaluate checkpoints on one split (kappa per quadrant, mean kappa, global accuracy, confusion matrices)
  and draw Grad-CAM of every ordinal head for one hip (Ye et al. 2026 Figures 2 and 3).

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

DEFAULT_BUNDLE = "hip_osteophyte_grading"
#: The models of Ye et al. 2026 Figure 2: (label, strategy, rho) looked up in a sweep.
FIGURE_MODELS = (("Strong-only", "strong_only", "0"), ("Oracle", "oracle", "all"), ("Masked (all)", "masked", "all"),
                 ("Dual-Head MIL (all)", "dual_mil", "all"), ("Pure MIL (all)", "pure_mil", "all"))


def _model(text: str) -> tuple[str, Path]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"models are LABEL=CHECKPOINT, got {text!r}")
    label, path = text.split("=", 1)
    return label, Path(path)


def _common(parser: argparse.ArgumentParser) -> None:
    add_bundle_options(parser, DEFAULT_BUNDLE, override_example="max_epochs=5 n_strong=100")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 avoids thread contention on shared cores; default: torch's)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "grading",
        help="weak/strong sweep and evaluation of the hip_osteophyte_grading bundle (Ye et al. 2026)",
        description="Weak-to-strong sweep and checkpoint report for the hip osteophyte grading bundle.",
    )
    sub = parser.add_subparsers(dest="grading_command", metavar="ACTION", required=True)

    sweep = sub.add_parser(
        "sweep",
        help="train strategies x weak-to-strong ratios, write Ye et al. 2026 Tables 1-4",
        description="Train the bundle for every chosen strategy and rho (strong_only at rho 0, oracle at rho all; "
                    "masked/dual_mil at rho 0 reuse the strong-only run), evaluate the max-kappa and the min-loss "
                    "checkpoints on the test split, and write sweep_results.{md,csv,json} and "
                    "confusion_matrices.png. Finished runs are reused on rerun.",
    )
    _common(sweep)
    sweep.add_argument("--strategies", nargs="+", default=None, metavar="S",
                       help="strategies (default: strong_only masked dual_mil pure_mil oracle)")
    sweep.add_argument("--rhos", nargs="+", default=None, metavar="RHO",
                       help="weak-to-strong ratios, numbers or 'all' (default: 0 0.5 1 2.5 5 all)")
    sweep.add_argument("--fresh", action="store_true", help="retrain runs that already have a run.json")
    sweep.add_argument("--no-figures", action="store_true", help="skip confusion_matrices.png")
    sweep.set_defaults(func=run)

    report = sub.add_parser(
        "report",
        help="kappa, confusion matrices and per-head Grad-CAM of checkpoints on one split",
        description="Evaluate checkpoints (LABEL=CHECKPOINT, or the Figure 2 models of a sweep folder) on one "
                    "manifest split: quadratic weighted kappa per quadrant, mean kappa, global accuracy, confusion "
                    "matrices; then Grad-CAM of every ordinal head for one hip. Writes report.md, results.json, "
                    "confusion_matrices.png and gradcam_heads.png.",
    )
    _common(report)
    report.add_argument("--model", dest="models", nargs="*", type=_model, default=[], metavar="LABEL=CHECKPOINT",
                        help="checkpoints to compare (trained with --config/--set)")
    report.add_argument("--sweep", type=Path, default=None,
                        help="sweep folder: use its kappa-selected strong-only, oracle and rho=all checkpoints")
    report.add_argument("--split", default="test", choices=("training", "validation", "test"),
                        help="manifest split (default: test)")
    report.add_argument("--case", default=None,
                        help="scan key (subject/visit/side) for Grad-CAM (default: a hip with one osteophyte "
                             "quadrant of the highest grade, as Ye et al. 2026 Figure 2)")
    report.add_argument("--grade", default="true",
                        help="grade whose logit each head explains: 'true' (the hip's grade), 'predicted', or 0-3")
    report.set_defaults(func=run)
    return parser


def _sweep_models(sweep_dir: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    path = sweep_dir / "sweep_results.json"
    if not path.is_file():
        raise InputError(f"{path}: no sweep results (run `hipmonai grading sweep` first)")
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    models = []
    for label, strategy, rho in FIGURE_MODELS:
        row = next((r for r in rows if r["strategy"] == strategy and r["rho"] == rho), None)
        if row is not None:
            # run folders live in the sweep folder; the recorded run_dir is relative to where the sweep ran
            models.append((label, sweep_dir / Path(row["run_dir"]).name / "model.pt", dict(row["overrides"])))
    if not models:
        raise InputError(f"{path}: none of the Figure 2 runs (strong-only, oracle, rho=all) is in this sweep")
    return models


def _report(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    import numpy as np

    from hipmonai.atomic import write_text_atomic
    from hipmonai.evaluation.grading import (
        GRADE_CHOICES,
        confusion_matrices,
        ordinal_head_gradcam,
        plot_confusion_matrices,
        plot_head_gradcam,
        select_gradcam_case,
    )
    from hipmonai.experiments.bundle import bundle_parser, split_loader
    from hipmonai.experiments.weak_strong_sweep import evaluate_grading_checkpoint
    from hipmonai.io.strict_json import strict_json
    from hipmonai.networks.checkpoint import load_config_network

    models = [(label, path, overrides) for label, path in args.models]
    if args.sweep is not None:
        models += [(label, path, {**settings, **overrides}) for label, path, settings in _sweep_models(args.sweep)]
    if not models:
        raise InputError("give checkpoints with --model LABEL=CHECKPOINT or a sweep folder with --sweep")
    if args.grade not in GRADE_CHOICES and args.grade not in ("0", "1", "2", "3"):
        raise InputError(f"--grade must be 'true', 'predicted' or 0-3, got {args.grade!r}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics, results = {}, {}
    for label, checkpoint, settings in models:
        metrics[label], results[label] = evaluate_grading_checkpoint(args.bundle, args.config, checkpoint, settings,
                                                                     args.split)
        print(f"{label}: mean kappa {metrics[label]['mean_kappa']:.4f} on {metrics[label]['n_hips']} hips")
    first = next(iter(results.values()))
    targets = list(first.quadrant_names)
    if args.case is None:
        try:
            index = select_gradcam_case(first.grades)
        except ValueError:
            index = 0
            print(f"no hip of the {args.split} split has an osteophyte; Grad-CAM of the first hip {first.keys[0]}")
    elif args.case in first.keys:
        index = first.keys.index(args.case)
    else:
        raise InputError(f"--case {args.case!r} is not a hip of the {args.split} split")
    case_key = first.keys[index]
    grades = [int(g) for g in first.grades[index]]
    maps, explained, item = {}, {}, None
    for label, checkpoint, settings in models:
        parser = bundle_parser(args.bundle, args.config, settings)
        network = load_config_network(parser, checkpoint)
        if item is None:
            item = split_loader(parser, args.split).dataset[index]
        choice = grades if args.grade == "true" else ("predicted" if args.grade == "predicted" else
                                                      [int(args.grade)] * len(targets))
        maps[label], explained[label] = ordinal_head_gradcam(network, item["image"], choice)
    plot_head_gradcam(item["image"], maps, out / "gradcam_heads.png", targets, explained, grades,
                      item.get("lesion_mask"), title=f"{case_key} (grades {grades})")
    plot_confusion_matrices({label: confusion_matrices(r.pred_grades, r.grades) for label, r in results.items()},
                            out / "confusion_matrices.png", targets)
    header = ["Model", "Global Acc", *targets, "Mean κ"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for label, m in metrics.items():
        values = [m["global_accuracy"], *[m["kappa"][t] for t in targets], m["mean_kappa"]]
        lines.append("| " + " | ".join([label, *[f"{v:.4f}" if np.isfinite(v) else "n/a" for v in values]]) + " |")
    command = "hipmonai " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "report" in sys.argv else ""
    text = ["# Grading report (Ye et al. 2026)", "", *(["```bash", command, "```", ""] if command else []),
            f"Split: {args.split}, {first.grades.shape[0]} hips. Quadratic weighted kappa with labels 0-3.", "",
            *lines, "", f"Grad-CAM (last convolutional stage) of every ordinal head for `{case_key}` "
            f"(true grades {grades}; explained grade: {args.grade}): `gradcam_heads.png`. "
            "Confusion matrices (rows true grade, columns predicted): `confusion_matrices.png`.", ""]
    write_text_atomic(out / "report.md", "\n".join(text))
    write_text_atomic(out / "results.json", strict_json(
        {"split": args.split, "case": case_key, "case_grades": grades, "explained": explained,
         "models": {label: {"checkpoint": str(ckpt), **metrics[label]} for label, ckpt, _ in models}}, indent=2))
    print(f"wrote {out / 'report.md'}")
    return 0


def run(args: argparse.Namespace) -> int:
    overrides = dict(args.overrides)
    if not args.bundle.is_dir():
        raise InputError(f"{args.bundle}: bundle folder not found")
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if args.grading_command == "sweep":
        from hipmonai.data.weak_labels import RHO_VALUES
        from hipmonai.experiments.weak_strong_sweep import run_sweep
        from hipmonai.losses.weak_strong import STRATEGIES

        command = "hipmonai " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "sweep" in sys.argv else ""
        rows = run_sweep(args.bundle, args.config, args.out, args.strategies or STRATEGIES, args.rhos or RHO_VALUES,
                         overrides, resume=not args.fresh, figures=not args.no_figures,
                         commands=[command] if command else [])
        for row in rows:
            print(f"{row['strategy']:<12} rho={row['rho']:<4} test mean kappa {row['test']['kappa']['mean_kappa']:.4f}"
                  f" (min-loss checkpoint {row['test']['loss']['mean_kappa']:.4f})")
        print(f"wrote {Path(args.out) / 'sweep_results.md'}")
        return 0
    if args.grading_command == "report":
        return _report(args, overrides)
    raise InputError(f"unknown action {args.grading_command!r}")
