"""Exceptions that carry a one-line, user-facing reason (the CLI prints it without a traceback)."""

from __future__ import annotations


class HipmonaiError(Exception):
    """Base class of every error hipmonai raises on purpose."""


class InputError(HipmonaiError, ValueError):
    """An input file or value cannot be used; the message names the input and the reason."""
