"""Is the phantom osteophyte task learnable as intended? Train a small CNN on hip crops for a few minutes on CPU
and report the per-target ROC AUC on held-out subjects.

Crops are centred on the *true* femoral head (``truth.csv``), resampled to a fixed spacing, normalised by the 5th-95th
percentiles and left hips flipped to the right-hip orientation (the steps of
``hipmonai.transforms.hip_preprocessing``, done here with the phantom's own ground truth so the benchmark does
not depend on the preprocessing code). The split is by subject.
Next to the CNN's AUC the script prints what the joint space alone (a shortcut that reads severity, not the spur)
scores, and the fraction of the held-out lesion pixels that lie inside the crops.

Run (about 4-6 minutes on 2 CPU cores, generating the default cohort first if it is missing)::

    .venv/bin/python benchmarks/phantom_learnability.py --cohort outputs/phantoms_hip_default
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cohort", default="outputs/phantoms_hip_default", help="hip cohort folder (generated if absent)"
    )
    parser.add_argument("--subjects", type=int, default=None, help="subjects when generating (default: demo size)")
    parser.add_argument("--seed", type=int, default=0, help="cohort seed when generating, and training seed")
    parser.add_argument("--workers", type=int, default=2, help="generator worker processes")
    parser.add_argument("--spacing-mm", type=float, default=0.8, help="crop pixel spacing")
    parser.add_argument("--crop-px", type=int, default=112, help="crop size (pixels)")
    parser.add_argument("--minutes", type=float, default=4.0, help="training time budget")
    parser.add_argument("--max-epochs", type=int, default=60, help="epoch limit")
    parser.add_argument("--test-fraction", type=float, default=0.3, help="fraction of subjects held out")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    return parser.parse_args(argv)


def ensure_cohort(args: argparse.Namespace) -> Path:
    from hipmonai.phantoms import generate_hip_cohort

    out = Path(args.cohort)
    if (out / "cohort.json").is_file():
        print(f"reusing the cohort in {out}")
        return out
    options = {} if args.subjects is None else {"n_subjects": args.subjects}
    summary = generate_hip_cohort(out, seed=args.seed, workers=args.workers, **options)
    print(f"generated {summary['counts']['images']} images in {summary['elapsed_s']:.0f} s")
    return out


def load_crops(cohort: Path, spacing_mm: float, crop_px: int) -> dict[str, np.ndarray]:
    """Crops ``(N, crop, crop)`` float32 around each true femoral head, with grades, subjects and truth."""
    from hipmonai.io import read_grades_csv
    from hipmonai.io.landmark_groups import TARGETS
    from hipmonai.phantoms import read_lesion_mask
    from hipmonai.readers import load_radiograph

    grades = read_grades_csv(cohort / "grades.csv").grades
    truth = list(csv.DictReader((cohort / "truth.csv").open(encoding="utf-8")))
    by_image: dict[tuple[str, str], list[dict]] = {}
    for row in truth:
        by_image.setdefault((row["subject_id"], row["visit"]), []).append(row)
    crops, labels, subjects, js, in_crop = [], [], [], [], []
    half = (crop_px - 1) / 2.0
    grid = (np.arange(crop_px) - half) * spacing_mm  # mm offsets from the head centre
    for (subject, visit), rows in sorted(by_image.items()):
        stem = f"{subject}/{visit}/{subject}_{visit}"
        array_wh, meta = load_radiograph(cohort / "dicom" / f"{stem}.dcm")
        sx, sy = meta["spacing_xy_mm"]
        bits_wh, _ = read_lesion_mask(cohort / "lesions" / f"{stem}.nii.gz")
        for row in rows:
            side = row["side"]
            cx, cy = float(row["head_centre_x_mm"]), float(row["head_centre_y_mm"])
            xs = grid[::-1] if side == "left" else grid  # flip left hips to the right-hip orientation
            xx, yy = np.meshgrid((cx + xs) / sx, (cy + grid) / sy)  # (rows, cols) of the crop -> image (x, y) px
            crop = ndimage.map_coordinates(array_wh, [xx, yy], order=1, mode="nearest").astype(np.float32)
            lo, hi = np.percentile(crop, [5, 95])
            crops.append((crop - lo) / max(hi - lo, 1e-6))
            labels.append(grades[(subject, visit, side)] > 0)
            subjects.append(subject)
            js.append(float(row["joint_space_mm"]))
            side_bits = (bits_wh >> (4 * (0 if side == "right" else 1))) & 15
            lx, ly = np.nonzero(side_bits)  # lesion pixels (x, y) of this hip
            inside = (np.abs(lx * sx - cx) <= half * spacing_mm) & (np.abs(ly * sy - cy) <= half * spacing_mm)
            in_crop.append(float(inside.mean()) if len(lx) else 1.0)
    return {
        "x": np.stack(crops)[:, None].astype(np.float32),
        "y": np.stack(labels).astype(np.float32),
        "subject": np.array(subjects),
        "joint_space_mm": np.array(js),
        "lesion_in_crop": np.array(in_crop),
        "targets": np.array(TARGETS),
    }


def build_model(n_out: int):
    import torch.nn as nn

    def block(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(True),
            nn.MaxPool2d(2),
        )

    return nn.Sequential(
        block(1, 16),
        block(16, 32),
        block(32, 64),
        block(64, 96),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(96, n_out),
    )


def train_and_evaluate(data: dict[str, np.ndarray], args: argparse.Namespace) -> dict:
    import torch
    from sklearn.metrics import roc_auc_score

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    subjects = np.unique(data["subject"])
    test_subjects = set(rng.choice(subjects, size=int(round(args.test_fraction * len(subjects))), replace=False))
    test = np.array([s in test_subjects for s in data["subject"]])
    x_train, y_train = torch.from_numpy(data["x"][~test]), torch.from_numpy(data["y"][~test])
    x_test, y_test = torch.from_numpy(data["x"][test]), data["y"][test]
    model = build_model(y_train.shape[1])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    pos = y_train.mean(0).clamp(0.05, 0.95)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=(1 - pos) / pos)
    start, epoch, history = time.perf_counter(), 0, []
    shift = 6
    while epoch < args.max_epochs and time.perf_counter() - start < 60 * args.minutes:
        model.train()
        order = torch.randperm(len(x_train))
        total = 0.0
        for i in range(0, len(order), 32):
            idx = order[i : i + 32]
            xb = x_train[idx]
            dy, dx = (int(v) for v in rng.integers(-shift, shift + 1, size=2))  # small random translation
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            xb = xb * (1 + 0.1 * torch.randn(len(xb), 1, 1, 1)) + 0.1 * torch.randn(len(xb), 1, 1, 1)
            loss = loss_fn(model(xb), y_train[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        epoch += 1
        history.append(total / len(x_train))
        print(f"epoch {epoch:3d}  loss {history[-1]:.4f}  ({time.perf_counter() - start:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():
        scores = torch.sigmoid(torch.cat([model(x_test[i : i + 64]) for i in range(0, len(x_test), 64)])).numpy()
    js = data["joint_space_mm"][test]
    results = {
        "epochs": epoch,
        "train_s": round(time.perf_counter() - start, 1),
        "n_train": int((~test).sum()),
        "n_test": int(test.sum()),
        "lesion_in_crop": round(float(data["lesion_in_crop"][test].mean()), 4),
        "targets": {},
    }
    for k, target in enumerate(data["targets"]):
        y = y_test[:, k]
        results["targets"][str(target)] = {
            "n_pos": int(y.sum()),
            "auc_cnn": round(float(roc_auc_score(y, scores[:, k])), 4),
            "auc_joint_space_only": round(float(roc_auc_score(y, -js)), 4),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cohort = ensure_cohort(args)
    t0 = time.perf_counter()
    data = load_crops(cohort, args.spacing_mm, args.crop_px)
    print(
        f"{len(data['x'])} hip crops of {args.crop_px} px at {args.spacing_mm} mm in {time.perf_counter() - t0:.0f} s"
    )
    results = train_and_evaluate(data, args)
    print(
        f"\nheld-out subjects: {results['n_test']} hips ({results['n_train']} for training), {results['epochs']} epochs"
        f" in {results['train_s']:.0f} s; lesion pixels inside the crops: {100 * results['lesion_in_crop']:.1f} %"
    )
    print(f"{'target':<16}{'positives':>10}{'CNN AUC':>10}{'joint space only':>18}")
    for target, r in results["targets"].items():
        print(f"{target:<16}{r['n_pos']:>10}{r['auc_cnn']:>10.3f}{r['auc_joint_space_only']:>18.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
