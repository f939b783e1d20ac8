"""``hipmonai predict hip|knee``: DICOM radiographs in, landmarks (and hip osteophyte scores) out, from trained bundles.

The path a user without BoneFinder starts from (:mod:`hipmonai.inference.predict`): every network is built from its
bundle folder's ``configs/inference.json``, which reads its sizes from the checkpoint, so only the bundles folder is
needed (default ``outputs/demo/bundles``, where ``hipmonai demo`` exports its four trained bundles).
"""

from __future__ import annotations

import argparse

#: :data:`hipmonai.inference.predict.DEFAULT_BUNDLES_DIR`, not imported here: that module loads torch and MONAI, and
#: every ``hipmonai`` command builds this parser
DEFAULT_BUNDLES_DIR = "outputs/demo/bundles"


def _bundles_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dicom", nargs="+", metavar="DICOM", help="DICOM files or folders (searched recursively)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--bundles", default=DEFAULT_BUNDLES_DIR,
                        help="folder of trained bundles, one sub-folder per bundle name (default: %(default)s, "
                             "where `hipmonai demo` exports them)")
    parser.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument(
        "--fallback-spacing", type=float, nargs=2, metavar=("X_MM", "Y_MM"),
        help="pixel spacing for DICOM files that carry none (otherwise they are listed as failed)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="landmarks (and hip osteophyte scores) of DICOM radiographs with trained bundles",
        description="Run the trained bundles on DICOM radiographs. Per radiograph, under --out, mirroring the input "
                    "folders: NAME.pts (landmarks in mm), NAME.json (points in px and mm with names and the per-hip "
                    "or per-knee results) and NAME.png (an overlay); summary.csv and summary.json list every file, "
                    "with the reason for each one that could not be analysed. The exit status is non-zero only when "
                    "no image could be analysed.",
    )
    kinds = parser.add_subparsers(dest="predict_kind", metavar="KIND", required=True)
    hip = kinds.add_parser(
        "hip",
        help="AP pelvis: landmarks, femoral heads, osteophyte probabilities and grades",
        description="Landmarks of the hip_landmark_labelaug bundle (28 points, right hip first; the .pts is written "
                    "when both hips are found, the file hipmonai preprocess --landmarks reads back) and the femoral "
                    "head circles; with hip_osteophyte_prior and hip_osteophyte_grading in --bundles, the four "
                    "osteophyte probabilities and OARSI grades of each hip.",
    )
    _bundles_option(hip)
    knee = kinds.add_parser(
        "knee",
        help="bilateral PA knee: two-stage KNEEL landmarks (16 per knee)",
        description="ROI then landmark stage of the knee_landmark_kneel bundle: 16 landmarks per knee, right knee "
                    "first, in px and mm (.pts in mm).",
    )
    _bundles_option(knee)
    return parser


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from hipmonai.errors import InputError
    from hipmonai.inference.predict import HipPredictor, KneePredictor, predict_files

    predictor_type = {"hip": HipPredictor, "knee": KneePredictor}[args.predict_kind]
    predictor = predictor_type.from_bundles(args.bundles, device=args.device)
    summary = predict_files(predictor, args.dicom, args.out, spacing_xy_mm=args.fallback_spacing,
                            progress=not args.quiet)
    csv_path = Path(args.out) / summary["summary_csv"]
    if not summary["images_analysed"]:
        raise InputError(f"none of the {summary['images_found']} DICOM files could be analysed (reasons in "
                         f"{csv_path})")
    brief = {k: summary[k] for k in ("kind", "images_found", "images_analysed", "images_failed", "seconds")}
    brief["summary"] = str(csv_path)
    print(json.dumps(brief))
    return 0
