"""Export (inventory §5.15): every dataset as ``{headers, rows}``, streamed as CSV (RFC 4180,
formula-injection safe) or JSON. Rows are generated, so a large range never sits in memory
whole on our side."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson

from sentiero.analytics import client_errors, overview, pages, vitals
from sentiero.analytics.periods import Period
from sentiero.analytics.query import Scope, Segment

if TYPE_CHECKING:
    from sentiero.stores.base import Store

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SESSION_PAGE = 10_000  # rows per query: few OFFSET skips over a large range


@dataclass(frozen=True)
class Dataset:
    """``rows(store, period)``, or ``rows(store, period, goal=<funnel.Step>)`` when
    ``needs_goal`` (the conversions export: a goal as the conversions page takes it)."""

    key: str
    label: str
    headers: tuple[str, ...]
    rows: Callable[..., Iterator[list[Any]]]
    needs_goal: bool = False


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat() if moment else None


def _iso_ms(ms: int | None) -> str | None:
    return _iso(datetime.fromtimestamp(ms / 1000, tz=timezone.utc)) if ms is not None else None


def _scope(period: Period) -> Scope:
    return Scope(period.since, period.until, Segment())


def _sessions(store: Store, period: Period) -> Iterator[list[Any]]:
    """Page after page, newest first: each page ends the range at its last session's
    activity, and skips the sessions of that moment already written (an offset into the
    whole list would make the database skip ever more rows: quadratic)."""
    scope, offset = _scope(period), 0
    while True:
        rows = store.analytics_sessions(scope, limit=SESSION_PAGE, offset=offset)
        for r in rows:
            yield [r.session_id, _iso(r.created_at), _iso_ms(r.first_ms), _iso_ms(r.last_ms),
                   r.duration_ms, r.event_count, r.traits.entry_url, r.traits.referrer,
                   r.traits.browser, r.traits.device, r.has_errors]
        if len(rows) < SESSION_PAGE:
            return
        last = rows[-1].updated_at
        same = sum(1 for r in rows if r.updated_at == last)
        if scope.until == last:  # the whole page at the moment the range ends at
            offset += same
        else:
            scope, offset = replace(scope, until=last), same


def _errors(store: Store, period: Period) -> Iterator[list[Any]]:
    for group in client_errors.error_groups(store, period):
        for f in group.occurrences:
            yield [group.message, group.source, group.line, group.count,
                   _iso_ms(group.last_ms), f.session_id, f.window_id, f.ts_ms]


def _browser_events(store: Store, period: Period) -> Iterator[list[Any]]:
    for f in store.scope_facts(_scope(period), ("custom",)):
        yield [f.session_id, f.window_id, f.ts_ms, f.key, f.url]


def _stats(store: Store, period: Period) -> Iterator[list[Any]]:
    o = overview.overview(store, period)
    yield ["total_sessions", o.kpis.sessions]
    yield ["total_events", o.kpis.events]
    yield ["sessions_with_errors", o.kpis.sessions_with_errors]
    yield ["avg_duration_ms", round(o.kpis.avg_duration_ms) if o.kpis.avg_duration_ms else None]
    for prefix, items in (("browser", o.browsers), ("device", o.devices),
                          ("os", o.operating_systems), ("country", o.countries),
                          ("duration", o.durations)):
        for name, count in items:
            yield [f"{prefix}:{name}", count]
    for tag in o.tags:
        yield [f"custom_event:{tag['tag']}", tag["count"]]


def _pages(store: Store, period: Period) -> Iterator[list[Any]]:
    for p in pages.page_rows(store, period):
        yield [p.url, p.views, p.sessions, p.entries, p.exits, p.clicks, p.errors,
               p.rage_clicks, p.dead_clicks]


def _web_vitals(store: Store, period: Period) -> Iterator[list[Any]]:
    for page in vitals.web_vitals(store, period):
        for m in page.metrics:
            yield [page.url, m.metric, m.p50, m.p75, m.p90, m.samples, m.ratings["good"],
                   m.ratings["needs-improvement"], m.ratings["poor"]]


DATASETS: dict[str, Dataset] = {d.key: d for d in (
    Dataset("sessions", "Session list",
            ("session_id", "created_at", "first_event_at", "last_event_at", "duration_ms",
             "event_count", "url", "referrer", "browser", "device", "has_errors"), _sessions),
    Dataset("errors", "Error list",
            ("message", "source", "line", "count", "last_seen_at", "session_id", "window_id",
             "timestamp_ms"), _errors),
    Dataset("browser_events", "Browser events (custom)",
            ("session_id", "window_id", "timestamp", "tag", "url"), _browser_events),
    Dataset("stats", "Aggregate stats", ("metric", "value"), _stats),
    Dataset("pages", "Pages", ("url", "views", "sessions", "entries", "exits", "clicks",
                               "errors", "rage_clicks", "dead_clicks"), _pages),
    Dataset("web_vitals", "Web Vitals",
            ("url", "metric", "p50", "p75", "p90", "samples", "good_count",
             "needs_improvement_count", "poor_count"), _web_vitals),
)}


def register(dataset: Dataset) -> None:
    """Add a dataset (the analyses of later modules register theirs)."""
    DATASETS[dataset.key] = dataset


def csv_cell(value: Any) -> str:
    """One RFC 4180 field: None empty, booleans true/false, formula prefixes neutralized with a
    leading ``'``, quoted when it holds a quote, comma, CR or LF."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(round(value, 3)) if value != int(value) else str(int(value))
    else:
        text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    if any(c in text for c in '",\r\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def csv_lines(dataset: Dataset, rows: Iterator[list[Any]]) -> Iterator[bytes]:
    yield (",".join(csv_cell(h) for h in dataset.headers) + "\r\n").encode()
    for row in rows:
        yield (",".join(csv_cell(v) for v in row) + "\r\n").encode()


def json_chunks(dataset: Dataset, rows: Iterator[list[Any]]) -> Iterator[bytes]:
    yield b'{"headers":' + orjson.dumps(list(dataset.headers)) + b',"rows":['
    first = True
    buffer = io.BytesIO()
    for row in rows:
        if not first:
            buffer.write(b",")
        first = False
        buffer.write(orjson.dumps(row, default=str))
        if buffer.tell() > 65_536:
            yield buffer.getvalue()
            buffer = io.BytesIO()
    yield buffer.getvalue() + b"]}"


def filename(dataset: Dataset, period: Period, fmt: str) -> str:
    """``<dataset>[_<from>_to_<to>].<fmt>`` with UTC dates, ``start``/``now`` for an open end."""
    if period.since is None and period.until is None:
        return f"{dataset.key}.{fmt}"
    start = period.since.date().isoformat() if period.since else "start"
    end = period.until.date().isoformat() if period.until else "now"
    return f"{dataset.key}_{start}_to_{end}.{fmt}"


from sentiero.analytics import export_more  # noqa: E402,F401  (registers the part-2 datasets)
