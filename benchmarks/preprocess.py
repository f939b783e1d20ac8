"""Preprocessing throughput and peak memory on a phantom hip cohort, side by side with the pydicom decode floor.

For each number of worker processes, runs ``hipmonai preprocess`` in a fresh interpreter and prints its images per
second twice — after start-up (the interpreter, torch and MONAI imported before the clock starts) and over the whole
wall clock — with the peak resident memory of the main process and of the largest worker (with one worker the main
process does the work). Beside it, on the same files, the pydicom decode-only rate (``pydicom.dcmread`` then
``pixel_array``, one process): no preprocessing can beat it, and the ratio of the one-worker rate to it is the
figure to watch. ``--clinical`` renders the phantoms at 0.15 mm, the size of a clinical radiograph (about
2000-2500 x 2400-3000 px) instead of the default 0.35-0.6 mm; ``--repeats`` alternates decode and one-worker runs
and reports each, for a machine shared with other work.

    .venv/bin/python benchmarks/preprocess.py --subjects 100
    .venv/bin/python benchmarks/preprocess.py --clinical --subjects 12 --workers 1 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLINICAL_SPACING_MM = 0.15

# one preprocess in a fresh interpreter: imports first, then the timed run; prints seconds and peak RSS (KiB) of
# itself and of its worker processes
_MEASURE = """
import json, resource, sys, time
import torch, monai.data, monai.transforms
import hipmonai.data, hipmonai.preprocessing.runner, hipmonai.readers, hipmonai.transforms
from hipmonai.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(json.dumps({"rc": code, "seconds": time.perf_counter() - start,
                  "self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""

# the decode floor: every file read and decoded by pydicom, nothing else, in one fresh interpreter
_DECODE = """
import json, resource, sys, time
import pydicom
start = time.perf_counter()
for path in sys.argv[1:]:
    pydicom.dcmread(path).pixel_array
print(json.dumps({"seconds": time.perf_counter() - start,
                  "self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _run_json(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _decode(paths: list[Path]) -> dict:
    return _run_json(_DECODE, *map(str, paths))


def _preprocess(cohort: Path, out: Path, workers: int) -> tuple[dict, float, dict]:
    """``(peaks and in-process seconds, wall seconds, summary)`` of one fresh ``hipmonai preprocess`` run."""
    start = time.perf_counter()
    measured = _run_json(
        _MEASURE, "preprocess", "--dicom", str(cohort / "dicom"), "--landmarks", str(cohort / "landmarks"),
        "--grades", str(cohort / "grades.csv"), "--lesions", str(cohort / "lesions"), "--out", str(out),
        "--workers", str(workers), "--quiet", "--overwrite",
    )
    wall = time.perf_counter() - start
    return measured, wall, json.loads(out.with_name(f"{out.stem}.summary.json").read_text())


def _sizes(paths: list[Path]) -> str:
    import pydicom

    shapes = [(int(ds.Columns), int(ds.Rows)) for ds in (pydicom.dcmread(p, stop_before_pixels=True) for p in paths)]
    widths, heights = zip(*shapes, strict=True)
    return f"{min(widths)}-{max(widths)} x {min(heights)}-{max(heights)} px (W x H)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100, help="phantom subjects (one radiograph, two hips each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clinical", action="store_true",
                        help=f"render the phantoms at {CLINICAL_SPACING_MM} mm (clinical radiograph size)")
    parser.add_argument("--repeats", type=int, default=1, help="decode / one-worker runs, alternated")
    parser.add_argument("--cohort", help="reuse this phantom cohort folder instead of generating one")
    args = parser.parse_args()
    if args.subjects < 1 or args.repeats < 1 or min(args.workers) < 1:
        parser.error(f"--subjects, --repeats and --workers must be positive, got {args.subjects}, {args.repeats}, "
                     f"{args.workers}")

    with tempfile.TemporaryDirectory(prefix="hipmonai-bench-") as tmp:
        cohort = Path(args.cohort) if args.cohort else Path(tmp) / "cohort"
        if not args.cohort:
            spacing = ["--spacing", str(CLINICAL_SPACING_MM)] if args.clinical else []
            subprocess.run(
                [sys.executable, "-m", "hipmonai", "phantoms", "hip", "--out", str(cohort), "--quiet",
                 "--subjects", str(args.subjects), "--seed", str(args.seed), "--workers", "2", *spacing],
                check=True, stdout=subprocess.DEVNULL,
            )
        paths = sorted((cohort / "dicom").rglob("*.dcm"))
        n_images = len(paths)
        print(f"cohort: {n_images} radiographs, {_sizes(paths)} ({cohort})")
        print("workers | images/s after start-up | per core | vs decode | images/s wall | "
              "peak RSS main | largest worker | hips | store")
        ratios = []
        for repeat in range(args.repeats):
            decoded = _decode(paths)
            decode_rate = n_images / decoded["seconds"]
            print(f"decode  | {decode_rate:.2f} (pydicom dcmread + pixel_array, 1 process, peak RSS "
                  f"{decoded['self_kib'] / 1024:.0f} MiB)")
            for workers in args.workers if repeat == 0 else [1]:
                out = Path(tmp) / f"bench_w{workers}.h5"
                measured, wall, summary = _preprocess(cohort, out, workers)
                rate = n_images / measured["seconds"]
                if workers == 1:
                    ratios.append(rate / decode_rate)
                worker_peak = "-" if workers == 1 else f"{measured['children_kib'] / 1024:.0f} MiB"
                print(
                    f"{workers:7d} | {rate:.2f} | {rate / workers:.2f} | {rate / workers / decode_rate:.2f}x | "
                    f"{n_images / wall:.2f} | {measured['self_kib'] / 1024:.0f} MiB | {worker_peak} | "
                    f"{summary['hips_written']} ({len(summary['skipped'])} skipped) | "
                    f"{out.stat().st_size / 2**20:.1f} MiB"
                )
        if len(ratios) > 1:
            print(f"one worker vs decode: median {statistics.median(ratios):.2f}x "
                  f"(runs: {', '.join(f'{r:.2f}x' for r in ratios)})")


if __name__ == "__main__":
    main()
