"""Error-tracking pages (inventory §3.5, §6.6): the issues list (``/issues``), a problem's
page (``/issues/<id>``) with its trend, facets, recent occurrences and the replays where it
happened, the status change (``POST /issues/<id>/status``), and the server custom events log
(``/custom-events``, ``/custom-events/<id>``).

Every replay link opens the session's window at the failing request's moment:
``/sessions/<sid>/windows/<wid>?t=<epoch ms>``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from sentiero.stores.base import to_ms
from sentiero.tracking.models import (
    LEVELS,
    PROBLEM_SORTS,
    STATUSES,
    Occurrence,
    Problem,
    ProblemQuery,
    ServerEventQuery,
    now_ms,
)
from sentiero.web import security
from sentiero.web.application import Route, Web, invalid_id, text_response, valid_ids
from sentiero.web.dashboard import (
    MAX_PAGE,
    MAX_SEARCH,
    format_duration,
    parse_bound,
    parse_browser,
    parse_int,
    session_user_agent,
)

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
SORT_LABELS = {"last_seen": "Last seen", "first_seen": "First seen", "count": "Count"}
STATUS_TABS = (("open", "Open"), ("resolved", "Resolved"), ("ignored", "Ignored"),
               ("all", "All"))
TRENDS = {"24h": (24, 3_600_000), "7d": (7, 86_400_000), "30d": (30, 86_400_000)}
RECENT = 50
FACET_SAMPLE = 200
FRAMES_SHOWN = 20
NOT_TRACKED = ("This store does not keep error-tracking data. Use SQLStore, DjangoStore, "
               "RedisStore, FileStore or MemoryStore to see problems here.")
CLIENT_ERRORS_PENDING = "Client error groups arrive with the analytics pages."
BROWSER_EVENTS_PENDING = "Browser custom events arrive with the analytics pages."


def format_ms(ms: int | None, fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime(fmt)


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


def replay_url(root: str, occ: Occurrence) -> str | None:
    """The replay at the failing request's moment (absolute epoch ms, which the player
    turns into an offset)."""
    if occ.session_id is None:
        return None
    moment = occ.replay_ms if occ.replay_ms is not None else occ.ts_ms
    if occ.window_id:
        return f"{root}/sessions/{occ.session_id}/windows/{occ.window_id}?t={moment}"
    return f"{root}/sessions/{occ.session_id}?t={moment}"


@dataclass
class Filters:
    """Query of a list page (inventory §3.7 rules): bad values fall back, never 500."""

    page: int
    per_page: int
    search: str
    since_raw: str
    until_raw: str
    since_ms: int | None
    until_ms: int | None

    @classmethod
    def from_request(cls, request: Request) -> Filters:
        args = request.args
        per_page = parse_int(args.get("per_page"), DEFAULT_PER_PAGE)
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
        since = parse_bound(args.get("since"), end=False)
        until = parse_bound(args.get("until"), end=True)
        return cls(
            page=min(max(parse_int(args.get("page"), 1), 1), MAX_PAGE),
            per_page=per_page,
            search=(args.get("search") or "").strip()[:MAX_SEARCH],
            since_raw=(args.get("since") or "").strip()[:64] if since else "",
            until_raw=(args.get("until") or "").strip()[:64] if until else "",
            since_ms=to_ms(since, round_up=True) if since else None,
            until_ms=to_ms(until) if until else None,
        )

    def base_params(self) -> dict[str, str]:
        values = {"search": self.search, "since": self.since_raw, "until": self.until_raw,
                  "per_page": str(self.per_page) if self.per_page != DEFAULT_PER_PAGE else ""}
        return {k: v for k, v in values.items() if v}


def _page_links(path: str, params: dict[str, str], page: int, has_next: bool
                ) -> tuple[str | None, str | None]:
    def url(n: int) -> str:
        query = {**params, **({"page": str(n)} if n != 1 else {})}
        return path + ("?" + urlencode(query) if query else "")

    return (url(page - 1) if page > 1 else None,
            url(page + 1) if has_next and page < MAX_PAGE else None)


def _date_value(raw: str) -> str:
    return raw if len(raw) == 10 and raw[4] == "-" else ""


# --- the issues list ----------------------------------------------------------------------------


def issues_index(web: Web, request: Request) -> Response:
    if request.args.get("source") == "client":
        try:
            from sentiero.web import client_errors  # type: ignore[attr-defined]
        except ImportError:
            return _client_pending(web, request)
        return client_errors.page(web, request)  # type: ignore[no-any-return]
    filters = Filters.from_request(request)
    status = request.args.get("status") or "open"
    if status not in STATUSES and status != "all":
        status = "open"
    sort_by = request.args.get("sort_by") or "last_seen"
    if sort_by not in PROBLEM_SORTS:
        sort_by = "last_seen"
    query = ProblemQuery(
        limit=filters.per_page + 1,
        offset=(filters.page - 1) * filters.per_page,
        status=None if status == "all" else status,
        search=filters.search or None,
        sort_by=sort_by,
        since_ms=filters.since_ms,
        until_ms=filters.until_ms,
    )
    try:
        problems = web.store.list_problems(query)
    except NotImplementedError:
        return _not_tracked(web, request, "errors")
    web.audit(request, "list_problems", dataset="problems",
              detail={"status": status, "page": filters.page})
    root = web.root(request)
    has_next = len(problems) > filters.per_page
    problems = problems[: filters.per_page]
    params = {**filters.base_params(), "status": status,
              **({"sort_by": sort_by} if sort_by != "last_seen" else {})}
    prev_url, next_url = _page_links(f"{root}/issues", params, filters.page, has_next)
    tab_params = {k: v for k, v in params.items() if k != "status"}
    tabs = [{"label": label, "active": key == status,
             "url": f"{root}/issues?" + urlencode({**tab_params, "status": key})}
            for key, label in STATUS_TABS]
    here = f"{root}/issues" + ("?" + urlencode(params) if params else "")
    rows = [_problem_row(root, p, filters.since_ms) for p in problems]
    return web.render(
        request, "issues.html", title="Errors", nav="errors", source="server",
        filters=filters, status_filter=status, sort_by=sort_by, sort_labels=SORT_LABELS, tabs=tabs,
        rows=rows, prev_url=prev_url, next_url=next_url, return_to=here,
        since_value=_date_value(filters.since_raw), until_value=_date_value(filters.until_raw),
        clear_url=f"{root}/issues?status={status}",
        client_url=f"{root}/issues?source=client", server_url=f"{root}/issues",
    )


def _problem_row(root: str, p: Problem, since_ms: int | None) -> dict[str, Any]:
    message = p.message if len(p.message) <= 120 else p.message[:119] + "…"
    return {
        "id": p.id,
        "href": f"{root}/issues/{p.id}",
        "status_url": f"{root}/issues/{p.id}/status",
        "exception_class": p.exception_class,
        "message": message,
        "project": p.project,
        "count": p.count,
        "status": p.status,
        "new": since_ms is not None and p.first_seen_ms >= since_ms,
        "first_seen": format_ms(p.first_seen_ms, "%b %d, %H:%M"),
        "last_seen": format_ms(p.last_seen_ms, "%b %d, %H:%M"),
        "last_seen_iso": iso_ms(p.last_seen_ms),
        "actions": _status_actions(p.status),
    }


def _status_actions(status: str) -> list[tuple[str, str]]:
    """(target status, button label) offered for a problem in ``status``."""
    if status == "open":
        return [("resolved", "Resolve"), ("ignored", "Ignore")]
    return [("open", "Reopen")]


def _client_pending(web: Web, request: Request) -> Response:
    root = web.root(request)
    return web.render(request, "notice.html", title="Errors", nav="errors",
                      heading="Errors", notice=CLIENT_ERRORS_PENDING,
                      tabs=[{"label": "Server exceptions", "url": f"{root}/issues",
                             "active": False},
                            {"label": "Client JS errors", "url": f"{root}/issues?source=client",
                             "active": True}])


def _not_tracked(web: Web, request: Request, nav: str) -> Response:
    return web.render(request, "notice.html", title="Errors", nav=nav, heading="Errors",
                      notice=NOT_TRACKED, tabs=[])


# --- a problem ----------------------------------------------------------------------------------


def trend_svg(counts: list[int], labels: list[str]) -> Markup:
    """A bar chart of ``counts`` as inline SVG (no script, so the page CSP holds)."""
    width, height, gap = 600, 120, 2
    top = max(counts) or 1
    bar = (width - gap * (len(counts) - 1)) / max(len(counts), 1)
    parts = [f'<svg class="trend-chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Occurrences per bucket, {sum(counts)} in all" '
             'preserveAspectRatio="none">']
    for i, (count, label) in enumerate(zip(counts, labels, strict=True)):
        h = 0 if count == 0 else max(2.0, height * count / top)
        x = i * (bar + gap)
        parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                     f' class="{"bar" if count else "bar bar-empty"}"><title>'
                     f'{escape(label)}: {count}</title></rect>')
    parts.append(f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" class="axis"/></svg>')
    # the ends' labels in HTML: SVG text would stretch with the chart on narrow screens
    parts.append(f'<div class="trend-ticks"><span>{escape(labels[0])}</span>'
                 f'<span>{escape(labels[-1])}</span></div>')
    return Markup("".join(parts))


def _trend(occurrences: list[Occurrence], key: str, now: int) -> tuple[list[int], list[str]]:
    buckets, size = TRENDS[key]
    end = now - now % size + size  # the current bucket included
    start = end - buckets * size
    counts = [0] * buckets
    for occ in occurrences:
        if start <= occ.ts_ms < end:
            counts[(occ.ts_ms - start) // size] += 1
    fmt = "%H:00" if size == 3_600_000 else "%b %d"
    labels = [format_ms(start + i * size, fmt) for i in range(buckets)]
    return counts, labels


def _flatten(context: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in sorted(context.items()):
        if isinstance(value, dict):
            out.extend((f"{key}.{k}", _short(v)) for k, v in sorted(value.items()))
        else:
            out.append((str(key), _short(value)))
    return out


def _short(value: Any) -> str:
    import orjson

    text = value if isinstance(value, str) else orjson.dumps(
        value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    return text if len(text) <= 500 else text[:499] + "…"


def _frame_line(frame: Any) -> str:
    if not isinstance(frame, dict):
        return str(frame)
    where = frame.get("module") or frame.get("filename") or "?"
    line = f":{frame['lineno']}" if frame.get("lineno") is not None else ""
    return f"{where}{line} in {frame.get('function') or '?'}"


def _facet(values: list[str | None]) -> list[tuple[str, int]]:
    return Counter(v for v in values if v).most_common(8)


def problem_page(web: Web, request: Request, problem_id: str) -> Response:
    if not valid_ids(problem_id):
        return invalid_id()
    try:
        problem = web.store.get_problem(problem_id)
    except NotImplementedError:
        return _not_tracked(web, request, "errors")
    if problem is None:
        return text_response("Problem not found", 404)
    web.audit(request, "view_problem", dataset="problems", detail={"problem_id": problem_id})
    root = web.root(request)
    now = now_ms()
    sample = web.store.list_occurrences(problem_id=problem_id, limit=1000,
                                        since_ms=now - 30 * 86_400_000)
    trend_key = request.args.get("trend") if request.args.get("trend") in TRENDS else "24h"
    counts, labels = _trend(sample, trend_key, now)
    totals = {k: web.store.count_occurrences(problem_id, since_ms=now - n * size)
              for k, (n, size) in TRENDS.items()}
    recent = web.store.list_occurrences(problem_id=problem_id, limit=max(RECENT, FACET_SAMPLE))
    sessions = _affected_sessions(web, root, recent)
    browsers = [s["browser"] for s in sessions]
    facets = [
        ("Request paths", _facet([o.path for o in recent])),
        ("Environments", _facet([o.environment for o in recent])),
        ("Releases", _facet([o.release for o in recent])),
        ("Browsers", _facet(browsers)),
    ]
    occurrence_rows = [{
        "message": o.message,
        "time": format_ms(o.ts_ms),
        "time_iso": iso_ms(o.ts_ms),
        "replay_url": replay_url(root, o),
        "session_short": (o.session_id or "")[:8],
        "frames": [_frame_line(f) for f in list(reversed(o.frames))[:FRAMES_SHOWN]]
        if o.frames and isinstance(o.frames[0], dict) else
        [_frame_line(f) for f in o.frames[:FRAMES_SHOWN]],
        "context": _flatten(o.context),
    } for o in recent[:RECENT]]
    return web.render(
        request, "problem.html", title=problem.exception_class, nav="errors",
        problem=problem, first_seen=format_ms(problem.first_seen_ms),
        last_seen=format_ms(problem.last_seen_ms),
        resolved_at=format_ms(problem.resolved_at_ms),
        actions=_status_actions(problem.status),
        status_url=f"{root}/issues/{problem.id}/status",
        trend_chart=trend_svg(counts, labels), trend_key=trend_key, totals=totals,
        trend_links=[(k, f"{root}/issues/{problem.id}?trend={k}") for k in TRENDS],
        facets=facets, occurrences=occurrence_rows, sessions=sessions,
        back_url=f"{root}/issues",
    )


def _affected_sessions(web: Web, root: str, recent: list[Occurrence]) -> list[dict[str, Any]]:
    """Distinct sessions by latest occurrence (up to 50), each with the replay link at that
    occurrence's moment."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for occ in recent:
        if occ.session_id is None or occ.session_id in seen:
            continue
        seen.add(occ.session_id)
        session = web.store.get_session(occ.session_id)
        browser = parse_browser(session_user_agent(session)) if session else None
        out.append({
            "id": occ.session_id,
            "short_id": occ.session_id[:8],
            "replay_url": replay_url(root, occ),
            "exists": session is not None,
            "browser": browser.name if browser else None,
            "duration": format_duration(session.duration_ms) if session else "—",
            "at": format_ms(occ.replay_ms or occ.ts_ms),
        })
        if len(out) >= 50:
            break
    return out


def problem_status(web: Web, request: Request, problem_id: str) -> Response:
    if not valid_ids(problem_id):
        return invalid_id()
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    status = request.form.get("status")
    if status not in STATUSES:
        return text_response("bad status", 400)
    try:
        changed = web.store.set_problem_status(problem_id, status)
    except NotImplementedError:
        return text_response(NOT_TRACKED, 501)
    if not changed:
        return text_response("Problem not found", 404)
    web.audit(request, "update_problem_status", dataset="problems",
              detail={"problem_id": problem_id, "status": status})
    root = web.root(request)
    back = request.form.get("return_to") or ""
    # only back to an issues list of this mount: never an open redirect
    if not (back.startswith(f"{root}/issues?") or back == f"{root}/issues") or "//" in back[1:]:
        back = f"{root}/issues/{problem_id}"
    return redirect(back, 303)


# --- server custom events -------------------------------------------------------------------------


def custom_events(web: Web, request: Request) -> Response:
    root = web.root(request)
    tabs = [{"label": "Server events", "url": f"{root}/custom-events",
             "active": request.args.get("source") != "browser"},
            {"label": "Browser events", "url": f"{root}/custom-events?source=browser",
             "active": request.args.get("source") == "browser"}]
    if request.args.get("source") == "browser":
        return web.render(request, "notice.html", title="Events", nav="events",
                          heading="Custom events", notice=BROWSER_EVENTS_PENDING, tabs=tabs)
    filters = Filters.from_request(request)
    level = request.args.get("level") or ""
    level = level if level in LEVELS else ""
    project = (request.args.get("project") or "").strip()[:128]
    query = ServerEventQuery(
        limit=filters.per_page + 1, offset=(filters.page - 1) * filters.per_page,
        level=level or None, search=filters.search or None,
        since_ms=filters.since_ms, until_ms=filters.until_ms,
        project=project if project and valid_ids(project) else None,
    )
    try:
        events = web.store.list_server_events(query)
        projects = sorted({k.project for k in web.store.list_ingest_keys()})
    except NotImplementedError:
        return _not_tracked(web, request, "events")
    web.audit(request, "list_events", dataset="server_events", detail={"page": filters.page})
    has_next = len(events) > filters.per_page
    params = {**filters.base_params(), **({"level": level} if level else {}),
              **({"project": query.project} if query.project else {})}
    prev_url, next_url = _page_links(f"{root}/custom-events", params, filters.page, has_next)
    rows = [{
        "name": e.name, "level": e.level, "project": e.project,
        "time": format_ms(e.ts_ms), "time_iso": iso_ms(e.ts_ms),
        "href": f"{root}/custom-events/{e.id}",
        "session_url": (f"{root}/sessions/{e.session_id}/windows/{e.window_id}?t={e.ts_ms}"
                        if e.session_id and e.window_id else
                        f"{root}/sessions/{e.session_id}?t={e.ts_ms}" if e.session_id else None),
        "session_short": (e.session_id or "")[:8],
        "payload": _short(e.payload) if e.payload else "",
    } for e in events[: filters.per_page]]
    return web.render(
        request, "custom_events.html", title="Events", nav="events", tabs=tabs, rows=rows,
        filters=filters, level=level, levels=LEVELS, project=query.project or "",
        projects=projects, prev_url=prev_url, next_url=next_url,
        since_value=_date_value(filters.since_raw), until_value=_date_value(filters.until_raw),
        clear_url=f"{root}/custom-events",
    )


def custom_event(web: Web, request: Request, event_id: str) -> Response:
    if not valid_ids(event_id):
        return invalid_id()
    try:
        event = web.store.get_server_event(event_id)
    except NotImplementedError:
        return _not_tracked(web, request, "events")
    if event is None:
        return text_response("Event not found", 404)
    web.audit(request, "view_event", [event.session_id] if event.session_id else [],
              dataset="server_events", detail={"event_id": event_id})
    import orjson

    root = web.root(request)
    return web.render(
        request, "custom_event.html", title=event.name, nav="events", event=event,
        time=format_ms(event.ts_ms),
        payload=orjson.dumps(event.payload, option=orjson.OPT_INDENT_2,
                             default=str).decode(),
        session_url=(f"{root}/sessions/{event.session_id}?t={event.ts_ms}"
                     if event.session_id else None),
        back_url=f"{root}/custom-events",
    )


ROUTES = [
    Route("/issues", "issues", issues_index),
    Route("/issues/<problem_id>", "problem", problem_page),
    Route("/issues/<problem_id>/status", "problem_status", problem_status, ("POST",)),
    Route("/custom-events", "custom_events", custom_events),
    Route("/custom-events/<event_id>", "custom_event", custom_event),
]
