"""``hipmonai knee prepare|evaluate|ablation``: data and experiments of the ``knee_landmark_kneel`` bundle (KNEEL).

* ``prepare`` — read a knee cohort once and write the ROI and landmark caches with their subject-level manifests
  (:func:`hipmonai.data.knee.prepare_knee_data`);
* ``evaluate`` — the two-stage pipeline (ROI → landmarks, optional second pass) on a manifest split: PCK, outliers,
  cumulative error curves (:func:`hipmonai.inference.evaluate_pipeline`);
* ``ablation`` — the paper's Table 1 arms trained through the bundle, one table
  (:func:`hipmonai.experiments.kneel_ablation.run_kneel_ablation`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hipmonai.cli.bundle_options import add_bundle_options, parse_override
from hipmonai.errors import InputError

DEFAULT_BUNDLE = "knee_landmark_kneel"
PAPER_SCALE = {"roi_spacing_mm": 1.0, "roi_size_px": (256, 320), "landmark_spacing_mm": 0.3, "crop_mm": 140.0}
DEMO_SCALE = {"roi_spacing_mm": 2.0, "roi_size_px": (128, 160), "landmark_spacing_mm": 1.0, "crop_mm": 140.0}


def _bundle_options(parser: argparse.ArgumentParser, default_configs: list[str]) -> None:
    add_bundle_options(parser, DEFAULT_BUNDLE, default_configs, override_example="max_epochs=5 dataset_dir=DIR")
    parser.add_argument("--split", default="test", choices=["training", "validation", "test"],
                        help="manifest split to evaluate on (default: %(default)s)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "knee",
        help="prepare data and evaluate the knee_landmark_kneel bundle (Tiulpin et al. 2019)",
        description="Data preparation, two-stage evaluation and ablations for the KNEEL knee landmark bundle.",
    )
    commands = parser.add_subparsers(dest="knee_command", metavar="ACTION", required=True)

    prepare = commands.add_parser(
        "prepare",
        help="write the ROI and landmark caches and manifests of a knee cohort",
        description="Read every radiograph of a knee cohort (--dicom, --landmarks, optional --grades) and write "
                    "roi.h5 (half images at the ROI spacing), landmarks.h5 (crops around the true tibial centre, "
                    "left knees flipped), their subject-level manifests roi.json / landmarks.json and prepare.json. "
                    "Paper scale: 1 mm ROI (256 x 320 px), 0.3 mm landmarks, 140 mm crop; --demo: 2 mm, 128 x 160 "
                    "px, 1 mm. A phantom cohort (hipmonai phantoms knee --out DIR) has DIR/dicom, DIR/landmarks and "
                    "DIR/grades.csv.",
    )
    prepare.add_argument("--dicom", type=Path, required=True, help="folder of DICOM files ({subject}/{visit}/*.dcm)")
    prepare.add_argument("--landmarks", type=Path, required=True,
                         help="folder of 32-point BoneFinder .pts files mirroring --dicom")
    prepare.add_argument("--grades", type=Path,
                         help="grades CSV (subject_id, visit, side, kl); without it the manifests' kl is -1")
    prepare.add_argument("--out", type=Path, required=True, help="output folder (the bundle's dataset_dir)")
    prepare.add_argument("--demo", action="store_true", help="CPU demo scale instead of the paper's")
    prepare.add_argument("--roi-spacing", type=float, help="ROI spacing in mm (overrides the scale)")
    prepare.add_argument("--roi-size", type=int, nargs=2, metavar=("W", "H"), help="ROI image size in px")
    prepare.add_argument("--spacing", type=float, help="landmark-stage spacing in mm")
    prepare.add_argument("--crop-mm", type=float, help="landmark crop side in mm")
    prepare.add_argument("--seed", type=int, default=0, help="subject split seed (default: 0)")
    prepare.add_argument("--quiet", action="store_true", help="no progress lines")
    prepare.set_defaults(func=run)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate the two-stage pipeline on a split",
        description="Run ROI -> landmark (-> second pass) inference on every radiograph of a split with the bundle's "
                    "inference config and report PCK at 1/1.5/2/2.5 mm (landmarks 0, 4, 8, 9, 12, 15), outliers "
                    "(>= 10 mm), the mean radial error and cumulative error curves (results.json, errors.csv, "
                    "predictions.csv, cumulative_errors.png).",
    )
    _bundle_options(evaluate, ["configs/inference.json"])
    evaluate.add_argument("--no-second-pass", action="store_true", help="skip the re-centred second pass")
    evaluate.set_defaults(func=run)

    ablation = commands.add_parser(
        "ablation",
        help="train and evaluate the paper's Table 1 arms into one table",
        description="Train the landmark stage for each arm (L2, L1, wing; MixUp; cutout; initialised from the ROI "
                    "model or from scratch) through the bundle and evaluate on the split (ablation.md, "
                    "ablation.json).",
    )
    _bundle_options(ablation, ["configs/train.json"])
    ablation.add_argument("--arms", nargs="+", help="arms to run (default: all)")
    ablation.add_argument("--roi-checkpoint", type=Path, metavar="MODEL_ROI.pt",
                          help="ROI model for the ROI-initialised arm (default: train)")
    ablation.add_argument("--reuse", nargs="*", type=parse_override, default=[], metavar="ARM=CHECKPOINT",
                          help="arms already trained with exactly their settings: evaluate this checkpoint instead")
    ablation.add_argument("--fresh", action="store_true",
                          help="train arms again that an earlier, interrupted call finished (their run.json)")
    ablation.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.knee_command == "prepare":
        from hipmonai.data.knee import prepare_knee_data

        scale = dict(DEMO_SCALE if args.demo else PAPER_SCALE)
        for name, value in (("roi_spacing_mm", args.roi_spacing), ("roi_size_px", args.roi_size),
                            ("landmark_spacing_mm", args.spacing), ("crop_mm", args.crop_mm)):
            if value is not None:
                scale[name] = value
        summary = prepare_knee_data(args.dicom, args.landmarks, args.out, grades_csv=args.grades, seed=args.seed,
                                    progress=not args.quiet, **scale)
        print(json.dumps(summary, indent=1))
        return 0

    overrides = dict(args.overrides)
    if args.knee_command == "evaluate":
        from hipmonai.data.knee import load_knee_datalist
        from hipmonai.experiments.bundle import bundle_parser
        from hipmonai.inference import evaluate_pipeline

        if args.no_second_pass:
            overrides["second_pass"] = False
        parser = bundle_parser(args.bundle, args.config, overrides)
        items = load_knee_datalist(parser.get_parsed_content("datalist"), args.split)
        results = evaluate_pipeline(parser.get_parsed_content("pipeline"), items, args.out)
        print(json.dumps({k: v for k, v in results.items() if k != "first_pass"}, indent=1))
        print(f"wrote {args.out}")
        return 0

    if args.knee_command == "ablation":
        from hipmonai.experiments.kneel_ablation import format_table, run_kneel_ablation

        rows = run_kneel_ablation(args.bundle, args.config, args.out, arms=args.arms,
                                  roi_checkpoint=args.roi_checkpoint, overrides=overrides, split=args.split,
                                  reuse=dict(args.reuse), resume=not args.fresh)
        print(format_table(rows))
        print(f"wrote {args.out / 'ablation.md'}")
        return 0
    raise InputError(f"unknown knee action {args.knee_command!r}")
