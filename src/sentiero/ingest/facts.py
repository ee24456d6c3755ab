"""Facts derived from rrweb events at ingest (DESIGN.md decision 4), as pure functions.

rrweb numbers used here: event type 3 IncrementalSnapshot, 4 Meta, 5 Custom; incremental
source 2 MouseInteraction; mouse interaction type 2 Click.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sentiero.stores.base import Fact

EVENT_INCREMENTAL = 3
EVENT_META = 4
EVENT_CUSTOM = 5
SOURCE_MOUSE_INTERACTION = 2
MOUSE_CLICK = 2
ERROR_TAG = "error"
MAX_ERROR_MESSAGE = 4_000
MAX_ERROR_SOURCE = 2_048


def _ts_ms(event: dict[str, Any]) -> int:
    value = event.get("timestamp")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return 0


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


MAX_NUMBER = 2**53
"""Numbers in fact data beyond +-2**53 are left out: no browser sends them, and one that
cannot be stored must not cost the whole batch."""


def _number(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if -MAX_NUMBER < value < MAX_NUMBER else None


def meta_href(event: dict[str, Any]) -> str | None:
    """The page URL of a Meta event, or None when the event is not one / has none."""
    if event.get("type") != EVENT_META:
        return None
    href = _data(event).get("href")
    return href if isinstance(href, str) and href else None


def is_click(event: dict[str, Any]) -> bool:
    if event.get("type") != EVENT_INCREMENTAL:
        return False
    data = _data(event)
    return data.get("source") == SOURCE_MOUSE_INTERACTION and data.get("type") == MOUSE_CLICK


def is_error(event: dict[str, Any]) -> bool:
    return event.get("type") == EVENT_CUSTOM and _data(event).get("tag") == ERROR_TAG


def latest_page_url(events: Iterable[dict[str, Any]]) -> str | None:
    """The href of the last Meta event carrying one."""
    url = None
    for event in events:
        href = meta_href(event)
        if href is not None:
            url = href
    return url


def has_errors(events: Iterable[dict[str, Any]]) -> bool:
    return any(is_error(e) for e in events)


def _error_data(event: dict[str, Any]) -> dict[str, Any]:
    payload = _data(event).get("payload")
    payload = payload if isinstance(payload, dict) else {}
    message = payload.get("message")
    if not isinstance(message, str):
        message = "" if message is None else str(message)
    data: dict[str, Any] = {"message": message[:MAX_ERROR_MESSAGE]}
    source = payload.get("source")
    if isinstance(source, str) and source:
        data["source"] = source[:MAX_ERROR_SOURCE]
    # the recorder sends rrweb's window.onerror names: lineno, colno, and type for rejections
    for key, wire in (("line", "lineno"), ("column", "colno")):
        number = _number(payload.get(wire, payload.get(key)))
        if number is not None:
            data[key] = int(number)
    kind = payload.get("type", payload.get("kind"))
    if isinstance(kind, str) and kind:
        data["kind"] = kind[:64]
    return data


def derive_facts(
    session_id: str,
    window_id: str,
    events: Iterable[dict[str, Any]],
    initial_url: str | None = None,
) -> list[Fact]:
    """Page views, clicks and errors of a batch, in event order. A click or error takes the
    URL of the latest Meta event before it (``initial_url`` before the first one)."""
    facts: list[Fact] = []
    url = initial_url
    for event in events:
        href = meta_href(event)
        if href is not None:
            url = href
            data = _data(event)
            viewport = {k: data[k] for k in ("width", "height") if _number(data.get(k)) is not None}
            facts.append(Fact("page_view", session_id, window_id, _ts_ms(event), url, viewport))
        elif is_click(event):
            data = _data(event)
            click: dict[str, Any] = {}
            for key in ("x", "y", "id"):
                number = _number(data.get(key))
                if number is not None:
                    click[key] = number
            facts.append(Fact("click", session_id, window_id, _ts_ms(event), url, click))
        elif is_error(event):
            facts.append(
                Fact("error", session_id, window_id, _ts_ms(event), url, _error_data(event))
            )
    return facts
