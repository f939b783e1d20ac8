"""Atomic file writes (docs/conventions.md): write ``.{name}.tmp<pid>`` beside the target, then ``os.replace``.

A process killed half-way leaves only a hidden temp file, never a readable half target; readers and resumable
runs recognise such leftovers with :func:`is_temp_path`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TEMP_NAME = re.compile(r"^\..+\.tmp\d+$")


def temp_path_for(path: str | os.PathLike) -> Path:
    """The temp file of ``path`` for this process: ``dir/.{name}.tmp{pid}``."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def is_temp_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a temp file left by :func:`atomic_path` (of any process)."""
    return bool(_TEMP_NAME.match(Path(path).name))


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path to write to; on normal exit it is flushed to disk and renamed onto ``path``.

    If the block raises, the temp file is removed and ``path`` is left as it was (absent or the previous
    version). The parent folder is created when missing.

    Example::

        with atomic_path("out/cohort.h5") as tmp:
            with h5py.File(tmp, "w") as f:
                ...
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: nothing was written for {path}")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
