"""Grid search over the prior's (lambda, r, sigma), selected by the lowest validation loss (Chen et al. section 3.2).

The paper's grid is lambda in {0.5, 1, 2}, r in {5, 10, 20} px, sigma in {10, 20, 30} px at a 224 px crop, plus the
boundary extension it ran because the best point lay on the grid's upper edge: (3, 20, 30), (2, 30, 30),
(2, 20, 40), (3, 30, 40). Radii and widths are given in *paper pixels* (224 px crop) and scaled to the bundle's
input by ``image_size_px / 224`` (e.g. x 128/224 at the demo scale), so the prior covers the same anatomy.
The validation loss is the bundle's key metric (masked BCE only: the prior is a training-time term), so it is
comparable across lambda.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hipmonai.atomic import write_text_atomic
from hipmonai.experiments.bundle import bundle_parser, train_or_resume

__all__ = ["PAPER_BOUNDARY", "PAPER_GRID", "PAPER_INPUT_PX", "grid_points", "run_grid"]

#: The crop size (px) the paper's r and sigma refer to.
PAPER_INPUT_PX = 224
#: Paper 001's initial grid: lambda, r (px), sigma (px) at 224 px.
PAPER_GRID = {"lambda_prior": (0.5, 1.0, 2.0), "radius_px": (5.0, 10.0, 20.0), "sigma_px": (10.0, 20.0, 30.0)}
#: Paper 001's boundary extension, (lambda, r, sigma).
PAPER_BOUNDARY = ((3.0, 20.0, 30.0), (2.0, 30.0, 30.0), (2.0, 20.0, 40.0), (3.0, 30.0, 40.0))


def grid_points(
    lambdas: Sequence[float] = PAPER_GRID["lambda_prior"],
    radii_px: Sequence[float] = PAPER_GRID["radius_px"],
    sigmas_px: Sequence[float] = PAPER_GRID["sigma_px"],
    extra: Sequence[Sequence[float]] = PAPER_BOUNDARY,
) -> list[tuple[float, float, float]]:
    """The full product of the three axes followed by the ``extra`` points not already in it (order kept)."""
    for name, values in (("lambdas", lambdas), ("radii_px", radii_px), ("sigmas_px", sigmas_px)):
        if not values:
            raise ValueError(f"{name} must not be empty.")
    points = [(float(a), float(b), float(c)) for a, b, c in itertools.product(lambdas, radii_px, sigmas_px)]
    for point in extra:
        if len(point) != 3:
            raise ValueError(f"extra grid points must be (lambda, r, sigma), got {tuple(point)}.")
        point = tuple(float(v) for v in point)
        if point not in points:
            points.append(point)  # type: ignore[arg-type]
    for lam, radius, sigma in points:
        if lam < 0 or radius < 0 or sigma <= 0:
            raise ValueError(f"grid point (lambda={lam}, r={radius}, sigma={sigma}) needs lambda >= 0, r >= 0, "
                             "sigma > 0.")
    return points


def _run_name(lam: float, radius: float, sigma: float) -> str:
    return f"lambda{lam:g}_r{radius:g}_sigma{sigma:g}"


def _table(rows: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    header = ["rank", "lambda_prior", "r_paper_px", "sigma_paper_px", "r_input_px", "sigma_input_px",
              "best_val_loss", "best_epoch", "seconds", "selected"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    md = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        values = [row["rank"], f"{row['lambda_prior']:g}", f"{row['r_paper_px']:g}", f"{row['sigma_paper_px']:g}",
                  f"{row['r_input_px']:.2f}", f"{row['sigma_input_px']:.2f}", f"{row['best_val_loss']:.4f}",
                  row["best_epoch"], f"{row['seconds']:.0f}", "yes" if row["selected"] else ""]
        writer.writerow(values)
        md.append("| " + " | ".join(str(v) for v in values) + " |")
    return buffer.getvalue(), "\n".join(md) + "\n"


def run_grid(
    bundle_dir: str | os.PathLike,
    config_files: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    points: Sequence[tuple[float, float, float]] | None = None,
    overrides: Mapping[str, Any] | None = None,
    resume: bool = True,
) -> list[dict[str, Any]]:
    """Train the bundle at every grid point and rank the runs by their lowest validation loss.

    Args:
        bundle_dir: the bundle folder.
        config_files: bundle configs (e.g. ``["configs/train.json", "configs/demo.json"]``).
        out_dir: one sub-folder per point (checkpoint, ``run.json``) and ``grid_results.{md,csv,json}``.
        points: ``(lambda, r, sigma)`` in paper pixels (default :func:`grid_points`).
        overrides: further id overrides for every run (e.g. ``{"max_epochs": 5}``).
        resume: reuse a point's ``run.json`` when it exists (an interrupted grid goes on where it stopped).

    Returns:
        Rows sorted by validation loss: ``rank``, ``lambda_prior``, ``r_paper_px``, ``sigma_paper_px``,
        ``r_input_px``, ``sigma_input_px``, ``best_val_loss``, ``best_epoch``, ``seconds``, ``selected``,
        ``run_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    points = grid_points() if points is None else list(points)
    overrides = dict(overrides or {})
    image_size_px = float(bundle_parser(bundle_dir, config_files, overrides).get_parsed_content("image_size_px"))
    scale = image_size_px / PAPER_INPUT_PX
    rows = []
    for lam, radius, sigma in points:
        run_dir = out / _run_name(lam, radius, sigma)
        run = train_or_resume(bundle_dir, config_files, run_dir, name=run_dir.name, resume=resume, overrides={
            **overrides, "lambda_prior": lam, "prior_radius_px": radius * scale, "prior_sigma_px": sigma * scale})
        rows.append({"lambda_prior": lam, "r_paper_px": radius, "sigma_paper_px": sigma,
                     "r_input_px": radius * scale, "sigma_input_px": sigma * scale,
                     "best_val_loss": run.best_val_loss, "best_epoch": run.best_epoch, "seconds": run.seconds,
                     "run_dir": run.run_dir})
    rows.sort(key=lambda r: (math.inf if not math.isfinite(r["best_val_loss"]) else r["best_val_loss"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
        row["selected"] = rank == 1
    csv_text, md_table = _table(rows)
    best = rows[0]
    at_edge = [name for name, key in (("lambda", "lambda_prior"), ("r", "r_paper_px"), ("sigma", "sigma_paper_px"))
               if best[key] == max(row[key] for row in rows)]
    note = (f"Selected lambda={best['lambda_prior']:g}, r={best['r_paper_px']:g}, sigma={best['sigma_paper_px']:g} "
            f"(paper px at {PAPER_INPUT_PX}; x{scale:.3f} at this bundle's {image_size_px:g} px input) by the lowest "
            f"validation loss {best['best_val_loss']:.4f}.")
    if at_edge:
        note += f" The selection is at the upper edge of the tried values for {', '.join(at_edge)}."
    write_text_atomic(out / "grid_results.csv", csv_text)
    write_text_atomic(out / "grid_results.md", f"# Prior grid search\n\n{note}\n\n{md_table}")
    write_text_atomic(out / "grid_results.json", json.dumps({"note": note, "rows": rows}, indent=2))
    return rows
