"""Hand-written recordings for cases the fixture recordings lack (scroll depths, funnels,
forms with labels), built from rrweb event shapes and ingested through the real pipeline."""

from __future__ import annotations

from typing import Any

SITE = "https://site.example"


def meta(ts: int, path: str, width: int = 1280, height: int = 800) -> dict[str, Any]:
    return {"type": 4, "timestamp": ts, "data": {"href": SITE + path, "width": width,
                                                   "height": height}}


def snapshot(ts: int, node: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": 2, "timestamp": ts,
            "data": {"node": node or {"type": 0, "id": 1, "childNodes": []},
                     "initialOffset": {"top": 0, "left": 0}}}


def scroll(ts: int, y: int) -> dict[str, Any]:
    return {"type": 3, "timestamp": ts, "data": {"source": 3, "id": 1, "x": 0, "y": y}}


def custom(ts: int, tag: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": 5, "timestamp": ts, "data": {"tag": tag, "payload": payload or {}}}


def recording(session_id: str, events: list[dict[str, Any]],
              window_id: str = "w1") -> dict[str, Any]:
    return {"session_id": session_id, "meta": {},
            "windows": [{"window_id": window_id, "url": events[0]["data"].get("href", ""),
                         "events": events}]}
