"""The SQL stores' day cache (sentiero.stores.sql_day_cache): closed days' answers come from
the cache and stay equal to the generic implementation's (the memory store, which caches
nothing) through every write that changes a past day: a late batch, a session running across
midnight, metadata, erasure, compaction.

The dataset: fixture recordings placed on the last four closed UTC days (each session's
events and its last activity on its day), one of them running across midnight, and two
sessions today (never cached: today is open; one of them typed in a form).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sentiero.analytics import (
    client_errors,
    conversions,
    engagement,
    forms,
    frustration,
    funnel,
    heatmap,
    overview,
    pages,
    scroll,
)
from sentiero.analytics.periods import Period, end_of_day, resolve_period, start_of_day
from sentiero.analytics.query import Scope, Segment
from sentiero.compaction import compact_window
from sentiero.stores.base import Store, WindowRef
from sentiero.stores.memory import MemoryStore
from sentiero.stores.sql import SQLStore
from sentiero.stores.sql_day_cache import (
    DAY_MS,
    GRACE_MS,
    MAX_CACHED_DAYS,
    DayPlan,
    day_of,
)
from tests.analytics.conftest import make_store
from tests.analytics.dataset import CHROME, FIREFOX, IPHONE, SETTINGS
from tests.analytics.support import BATCH_SIZE, ingest_recording, load_recording

NOW = datetime.now(timezone.utc)
TODAY = start_of_day(NOW.date())
LAST_30_DAYS = resolve_period(None, None, 30)
WEEK = Period(TODAY - timedelta(days=6), end_of_day(NOW.date()), None)
EVER = Period(None, None, None)  # cached from the earliest day on
# recording, days ago, seconds after midnight, user agent, plan
PLACED = [
    ("frustration-a", 1, 3_600, CHROME, "pro"),
    ("landing-a", 2, 40_000, FIREFOX, "free"),
    ("signup-b", 2, 50_000, IPHONE, "pro"),
    ("todo-a", 3, None, CHROME, "free"),  # across midnight (see place)
    ("dashboard-a", 4, 7_200, CHROME, "team"),
]


PAGES_FUNNEL = [("url", "/landing"), ("url", "/pricing"), ("url", "/signup")]
TODO_FUNNEL = [("url", "/todo"), ("url", "/pricing")]


def first_ts(recording: dict[str, Any]) -> int:
    return min(e["timestamp"] for w in recording["windows"] for e in w["events"])


def place(store: Store, name: str, days_ago: int, seconds: int | None, ua: str, plan: str,
          sid: str | None = None, recording: dict[str, Any] | None = None) -> str:
    """``seconds`` after midnight, or None: across midnight, the first batch (BATCH_SIZE
    events) before it and the rest after. ``recording``: instead of the fixture ``name``."""
    recording = recording or load_recording(name)
    day = TODAY - timedelta(days=days_ago)
    if seconds is None:
        events = recording["windows"][0]["events"]
        second_batch = events[BATCH_SIZE]["timestamp"] - first_ts(recording)
        moment = day + timedelta(days=1, milliseconds=-second_batch + 1)
    else:
        moment = day + timedelta(seconds=seconds)
    shift = int(moment.timestamp() * 1000) - first_ts(recording)
    last = max(e["timestamp"] for w in recording["windows"] for e in w["events"]) + shift
    received = datetime.fromtimestamp(last / 1000, tz=timezone.utc) + timedelta(seconds=1)
    return ingest_recording(store, name, sid or f"dc-{name}", settings=SETTINGS,
                            user_agent=ua, metadata={"plan": plan}, received_at=received,
                            shift_ms=shift, recording=recording)


def fill(store: Store) -> None:
    for row in PLACED:
        place(store, *row)
    for name, ua in (("landing-a", CHROME), ("signup-b", IPHONE)):
        ingest_recording(store, name, f"dc-today-{name}", settings=SETTINGS, user_agent=ua,
                         metadata={"plan": "pro"}, received_at=NOW,
                         shift_ms=int(NOW.timestamp() * 1000) - 60_000
                         - first_ts(load_recording(name)))


@functools.cache
def report_urls() -> tuple[str, ...]:
    """The dataset's pages (the same list whatever a test erased)."""
    reference = MemoryStore()
    fill(reference)
    return tuple(pages.page_urls(reference, WEEK))


def answers(store: Store) -> dict[str, Any]:
    """What the cached interface methods answer, in a comparable form, over a week, the
    30-day preset (the overview adds its prior period), and segments."""
    out: dict[str, Any] = {}
    for label, period, segments in (
            ("week", WEEK, (("all", Segment()), ("url", Segment(url_pattern="*todo*")))),
            ("30d", LAST_30_DAYS, (("chrome", Segment(browser="Chrome")),)),
            ("ever", EVER, (("all", Segment()),))):
        for seg_label, segment in segments:
            scope = Scope(period.since, period.until, segment)
            key = f"{label}/{seg_label}"
            out[key + " sessions"] = store.count_sessions(scope)
            out[key + " browsers"] = store.session_counts(scope, "browser")
            out[key + " facets"] = store.session_facets(scope)
            out[key + " metadata"] = store.metadata_counts(scope)
            out[key + " days"] = store.daily_activity(scope)
            for kind, flags in (("page_view", {"by_url": True, "by_key": True}),
                                ("click", {"by_url": True}),
                                ("error", {"by_key": True, "by_day": True}),
                                ("custom", {"by_key": True, "sessions": False})):
                out[f"{key} {kind} {flags}"] = sorted(
                    store.fact_counts(scope, kind, **flags),
                    key=lambda c: (str(c.url), str(c.key), c.day or 0))
            out[key + " page times"] = store.fact_maxima(scope, "page_time")
            out[key + " error traits"] = store.fact_trait_counts(scope, "error",
                                                                 ("browser", "device"))
    # a range from mid-day to mid-day: its first and last days partly, live
    partial = Period(TODAY - timedelta(days=3, hours=5), TODAY - timedelta(hours=1), None)
    for label, period in (("week", WEEK), ("30d", LAST_30_DAYS), ("partial", partial)):
        for steps in (PAGES_FUNNEL, TODO_FUNNEL):
            for within in (None, 3_000):
                out[f"{label} funnel {steps} {within}"] = funnel.funnel(
                    store, period, funnel.make_steps(steps), within)
        for goal in ("/signup", "/pricing", "/todo"):
            out[f"{label} conversions {goal}"] = conversions.conversions(
                store, period, funnel.make_step("url", goal))
        out[f"{label} forms"] = forms.form_pages(store, period)
        for page in ("signup.html", "todo.html"):
            out[f"{label} forms {page}"] = forms.form_pages(
                store, period, url=f"http://127.0.0.1:39711/{page}")
    o = overview.overview(store, LAST_30_DAYS)
    out["overview"] = (o.kpis, o.prior, o.browsers, o.entry_pages, o.series)
    out["pages"] = sorted((r.url, r.views, r.sessions, r.entries, r.exits)
                          for r in pages.page_rows(store, WEEK))
    for label, period in (("week", WEEK), ("ever", EVER)):
        out[f"errors {label}"] = [(g.key, g.message, g.count, g.session_count, g.last_ms,
                                   dict(g.browsers), dict(g.pages)) for g in
                                  client_errors.error_groups(store, period)]
    for url in report_urls():  # one page report each (the todo page's session runs across
        report = pages.page_report(store, WEEK, url)  # midnight)
        out[f"report {url}"] = (report.sessions, report.views, report.scroll_samples,
                                report.scroll_avg_px, report.scroll_avg_pct, report.form_fields,
                                report.form_sessions, report.form_submits,
                                report.form_submit_sessions, report.errors)
    return out


def part_two_answers(store: Store) -> dict[str, Any]:
    """The part-2 pages whose groups the SQL stores cache per day: heatmaps (todo-a clicks
    on two days), frustration, scroll depth and engagement, over the week."""
    out: dict[str, Any] = {}
    for page in ("frustration", "todo", "landing", "signup", "pricing", "dashboard"):
        url = f"http://127.0.0.1:39711/{page}.html"
        h = heatmap.heatmap(store, WEEK, url)
        out[f"heatmap {page}"] = (h.bucket, h.counts, h.total, h.representative,
                                  h.page_height, h.top_elements,
                                  [(s.key, s.count, s.sessions, s.centre) for s in h.spots])
    out["frustration"] = [(p.url, p.rage, p.dead, p.dead_with_error, p.sessions_affected,
                           p.top_selectors, [(i.fact.session_id, i.fact.ts_ms)
                                             for i in p.incidents])
                          for p in frustration.frustration(store, WEEK, shown=2)]
    out["scroll"] = [(p.url, p.views, p.sessions, p.depths_pct, p.page_height_px,
                      p.avg_depth_px, p.deepest) for p in scroll.scroll_depth(store, WEEK)]
    for sort in ("score", "duration"):
        e = engagement.engagement(store, WEEK, sort=sort)
        out[f"engagement {sort}"] = (e.total, e.distribution, e.average,
                                     [(x.row.session_id, x.score, x.signals.chips())
                                      for x in e.rows])
    return out


def normalized(values: dict[str, Any]) -> dict[str, Any]:
    """Float sums may differ in the last bits between stores: rounded."""
    def norm(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        if hasattr(v, "__dataclass_fields__"):
            return norm(vars(v))
        return v
    return {k: norm(v) for k, v in values.items()}


def cached_rows(store: SQLStore) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count())
                            .select_from(store.tables.day_cache)).scalar() or 0


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param != "sqlite":
        request.applymarker(pytest.mark.backend)
    store, drop = make_store(request.param, tmp_path)
    reference = MemoryStore()
    fill(store)
    fill(reference)
    yield store, reference
    drop()
    store.close()


def test_closed_days_are_answered_from_the_cache_with_the_generic_answers(pair: Any) -> None:
    store, reference = pair
    expected = normalized(answers(reference))
    assert expected["week/all sessions"] == 7
    assert expected["week/url sessions"] == 1
    assert expected["30d/chrome sessions"] == 4
    assert normalized(answers(store)) == expected  # computed, and cached
    filled = cached_rows(store)
    assert filled > 0
    assert normalized(answers(store)) == expected  # from the cache
    assert cached_rows(store) == filled  # nothing recomputed


def test_a_session_across_midnight_is_one_session_on_every_count(pair: Any) -> None:
    store, reference = pair
    answers(store)  # cache the days
    scope = Scope(WEEK.since, WEEK.until)
    views = {c.url: c.sessions for c in store.fact_counts(scope, "page_view", by_url=True)}
    assert views == {c.url: c.sessions
                     for c in reference.fact_counts(scope, "page_view", by_url=True)}
    todo = next(u for u in views if u and "todo" in u)
    clicks = sorted(store.fact_counts(scope, "click", by_url=True), key=lambda c: str(c.url))
    assert clicks == sorted(reference.fact_counts(scope, "click", by_url=True),
                            key=lambda c: str(c.url))
    assert [c.sessions for c in clicks if c.url == todo] == [1]  # on two days, counted once
    by_day = store.fact_counts(scope, "click", by_url=True, by_day=True)
    assert sorted(by_day, key=lambda c: (str(c.url), c.day)) == sorted(
        reference.fact_counts(scope, "click", by_url=True, by_day=True),
        key=lambda c: (str(c.url), c.day))
    assert len({c.day for c in by_day if c.url == todo}) == 2


def test_writes_to_past_days_change_the_cached_answers(pair: Any) -> None:
    store, reference = pair
    answers(store)
    filled = cached_rows(store)
    # a late batch: frustration-a's session gets a second copy of its recording, on its day
    # (it moves to today), metadata for a session of two days ago, an erased session
    for target in (store, reference):
        place(target, "frustration-a", 1, 7_200, CHROME, "pro", sid="dc-frustration-a")
        target.save_metadata("dc-landing-a", {"plan": "enterprise"})
        target.erase_sessions(["dc-dashboard-a"])
    after = normalized(answers(reference))
    assert after["week/all sessions"] == 6
    assert after["week/all metadata"][("plan", "enterprise")] == 1
    assert normalized(answers(store)) == after
    assert cached_rows(store) >= filled
    with store.engine.connect() as conn:  # the erased session's plan is in no answer
        payloads = conn.execute(sa.select(store.tables.day_cache.c.payload)).scalars().all()
    assert payloads and not any('"team"' in p for p in payloads)
    assert any('"enterprise"' in p for p in payloads)


def test_part_two_pages_from_the_cache_equal_the_generic_answers(pair: Any) -> None:
    store, reference = pair
    expected = normalized(part_two_answers(reference))
    assert expected["heatmap frustration"][2] == 12
    assert expected["heatmap todo"][2] > 0
    assert [row[:2] for row in expected["scroll"]] == [  # landing-a today too
        ["http://127.0.0.1:39711/landing.html", 2], ["http://127.0.0.1:39711/dashboard.html", 1]]
    assert normalized(part_two_answers(store)) == expected  # computed, and cached
    filled = cached_rows(store)
    assert filled > 0
    assert normalized(part_two_answers(store)) == expected  # from the cache
    assert cached_rows(store) == filled
    for target in (store, reference):  # late batches on a closed day, an erasure
        place(target, "frustration-a", 1, 7_200, CHROME, "pro", sid="dc-frustration-b")
        target.erase_sessions(["dc-todo-a"])
    after = normalized(part_two_answers(reference))
    assert after["heatmap frustration"][2] == 24 and after["heatmap todo"][2] == 0
    assert after["engagement score"][0] == expected["engagement score"][0]  # +1 -1
    assert normalized(part_two_answers(store)) == after


def test_compaction_moves_events_between_days_and_the_cache_follows(pair: Any) -> None:
    store, _ = pair
    scope = Scope(WEEK.since, WEEK.until)
    before = store.daily_activity(scope)
    sid = "dc-todo-a"
    window = store.get_session(sid).windows[0].window_id
    compact_window(store, WindowRef(sid, window), target_raw_bytes=10**9)
    after = store.daily_activity(scope)
    # merged into one chunk, its events count on the day of its first event
    assert sum(e for _, e, _ in after) == sum(e for _, e, _ in before)
    uncached = store.daily_activity(Scope(WEEK.since, WEEK.until + timedelta(microseconds=-1)))
    assert after != before and after == [(d, e, s) for d, e, s in uncached]


def test_a_range_splits_into_cached_closed_days_and_live_edges() -> None:
    now = day_of(int(NOW.timestamp() * 1000)) + 12 * 3_600_000  # noon today
    plan = DayPlan.of(Scope(WEEK.since, WEEK.until), now=now)
    assert plan is not None
    assert len(plan.days) == 6  # the six closed days; today is live
    assert [s.since for s in plan.live] == [TODAY]
    mid = Scope(TODAY - timedelta(days=3, hours=5), TODAY - timedelta(hours=1))
    plan = DayPlan.of(mid, now=now)
    assert plan is not None and len(plan.days) == 2
    assert [(s.since, s.until) for s in plan.live] == [
        (mid.since, TODAY - timedelta(days=3, microseconds=1)),
        (TODAY - timedelta(days=1), mid.until)]
    # just after midnight yesterday is not cached yet (a writer may still be committing)
    plan = DayPlan.of(Scope(WEEK.since, WEEK.until), now=day_of(now) + GRACE_MS // 2)
    assert plan is not None and len(plan.days) == 5
    assert DayPlan.of(Scope(TODAY, WEEK.until), now=now) is None
    assert DayPlan.of(Scope(None, WEEK.until), now=now) is None
    # no start: from the day of the earliest row; no end: today live, and after it
    earliest = day_of(now) - 3 * DAY_MS + 5_000
    plan = DayPlan.of(Scope(), now=now, earliest_ms=earliest)
    assert plan is not None and plan.days == [day_of(earliest) + i * DAY_MS for i in range(3)]
    assert [(s.since, s.until) for s in plan.live] == [(TODAY, None)]
    # at most MAX_CACHED_DAYS days, the newest; the older ones live
    plan = DayPlan.of(Scope(), now=now, earliest_ms=day_of(now) - 1000 * DAY_MS)
    assert plan is not None and len(plan.days) == MAX_CACHED_DAYS
    assert plan.days[-1] == day_of(now) - DAY_MS
    assert plan.live[0].since is None
    assert DAY_MS == 86_400_000


def test_a_session_received_after_midnight_converts_where_its_events_are(pair: Any) -> None:
    """Its last batch arrives 30 s into the next day: its last activity (which puts it in a
    range) is on one day, its goal page view on the one before. From the next day on it is in
    range but did not convert there; over the week it converted."""
    store, reference = pair
    recording = load_recording("landing-a")
    span = max(e["timestamp"] for w in recording["windows"] for e in w["events"]) \
        - first_ts(recording)
    midnight = TODAY - timedelta(days=1)
    shift = int(midnight.timestamp() * 1000) - 5_000 - span - first_ts(recording)
    for target in (store, reference):
        ingest_recording(target, "landing-a", "dc-late", settings=SETTINGS,
                         user_agent=FIREFOX, metadata={"plan": "free"},
                         received_at=midnight + timedelta(seconds=30), shift_ms=shift,
                         recording=recording)
    goal = funnel.make_step("url", "/pricing")
    after = Period(midnight, WEEK.until, None)
    for period in (WEEK, after, WEEK, after):  # computed, then from the cache
        expected = conversions.conversions(reference, period, goal)
        assert normalized({"c": conversions.conversions(store, period, goal)}) == \
            normalized({"c": expected})
    week = conversions.conversions(reference, WEEK, goal)
    late = conversions.conversions(reference, after, goal)
    firefox = "http://127.0.0.1:39711/landing.html"
    assert [(r.sessions, r.conversions) for r in week.facets["Entry page"]
            if r.value == firefox] == [(3, 3)]  # dc-landing-a, dc-today-landing-a, dc-late
    assert [(r.sessions, r.conversions) for r in late.facets["Entry page"]
            if r.value == firefox] == [(2, 1)]  # dc-late is in range, its goal is not
