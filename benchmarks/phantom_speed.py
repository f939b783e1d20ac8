"""What does one simulated radiograph cost? Seconds per hip and knee phantom at several pixel spacings, the image size,
the peak memory, and where the time goes.

For each phantom and spacing the script renders the same image (``--seed``) ``--repeats`` times and reports the
median wall time (and CPU time), split into the X-ray image formation
(:meth:`hipmonai.phantoms.xray.Film.detect`: spectrum, attenuation, scatter, noise, detector blur), the "for
presentation" processing (:meth:`~hipmonai.phantoms.xray.Film.present`) and the rest ("drawing": subject, geometry,
rasterised bones, soft tissue, spurs, annotations). The two methods are timed by wrapping them for the run; the
package is not changed. Peak memory is the ``tracemalloc`` peak (Python and NumPy allocations, which NumPy reports to
``tracemalloc``) of one more render of each row, traced separately so that tracing does not slow the timed renders.
One render ahead of the table (the first phantom at the coarsest spacing) warms the imports and the attenuation
tables.

Run (under a minute on one core with the defaults)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phantom_speed.py --spacings 0.5 0.2 0.15 --repeats 5

``hip-mesh`` is the hip phantom with ``mesh_anatomy_fraction=1`` (bones projected from the embedded meshes).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hipmonai.phantoms import HipPhantomParams, render_hip_radiograph, render_knee_radiograph
from hipmonai.phantoms.xray import Film

RENDERERS: dict[str, Callable[..., object]] = {
    "hip": render_hip_radiograph,
    # the same subject with bones from the embedded meshes (hipmonai.phantoms.hip_mesh)
    "hip-mesh": functools.partial(render_hip_radiograph, params=HipPhantomParams(mesh_anatomy_fraction=1.0)),
    "knee": render_knee_radiograph,
}
TIMED_METHODS = ("detect", "present")


@dataclass
class SpeedRow:
    """Median timings (s) of one phantom at one spacing, the image size and the traced peak memory.

    Attributes:
        phantom: ``hip`` or ``knee``.
        spacing_mm: pixel spacing.
        size_wh_px: ``(W, H)`` of the image.
        total_s, detect_s, present_s, drawing_s: median wall seconds per render (drawing = total - detect - present).
        cpu_s: median CPU seconds of the process per render (on a shared machine, less sensitive to other load).
        peak_mib: ``tracemalloc`` peak of one render (MiB), ``NaN`` when not measured.
    """

    phantom: str
    spacing_mm: float
    size_wh_px: tuple[int, int]
    total_s: float
    detect_s: float
    present_s: float
    drawing_s: float
    cpu_s: float
    peak_mib: float


@contextmanager
def method_timers() -> Iterator[dict[str, float]]:
    """Wrap :class:`Film`'s ``detect`` and ``present`` for the duration; yields their accumulated seconds."""
    seconds = dict.fromkeys(TIMED_METHODS, 0.0)
    originals = {name: getattr(Film, name) for name in TIMED_METHODS}

    def timed(name: str, method: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - t0

        return wrapper

    for name, method in originals.items():
        setattr(Film, name, timed(name, method))
    try:
        yield seconds
    finally:
        for name, method in originals.items():
            setattr(Film, name, method)


def time_phantom(phantom: str, spacing_mm: float, seed: int, repeats: int, memory: bool = True) -> SpeedRow:
    """Render ``repeats`` times (median timings) and, with ``memory``, once more under ``tracemalloc``."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    render = RENDERERS[phantom]
    totals, detects, presents, cpus = [], [], [], []
    size = (0, 0)
    for _ in range(repeats):
        with method_timers() as seconds:
            t0, c0 = time.perf_counter(), time.process_time()
            ph = render(seed, spacing_mm=spacing_mm)
            totals.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        detects.append(seconds["detect"])
        presents.append(seconds["present"])
        size = (int(ph.image.shape[1]), int(ph.image.shape[0]))
    peak = float("nan")
    if memory:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            render(seed, spacing_mm=spacing_mm)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    drawing = [t - d - p for t, d, p in zip(totals, detects, presents, strict=True)]
    med = statistics.median
    return SpeedRow(phantom, spacing_mm, size, med(totals), med(detects), med(presents), med(drawing), med(cpus), peak)


def format_table(rows: list[SpeedRow]) -> str:
    """The printed table: one row per phantom and spacing."""
    head = (
        f"{'phantom':<8}{'spacing mm':>11}{'size px (WxH)':>15}{'Mpx':>6}{'s/image':>9}{'CPU s':>7}{'detect s':>10}"
        f"{'present s':>11}{'drawing s':>11}{'peak MiB (tracemalloc)':>24}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        w, h = r.size_wh_px
        lines.append(
            f"{r.phantom:<8}{r.spacing_mm:>11.3g}{f'{w}x{h}':>15}{w * h / 1e6:>6.2f}{r.total_s:>9.2f}{r.cpu_s:>7.2f}"
            f"{r.detect_s:>10.2f}{r.present_s:>11.2f}{r.drawing_s:>11.2f}{r.peak_mib:>24.0f}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spacings", type=float, nargs="+", default=[0.5, 0.2, 0.15], help="pixel spacings (mm)")
    parser.add_argument("--phantoms", nargs="+", choices=sorted(RENDERERS), default=["hip", "hip-mesh", "knee"])
    parser.add_argument("--repeats", type=int, default=5, help="timed renders per row (median)")
    parser.add_argument("--seed", type=int, default=0, help="phantom seed (the same image is rendered each time)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc render")
    args = parser.parse_args(argv)
    if args.repeats < 1 or min(args.spacings) <= 0:
        parser.error(f"--repeats must be >= 1 and --spacings positive, got {args.repeats}, {args.spacings}.")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    RENDERERS[args.phantoms[0]](args.seed, spacing_mm=max(args.spacings))  # warm-up, not timed
    rows = [
        time_phantom(phantom, spacing, args.seed, args.repeats, memory=not args.no_memory)
        for phantom in args.phantoms
        for spacing in args.spacings
    ]
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
