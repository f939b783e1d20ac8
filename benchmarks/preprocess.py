"""Preprocessing throughput and peak memory on the phantom hip cohort.

Prints, for 1 and 2 worker processes, the images per second of ``hipmonai preprocess`` (wall clock of a fresh
process, start-up included) and the peak resident memory of the main process and of the largest worker.

    .venv/bin/python benchmarks/preprocess.py --subjects 100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# runs one preprocess in a fresh interpreter and prints the peak RSS (KiB) of itself and of its worker processes
_MEASURE = """
import json, resource, sys
from hipmonai.cli import main
code = main(sys.argv[1:])
print(json.dumps({"rc": code, "self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100, help="phantom subjects (one radiograph, two hips each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cohort", help="reuse this phantom cohort folder instead of generating one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hipmonai-bench-") as tmp:
        cohort = Path(args.cohort) if args.cohort else Path(tmp) / "cohort"
        if not args.cohort:
            subprocess.run(
                [sys.executable, "-m", "hipmonai", "phantoms", "hip", "--out", str(cohort), "--quiet",
                 "--subjects", str(args.subjects), "--seed", str(args.seed), "--workers", "2"],
                check=True, stdout=subprocess.DEVNULL,
            )
        n_images = sum(1 for _ in (cohort / "dicom").rglob("*.dcm"))
        print(f"cohort: {n_images} radiographs ({cohort})")
        for workers in args.workers:
            out = Path(tmp) / f"bench_w{workers}.h5"
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", _MEASURE, "preprocess", "--dicom", str(cohort / "dicom"),
                 "--landmarks", str(cohort / "landmarks"), "--grades", str(cohort / "grades.csv"),
                 "--lesions", str(cohort / "lesions"), "--out", str(out), "--workers", str(workers),
                 "--quiet"],
                check=True, stdout=subprocess.PIPE, text=True,
            )
            seconds = time.perf_counter() - start
            peaks = json.loads(result.stdout.strip().splitlines()[-1])
            summary = json.loads(out.with_name(f"{out.stem}.summary.json").read_text())
            print(
                f"workers={workers}: {n_images / seconds:.2f} images/s ({seconds:.1f} s wall for {n_images} images, "
                f"{summary['hips_written']} hips, {len(summary['skipped'])} skipped); peak RSS main "
                f"{peaks['self_kib'] / 1024:.0f} MiB, largest worker {peaks['children_kib'] / 1024:.0f} MiB; "
                f"store {out.stat().st_size / 2**20:.1f} MiB"
            )


if __name__ == "__main__":
    main()
