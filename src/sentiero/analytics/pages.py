"""Pages (every URL with its views, entries and problems) and the page report for one URL
(inventory §5.11): views, time on page, entries, exits, bounce rate, clicks, scroll, forms,
errors, vitals, frustration and custom events, all from facts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics import vitals as vitals_mod
from sentiero.analytics.periods import Period, median, pct, top_counts
from sentiero.analytics.query import Scope, Segment
from sentiero.ingest.facts import is_internal_tag

if TYPE_CHECKING:
    from sentiero.stores.base import Store

MAX_PAGES = 200
"""Pages shown on one screen; the page says how many more there are, export has all."""
TOP_ELEMENTS = 20
TOP_TAGS = 200


@dataclass
class PageRow:
    url: str
    views: int = 0
    sessions: int = 0
    entries: int = 0
    leaves: int = 0  # views followed by another page of the window
    clicks: int = 0
    errors: int = 0
    rage_clicks: int = 0
    dead_clicks: int = 0

    @property
    def exits(self) -> int:
        return max(0, self.views - self.leaves)


def _scope(period: Period, segment: Segment | None) -> Scope:
    return Scope(period.since, period.until, segment or Segment())


def page_rows(store: Store, period: Period, segment: Segment | None = None) -> list[PageRow]:
    """Every recorded page, most viewed first, each with what happened on it."""
    scope = _scope(period, segment)
    rows: dict[str, PageRow] = {}
    for c in store.fact_counts(scope, "page_view", by_url=True, by_key=True,
                                 sessions=False):
        if not c.url:
            continue
        row = rows.setdefault(c.url, PageRow(c.url))
        row.views += c.count
        if c.key == "entry":
            row.entries += c.count
    for c in store.fact_counts(scope, "page_view", by_url=True):
        if c.url in rows:
            rows[c.url].sessions = c.sessions
    for kind, attr in (("page_leave", "leaves"), ("click", "clicks"), ("error", "errors"),
                       ("rage_click", "rage_clicks"), ("dead_click", "dead_clicks")):
        for c in store.fact_counts(scope, kind, by_url=True, sessions=False):
            if c.url in rows:
                setattr(rows[c.url], attr, c.count)
    return sorted(rows.values(), key=lambda r: (-r.views, r.url))


def page_urls(store: Store, period: Period) -> list[str]:
    """The URL picker: every page with a view in the range, sorted."""
    counts = store.fact_counts(_scope(period, None), "page_view", by_url=True, sessions=False)
    return sorted(c.url for c in counts if c.url)


@dataclass
class PageReport:
    url: str
    sessions: int = 0
    views: int = 0
    entries: int = 0
    exits: int = 0
    bounces: int = 0
    time_mean_ms: float | None = None
    time_median_ms: float | None = None
    clicks: int = 0
    top_elements: list[tuple[str, int]] = field(default_factory=list)
    scroll_avg_px: float | None = None
    scroll_avg_pct: float | None = None
    scroll_samples: int = 0
    form_fields: int = 0
    form_sessions: int = 0
    form_submits: int = 0
    form_submit_sessions: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    vitals: list[vitals_mod.MetricSummary] = field(default_factory=list)
    rage_clicks: int = 0
    dead_clicks: int = 0
    frustration_selectors: list[tuple[str, int]] = field(default_factory=list)
    custom_events: list[tuple[str, int]] = field(default_factory=list)

    @property
    def bounce_pct(self) -> float | None:
        return pct(self.bounces, self.entries)

    @property
    def form_completion_pct(self) -> float | None:
        return pct(self.form_submit_sessions, self.form_sessions)


def page_report(store: Store, period: Period, url: str,
                segment: Segment | None = None) -> PageReport:
    """Counts come grouped from the store (``fact_counts``), time on page as each page view's
    longest ``page_time`` (``fact_maxima``); only the kinds whose values are needed one by one
    (scroll depth, form sessions, error messages) are read."""
    scope = _scope(period, segment)
    report = PageReport(url)

    def counted(kind: str, sessions: bool = False) -> list[Any]:
        return store.fact_counts(scope, kind, by_key=True, url=url, sessions=sessions)

    def sessions_of(kind: str) -> int:
        return sum(c.sessions for c in store.fact_counts(scope, kind, url=url))

    view_counts = counted("page_view")
    report.entries = sum(c.count for c in view_counts if c.key == "entry")
    leave_counts = counted("page_leave")
    leaves = sum(c.count for c in leave_counts)
    leaves_entry = sum(c.count for c in leave_counts if c.key == "entry")
    elements: Counter[str] = Counter()
    for c in counted("click"):
        report.clicks += c.count
        if c.key:
            elements[c.key] += c.count
    frustration: Counter[str] = Counter()
    for kind in ("rage_click", "dead_click"):
        for c in counted(kind):
            if kind == "rage_click":
                report.rage_clicks += c.count
            else:
                report.dead_clicks += c.count
            if c.key:
                frustration[c.key] += c.count
    tags: Counter[str] = Counter()
    for c in counted("custom"):
        if c.key and not is_internal_tag(c.key):
            tags[c.key] += c.count
    error_groups: dict[str, dict[str, Any]] = {}
    for c in counted("error", sessions=True):
        name = c.key or "Unknown error"
        group = error_groups.setdefault(name, {"key": name, "message": "", "count": 0,
                                               "sessions": 0, "last_ms": 0})
        group["count"] += c.count
        group["sessions"] += c.sessions
        group["last_ms"] = max(group["last_ms"], c.last_ms or 0)
    scroll: dict[tuple[str, str, Any], tuple[float, float | None]] = {}
    fields: set[str] = set()
    field_sessions: set[str] = set()
    submit_sessions: set[str] = set()
    for f in store.scope_facts(scope, ("scroll", "form_field", "form_submit"), url=url):
        if f.kind == "scroll" and f.value is not None:
            group = (f.session_id, f.window_id, f.data.get("pv"))
            vh = f.data.get("vh")
            best = scroll.get(group)
            if best is None or f.value > best[0]:
                scroll[group] = (f.value, vh if isinstance(vh, (int, float)) else None)
        elif f.kind == "form_field":
            fields.add(f.key or "")
            field_sessions.add(f.session_id)
        elif f.kind == "form_submit":
            report.form_submits += 1
            submit_sessions.add(f.session_id)
    untold = set(error_groups)  # each group's message: its first occurrence's
    for f in store.scope_facts(scope, ("error",), url=url) if untold else ():
        name = f.key or "Unknown error"
        if name in untold:
            error_groups[name]["message"] = f.data.get("message", "")
            untold.discard(name)
            if not untold:
                break
    report.views = sum(c.count for c in view_counts)
    report.sessions = sessions_of("page_view")
    report.exits = max(0, report.views - leaves)
    report.bounces = max(0, report.entries - leaves_entry)
    durations = store.fact_maxima(scope, "page_time", url)  # each page view's longest
    if durations:
        report.time_mean_ms = sum(durations) / len(durations)
        report.time_median_ms = median(durations)
    report.top_elements = top_counts(elements, TOP_ELEMENTS)
    if scroll:
        depths = [y for y, _ in scroll.values()]
        report.scroll_samples = len(depths)
        report.scroll_avg_px = sum(depths) / len(depths)
        page_height = max(y + (vh or 0) for y, vh in scroll.values())
        if page_height:
            shares = [min(100.0, (y + (vh or 0)) / page_height * 100) for y, vh in scroll.values()]
            report.scroll_avg_pct = round(sum(shares) / len(shares), 1)
    report.form_fields = len(fields)
    report.form_sessions = len(field_sessions)
    report.form_submit_sessions = len(submit_sessions & field_sessions)
    report.errors = sorted(error_groups.values(), key=lambda g: (-g["count"], g["key"]))
    report.vitals = [m for page in vitals_mod.web_vitals(store, period, segment, url=url)
                     for m in page.metrics]
    report.frustration_selectors = top_counts(frustration, 10)
    report.custom_events = top_counts(tags, TOP_TAGS)
    return report


