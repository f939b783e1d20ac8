"""Exceptions that carry a one-line, user-facing reason (the CLI prints it without a traceback)."""

from __future__ import annotations


class HipmonaiError(Exception):
    """Base class of every error hipmonai raises on purpose."""


class InputError(HipmonaiError, ValueError):
    """An input file or value cannot be used; the message names the input and the reason."""


def input_error_cause(err: BaseException) -> InputError | None:
    """The :class:`InputError` behind ``err``, or ``None``.

    MONAI's ``Compose`` re-raises any exception of a transform as ``RuntimeError("applying transform ...")`` with the
    original as ``__cause__`` (possibly several levels deep for nested chains); callers that skip bad inputs by
    catching :class:`InputError` look through that wrapping with this function.
    """
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, InputError):
            return err
        seen.add(id(err))
        err = err.__cause__
    return None
