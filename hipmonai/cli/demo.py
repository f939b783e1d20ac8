"""``hipmonai demo``: the main job on the embedded phantom cohort (what the README's run command calls).

Steps, each cached in ``--out`` so a rerun only redoes what changed:
1. generate the phantom hip cohort (DICOM + .pts + grades CSV + lesion masks + contact sheet),
2. preprocess it into the HDF5 store (SPEC 3),
3. write the subject-level 70/15/15 manifest (SPEC 2.4).
Later issues extend it with the four bundles' training and reports.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)

DEMO_SUBJECTS = 300
DEMO_SEED = 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job on the embedded phantom cohort",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="outputs/demo", help="output folder (cohort, store, manifest, reports)")
    parser.add_argument("--subjects", type=int, default=DEMO_SUBJECTS, help="phantom subjects")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="seed of the cohort and the split")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--force", action="store_true", help="redo every step even when cached")
    parser.set_defaults(func=run)


def _cohort_is_current(cohort: Path, subjects: int, seed: int) -> bool:
    info = cohort / "cohort.json"
    if not info.exists():
        return False
    recorded = json.loads(info.read_text(encoding="utf-8"))
    return recorded.get("seed") == seed and recorded.get("n_subjects") == subjects


def run(args: argparse.Namespace) -> int:
    from hipmonai.data import make_datalist, write_manifest
    from hipmonai.phantoms import format_summary, generate_hip_cohort
    from hipmonai.preprocessing import preprocess_cohort

    out = Path(args.out)
    cohort, store, manifest = out / "cohorts" / "hip", out / "hip_phantom.h5", out / "hip_phantom_split.json"
    started = time.perf_counter()

    fresh = args.force or not _cohort_is_current(cohort, args.subjects, args.seed)
    if fresh:
        print(f"[1/3] generating {args.subjects} phantom subjects in {cohort}")
        print(format_summary(generate_hip_cohort(cohort, n_subjects=args.subjects, seed=args.seed,
                                                 workers=args.workers, overwrite=True)))
    else:
        print(f"[1/3] phantom cohort cached in {cohort}")

    if fresh or not store.exists():
        print(f"[2/3] preprocessing into {store}")
        summary = preprocess_cohort(
            cohort / "dicom", cohort / "landmarks", cohort / "grades.csv", store,
            lesions_dir=cohort / "lesions", workers=args.workers, overwrite=True,
        )
        print(f"      {summary['hips_written']} hips written, {len(summary['skipped'])} inputs skipped")
    else:
        print(f"[2/3] store cached: {store}")

    print(f"[3/3] subject-level split -> {manifest}")
    datalist = make_datalist(store, seed=args.seed)
    write_manifest(manifest, datalist)
    counts = {split: datalist["counts"][split]["hips"] for split in ("training", "validation", "test")}
    print(f"      hips per split: {counts}")
    print(f"done in {time.perf_counter() - started:.0f} s; contact sheet: {cohort / 'contact_sheet.png'}")
    return 0
