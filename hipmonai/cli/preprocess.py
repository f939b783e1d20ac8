"""``hipmonai preprocess``: DICOM folder + .pts folder + grades CSV -> HDF5 store and summary JSON."""

from __future__ import annotations

import argparse
import json
import os


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preprocess",
        help="DICOM + BoneFinder .pts + grades CSV -> preprocessed HDF5 store",
        description=(
            "Resample each radiograph to --spacing, crop --crop px around each femoral head, scale intensities to "
            "the 5th-95th percentiles, flip left hips, and write every hip into one HDF5 store with a summary JSON "
            "beside it (every skipped input and its reason; written also when no hip could be written, then the "
            "command exits with status 1). Settings are checked before any work: --spacing finite in (0.02, 5] mm, "
            "--crop 16-4096 px, --fallback-spacing as --spacing; a DICOM file whose own spacing lies outside "
            "(0.02, 5] mm, or whose image resampled to --spacing would exceed 2**27 pixels, is skipped with the "
            "reason. An interrupted run resumes when rerun with the same arguments; a rerun with other settings or "
            "inputs (the grades CSV, .pts and lesion files and the detector checkpoint are compared by contents) is "
            "refused naming what differs. One run at a time writes --out (a second one is refused); a full disk stops "
            "the run, which resumes once space is freed. --shard I/N processes one subject-level part of the cohort "
            "(for cluster array jobs); 'hipmonai merge' combines the shard stores. With --detector-checkpoint, "
            "radiographs without a .pts get landmarks from the "
            "hip_landmark_labelaug bundle's model (written as .pts files to --predicted-landmarks, so they can be "
            "corrected and passed back with --landmarks); a hip the model does not find (median landmark confidence "
            "below --min-confidence, or a femoral head outside the image or of implausible size) is skipped with the "
            "reason."
        ),
    )
    parser.add_argument("--dicom", required=True, help="folder of DICOM files ({subject}/{visit}/*.dcm)")
    parser.add_argument("--landmarks", help="folder of BoneFinder .pts files mirroring --dicom (optional with "
                        "--detector-checkpoint)")
    parser.add_argument("--grades", required=True, help="grades CSV (subject_id, visit, side, osteo_* 0-3)")
    parser.add_argument("--out", required=True, help="HDF5 store to write (e.g. outputs/hip.h5)")
    parser.add_argument("--spacing", type=float,
                        help="target spacing in mm, in (0.02, 5] (default: configs/preprocessing.json)")
    parser.add_argument("--crop", type=int, help="crop side in pixels, 16-4096 (default: configs/preprocessing.json)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (0 or 1: in this process)")
    parser.add_argument("--lesions", help="phantom lesion masks folder (ground truth, phantoms only)")
    parser.add_argument("--index", help="CSV mapping DICOM paths to subject_id and visit (path, subject_id, visit)")
    parser.add_argument(
        "--fallback-spacing", type=float, nargs=2, metavar=("X_MM", "Y_MM"),
        help="pixel spacing in mm, each in (0.02, 5], for DICOM files that carry none (otherwise they are skipped)",
    )
    parser.add_argument("--detector-checkpoint", metavar="MODEL.pt",
                        help="hip_landmark_labelaug checkpoint predicting landmarks for radiographs without a .pts")
    parser.add_argument("--detector-bundle",
                        help="the landmark bundle folder (default: the hip_landmark_labelaug bundle packaged with "
                             "hipmonai)")
    parser.add_argument("--detector-config", nargs="+", default=["configs/inference.json"], metavar="FILE",
                        help="bundle configs of the detector, relative to its bundle (default: configs/inference.json, "
                             "which reads the network and input sizes from the checkpoint)")
    parser.add_argument("--min-confidence", type=_confidence, metavar="P",
                        help="median landmark confidence (sigmoid of the peak logit) a hip needs for the detector to "
                        "report it, in (0, 1) (default: min_confidence of the detector config, 0.5)")
    parser.add_argument("--predicted-landmarks", metavar="DIR",
                        help="where predicted .pts files go (default: beside --out, '<store>.predicted_pts')")
    parser.add_argument("--shard", metavar="I/N",
                        help="process only shard I of N (0 <= I < N): the subjects whose sha256(subject_id) mod N "
                        "is I, every visit of a subject in the same shard; --out is then this shard's store (e.g. "
                        "hip.shard3.h5), combined with 'hipmonai merge'")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing store")
    parser.add_argument("--keep-parts", action="store_true", help="keep the per-hip part files after writing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _confidence(text: str) -> float:
    """``--min-confidence``: a number in (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hipmonai.errors import InputError
    from hipmonai.preprocessing import preprocess_cohort, summary_path
    from hipmonai.preprocessing.detector import DEFAULT_DETECTOR_BUNDLE, DetectorSpec
    from hipmonai.preprocessing.shards import Shard

    shard = Shard.parse(args.shard) if args.shard is not None else None
    if args.min_confidence is not None and not args.detector_checkpoint:
        raise InputError("--min-confidence applies to --detector-checkpoint; give a detector checkpoint or drop it")
    detector = None
    if args.detector_checkpoint:
        out = Path(args.out)
        detector = DetectorSpec(
            checkpoint=args.detector_checkpoint,
            predicted_dir=args.predicted_landmarks or str(out.with_name(f"{out.stem}.predicted_pts")),
            bundle_dir=args.detector_bundle or str(DEFAULT_DETECTOR_BUNDLE),
            config_files=tuple(args.detector_config),
            overrides={} if args.min_confidence is None else {"min_confidence": args.min_confidence},
        )
    elif not args.landmarks:
        raise InputError("give --landmarks (BoneFinder .pts) or --detector-checkpoint (a hip_landmark_labelaug "
                         "checkpoint)")
    summary = preprocess_cohort(
        args.dicom, args.landmarks, args.grades, args.out,
        spacing_mm=args.spacing, crop_px=args.crop, workers=args.workers, lesions_dir=args.lesions,
        index_csv=args.index, fallback_spacing_xy_mm=args.fallback_spacing, overwrite=args.overwrite,
        keep_parts=args.keep_parts, progress=not args.quiet, detector=detector, shard=shard,
    )
    brief = {k: summary[k] for k in ("store", "images_found", "images_processed", "hips_written", "seconds")}
    brief["skipped"] = len(summary["skipped"])
    brief["summary"] = str(summary_path(args.out))
    print(json.dumps(brief))
    return 0
