"""Errors users can hit, in a module of their own so every other module can import them
without import cycles (settings -> privacy -> settings)."""

from __future__ import annotations

import traceback


class ConfigurationError(ValueError):
    """An option has a value Sentiero cannot work with; the message says which and why."""


def describe_exception(exc: BaseException) -> str:
    """An exception's type and the innermost frame it came from, for a log line.

    Never its message nor a traceback: exceptions raised while a batch is processed may quote
    the payload (a typed value, an unredacted URL), and a store's driver error may chain the
    SQL parameters, i.e. the events themselves."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {last.filename}:{last.lineno} in {last.name}"
