"""Exceptions that carry a one-line, user-facing reason (the CLI prints it without a traceback), and the hook that
prints that line at the end of a failed ``python -m monai.bundle run``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar


class HipmonaiError(Exception):
    """Base class of every error hipmonai raises on purpose."""


class InputError(HipmonaiError, ValueError):
    """An input file or value cannot be used; the message names the input and the reason."""


_E = TypeVar("_E", bound=HipmonaiError)


def _cause_of_type(err: BaseException | None, kind: type[_E]) -> _E | None:
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, kind):
            return err
        seen.add(id(err))
        err = err.__cause__
    return None


def input_error_cause(err: BaseException) -> InputError | None:
    """The :class:`InputError` behind ``err``, or ``None``.

    MONAI's ``Compose`` re-raises any exception of a transform as ``RuntimeError("applying transform ...")`` with the
    original as ``__cause__`` (possibly several levels deep for nested chains); callers that skip bad inputs by
    catching :class:`InputError` look through that wrapping with this function.
    """
    return _cause_of_type(err, InputError)


def hipmonai_error_cause(err: BaseException) -> HipmonaiError | None:
    """The :class:`HipmonaiError` behind ``err`` (itself, or along its ``__cause__`` chain), or ``None``.

    A bundle run wraps the errors of the code it calls: ``ConfigExpression`` re-raises as ``RuntimeError("Failed to
    evaluate ...")``, component instantiation as ``RuntimeError("Failed to instantiate component ...")``, ``Compose``
    as ``RuntimeError("applying transform ...")``, each with the original as ``__cause__``.
    """
    return _cause_of_type(err, HipmonaiError)


def error_line(err: BaseException, prefix: str = "hipmonai") -> str | None:
    """``"<prefix>: error: <message>"`` on one line for the :class:`HipmonaiError` behind ``err``, else ``None``."""
    cause = hipmonai_error_cause(err)
    return None if cause is None else f"{prefix}: error: {' '.join(str(cause).splitlines())}"


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


def install_excepthook() -> ExceptHook:
    """Make an uncaught :class:`HipmonaiError` (possibly wrapped by MONAI) end the output with :func:`error_line`.

    The previous ``sys.excepthook`` still prints the traceback first; then the one line follows on stderr, so the
    last line of a failed run says what is wrong. Installing twice keeps one hook. :mod:`hipmonai` calls this when it
    is imported by ``python -m monai.bundle`` (see :func:`running_monai_bundle`), i.e. by a bundle config's
    ``"$import hipmonai"``.

    Returns:
        The hook now in ``sys.excepthook``.
    """
    previous = sys.excepthook
    if getattr(previous, "hipmonai_error_line", False):
        return previous

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        previous(exc_type, exc, tb)
        line = error_line(exc)
        if line is not None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    hook.hipmonai_error_line = True  # type: ignore[attr-defined]
    sys.excepthook = hook
    return hook


def running_monai_bundle() -> bool:
    """Whether this process is ``python -m monai.bundle ...`` (also under ``torchrun``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == "monai.bundle.__main__"
