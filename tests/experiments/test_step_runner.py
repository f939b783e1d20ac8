"""The main job's step runner: dependency order, stamps and cache, reruns of changed steps and their dependents,
a failure that keeps finished work and resumes, epoch progress from Ignite's log lines, graph validation."""

from __future__ import annotations

import json

import pytest

from hipmonai.errors import InputError
from hipmonai.experiments.step_runner import Step, StepFailed, run_steps


def _write(path, text: str) -> tuple[str, ...]:
    """A step command appending ``text`` to ``path`` (so a rerun is visible)."""
    return ("python", "-c", f"open({str(path)!r}, 'a').write({text!r} + '\\n')")


def _graph(tmp_path, b_text="b"):
    record = tmp_path / "record.txt"
    return record, [
        Step("a", "step a", _write(record, "a"), tmp_path),
        Step("b", "step b", _write(record, b_text), tmp_path, deps=("a",)),
        Step("c", "step c", _write(record, "c"), tmp_path, deps=("a",)),
        Step("d", "step d", _write(record, "d"), tmp_path, deps=("b", "c")),
    ]


def test_order_stamps_and_cache(tmp_path):
    record, steps = _graph(tmp_path)
    lines = []
    results = run_steps(steps, tmp_path / "job", slots=2, echo=lines.append, poll_s=0.05)
    order = record.read_text().split()
    assert order[0] == "a" and order[-1] == "d" and sorted(order[1:3]) == ["b", "c"]
    assert {r.status for r in results.values()} == {"done"}
    stamp = json.loads((tmp_path / "job" / "steps" / "b.json").read_text())
    assert stamp["argv"] == list(steps[1].argv) and stamp["seconds"] >= 0
    assert (tmp_path / "job" / "logs" / "d.log").read_text().startswith("$ (cd ")
    assert any("done     step d" in line for line in lines)

    results = run_steps(steps, tmp_path / "job", echo=lines.append, poll_s=0.05)
    assert {r.status for r in results.values()} == {"cached"}
    assert record.read_text().split() == order, "nothing ran again"


def test_changed_command_reruns_the_step_and_its_dependents(tmp_path):
    record, steps = _graph(tmp_path)
    run_steps(steps, tmp_path / "job", echo=lambda _: None, poll_s=0.05)
    record.write_text("")
    _, changed = _graph(tmp_path, b_text="b2")
    results = run_steps(changed, tmp_path / "job", echo=lambda _: None, poll_s=0.05)
    assert {n: r.status for n, r in results.items()} == {"a": "cached", "b": "done", "c": "cached", "d": "done"}
    assert record.read_text().split() == ["b2", "d"]


def test_failure_keeps_finished_steps_and_a_rerun_resumes(tmp_path):
    record, steps = _graph(tmp_path)
    flag = tmp_path / "broken"
    flag.write_text("")
    failing = Step("c", "step c", ("python", "-c", f"import os, sys; print('bad input'); "
                                                   f"sys.exit(3 if os.path.exists({str(flag)!r}) else 0)"),
                   tmp_path, deps=("a",))
    steps[2] = failing
    with pytest.raises(StepFailed) as caught:
        run_steps(steps, tmp_path / "job", slots=1, echo=lambda _: None, poll_s=0.05)
    result = caught.value.result
    assert result.step.name == "c" and result.returncode == 3 and "bad input" in result.tail
    assert "d" not in record.read_text().split(), "a step after a failed dependency never starts"
    assert not (tmp_path / "job" / "steps" / "c.json").exists()

    flag.unlink()
    results = run_steps(steps, tmp_path / "job", slots=1, echo=lambda _: None, poll_s=0.05)
    assert results["a"].status == "cached" and results["c"].status == "done" and results["d"].status == "done"


def test_training_steps_report_epochs(tmp_path):
    lines = "\\n".join(f"x - ignite.engine.engine.SupervisedTrainer - INFO - Epoch[{k}] Complete. Time taken: 1"
                       for k in (1, 2, 3))
    step = Step("train", "train it", ("python", "-c", f"import time; print('{lines}', flush=True); time.sleep(0.5)"),
                tmp_path, epochs=3)
    echoed = []
    run_steps([step], tmp_path / "job", echo=echoed.append, poll_s=0.1)
    assert any("train it: epoch 3/3" in line for line in echoed), echoed


def test_graph_is_validated(tmp_path):
    with pytest.raises(InputError, match="not earlier steps"):
        run_steps([Step("b", "b", ("true",), tmp_path, deps=("a",)), Step("a", "a", ("true",), tmp_path)],
                  tmp_path / "job")
    with pytest.raises(InputError, match="duplicate"):
        run_steps([Step("a", "a", ("true",), tmp_path), Step("a", "a", ("true",), tmp_path)], tmp_path / "job")
    with pytest.raises(InputError, match="lowercase"):
        run_steps([Step("A-1", "a", ("true",), tmp_path)], tmp_path / "job")


def test_quiet_steps_get_a_heartbeat(tmp_path):
    step = Step("slow", "slow step", ("python", "-c", "import time; time.sleep(0.6)"), tmp_path)
    echoed = []
    run_steps([step], tmp_path / "job", echo=echoed.append, poll_s=0.1, heartbeat_s=0.25)
    assert any("running: slow step (" in line for line in echoed), echoed
