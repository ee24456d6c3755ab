"""Errors users can hit, in a module of their own so every other module can import them
without import cycles (settings -> privacy -> settings)."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """An option has a value Sentiero cannot work with; the message says which and why."""
