"""Run a graph of command-line steps on a few CPU slots, cached, resumable and with visible progress.

Each :class:`Step` is one documented command (``python -m monai.bundle run ...``, ``hipmonai ...``) run as a
subprocess with its output in ``<out>/logs/<name>.log``. A step starts when its dependencies have finished; at most
``slots`` run at once, each with ``threads`` torch/OpenMP threads. A finished step writes a stamp
(``<out>/steps/<name>.json``: command, seconds, end time); a rerun skips a step whose stamp holds the same command,
unless one of its dependencies ran again, so an interrupted job resumes where it stopped and a changed setting redoes
exactly what depends on it. While steps run, the runner prints when each starts and ends and, for training steps,
every epoch Ignite logs (``Epoch[k] Complete``) to the step's log.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hipmonai.atomic import write_text_atomic
from hipmonai.errors import InputError

__all__ = ["Step", "StepFailed", "StepResult", "run_steps"]

_EPOCH = re.compile(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete")


@dataclass(frozen=True)
class Step:
    """One command of the graph.

    Attributes:
        name: unique id, also the log and stamp file name (``[a-z0-9_]``).
        title: what the step does, for progress lines and the report.
        argv: the command; ``argv[0]`` may be ``"python"``, replaced by the running interpreter.
        cwd: working folder of the command.
        deps: names of the steps that must finish first.
        epochs: number of training epochs, for the progress lines of training steps (``None`` otherwise).
    """

    name: str
    title: str
    argv: tuple[str, ...]
    cwd: Path
    deps: tuple[str, ...] = ()
    epochs: int | None = None

    def command(self) -> list[str]:
        """The argv to execute, with ``python`` resolved to this interpreter."""
        return [sys.executable if self.argv[0] == "python" else self.argv[0], *self.argv[1:]]

    def shell_text(self) -> str:
        """The command as one copyable shell line, run from :attr:`cwd` (a list argument in double quotes, as the
        bundle READMEs write ``--config_file "['configs/train.json','configs/demo.json']"``)."""
        from shlex import quote

        def one(arg: str) -> str:
            if "'" in arg and not any(c in arg for c in '"$`\\!'):
                return f'"{arg}"'
            return quote(arg)

        return " ".join(one(a) for a in self.argv)


@dataclass
class StepResult:
    """How a step ended: ``status`` is ``"cached"``, ``"done"`` or ``"failed"``; ``seconds`` of its last run."""

    step: Step
    status: str
    seconds: float
    log: Path
    returncode: int = 0
    tail: list[str] = field(default_factory=list)


class StepFailed(RuntimeError):
    """A step's command exited with a non-zero status; ``result`` holds its log path and last lines."""

    def __init__(self, result: StepResult) -> None:
        super().__init__(f"step {result.step.name!r} failed (exit {result.returncode}); log: {result.log}")
        self.result = result


def _check_graph(steps: Sequence[Step]) -> None:
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise InputError(f"duplicate step names in {names}")
    known = set()
    for step in steps:  # dependencies must come earlier: the list is a topological order, so no cycles
        missing = [d for d in step.deps if d not in known]
        if missing:
            raise InputError(f"step {step.name!r} depends on {missing}, which are not earlier steps")
        if not re.fullmatch(r"[a-z0-9_]+", step.name):
            raise InputError(f"step name {step.name!r}: use lowercase letters, digits and underscores")
        known.add(step.name)


def _stamp_matches(path: Path, step: Step) -> float | None:
    """Seconds recorded by a finished run of the same command, or ``None`` when it must run."""
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return float(stamp.get("seconds", 0.0)) if stamp.get("argv") == list(step.argv) else None


def _tail(path: Path, lines: int = 25) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _last_epoch(path: Path) -> int:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    found = _EPOCH.findall(text)
    return int(found[-1]) if found else 0


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s" if seconds >= 60 else f"{seconds:.0f} s"


def run_steps(
    steps: Sequence[Step],
    out: str | os.PathLike,
    slots: int = 2,
    threads: int = 1,
    force: bool = False,
    echo: Callable[[str], None] = print,
    poll_s: float = 1.0,
    heartbeat_s: float = 30.0,
) -> dict[str, StepResult]:
    """Run ``steps`` (a topological order) and return their results by name.

    Args:
        steps: the graph; every dependency must appear before the step that needs it.
        out: job folder; logs go to ``out/logs``, stamps to ``out/steps``.
        slots: steps running at once.
        threads: ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` of every step (torch reads them).
        force: rerun every step even when its stamp matches.
        echo: where progress lines go.
        poll_s: seconds between looks at the running steps.
        heartbeat_s: after this many seconds without a progress line, print which steps are running.

    Raises:
        StepFailed: the first step that fails, after the steps already running have finished (their stamps are
            written, so a rerun continues from there).
    """
    _check_graph(steps)
    by_name = {step.name: step for step in steps}
    out = Path(out)
    logs, stamps = out / "logs", out / "steps"
    logs.mkdir(parents=True, exist_ok=True)
    stamps.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}

    results: dict[str, StepResult] = {}
    rerun: set[str] = set()
    pending = list(steps)
    running: dict[str, tuple[subprocess.Popen, float, int, object]] = {}
    failed: StepResult | None = None
    total, started_all = len(steps), time.perf_counter()
    last_line = [time.perf_counter()]

    def progress() -> str:
        return f"[{len(results)}/{total} steps, {_minutes(time.perf_counter() - started_all)}]"

    def say(text: str) -> None:
        last_line[0] = time.perf_counter()
        echo(text)

    while pending or running:
        # start every ready step while a slot is free (cached ones finish at once)
        for step in list(pending):
            if failed is not None:
                break
            if any(d not in results for d in step.deps):
                continue
            stamp = stamps / f"{step.name}.json"
            cached = None if (force or rerun.intersection(step.deps)) else _stamp_matches(stamp, step)
            if cached is not None:
                pending.remove(step)
                results[step.name] = StepResult(step, "cached", cached, logs / f"{step.name}.log")
                say(f"{progress()} cached   {step.title}")
                continue
            if len(running) >= slots:
                continue
            pending.remove(step)
            stamp.unlink(missing_ok=True)
            log_path = logs / f"{step.name}.log"
            handle = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed when the process ends
            handle.write(f"$ (cd {step.cwd} && {step.shell_text()})\n")
            handle.flush()
            process = subprocess.Popen(step.command(), cwd=step.cwd, env=env, stdout=handle,
                                       stderr=subprocess.STDOUT)
            running[step.name] = (process, time.perf_counter(), 0, handle)
            say(f"{progress()} started  {step.title}")
        if not running:  # every ready step has started, so nothing can progress any more
            break
        time.sleep(poll_s)
        if time.perf_counter() - last_line[0] >= heartbeat_s:
            now = time.perf_counter()
            say(f"{progress()}   running: " + ", ".join(f"{by_name[n].title} "
                                                         f"({_minutes(now - r[1])})" for n, r in running.items()))
        for name, (process, start, shown, handle) in list(running.items()):
            step = by_name[name]
            log_path = logs / f"{name}.log"
            if step.epochs:
                epoch = _last_epoch(log_path)
                if epoch > shown:
                    running[name] = (process, start, epoch, handle)
                    say(f"{progress()}   {step.title}: epoch {epoch}/{step.epochs} "
                         f"({_minutes(time.perf_counter() - start)})")
            code = process.poll()
            if code is None:
                continue
            handle.close()
            del running[name]
            seconds = time.perf_counter() - start
            if code == 0:
                write_text_atomic(stamps / f"{name}.json", json.dumps(
                    {"argv": list(step.argv), "cwd": str(step.cwd), "seconds": round(seconds, 1),
                     "finished": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
                results[name] = StepResult(step, "done", seconds, log_path)
                rerun.add(name)
                say(f"{progress()} done     {step.title} in {_minutes(seconds)}")
            else:
                result = StepResult(step, "failed", seconds, log_path, code, _tail(log_path))
                failed = failed or result
                results[name] = result
                say(f"{progress()} FAILED   {step.title} (exit {code}); log: {log_path}")
    if failed is not None:
        raise StepFailed(failed)
    return results
