"""Validation of a decoded events payload (inventory §1.3 steps 4-8, plus ``seq`` and
metadata limits), as pure functions raising :class:`IngestError` with the wire messages.

Everything is checked before anything is stored, so a refused batch leaves no trace.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sentiero.ingest.decode import IngestError
from sentiero.stores.base import ID_PATTERN, validate_metadata

MAX_SEQ = 2**53  # exclusive: the largest integer JavaScript numbers count exactly
MAX_TIMESTAMP = 2**53
"""Exclusive bound on ``abs(timestamp)``: beyond every JavaScript time value, and keeps
timestamps within the 64-bit integer columns of the SQL stores."""
_NUMERIC = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")

EVENTS_MESSAGE = "events must be a non-empty array of objects"
TIMESTAMP_MESSAGE = "invalid timestamp value"
SEQ_MESSAGE = "seq must be a non-negative integer"
METADATA_MESSAGE = "metadata values must be plain JSON (64-bit integers, limited nesting)"


@dataclass
class ValidPayload:
    session_id: str
    window_id: str
    events: list[dict[str, Any]]
    seq: int | None
    metadata: dict[str, Any]


def check_id(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise IngestError(
            400, f"{field_name} must be 1-128 alphanumeric, hyphen, or underscore characters"
        )
    return value


def check_events(value: object, max_events: int | None = None) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(e, dict) for e in value):
        raise IngestError(400, EVENTS_MESSAGE)
    if max_events is not None and len(value) > max_events:
        raise IngestError(400, f"too many events (max {max_events})")
    return value


def normalize_timestamp(value: object) -> int | float:
    """A finite number from a number or a numeric string; integral values become ``int``."""
    if isinstance(value, bool):
        raise IngestError(400, TIMESTAMP_MESSAGE)
    if isinstance(value, int):
        if not -MAX_TIMESTAMP < value < MAX_TIMESTAMP:
            raise IngestError(400, TIMESTAMP_MESSAGE)
        return value
    if isinstance(value, float):
        number = value
    elif isinstance(value, str) and _NUMERIC.match(value):
        try:
            number = float(value)
        except (ValueError, OverflowError) as exc:  # pragma: no cover - regex guards
            raise IngestError(400, TIMESTAMP_MESSAGE) from exc
    else:
        raise IngestError(400, TIMESTAMP_MESSAGE)
    if math.isnan(number) or not -MAX_TIMESTAMP < number < MAX_TIMESTAMP:  # inf included
        raise IngestError(400, TIMESTAMP_MESSAGE)
    return int(number) if number.is_integer() else number


def normalize_timestamps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events with numeric timestamps; events without a ``timestamp`` key are kept as they are.
    Input dicts are not modified (an event is copied only when its timestamp changes)."""
    out: list[dict[str, Any]] = []
    for event in events:
        if "timestamp" in event:
            raw = event["timestamp"]
            number = normalize_timestamp(raw)
            if number is not raw:
                event = {**event, "timestamp": number}
        out.append(event)
    return out


def check_seq(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_SEQ:
        raise IngestError(400, SEQ_MESSAGE)
    return value


def check_metadata(value: object) -> dict[str, Any]:
    """Metadata if it is an object (else ``{}``, like the original), within the store limits."""
    if not isinstance(value, dict):
        return {}
    try:
        return validate_metadata(value)
    except ValueError as exc:
        raise IngestError(400, str(exc)) from exc
    except TypeError as exc:  # orjson: nested too deeply, integer beyond 64 bits, ...
        raise IngestError(400, METADATA_MESSAGE) from exc


def validate_payload(payload: dict[str, Any], max_events_per_request: int | None = None
                     ) -> ValidPayload:
    """Check a decoded payload in the wire protocol's order; the first failure wins."""
    session_id = check_id(payload.get("sessionId"), "sessionId")
    window_id = check_id(payload.get("windowId"), "windowId")
    events = check_events(payload.get("events"), max_events_per_request)
    events = normalize_timestamps(events)
    seq = check_seq(payload.get("seq"))
    metadata = check_metadata(payload.get("metadata"))
    return ValidPayload(session_id, window_id, events, seq, metadata)
