"""Replay data API: a window's chunk index, and its events a few chunks at a time.

Events responses are built from the stored chunks without parsing them; with
``layout=chunks`` and a browser that accepts zstd they are the stored bytes themselves
(``replay_transfer``).
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from sentiero.stores.base import WindowRef
from sentiero.web.replay_transfer import (
    LAYOUTS,
    WIRE_ZSTD,
    accepted_encoding,
    events_body,
    zstd_body,
)
from sentiero.web.routing import Route, Web, invalid_id, json_response, valid_ids

DEFAULT_CHUNKS = 4
MAX_CHUNKS = 50


class _BadParam(ValueError):
    pass


def _int_param(request: Request, name: str) -> int | None:
    """A non-negative integer query parameter, None when absent; _BadParam when malformed."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not raw.isascii() or len(raw) > 18:
        raise _BadParam(f"{name} must be a non-negative integer")
    return int(raw)


def chunk_index(web: Web, request: Request, sid: str, wid: str) -> Response:
    if not valid_ids(sid, wid):
        return invalid_id()
    ref = WindowRef(sid, wid)
    chunks = web.store.chunk_index(ref)
    if not chunks:
        session = web.store.get_session(sid)
        if session is None or wid not in session.window_ids:
            return json_response({"error": "window not found"}, 404)
    return json_response(
        {
            "session_id": sid,
            "window_id": wid,
            "first_ms": min((c.first_ms for c in chunks), default=None),
            "last_ms": max((c.last_ms for c in chunks), default=None),
            "event_count": sum(c.event_count for c in chunks),
            "chunks": [
                {
                    "index": c.index,
                    "first_ms": c.first_ms,
                    "last_ms": c.last_ms,
                    "event_count": c.event_count,
                }
                for c in chunks
            ],
        }
    )


def events(web: Web, request: Request, sid: str, wid: str) -> Response:
    if not valid_ids(sid, wid):
        return invalid_id()
    try:
        cursor = _int_param(request, "cursor")
        count = _int_param(request, "chunks")
        from_ms = _int_param(request, "from_ms")
    except _BadParam as exc:
        return json_response({"error": str(exc)}, 400)
    layout = request.args.get("layout") or "events"
    if layout not in LAYOUTS:
        return json_response({"error": "layout must be one of: " + ", ".join(LAYOUTS)}, 400)
    wire = request.args.get("wire")
    if wire not in (None, "", WIRE_ZSTD):
        return json_response({"error": "wire must be " + WIRE_ZSTD}, 400)
    start = cursor or 0
    limit = DEFAULT_CHUNKS if count is None else min(max(count, 1), MAX_CHUNKS)
    chunks = web.store.get_chunks(
        WindowRef(sid, wid),
        from_ms=from_ms,
        start_index=start,
        limit=limit + 1,
    )
    more = chunks[limit:]
    chunks = chunks[:limit]
    web.audit(request, "view_session", [sid], window_id=wid,
              detail={"via": "events_api", "cursor": start, "chunks": len(chunks)})
    next_cursor = more[0].info.index if more else None
    if wire == WIRE_ZSTD:
        # the zstd body itself, for a client that decodes it (the player's worker): the
        # browser's network stack then hands over the stored bytes, not the decoded JSON
        body, decoded_length = zstd_body(chunks, next_cursor, layout)
        response = Response(body, content_type="application/zstd")
        response.headers["X-Decoded-Length"] = str(decoded_length)
    else:
        body, encoding = events_body(chunks, next_cursor, layout, accepted_encoding(request))
        response = Response(body, content_type="application/json")
        if encoding:
            response.headers["Content-Encoding"] = encoding
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


ROUTES = [
    Route("/api/sessions/<sid>/windows/<wid>/chunks", "api_chunks", chunk_index, json=True),
    Route("/api/sessions/<sid>/windows/<wid>/events", "api_events", events, json=True),
]
