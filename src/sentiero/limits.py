"""The nesting limit that validation and redaction share.

Ingest refuses metadata nested deeper than this (400) before anything else runs, and the
redactor refuses to walk deeper than this, so a value that passed validation can always be
redacted: there is one limit, not two that can disagree.
"""

from __future__ import annotations

from typing import Any

MAX_NESTING = 200
"""Containers (dicts, lists) may sit at depths 0..MAX_NESTING-1; orjson's own limit is 255."""


def nested_too_deeply(value: Any, depth: int = 0) -> bool:
    """Whether a container inside ``value`` (itself at ``depth``) reaches ``MAX_NESTING``.

    Iterative, so a hostile value cannot exhaust the Python stack while being checked.
    """
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if level >= MAX_NESTING:
            return True
        stack.extend((child, level + 1) for child in children)
    return False
