"""Downloads from the replay page: one window as rrweb's event array, one session as
``sentiero export`` JSON lines (what ``sentiero import`` reads). Both audited as ``export``."""

from __future__ import annotations

import io

import orjson
from werkzeug.wrappers import Request, Response

from sentiero.stores.base import WindowRef
from sentiero.transfer import export_sessions
from sentiero.web.pages import not_found_page
from sentiero.web.routing import Route, Web, invalid_id, valid_ids


def _attachment(body: bytes, filename: str, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def window_events(web: Web, request: Request, sid: str, wid: str) -> Response:
    if not valid_ids(sid, wid):
        return invalid_id()
    session = web.store.get_session(sid)
    if session is None or wid not in session.window_ids:
        return not_found_page(web, request, "Window not found")
    events = web.store.get_events(WindowRef(sid, wid))
    web.audit(request, "export", [sid], window_id=wid, dataset="window",
              detail={"format": "rrweb", "events": len(events)})
    body = orjson.dumps(events, option=orjson.OPT_INDENT_2)
    return _attachment(body, f"sentiero-{sid[:16]}-{wid[:16]}.json", "application/json")


def session_export(web: Web, request: Request, sid: str) -> Response:
    if not valid_ids(sid):
        return invalid_id()
    if web.store.get_session(sid) is None:
        return not_found_page(web, request, "Session not found")
    out = io.BytesIO()
    export_sessions(web.store, out, [sid])
    web.audit(request, "export", [sid], dataset="session", detail={"format": "sentiero-export"})
    return _attachment(out.getvalue(), f"sentiero-{sid[:16]}.jsonl", "application/x-ndjson")


ROUTES = [
    Route("/sessions/<sid>/windows/<wid>/events.json", "download_window", window_events),
    Route("/sessions/<sid>/export.jsonl", "download_session", session_export),
]
