"""Smoke test of ``benchmarks/epoch_cost.py``: one timed step of a paper-scale network at a small batch."""

from __future__ import annotations


def test_one_step_of_the_paper_scale_grading_network(load_benchmark, capsys):
    cost = load_benchmark("epoch_cost")
    assert cost.main(["--device", "cpu", "--bundles", "hip_osteophyte_grading", "--iterations", "1", "--warmup", "0",
                      "--batch-size", "2"]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[0] == "hip_osteophyte_grading" and row[1] == "(1," and int(row[4]) == 2
    assert float(row[5]) > 0 and float(row[7]) > 0
