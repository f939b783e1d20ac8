"""``hipmonai labelaug prepare|evaluate|ablation``: data and experiments of the ``hip_landmark_labelaug`` bundle
(Suh et al. 2023).

* ``prepare`` — read AP pelvis DICOM files and their ``.pts`` once and write the bundle's cache and subject-level
  manifest (:func:`hipmonai.data.pelvis.prepare_pelvis_data`);
* ``evaluate`` — a trained model on whole radiographs of a split: MRE, RMSE, SDR in model px and mm, femoral head
  circle errors, editable predicted ``.pts`` (:func:`hipmonai.evaluation.landmark_detection.evaluate_detector`);
* ``ablation`` — the paper's Table 1 arms (U-Net, + rotation, + label augmentation, + both) trained through the
  bundle and evaluated into one table (:func:`hipmonai.experiments.labelaug_ablation.run_labelaug_ablation`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hipmonai.cli.bundle_options import add_bundle_options, parse_override
from hipmonai.errors import InputError

DEFAULT_BUNDLE = "hip_landmark_labelaug"


def _bundle_options(parser: argparse.ArgumentParser, default_configs: list[str]) -> None:
    add_bundle_options(parser, DEFAULT_BUNDLE, default_configs, override_example="max_epochs=5 dataset_dir=DIR")
    parser.add_argument("--split", default="test", choices=["training", "validation", "test"],
                        help="manifest split to evaluate on (default: %(default)s)")
    parser.add_argument("--truth", type=Path,
                        help="phantom truth.csv with the true femoral head circles (e.g. outputs/phantoms/hip_demo/"
                             "truth.csv); without it head circles are compared with the .pts circles only")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "labelaug",
        help="prepare data, evaluate and ablate the hip_landmark_labelaug bundle (Suh et al. 2023)",
        description="Data preparation, evaluation and ablations for the label-augmentation hip landmark U-Net.",
    )
    commands = parser.add_subparsers(dest="labelaug_command", metavar="ACTION", required=True)

    prepare = commands.add_parser(
        "prepare",
        help="write the whole-radiograph cache and manifest of a hip cohort",
        description="Read every AP pelvis radiograph with its 160-point .pts once, fit it into a --size square "
                    "(isotropic pixels, padded), and write pelvis.h5, the subject-level manifest pelvis.json and "
                    "prepare.json (settings, counts, every skipped input and its reason). Paper: 512 px; --demo: "
                    "256 px.",
    )
    prepare.add_argument("--dicom", type=Path, required=True, help="folder of DICOM files")
    prepare.add_argument("--landmarks", type=Path, required=True, help="folder of .pts files mirroring --dicom")
    prepare.add_argument("--out", type=Path, required=True, help="output folder (the bundle's dataset_dir)")
    prepare.add_argument("--size", type=int, help="model input side in px (default 512, --demo 256)")
    prepare.add_argument("--demo", action="store_true", help="CPU demo scale (256 px)")
    prepare.add_argument("--seed", type=int, default=0, help="subject split seed (default: 0)")
    prepare.add_argument("--index", type=Path, help="CSV mapping DICOM paths to subject_id and visit")
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.set_defaults(func=run)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a trained model on whole radiographs of a split",
        description="Predict the landmarks of every radiograph of the split with the bundle's inference config and "
                    "a checkpoint; write results.json (MRE, RMSE, SDR at 2/2.5/3/4 in model px and mm; femoral head "
                    "centre and radius errors; the fraction of hips reported present at the config's "
                    "min_confidence, set with --set min_confidence=P), errors.csv, head_circles.csv, predicted_pts/ "
                    "(images with both hips present), cumulative_errors.png and gallery.png.",
    )
    _bundle_options(evaluate, ["configs/inference.json"])
    evaluate.add_argument("--checkpoint", type=Path, required=True, metavar="MODEL.pt", help="trained model")
    evaluate.set_defaults(func=run)

    ablation = commands.add_parser(
        "ablation",
        help="train and evaluate the paper's Table 1 arms into one table",
        description="Train each arm through the bundle (plain U-Net; with rotation augmentation; with label "
                    "augmentation; with both) and evaluate it on the split (ablation.md, ablation.json). Finished "
                    "arms (run.json) are reused.",
    )
    _bundle_options(ablation, ["configs/train.json"])
    ablation.add_argument("--arms", nargs="+", help="arms to run (default: all)")
    ablation.add_argument("--reuse", nargs="*", type=parse_override, default=[], metavar="ARM=CHECKPOINT",
                          help="arms already trained with exactly their settings: evaluate this checkpoint instead")
    ablation.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.labelaug_command == "prepare":
        from hipmonai.data.pelvis import prepare_pelvis_data

        size = args.size if args.size is not None else (256 if args.demo else 512)
        summary = prepare_pelvis_data(args.dicom, args.landmarks, args.out, size_px=size, seed=args.seed,
                                      index_csv=args.index, progress=not args.quiet)
        print(json.dumps({**{k: v for k, v in summary.items() if k not in ("skipped", "landmark_names")},
                          "skipped": len(summary["skipped"])}))
        return 0

    overrides = dict(args.overrides)
    if args.labelaug_command == "evaluate":
        from hipmonai.data.pelvis import load_pelvis_datalist
        from hipmonai.evaluation.landmark_detection import evaluate_detector
        from hipmonai.experiments.bundle import bundle_parser
        from hipmonai.preprocessing.detector import detector_from_parser

        parser = bundle_parser(args.bundle, args.config, overrides)
        detector = detector_from_parser(parser, args.checkpoint)
        items = load_pelvis_datalist(parser.get_parsed_content("datalist"), args.split)
        results = evaluate_detector(detector, items, args.out, truth_csv=args.truth)
        print(json.dumps({k: v for k, v in results.items() if k != "per_landmark_mre_mm"}, indent=1))
        print(f"wrote {args.out}")
        return 0

    if args.labelaug_command == "ablation":
        from hipmonai.experiments.labelaug_ablation import format_table, run_labelaug_ablation

        rows = run_labelaug_ablation(args.bundle, args.config, args.out, arms=args.arms, overrides=overrides,
                                     split=args.split, truth_csv=args.truth, reuse=dict(args.reuse))
        print(format_table(rows))
        print(f"wrote {args.out / 'ablation.md'}")
        return 0
    raise InputError(f"unknown labelaug action {args.labelaug_command!r}")
