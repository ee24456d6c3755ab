"""The replay dashboard's pages: the sessions list, the replay page and deletes."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import ua_parser
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from sentiero.analytics.periods import end_of_day, start_of_day
from sentiero.analytics.query import Segment
from sentiero.analytics.traits import BROWSERS, DEVICES
from sentiero.stores.base import ID_PATTERN, SORT_KEYS, SessionQuery, SessionSummary, WindowRef
from sentiero.web import security
from sentiero.web.pages import not_found_page
from sentiero.web.replay_incident import incident_panel
from sentiero.web.routing import Route, Web, invalid_id, valid_ids
from sentiero.web.window_tabs import main_window, window_tabs

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 10_000
MAX_SEARCH = 256
SORT_LABELS = {"updated_at": "Last activity", "created_at": "Created", "event_count": "Events"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
_MOBILE_DEVICES = ("iPhone", "iPod")


# --- formatting -----------------------------------------------------------------------------


def format_duration(ms: int | None) -> str:
    """``Ns`` under a minute, ``Nm Ns`` under an hour, else ``Nh Nm``; ``N/A`` when unknown."""
    if ms is None or ms < 0:
        return "N/A"
    seconds = int(ms // 1000)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60}m"


def format_offset(ms: int) -> str:
    """A moment of a replay: ``M:SS.mmm`` from the start of the tab."""
    ms = max(0, int(ms))
    return f"{ms // 60_000}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def format_time(moment: datetime | None) -> str:
    """``Mon DD, HH:MM`` in UTC."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%b %d, %H:%M")


def format_datetime(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def url_path(url: str | None) -> str:
    if not url:
        return ""
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return url


@dataclass(frozen=True)
class Browser:
    name: str
    os: str
    mobile: bool
    user_agent: str


@functools.lru_cache(maxsize=2048)
def parse_browser(user_agent: str | None) -> Browser:
    """Browser name, OS and whether the device is a phone, from a User-Agent string."""
    if not user_agent:
        return Browser("Unknown", "", False, "")
    ua = user_agent[:1024]
    try:
        result = ua_parser.parse(ua)
    except Exception:  # a parser bug must not break the sessions list
        return Browser("Unknown", "", False, ua)
    name, os_name = "Unknown", ""
    if result.user_agent is not None and result.user_agent.family != "Other":
        name = result.user_agent.family
        if result.user_agent.major:
            name = f"{name} {result.user_agent.major}"
    if result.os is not None and result.os.family != "Other":
        os_name = result.os.family
    device = result.device.family if result.device is not None else ""
    mobile = "Mobi" in ua or device in _MOBILE_DEVICES
    return Browser(name, os_name, mobile, ua)


def session_user_agent(session: SessionSummary) -> str | None:
    ua = session.user_agent or session.metadata.get("userAgent")
    return ua if isinstance(ua, str) else None


def last_page_url(session: SessionSummary) -> str | None:
    url = session.last_url or session.metadata.get("url")
    return url if isinstance(url, str) else None


# --- query parsing (inventory §3.7) ---------------------------------------------------------


def parse_bound(raw: str | None, *, end: bool) -> datetime | None:
    """A date (start/end of that UTC day) or an ISO timestamp (zone-less = UTC); else None."""
    if not raw:
        return None
    raw = raw.strip()[:64]
    try:
        if _DATE.match(raw):
            day = datetime.strptime(raw, "%Y-%m-%d").date()
            if end:
                return end_of_day(day)
            return start_of_day(day)
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None and raw.strip() else default
    except ValueError:
        return default


@dataclass
class ListFilters:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    search: str = ""
    since_raw: str = ""
    until_raw: str = ""
    since: datetime | None = None
    until: datetime | None = None
    sort_by: str = "updated_at"
    has_errors: bool = False
    segment: Segment = field(default_factory=Segment)
    """The analytics segment filters (browser, device, page seen, metadata...)."""

    @classmethod
    def from_request(cls, request: Request) -> ListFilters:
        from sentiero.web.analytics_params import parse_segment

        args = request.args
        page = min(max(parse_int(args.get("page"), 1), 1), MAX_PAGE)
        per_page = parse_int(args.get("per_page"), DEFAULT_PER_PAGE)
        if per_page < 1:
            per_page = DEFAULT_PER_PAGE
        per_page = min(per_page, MAX_PER_PAGE)
        search = (args.get("search") or "").strip()[:MAX_SEARCH]
        since_raw = (args.get("since") or "").strip()
        until_raw = (args.get("until") or "").strip()
        since = parse_bound(since_raw, end=False)
        until = parse_bound(until_raw, end=True)
        sort_by = args.get("sort_by") or "updated_at"
        if sort_by not in SORT_KEYS:
            sort_by = "updated_at"
        return cls(
            page=page,
            per_page=per_page,
            search=search,
            since_raw=since_raw if since is not None else "",
            until_raw=until_raw if until is not None else "",
            since=since,
            until=until,
            sort_by=sort_by,
            has_errors=args.get("has_errors") in ("true", "1", "on"),
            segment=replace(parse_segment(args), has_errors=None),
        )

    @property
    def active(self) -> bool:
        return bool(self.search or self.since or self.until or self.has_errors
                    or not self.segment.empty)

    def params(self, **overrides: Any) -> dict[str, str]:
        """The query string that reproduces these filters (defaults omitted)."""
        values: dict[str, Any] = {
            "search": self.search,
            "since": self.since_raw,
            "until": self.until_raw,
            "sort_by": self.sort_by if self.sort_by != "updated_at" else "",
            "has_errors": "true" if self.has_errors else "",
            "per_page": str(self.per_page) if self.per_page != DEFAULT_PER_PAGE else "",
            "page": str(self.page) if self.page != 1 else "",
        }
        from sentiero.web.analytics_params import segment_params

        values.update(segment_params(self.segment))
        values.update(overrides)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    def query(self) -> SessionQuery:
        return SessionQuery(
            limit=self.per_page + 1,
            offset=(self.page - 1) * self.per_page,
            since=self.since,
            until=self.until,
            sort_by=self.sort_by,
            search=self.search or None,
            has_errors=True if self.has_errors else None,
        )


def _date_value(raw: str) -> str:
    """What a ``<input type=date>`` can show for a bound (only plain dates)."""
    return raw if _DATE.match(raw) else ""


# --- views ----------------------------------------------------------------------------------


def session_row(web: Web, request: Request, session: SessionSummary) -> dict[str, Any]:
    root = web.root(request)
    browser = parse_browser(session_user_agent(session))
    url = last_page_url(session)
    return {
        "id": session.session_id,
        "short_id": session.session_id[:8],
        "href": f"{root}/sessions/{session.session_id}",
        "delete_url": f"{root}/sessions/{session.session_id}/delete",
        "has_errors": session.has_errors or session.metadata.get("has_errors") is True,
        "last_page": url_path(url),
        "last_url": url or "",
        "browser": browser,
        "windows": len(session.windows),
        "events": session.event_count,
        "duration": format_duration(session.duration_ms),
        "last_activity": format_time(session.updated_at),
        "last_activity_iso": session.updated_at.isoformat(),
    }


def sessions_index(web: Web, request: Request) -> Response:
    filters = ListFilters.from_request(request)
    rows = web.store.list_segment_sessions(filters.query(), filters.segment)
    web.audit(request, "list_sessions", dataset="sessions",
              detail={"page": filters.page, "filtered": filters.active})
    has_next = len(rows) > filters.per_page
    rows = rows[: filters.per_page]
    root = web.root(request)
    base = f"{root}/"

    def page_url(page: int) -> str:
        params = filters.params(page=str(page) if page != 1 else "")
        return base + ("?" + urlencode(params) if params else "")

    return web.render(
        request,
        "sessions.html",
        title="Sessions",
        nav="sessions",
        filters=filters,
        since_value=_date_value(filters.since_raw),
        until_value=_date_value(filters.until_raw),
        sort_labels=SORT_LABELS,
        browsers=BROWSERS,
        devices=DEVICES,
        rows=[session_row(web, request, s) for s in rows],
        prev_url=page_url(filters.page - 1) if filters.page > 1 else None,
        next_url=page_url(filters.page + 1) if has_next and filters.page < MAX_PAGE else None,
        clear_url=base + (f"?per_page={filters.per_page}"
                          if filters.per_page != DEFAULT_PER_PAGE else ""),
        bulk_delete_url=f"{root}/sessions/bulk_delete",
        deleted=_deleted_count(request),
    )


def _deleted_count(request: Request) -> int | None:
    """``?deleted=N`` after a delete redirect: the flash says how many sessions went."""
    raw = request.args.get("deleted", "")
    return int(raw) if raw.isdigit() and len(raw) < 7 else None


def _not_found(web: Web, request: Request, message: str) -> Response:
    return not_found_page(web, request, message)


def session_redirect(web: Web, request: Request, sid: str) -> Response:
    if not valid_ids(sid):
        return invalid_id()
    session = web.store.get_session(sid)
    if session is None:
        return _not_found(web, request, "Session not found")
    wid = main_window(session)
    if wid is None:
        return _not_found(web, request, "No windows found")
    target = f"{web.root(request)}/sessions/{sid}/windows/{wid}"
    t = request.args.get("t", "")
    if t.isdigit():  # a deep link into the session keeps its moment
        target += f"?t={t}"
    return redirect(target, 302)


def parse_start_at(raw: str | None) -> int | float | None:
    """``?t=``: milliseconds, a relative offset or an absolute epoch time (the player decides)."""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        return None
    return int(value) if value.is_integer() else value


def replay_page(web: Web, request: Request, sid: str, wid: str) -> Response:
    if not valid_ids(sid, wid):
        return invalid_id()
    session = web.store.get_session(sid)
    if session is None:
        return _not_found(web, request, "Session not found")
    window = next((w for w in session.windows if w.window_id == wid), None)
    if window is None:
        return _not_found(web, request, "Window not found")
    web.audit(request, "view_session", [sid], window_id=wid, detail={"via": "replay"})
    root = web.root(request)
    inline_tabs, more_tabs = window_tabs(
        session, wid, {w.window_id: f"{root}/sessions/{sid}/windows/{w.window_id}"
                       for w in session.windows})
    windows = [tab.to_dict() for tab in inline_tabs + more_tabs]
    api_base = f"{root}/api/sessions/{sid}/windows/{wid}"
    data = {
        "sessionId": sid,
        "windowId": wid,
        "chunksUrl": f"{api_base}/chunks",
        "eventsUrl": f"{api_base}/events",
        "activityUrl": f"{api_base}/activity",
        "startAt": parse_start_at(request.args.get("t")),
        "windows": windows,
    }
    incident = incident_panel(web, request, sid, window)
    if incident is not None and incident.explanation is not None:
        data["incident"] = incident.explanation.to_dict()
    browser = parse_browser(session_user_agent(session))
    window_duration = (
        None if window.first_ms is None or window.last_ms is None
        else max(0, window.last_ms - window.first_ms)
    )
    hidden = {"userAgent"}
    details = [
        (str(k), v if isinstance(v, str) else _compact(v))
        for k, v in sorted(session.metadata.items())
        if k not in hidden
    ]
    multi = len(session.windows) > 1
    response = web.render(
        request,
        "replay.html",
        title=f"Session {sid[:8]}",
        nav="sessions",
        session=session,
        window=window,
        windows=windows,
        inline_tabs=inline_tabs,
        more_tabs=more_tabs,
        multi_window=multi,
        replay_data=data,
        incident=incident,
        format_offset=format_offset,
        browser=browser,
        duration=format_duration(session.duration_ms),
        window_duration=format_duration(window_duration),
        started=format_datetime(session.created_at),
        last_activity=format_datetime(session.updated_at),
        last_url=last_page_url(session) or "",
        details=details,
        back_url=f"{root}/",
        delete_window_url=f"{root}/sessions/{sid}/windows/{wid}/delete",
        delete_session_url=f"{root}/sessions/{sid}/delete",
        download_window_url=f"{root}/sessions/{sid}/windows/{wid}/events.json",
        download_session_url=f"{root}/sessions/{sid}/export.jsonl",
        share_url=f"{root}/analytics/share/{sid}" if web.settings.shareable_replays else None,
    )
    # the replay iframe shows the recorded site, whose images and fonts live on its own origin
    response.headers["Content-Security-Policy"] = security.REPLAY_CSP
    return response


def _compact(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


# --- deletes --------------------------------------------------------------------------------


def delete_session(web: Web, request: Request, sid: str) -> Response:
    if not valid_ids(sid):
        return invalid_id()
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    deleted = web.store.delete_session(sid)
    web.audit(request, "delete_session", [sid], detail={"deleted": deleted})
    return redirect(f"{web.root(request)}/?deleted={int(deleted)}", 302)


def delete_window(web: Web, request: Request, sid: str, wid: str) -> Response:
    if not valid_ids(sid, wid):
        return invalid_id()
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    deleted = web.store.delete_window(WindowRef(sid, wid))
    web.audit(request, "delete_session", [sid], window_id=wid, detail={"deleted": deleted})
    root = web.root(request)
    session = web.store.get_session(sid)
    remaining = main_window(session) if session is not None else None
    if remaining is None:
        return redirect(f"{root}/", 302)
    return redirect(f"{root}/sessions/{sid}/windows/{remaining}", 302)


def bulk_delete(web: Web, request: Request) -> Response:
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    ids = request.form.getlist("session_ids[]") + request.form.getlist("session_ids")
    valid = [s for s in dict.fromkeys(ids) if ID_PATTERN.match(s)]
    deleted = 0
    if valid:
        deleted = web.store.erase_sessions(valid)
        web.audit(request, "delete_session", valid, detail={"deleted": deleted, "bulk": True})
    return redirect(f"{web.root(request)}/?deleted={deleted}", 302)


ROUTES = [
    Route("/", "sessions_index", sessions_index),
    Route("/sessions/bulk_delete", "bulk_delete", bulk_delete, ("POST",)),
    Route("/sessions/<sid>", "session", session_redirect),
    Route("/sessions/<sid>/delete", "delete_session", delete_session, ("POST",)),
    Route("/sessions/<sid>/windows/<wid>", "replay", replay_page),
    Route("/sessions/<sid>/windows/<wid>/delete", "delete_window", delete_window, ("POST",)),
]
