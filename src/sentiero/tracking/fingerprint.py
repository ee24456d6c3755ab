"""Group occurrences into problems: a fingerprint is the exception class plus the top
normalized in-app frames; the message is never part of it, so "user 17 not found" and
"user 42 not found" are one problem, and a line moved by an edit above it stays one problem.

Frames come in two shapes. Structured frames (sentry-sdk's: dicts with ``module`` /
``filename``, ``function``, ``lineno``, ``in_app``) are reduced to ``module in function``
(no line number at all). String frames (the original's reporter, any HTTP client) go through
the platform's normalizer, which replaces line and column numbers, hex addresses and build
hashes with placeholders. Normalizers are plain ``str -> str`` callables, registered by
platform name (:func:`register`); an unknown platform uses the generic one, and a normalizer
that raises falls back to the capped raw frame. Every pattern is linear (no nested
quantifiers), so a hostile frame cannot make grouping slow.

Digest: SHA-256 hex of ``project \\n class \\n frames joined by \\n``, cut to 40 characters
(the original's format, so problem ids look the same).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

TOP_FRAMES = 5
FRAME_MAX = 1000
Normalizer = Callable[[str], str]

_HEX = re.compile(r"0x[0-9a-fA-F]+")
_TRAILING_LINE = re.compile(r":\d+(?::\d+)?$")


def _generic(frame: str) -> str:
    return _TRAILING_LINE.sub(":N", _HEX.sub("0xHEX", frame))


_RUBY_LINE_BEFORE_IN = re.compile(r":\d+(?=:in )")


def _ruby(frame: str) -> str:
    """``app/models/user.rb:12:in `save'`` -> ``app/models/user.rb:N:in `save'``."""
    text = _HEX.sub("0xHEX", frame)
    return _TRAILING_LINE.sub(":N", _RUBY_LINE_BEFORE_IN.sub(":N", text))


_PY_LINE = re.compile(r"\bline \d+")
_PY_OBJECT_AT = re.compile(r" at 0x[0-9a-fA-F]+")


def _python(frame: str) -> str:
    """``File "/app/shop/views.py", line 41, in checkout`` -> ``... line N, in checkout``;
    also ``module.py:41`` and ``<object at 0x7f...>`` addresses."""
    text = _PY_OBJECT_AT.sub(" at 0xHEX", frame)
    return _generic(_PY_LINE.sub("line N", text))


_JS_LOCATION = re.compile(r":\d+(?::\d+)?(?=\)?$)")
_JS_QUERY = re.compile(r"\?[^\s:)]*")
_JS_BUILD_HASH = re.compile(r"([.-])[0-9a-fA-F]{6,}(?=\.(?:m?js|ts|jsx|tsx)\b)")


def _javascript(frame: str) -> str:
    """``at render (https://x/app.3f2a9c1d.js?v=2:10:15)`` -> ``at render
    (https://x/app.HASH.js:N)``: line/column, cache-busting queries and build hashes go."""
    text = _JS_QUERY.sub("", frame.strip())
    text = _JS_BUILD_HASH.sub(r"\1HASH", text)
    return _HEX.sub("0xHEX", _JS_LOCATION.sub(":N", text))


_NORMALIZERS: dict[str, Normalizer] = {
    "generic": _generic,
    "ruby": _ruby,
    "python": _python,
    "javascript": _javascript,
    "node": _javascript,
}


def register(platform: str, normalizer: Normalizer) -> None:
    """Add or replace the normalizer of a platform (lower-case name)."""
    if not callable(normalizer):
        raise TypeError("a normalizer must be a callable taking and returning a frame string")
    _NORMALIZERS[platform.lower()] = normalizer


def normalizer_for(platform: str | None) -> Normalizer:
    return _NORMALIZERS.get((platform or "generic").lower(), _generic)


def normalize_frame(frame: Any, platform: str | None) -> str:
    """One frame as it enters the digest."""
    if isinstance(frame, dict):
        where = frame.get("module") or _without_line(str(frame.get("filename") or frame.get(
            "abs_path") or "?"))
        return f"{str(where)[:FRAME_MAX]} in {str(frame.get('function') or '?')[:FRAME_MAX]}"
    raw = str(frame)[:FRAME_MAX].strip()
    try:
        return normalizer_for(platform)(raw)[:FRAME_MAX]
    except (Exception, RecursionError, MemoryError):
        return raw


def _without_line(filename: str) -> str:
    return _TRAILING_LINE.sub("", filename)


def top_frames(frames: Sequence[Any]) -> list[Any]:
    """The frames that identify a problem: innermost first, in-app only when any frame
    says it is in-app (library frames then do not split or merge problems), at most 5.

    Structured frames are ordered innermost last (Sentry's order); string backtraces
    innermost first (Ruby's and the original's order)."""
    structured = [f for f in frames if isinstance(f, dict)]
    if structured:
        in_app = [f for f in structured if f.get("in_app")]
        chosen = list(reversed(in_app or structured))
    else:
        chosen = list(frames)
    return chosen[:TOP_FRAMES]


def fingerprint(
    project: str, exception_class: str, frames: Sequence[Any], platform: str | None = None
) -> str:
    """The 40-hex problem id of an exception."""
    lines = [normalize_frame(f, platform) for f in top_frames(frames)]
    text = "\n".join([project, exception_class, *lines])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]
