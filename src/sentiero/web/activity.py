"""A window's activity for the replay page's timeline and sidebar:
``GET /api/sessions/<sid>/windows/<wid>/activity``.

Items come from the window's facts (derived at ingest, docs/CONTRACTS.md "Facts"), not from its
events, so the timeline shows every marker before the player has downloaded the chunks they sit
in. Each item is ``{kind, ts_ms, offset_ms, url, label, detail}``: ``offset_ms`` is from the
window's first event, ``label`` a short plain-text line, ``detail`` a flat dict of plain values.
The page inserts all of them as text, never as HTML.

Server-side error items are added by :func:`append_server_items`, the one place that reads
server error tracking.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from sentiero.stores.base import Fact, SessionSummary, Store, WindowSummary
from sentiero.web.routing import Route, Web, invalid_id, json_response, valid_ids

MAX_ITEMS = 5_000
"""A window with more facts than this shows its first MAX_ITEMS (``truncated`` says so)."""
MAX_LABEL = 120

RAGE_CLICK_RULE = ("3 or more clicks within 500 ms of each other and within 10 px of the first "
                   "click")
DEAD_CLICK_RULE = "no page change, DOM change or input within 500 ms after the click"
VITAL_UNITS = {"CLS": ""}
VITAL_ORDER = ("LCP", "CLS", "INP", "FCP", "TTFB")


def _short(text: object, limit: int = MAX_LABEL) -> str:
    value = "" if text is None else str(text)
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def page_path(url: str | None) -> str:
    """Path (and query) of a page URL for labels; the URL itself when it does not parse."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme and not parts.netloc:
        return url
    path = parts.path or "/"
    return path + (f"?{parts.query}" if parts.query else "")


def _host_path(url: str | None) -> str:
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return (parts.netloc + (parts.path if parts.path != "/" else "")) or url


def _number(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def format_vital(metric: str, value: float | None) -> str:
    if value is None:
        return "?"
    if metric == "CLS":
        return f"{value:.3f}"
    return f"{round(value)} ms"


# --- one function per fact kind: (fact, data, key, value, first_page) -> (label, detail) -------


def _page_view(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
               ) -> tuple[str, dict[str, Any]]:
    detail: dict[str, Any] = {"url": fact.url or ""}
    width, height = _number(data.get("width")), _number(data.get("height"))
    if width and height:
        detail["viewport"] = f"{int(width)}x{int(height)}"
    if isinstance(data.get("referrer"), str) and data["referrer"]:
        detail["referrer"] = data["referrer"]
    verb = "Page loaded" if first else "Navigated to"
    return f"{verb}: {page_path(fact.url)}", detail


def _click(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
           ) -> tuple[str, dict[str, Any]]:
    detail: dict[str, Any] = {}
    for name in ("x", "y", "page_y", "vw", "vh", "id"):
        number = _number(data.get(name))
        if number is not None:
            detail[name] = number
    element = data.get("label") if isinstance(data.get("label"), str) else None
    if isinstance(key, str) and key:
        detail["selector"] = key
    if element:
        detail["element"] = element
    target = element or (key if isinstance(key, str) else None)
    if target:
        return f"Click: {_short(target, 60)}", detail
    if "x" in detail and "y" in detail:
        return f"Click ({round(detail['x'])}, {round(detail['y'])})", detail
    return "Click", detail


def _scroll(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
            ) -> tuple[str, dict[str, Any]]:
    depth = _number(value)
    detail: dict[str, Any] = {}
    if depth is not None:
        detail["depth_px"] = round(depth)
    vh = _number(data.get("vh"))
    if vh:
        detail["vh"] = vh
    label = f"Scrolled to {round(depth)} px" if depth is not None else "Scrolled"
    return label, detail


def _form_field(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
                ) -> tuple[str, dict[str, Any]]:
    detail: dict[str, Any] = {"field": str(key) if key is not None else ""}
    inputs = _number(value)
    if inputs is not None:
        detail["inputs"] = int(inputs)
    for name in ("first_ms", "last_ms"):
        number = _number(data.get(name))
        if number is not None:
            detail[name] = int(number)
    count = f" · {int(inputs)} input{'s' if inputs != 1 else ''}" if inputs is not None else ""
    return f"Form field #{detail['field']}{count}", detail


def _form_submit(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
                 ) -> tuple[str, dict[str, Any]]:
    detail = {k: data[k] for k in ("name", "id") if isinstance(data.get(k), str) and data[k]}
    name = key if isinstance(key, str) and key else detail.get("name") or detail.get("id")
    return (f"Form submitted: {_short(name, 60)}" if name else "Form submitted"), detail


def _error(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
           ) -> tuple[str, dict[str, Any]]:
    message = data.get("message") if isinstance(data.get("message"), str) else ""
    detail: dict[str, Any] = {"message": message}
    for name in ("source", "kind", "stack"):
        if isinstance(data.get(name), str) and data[name]:
            detail[name] = data[name]
    for name in ("line", "column"):
        number = _number(data.get(name))
        if number is not None:
            detail[name] = int(number)
    return _short(message or "Error", 80), detail


def _custom(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
            ) -> tuple[str, dict[str, Any]]:
    tag = key if isinstance(key, str) else (data.get("tag") if isinstance(data.get("tag"), str)
                                            else "")
    detail: dict[str, Any] = {"tag": tag}
    keys = data.get("keys")
    if isinstance(keys, list):
        detail["keys"] = [str(k) for k in keys][:50]
    numbers = data.get("numbers")
    if isinstance(numbers, dict):
        detail["numbers"] = {str(k): v for k, v in list(numbers.items())[:50]
                             if _number(v) is not None}
    return _short(tag or "Custom event", 80), detail


def _navigation(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
                ) -> tuple[str, dict[str, Any]]:
    target = data.get("target") if isinstance(data.get("target"), str) else ""
    external = key == "external"
    detail: dict[str, Any] = {"target": target, "external": external}
    if isinstance(data.get("text"), str) and data["text"]:
        detail["text"] = data["text"]
    if external:
        return f"Leaving to: {_short(_host_path(target), 80)}", detail
    return f"Navigating to: {_short(page_path(target), 80)}", detail


def _vital(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
           ) -> tuple[str, dict[str, Any]]:
    metric = str(key) if key else str(data.get("metric") or "?")
    number = _number(value)
    rating = data.get("rating") if isinstance(data.get("rating"), str) else None
    detail: dict[str, Any] = {"metric": metric, "value": number, "rating": rating}
    shown = format_vital(metric, number)
    return f"{metric} {shown}" + (f" ({rating})" if rating else ""), detail


def _where(key: Any, detail: dict[str, Any]) -> str:
    """`` on <selector>``, else `` (x, y)``, else nothing."""
    if isinstance(key, str) and key:
        return f" on {_short(key, 60)}"
    if "x" in detail and "y" in detail:
        return f" ({round(detail['x'])}, {round(detail['y'])})"
    return ""


def _rage_click(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
                ) -> tuple[str, dict[str, Any]]:
    clicks = _number(value)
    detail: dict[str, Any] = {"rule": RAGE_CLICK_RULE}
    if clicks is not None:
        detail["clicks"] = int(clicks)
    if isinstance(key, str) and key:
        detail["selector"] = key
    for name in ("x", "y"):
        number = _number(data.get(name))
        if number is not None:
            detail[name] = number
    count = f" · {int(clicks)} clicks" if clicks is not None else ""
    return f"Rage click{_where(key, detail)}{count}", detail


def _dead_click(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
                ) -> tuple[str, dict[str, Any]]:
    detail: dict[str, Any] = {"rule": DEAD_CLICK_RULE, "error": data.get("error") is True}
    if isinstance(key, str) and key:
        detail["selector"] = key
    for name in ("x", "y"):
        number = _number(data.get(name))
        if number is not None:
            detail[name] = number
    followed = " (an error followed)" if detail["error"] else ""
    return f"Dead click{_where(key, detail)}{followed}", detail


def _unknown(fact: Fact, data: dict[str, Any], key: Any, value: Any, first: bool
             ) -> tuple[str, dict[str, Any]]:
    return _short(fact.kind), {}


ITEM_BUILDERS = {
    "page_view": _page_view,
    "click": _click,
    "scroll": _scroll,
    "form_field": _form_field,
    "form_submit": _form_submit,
    "error": _error,
    "custom": _custom,
    "navigation": _navigation,
    "vital": _vital,
    "rage_click": _rage_click,
    "dead_click": _dead_click,
}
KINDS = (*ITEM_BUILDERS, "server_error")
NOT_SHOWN = frozenset({"page_time", "page_leave", "idle", "scroll_reversal", "move"})
"""Bookkeeping facts for analytics (time on page, idle time and scroll reversals for the
engagement score, mouse-move grids for the attention map): no item of their own, the timeline
shows idle gaps and scrolls already."""


def fact_item(fact: Fact, first_ms: int, first_page: bool) -> dict[str, Any]:
    builder = ITEM_BUILDERS.get(fact.kind, _unknown)
    data = fact.data if isinstance(fact.data, dict) else {}
    label, detail = builder(fact, data, getattr(fact, "key", None), getattr(fact, "value", None),
                            first_page)
    return {
        "kind": fact.kind,
        "ts_ms": fact.ts_ms,
        "offset_ms": max(0, fact.ts_ms - first_ms),
        "url": fact.url or "",
        "label": label,
        "detail": detail,
    }


def window_facts(store: Store, session_id: str, window_id: str) -> Iterable[Fact]:
    return (f for f in store.iter_facts(session_id=session_id) if f.window_id == window_id)


def append_server_items(items: list[dict[str, Any]], store: Store, session: SessionSummary,
                        window: WindowSummary, first_ms: int, root: str = "") -> None:
    """Add ``server_error`` items: the server errors of the requests this window made
    (``tracking.window_server_errors``), at the moment of the failing request,
    ``{"kind": "server_error", "ts_ms", "offset_ms", "url", "label": "Class: title",
    "detail": {"exception", "message", "problem_url"}}``."""
    from sentiero.tracking import window_server_errors

    for error in window_server_errors(store, session.session_id, window.window_id):
        items.append({
            "kind": "server_error",
            "ts_ms": error["ts_ms"],
            "offset_ms": max(0, error["ts_ms"] - first_ms),
            "url": error.get("path"),
            "label": f"{error['exception_class']}: {error['title']}"
            if error["title"] != error["exception_class"] else error["title"],
            "detail": {"exception": error["exception_class"], "message": error["title"],
                       "problem_url": root + error["url"]},
        })


def build_activity(store: Store, session: SessionSummary, window: WindowSummary,
                   root: str = "") -> dict[str, Any]:
    """The window's items in time order, with the counts per kind the legend shows."""
    first_ms = window.first_ms or 0
    items: list[dict[str, Any]] = []
    truncated = False
    seen_page = False
    for fact in window_facts(store, session.session_id, window.window_id):
        if fact.kind in NOT_SHOWN:
            continue
        if len(items) >= MAX_ITEMS:
            truncated = True
            break
        first_page = fact.kind == "page_view" and not seen_page
        if fact.kind == "page_view":
            seen_page = True
        items.append(fact_item(fact, first_ms, first_page))
    append_server_items(items, store, session, window, first_ms, root)
    items.sort(key=lambda item: item["ts_ms"])
    counts: dict[str, int] = {}
    for item in items:
        counts[item["kind"]] = counts.get(item["kind"], 0) + 1
    return {
        "session_id": session.session_id,
        "window_id": window.window_id,
        "first_ms": window.first_ms,
        "last_ms": window.last_ms,
        "items": items,
        "counts": counts,
        "truncated": truncated,
    }


def activity(web: Web, request: Request, sid: str, wid: str) -> Response:
    if not valid_ids(sid, wid):
        return invalid_id()
    session = web.store.get_session(sid)
    window = None if session is None else next(
        (w for w in session.windows if w.window_id == wid), None)
    if session is None or window is None:
        return json_response({"error": "window not found"}, 404)
    web.audit(request, "view_session", [sid], window_id=wid, detail={"via": "activity_api"})
    response = json_response(build_activity(web.store, session, window, web.root(request)))
    response.headers["Cache-Control"] = "private, no-store"
    return response


ROUTES = [
    Route("/api/sessions/<sid>/windows/<wid>/activity", "api_activity", activity, json=True),
]
