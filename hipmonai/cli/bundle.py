"""``hipmonai bundle``: share a trained bundle — ``export`` writes a complete model-zoo-style bundle folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bundle",
        help="export a trained checkpoint as a complete, shareable MONAI bundle folder",
        description="Bundle operations. 'export' writes configs, docs, LICENSE, models/model.pt (with the settings it "
                    "was trained with), models/model.ts and metadata.json with the trained input shape and evaluation "
                    "metrics: a folder that runs anywhere once hipmonai is installed.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write a bundle folder for a trained checkpoint")
    export.add_argument("name", help="the bundle (e.g. hip_landmark_labelaug; hipmonai bundle export -h lists them)")
    export.add_argument("--checkpoint", required=True, type=Path, metavar="MODEL.pt", help="the trained checkpoint")
    export.add_argument("--roi-checkpoint", type=Path, metavar="MODEL_ROI.pt",
                        help="the ROI stage checkpoint (knee_landmark_kneel only, required there)")
    export.add_argument("--metrics", type=Path, metavar="FILE",
                        help="evaluation metrics for metadata.json eval_metrics: the bundle evaluation's metrics.csv "
                             "or a JSON object (default: keep the template's)")
    export.add_argument("--out", required=True, type=Path, metavar="DIR", help="the bundle folder to write")
    export.add_argument("--no-torchscript", dest="torchscript", action="store_false",
                        help="do not write models/model.ts")
    export.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from hipmonai.deploy.bundle_export import export_bundle

    out = export_bundle(args.name, args.checkpoint, args.out, roi_checkpoint=args.roi_checkpoint,
                        metrics=args.metrics, overwrite=args.overwrite, torchscript=args.torchscript)
    print(f"wrote bundle {args.name} to {out}")
    return 0
