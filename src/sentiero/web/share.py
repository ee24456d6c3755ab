"""Shareable replays (``shareable_replays``, default off; inventory §5.16).

``GET /analytics/share/<sid>``: one self-contained HTML file per session, every window with
its tab switcher, timeline and activity, that replays with no server and no network. The page
embeds our dashboard bundle and stylesheet and the events; its Content-Security-Policy (a
``<meta>`` tag, so it holds when the file is opened from ``file://``) allows only that inline
script, by hash, and forbids every fetch, frame source and form target. Audited ``share``.

``GET /analytics/import``: a page that replays a JSON file (rrweb's event array or a
``sentiero export``) in the browser; nothing is uploaded or stored.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from markupsafe import Markup
from werkzeug.wrappers import Request, Response

from sentiero.stores.base import WindowRef
from sentiero.web.activity import build_activity
from sentiero.web.assets import AssetsNotBuiltError
from sentiero.web.pages import not_found_page
from sentiero.web.routing import Route, Web, invalid_id, json_for_script, text_response, valid_ids
from sentiero.web.window_tabs import main_window, window_tabs

SHARE_CSP = (
    "default-src 'none'; script-src '{script}'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; media-src data: blob:; connect-src 'none'; "
    "frame-src 'none'; worker-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)


def inline_script(source: str) -> str:
    """Bundle text safe inside ``<script>``: no ``</script`` or ``<!--`` can end or change
    the element (both only occur inside JS strings and regexes, where the escape is a no-op)."""
    return source.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def script_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _not_enabled() -> Response:
    return text_response("Not Found", 404)


def share_filename(session_id: str) -> str:
    """``session-<id>.html`` with only [A-Za-z0-9_-] in the id part (ids already are)."""
    safe = "".join(c for c in session_id if c.isascii() and (c.isalnum() or c in "-_"))[:64]
    return f"session-{safe or 'replay'}.html"


def share_session(web: Web, request: Request, sid: str) -> Response:
    if not web.settings.shareable_replays:
        return _not_enabled()
    if not valid_ids(sid):
        return invalid_id()
    session = web.store.get_session(sid)
    if session is None or not session.windows or session.event_count == 0:
        return not_found_page(web, request, "Session not found")
    try:
        js = (web.assets.resolve(web.assets.filename("dashboard")) or _missing()).read_text(
            "utf-8")
        css = (web.assets.resolve(web.assets.filename("dashboard.css")) or _missing()).read_text(
            "utf-8")
    except AssetsNotBuiltError as exc:
        return text_response(str(exc), 503)
    tabs, more = window_tabs(session, main_window(session) or "",
                             {w.window_id: "" for w in session.windows})
    ordered = tabs + more
    events: dict[str, Any] = {}
    activity: dict[str, Any] = {}
    for window in session.windows:
        events[window.window_id] = web.store.get_events(WindowRef(sid, window.window_id))
        activity[window.window_id] = build_activity(web.store, session, window)["items"]
    data = {
        "sessionId": sid,
        "mainWindow": main_window(session),
        "windows": [{"id": t.id, "label": t.label, "eventCount": t.event_count}
                    for t in ordered],
        "events": events,
        "activity": activity,
    }
    script = inline_script(js)
    html = web.jinja.get_template("share.html").render(
        session_id=sid,
        csp=SHARE_CSP.format(script=script_hash(script)),
        css=Markup(css.replace("</style", "<\\/style")),
        script=Markup(script),
        share_data=json_for_script(data),
        multi_window=len(ordered) > 1,
    )
    web.audit(request, "share", [sid], detail={"windows": len(ordered),
                                               "events": session.event_count})
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{share_filename(sid)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _missing() -> Any:
    raise AssetsNotBuiltError("the dashboard bundle is missing: run `npm run build` in frontend/")


def import_page(web: Web, request: Request) -> Response:
    if not web.settings.shareable_replays:
        return _not_enabled()
    return web.render(request, "import.html", title="Import a replay", nav="import")


ROUTES = [
    Route("/analytics/share/<sid>", "share_session", share_session),
    Route("/analytics/import", "import_replay", import_page),
]
