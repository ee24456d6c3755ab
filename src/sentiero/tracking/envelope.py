"""Sentry envelopes, as sentry-sdk sends them to ``{prefix}/api/<project_id>/envelope/``.

An envelope is a JSON header line, then items: an item header line (JSON, with ``type`` and
an optional ``length``) and its payload (``length`` bytes, else up to the next newline).
Items of type ``event`` are error events and become occurrences; ``sentiero_track`` items
(``sentiero.reporter.track``) carry a ``/track`` payload and become server events; every other type
(transactions, sessions, client reports, attachments, profiles, check-ins, logs, ...) is
accepted and dropped, so an app with tracing or release health on does not see errors.

The key comes from the DSN: ``sentry_key`` in ``X-Sentry-Auth`` or the query string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_ITEMS = 100
ERROR_ITEM_TYPES = frozenset({"event"})
TRACK_ITEM_TYPE = "sentiero_track"


class EnvelopeError(ValueError):
    """A body that is not an envelope; ``str()`` is the answer's ``error``."""


@dataclass
class Envelope:
    header: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    tracks: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # types of the items not kept


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise EnvelopeError(f"invalid envelope: {what} is not JSON") from None
    if not isinstance(value, dict):
        raise EnvelopeError(f"invalid envelope: {what} is not a JSON object")
    return value


def parse(body: bytes) -> Envelope:
    """Split an envelope into its error events and the types of the items it drops."""
    if not body.strip():
        raise EnvelopeError("invalid envelope: empty body")
    line_end = body.find(b"\n")
    head, pos = (body, len(body)) if line_end < 0 else (body[:line_end], line_end + 1)
    envelope = Envelope(_json_object(head, "the header"))
    count = 0
    while pos < len(body):
        line_end = body.find(b"\n", pos)
        line = body[pos:] if line_end < 0 else body[pos:line_end]
        pos = len(body) if line_end < 0 else line_end + 1
        if not line.strip():
            continue  # blank lines between items (a trailing newline, ...)
        count += 1
        if count > MAX_ITEMS:
            raise EnvelopeError(f"invalid envelope: more than {MAX_ITEMS} items")
        item = _json_object(line, "an item header")
        length = item.get("length")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise EnvelopeError("invalid envelope: item length must be a whole number")
            if pos + length > len(body):
                raise EnvelopeError("invalid envelope: an item is shorter than its length")
            payload = body[pos : pos + length]
            pos += length
            if body[pos : pos + 1] == b"\n":
                pos += 1
        else:
            line_end = body.find(b"\n", pos)
            payload = body[pos:] if line_end < 0 else body[pos:line_end]
            pos = len(body) if line_end < 0 else line_end + 1
        kind = item.get("type")
        if kind in ERROR_ITEM_TYPES:
            envelope.events.append(_json_object(payload, "an event item"))
        elif kind == TRACK_ITEM_TYPE:
            envelope.tracks.append(_json_object(payload, "a track item"))
        else:
            envelope.dropped.append(str(kind)[:40])
    return envelope


def sentry_key(auth_header: str | None, query_key: str | None) -> str | None:
    """The DSN's public key: ``X-Sentry-Auth: Sentry sentry_key=..., ...`` wins over
    ``?sentry_key=``."""
    if auth_header:
        text = auth_header.strip()
        if text[:7].lower() == "sentry ":
            text = text[7:]
        for part in text.split(","):
            name, _, value = part.strip().partition("=")
            if name.strip() == "sentry_key" and value.strip():
                return value.strip()
    return query_key.strip() if query_key and query_key.strip() else None
