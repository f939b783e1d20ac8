"""Smoke test of ``benchmarks/train_throughput.py``: both bundles, tiny networks, one round of two batches of two."""

from __future__ import annotations

import pytest


def test_prints_model_and_bundle_images_per_second_and_their_ratio(load_benchmark, capsys, tmp_path):
    throughput = load_benchmark("train_throughput")
    assert throughput.main(["--subjects", "3", "--samples", "4", "--batch-size", "2", "--rounds", "1",
                            "--data", str(tmp_path), "--set", "widen_factor=0.125", "width=4", "depth=2",
                            "--compare", "train#dataloader#prefetch_batches=0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("bundle "))
    assert lines[header].split() == ["bundle", "input", "batch", "model", "img/s", "bundle", "img/s", "ratio",
                                     "compare", "img/s", "ratio", "cache", "s"]
    rows = {line.split()[0]: line for line in lines[header + 1 : header + 3]}
    assert "(1, 128, 128)" in rows["hip_osteophyte_prior"] and "(1, 140, 140)" in rows["knee_landmark_kneel"]
    for row in rows.values():
        batch, model, bundle, ratio, compare, compare_ratio, cache_s = (float(v) for v in row.split(")")[1].split())
        assert batch == 2 and min(model, bundle, compare) > 0 and cache_s >= 0
        assert ratio == pytest.approx(bundle / model, abs=0.02)
        assert compare_ratio == pytest.approx(compare / model, abs=0.02)
    assert lines[header + 3] == "compare: the bundle with train#dataloader#prefetch_batches=0"
