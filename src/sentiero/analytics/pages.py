"""Pages (every URL with its views, entries and problems) and the page report for one URL
(inventory §5.11): views, time on page, entries, exits, bounce rate, clicks, scroll, forms,
errors, vitals, frustration and custom events, all from facts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics import scroll as scroll_mod
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
COUNTED = ("page_view", "page_leave", "click", "rage_click", "dead_click", "custom", "form_field",
           "form_submit")
"""The kinds the page report counts by key."""


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
    """Everything comes grouped from the store: counts (``fact_counts``), time on page as each
    page view's longest ``page_time`` (``fact_maxima``), the scroll depth page's summary of
    that URL (``scroll_groups``), sessions that typed and submitted
    (``sessions_with_each``), each error group's latest message (``latest_facts``); only the
    vitals' percentiles read their facts."""
    scope = _scope(period, segment)
    report = PageReport(url)

    # every count of the page in three grouped calls (by kind and key; sessions per kind;
    # error groups with their sessions)
    counted: dict[str, list[Any]] = {kind: [] for kind in COUNTED}
    for c in store.fact_counts(scope, COUNTED, by_key=True, url=url, sessions=False,
                               by_kind=True):
        counted[c.kind].append(c)
    sessions_of = {c.kind: c.sessions or 0 for c in store.fact_counts(
        scope, ("page_view", "form_field"), url=url, by_kind=True)}
    view_counts = counted["page_view"]
    report.entries = sum(c.count for c in view_counts if c.key == "entry")
    leave_counts = counted["page_leave"]
    leaves = sum(c.count for c in leave_counts)
    leaves_entry = sum(c.count for c in leave_counts if c.key == "entry")
    elements: Counter[str] = Counter()
    for c in counted["click"]:
        report.clicks += c.count
        if c.key:
            elements[c.key] += c.count
    frustration: Counter[str] = Counter()
    for kind in ("rage_click", "dead_click"):
        for c in counted[kind]:
            if kind == "rage_click":
                report.rage_clicks += c.count
            else:
                report.dead_clicks += c.count
            if c.key:
                frustration[c.key] += c.count
    tags: Counter[str] = Counter()
    for c in counted["custom"]:
        if c.key and not is_internal_tag(c.key):
            tags[c.key] += c.count
    error_groups: dict[str, dict[str, Any]] = {}
    for c in store.fact_counts(scope, "error", by_key=True, url=url):
        name = c.key or "Unknown error"
        group = error_groups.setdefault(name, {"key": name, "message": "", "count": 0,
                                               "sessions": 0, "last_ms": 0})
        group["count"] += c.count
        group["sessions"] += c.sessions
        group["last_ms"] = max(group["last_ms"], c.last_ms or 0)
    for fact in store.latest_facts(scope, "error", 1, url=url) if error_groups else ():
        group = error_groups.get(fact.key or "Unknown error")
        if group is not None:  # each group's message: its latest occurrence's
            group["message"] = fact.data.get("message", "")
    for page in scroll_mod.scroll_depth(store, period, segment, url=url):  # that page's
        report.scroll_samples = page.views
        report.scroll_avg_px = page.avg_depth_px
        report.scroll_avg_pct = page.avg_depth_pct
    report.form_fields = len({c.key or "" for c in counted["form_field"]})
    report.form_sessions = sessions_of.get("form_field", 0)
    report.form_submits = sum(c.count for c in counted["form_submit"])
    report.form_submit_sessions = store.sessions_with_each(scope, ("form_field", "form_submit"),
                                                           url)
    report.views = sum(c.count for c in view_counts)
    report.sessions = sessions_of.get("page_view", 0)
    report.exits = max(0, report.views - leaves)
    report.bounces = max(0, report.entries - leaves_entry)
    durations = store.fact_maxima(scope, "page_time", url)  # each page view's longest
    if durations:
        report.time_mean_ms = sum(durations) / len(durations)
        report.time_median_ms = median(durations)
    report.top_elements = top_counts(elements, TOP_ELEMENTS)
    report.errors = sorted(error_groups.values(), key=lambda g: (-g["count"], g["key"]))
    report.vitals = [m for page in vitals_mod.web_vitals(store, period, segment, url=url)
                     for m in page.metrics]
    report.frustration_selectors = top_counts(frustration, 10)
    report.custom_events = top_counts(tags, TOP_TAGS)
    return report


