"""A page's recorded DOM: the full snapshot (rrweb type 2) a page view began with, read from
the store for one window (the heatmap draws over it, forms take field labels from it). One
fetch per page shown, never per session, so its cost does not grow with the data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sentiero.stores.base import WindowRef

if TYPE_CHECKING:
    from sentiero.stores.base import Store

FULL_SNAPSHOT = 2
META = 4
SNAPSHOT_WINDOW_MS = 10_000  # a page view's snapshot follows its Meta event within this


def page_events(store: Store, session_id: str, window_id: str, pv_ms: int
                ) -> list[dict[str, Any]] | None:
    """The Meta and full snapshot that began the page view at ``pv_ms`` (what a replayer
    needs to draw the page), or None when the window holds no such snapshot."""
    chunks = store.get_chunks(WindowRef(session_id, window_id), from_ms=pv_ms,
                              to_ms=pv_ms + SNAPSHOT_WINDOW_MS)
    events = sorted((e for c in chunks for e in c.events()),
                    key=lambda e: e.get("timestamp", 0))
    meta = None
    for event in events:
        ts = event.get("timestamp", 0)
        if event.get("type") == META and ts <= pv_ms + SNAPSHOT_WINDOW_MS:
            if ts >= pv_ms and meta is None:
                meta = event
        elif event.get("type") == FULL_SNAPSHOT and ts >= pv_ms:
            return [meta, event] if meta is not None else [event]
    return None


def snapshot_node(events: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    if not events:
        return None
    node = events[-1].get("data", {}).get("node")
    return node if isinstance(node, dict) else None


def walk(node: dict[str, Any], parents: tuple[dict[str, Any], ...] = ()
         ) -> Iterator[tuple[dict[str, Any], tuple[dict[str, Any], ...]]]:
    """Every node with its ancestors (nearest last)."""
    stack = [(node, parents)]
    while stack:
        current, ancestors = stack.pop()
        yield current, ancestors
        children = current.get("childNodes")
        if isinstance(children, list):
            for child in reversed(children):
                if isinstance(child, dict):
                    stack.append((child, (*ancestors, current)))


def text_of(node: dict[str, Any], skip_controls: bool = True) -> str:
    """The visible text under ``node`` (text nodes only; form controls' own values never)."""
    parts = []
    for current, ancestors in walk(node):
        if current.get("type") == 3 and isinstance(current.get("textContent"), str):
            if skip_controls and any(a.get("tagName") in ("select", "textarea", "script",
                                                          "style") for a in ancestors):
                continue
            parts.append(current["textContent"])
    return " ".join(" ".join(parts).split())
