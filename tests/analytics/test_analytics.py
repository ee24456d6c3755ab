"""Each analysis on the fixture recordings, with the same numbers on every store.

Hand-derived figures (tests/fixtures/README.md says what each recording does):
- 6 sessions: 3 Chrome desktop fixtures + the synthetic vitals session (Chrome), landing-a on
  Firefox/Windows, signup-b on an iPhone; only frustration-a throws (2 JS errors).
- Events: 69 + 16 + 30 + 84 + 56 (the fixtures) + 10 (the synthetic session).
- pricing.html: landing-a arrives from landing.html and ends there (an exit); signup-b enters
  on it and leaves for signup.html: 2 views, 2 sessions, 1 entry, 1 exit, bounce 0 of 1.
"""

from __future__ import annotations

import pytest

from sentiero.analytics import client_errors, export, overview, pages, vitals
from sentiero.analytics.funnel import Step
from sentiero.analytics.periods import resolve_period
from sentiero.analytics.query import Scope, Segment
from sentiero.stores.base import Store
from tests.analytics.dataset import NOW, SHOP, fill

ALL = resolve_period(None, None, None, default_preset=None)
LAST_30_DAYS = resolve_period(None, None, 30)
HOST = "http://127.0.0.1:39711"


@pytest.fixture
def store(filled_store: Store) -> Store:
    return filled_store


def test_overview_kpis_and_distributions(store: Store) -> None:
    o = overview.overview(store, LAST_30_DAYS)
    assert o.kpis.sessions == 6
    assert o.kpis.events == 69 + 16 + 30 + 84 + 56 + 10
    assert o.kpis.sessions_with_errors == 1
    assert o.kpis.error_free_pct == 83.3
    assert dict(o.browsers) == {"Chrome": 4, "Firefox": 1, "Safari": 1}
    assert dict(o.devices) == {"Desktop": 5, "Mobile": 1}
    assert dict(o.operating_systems) == {"Linux": 4, "Windows": 1, "iOS": 1}
    assert dict(o.countries) == {"DE": 3, "FR": 1, "IT": 1, "US": 1}
    assert sum(n for _, n in o.durations) == 6 and dict(o.durations)["0-30s"] == 6
    assert sum(b.errors for b in o.series) == 2
    assert sum(b.sessions for b in o.series) == 6
    assert [(t["tag"], t["count"], t["sessions"]) for t in o.tags] == [("added", 2, 1)]
    assert o.navigation_internal == [(SHOP + "/b", 1)] and o.link_texts == [("Next page", 1)]
    entries = {e["url"]: (e["sessions"], e["errors"]) for e in o.entry_pages}
    assert entries[HOST + "/frustration.html"] == (1, 1)
    assert entries[SHOP + "/a"] == (1, 0)
    plan = next(m for m in o.metadata if m["key"] == "plan")
    assert (plan["sessions"], plan["values"]) == (6, [("pro", 3), ("free", 2), ("team", 1)])


def test_period_over_period_deltas() -> None:
    from sentiero.stores.memory import MemoryStore

    store = MemoryStore()
    fill(store)
    o = overview.overview(store, LAST_30_DAYS)
    assert o.prior is not None and o.prior.sessions == 0
    assert o.deltas["sessions"] is None  # the prior value is 0: no delta


def test_segments_combine(store: Store) -> None:
    def ids(**filters: object) -> set[str]:
        scope = Scope(segment=Segment(**filters))  # type: ignore[arg-type]
        rows = store.analytics_sessions(scope)
        assert store.count_sessions(scope) == len(rows)
        return {r.session_id for r in rows}

    assert ids(browser="Chrome", has_errors=True) == {"sess-frustration-a"}
    assert ids(url_pattern="*PRICING*") == {"sess-landing-a", "sess-signup-b"}
    assert ids(url_pattern="signup") == {"sess-signup-b", "sess-frustration-a"}
    assert ids(device="Mobile", url_pattern="/signup.html") == {"sess-signup-b"}
    assert ids(metadata_key="plan", metadata_value="pro") == {
        "sess-frustration-a", "sess-signup-b", "vitals-session"}
    assert ids(metadata_key="plan", metadata_value="PR", metadata_match="contains") == {
        "sess-frustration-a", "sess-signup-b", "vitals-session"}
    assert ids(metadata_key="nope") == set()
    assert ids(country="FR") == {"sess-landing-a"}
    assert ids(event_tag="added") == {"vitals-session"}
    assert ids(event_tag="added", browser="Firefox") == set()
    # todo-a's events span 12.2 s, frustration-a's 9.5 s, dashboard-a's 15.0 s
    assert ids(min_duration_s=11, max_duration_s=13) == {"sess-todo-a"}
    page = store.analytics_sessions(Scope(), limit=2, offset=2)
    assert len(page) == 2


@pytest.mark.parametrize("strategy", ["default", "probe each session", "match in SQL"])
def test_url_segments_find_the_same_sessions_however_the_store_looks(
        store: Store, strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQL stores match the pattern against the distinct page URLs, then collect the
    sessions that saw them or, for a page of a list when they are common, probe each session;
    past MAX_PAGE_URLS distinct URLs they match in SQL (LIKE: no ``[...]`` classes)."""
    from sentiero.stores import sql_analytics
    from sentiero.stores.base import SessionQuery

    if strategy == "probe each session":
        monkeypatch.setattr(sql_analytics, "COMMON_PAGE_VIEWS", 1)
    elif strategy == "match in SQL":
        monkeypatch.setattr(sql_analytics, "MAX_PAGE_URLS", 0)

    def ids(pattern: str, **filters: object) -> set[str]:
        segment = Segment(url_pattern=pattern, **filters)  # type: ignore[arg-type]
        listed = {r.session_id for r in store.analytics_sessions(Scope(segment=segment),
                                                                 limit=20)}
        sessions = {s.session_id for s in store.list_segment_sessions(
            SessionQuery(limit=20), segment)}
        assert store.count_sessions(Scope(segment=segment)) == len(listed) == len(sessions)
        assert listed == sessions
        return listed

    assert ids("*PRICING*") == {"sess-landing-a", "sess-signup-b"}
    assert ids("pricing", browser="Firefox") == {"sess-landing-a"}
    assert ids("/signup.h?ml") == set()  # a glob matches the whole URL
    assert ids("*/signup.h?ml") == {"sess-signup-b", "sess-frustration-a"}
    assert ids("nowhere") == set()
    if strategy != "match in SQL":
        assert ids("*/[ps]ricing.html") == {"sess-landing-a", "sess-signup-b"}


def test_pages_and_the_page_report(store: Store) -> None:
    rows = {r.url: r for r in pages.page_rows(store, ALL)}
    pricing = rows[HOST + "/pricing.html"]
    assert (pricing.views, pricing.sessions, pricing.entries, pricing.exits) == (2, 2, 1, 1)
    frustration = rows[HOST + "/frustration.html"]
    assert (frustration.clicks, frustration.errors, frustration.rage_clicks,
            frustration.dead_clicks, frustration.exits) == (12, 2, 1, 7, 0)
    report = pages.page_report(store, ALL, HOST + "/pricing.html")
    assert (report.views, report.sessions, report.entries, report.exits) == (2, 2, 1, 1)
    assert report.bounces == 0 and report.bounce_pct == 0.0
    landing = pages.page_report(store, ALL, HOST + "/landing.html")
    assert landing.scroll_samples == 1 and landing.scroll_avg_px == 1200
    assert landing.time_median_ms == 5987  # landing-a moved to pricing 5,987 ms after entering
    signup = pages.page_report(store, ALL, HOST + "/signup.html")
    assert signup.form_sessions == 1 and signup.form_submit_sessions == 0
    assert pages.page_report(store, ALL, "https://nowhere.example/").views == 0


def test_time_on_page_is_each_page_views_longest_page_time(store: Store) -> None:
    # pricing.html was seen twice: landing-a reached it 29 ms before its recording ends
    # (Meta at ...739949, last event ...739978), signup-b stayed 2,375 ms on it (Meta at
    # ...684726, on to signup.html at ...687101); landing-a spent 5,987 ms on landing.html
    scope = Scope(None, None)
    assert store.fact_maxima(scope, "page_time", HOST + "/pricing.html") == [29.0, 2375.0]
    assert store.fact_maxima(scope, "page_time", HOST + "/landing.html") == [5987.0]
    assert len(store.fact_maxima(scope, "page_time")) == 11  # every page view of every page
    assert store.fact_maxima(scope, "page_time", "https://nowhere.example/") == []
    assert store.fact_maxima(scope, "error") == []  # error facts carry no value
    report = pages.page_report(store, ALL, HOST + "/pricing.html")
    # mean (29 + 2,375) / 2; the median is nearest-rank, as every percentile here: rank 1 of 2
    assert (report.time_mean_ms, report.time_median_ms) == (1202.0, 29.0)


def test_client_error_groups(store: Store) -> None:
    groups = client_errors.error_groups(store, ALL)
    assert sorted(g.key for g in groups) == [
        "Uncaught TypeError: Cannot read properties of null (reading 'trackOrder')",
        "rates service unavailable"]
    for g in groups:
        assert g.count == 1 and g.session_count == 1
        assert dict(g.browsers) == {"Chrome": 1} and dict(g.devices) == {"Desktop": 1}
        assert list(g.pages) == [HOST + "/frustration.html"]
        assert [(o.session_id, o.window_id) for o in g.occurrences] == [
            ("sess-frustration-a", g.occurrences[0].window_id)]
    assert [g.key for g in client_errors.error_groups(store, ALL, search="RATES")] == [
        "rates service unavailable"]
    found = client_errors.find_group(store, ALL, groups[0].id)
    assert found is not None and found.key == groups[0].key


def test_latest_error_per_group_and_sessions_per_browser_and_device(store: Store) -> None:
    # frustration-a raised two errors, one of each group, in one Chrome desktop session
    scope = Scope(None, None)
    latest = store.latest_facts(scope, "error", 1)
    keys = sorted(f.key or "" for f in latest)
    assert keys == ["Uncaught TypeError: Cannot read properties of null (reading 'trackOrder')",
                    "rates service unavailable"]
    assert [f.ts_ms for f in latest] == sorted((f.ts_ms for f in latest), reverse=True)
    (only,) = store.latest_facts(scope, "error", 50, key=keys[1])
    assert only.key == keys[1] and only.session_id == "sess-frustration-a"
    assert store.latest_facts(scope, "error", 50, key="never raised") == []
    assert store.fact_trait_counts(scope, "error", ("browser", "device")) == {
        (keys[0], "Chrome", "Desktop"): 1, (keys[1], "Chrome", "Desktop"): 1}
    with pytest.raises(ValueError):
        store.fact_trait_counts(scope, "error", ("metadata_json",))


def test_web_vitals_take_each_page_views_last_report(store: Store) -> None:
    (page,) = vitals.web_vitals(store, LAST_30_DAYS)
    assert page.url == SHOP + "/a"
    lcp = page.metric("LCP")
    assert lcp is not None
    assert (lcp.samples, lcp.p50, lcp.p75, lcp.p90) == (2, 1200.0, 3000.0, 3000.0)
    assert lcp.ratings == {"good": 1, "needs-improvement": 0, "poor": 1}
    assert lcp.worst is not None and lcp.worst.value == 3000.0
    assert page.slowest is lcp.worst


def test_date_ranges_clamp_facts_and_sessions(store: Store) -> None:
    from datetime import timedelta

    from sentiero.analytics.periods import Period

    future = Period(NOW + timedelta(days=1), NOW + timedelta(days=2), None)
    o = overview.overview(store, future)
    assert (o.kpis.sessions, o.kpis.events) == (0, 0)
    assert pages.page_rows(store, future) == []
    assert client_errors.error_groups(store, future) == []


def test_exports_are_complete_and_formula_safe(store: Store) -> None:
    sessions = export.DATASETS["sessions"]
    csv = b"".join(export.csv_lines(sessions, sessions.rows(store, ALL))).decode()
    lines = csv.split("\r\n")
    assert lines[0].startswith("session_id,created_at")
    assert len([line for line in lines[1:] if line]) == 6
    errors = export.DATASETS["errors"]
    assert len(list(errors.rows(store, ALL))) == 2
    for dataset in export.DATASETS.values():  # every dataset exports on every store
        goal = {"goal": Step("tag", "added")} if dataset.needs_goal else {}
        list(dataset.rows(store, ALL, **goal))


@pytest.mark.parametrize("page", [1, 2, 4])
def test_the_session_export_pages_through_every_session_once(
        store: Store, page: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page ends the range at its last session's moment (the dataset's sessions share
    moments: ties) and skips those of that moment already written."""
    whole = [r[0] for r in export.DATASETS["sessions"].rows(store, ALL)]
    assert len(whole) == len(set(whole)) == 6
    monkeypatch.setattr(export, "SESSION_PAGE", page)
    assert [r[0] for r in export.DATASETS["sessions"].rows(store, ALL)] == whole


def test_erasing_a_session_removes_its_facts_from_every_analysis(empty_store: Store) -> None:
    ids = fill(empty_store, ["frustration-a", "landing-a"])
    assert client_errors.error_groups(empty_store, ALL)
    empty_store.erase_sessions([ids["frustration-a"]])
    assert client_errors.error_groups(empty_store, ALL) == []
    assert HOST + "/frustration.html" not in {r.url for r in pages.page_rows(empty_store, ALL)}
    o = overview.overview(empty_store, LAST_30_DAYS)
    assert o.kpis.sessions == 1 and o.kpis.events == 16
    assert list(empty_store.scope_facts(Scope(), ("click", "dead_click", "rage_click"),
                                        url=HOST + "/frustration.html")) == []


def test_server_errors_overlay_the_activity_series() -> None:
    """Three occurrences of one problem today and one 40 days ago: the 30-day overview's
    series counts the three, on today's bucket."""
    from datetime import timedelta

    from sentiero.stores.memory import MemoryStore
    from sentiero.tracking.models import Occurrence

    store = MemoryStore()
    fill(store, ["landing-a"])
    now_ms = int(NOW.timestamp() * 1000)
    old_ms = int((NOW - timedelta(days=40)).timestamp() * 1000)
    for ts in (now_ms - 3000, now_ms - 2000, now_ms - 1000, old_ms):
        store.save_occurrence(Occurrence(problem_id="p" * 16, project="shop",
                                         exception_class="KeyError", message="k", ts_ms=ts))
    o = overview.overview(store, LAST_30_DAYS)
    assert sum(b.server_errors for b in o.series) == 3
    assert o.series[-1].server_errors == 3 and not o.server_overlay_truncated
    assert [(p.exception_class, p.count) for p in o.top_problems] == [("KeyError", 4)]


def test_metadata_values_of_every_json_type_group_alike_on_every_store(store: Store) -> None:
    """Numbers, booleans, null, lists and objects are counted as Python prints them, whether
    the store groups them in SQL (SQLite json_each, PostgreSQL jsonb_each) or in Python."""
    from tests.analytics import synthetic as s
    from tests.analytics.dataset import SETTINGS
    from tests.analytics.support import ingest_recording

    metadata = {"n": 5, "ratio": 1.5, "flag": True, "off": False, "none": None,
                "tags": ["a", 2], "obj": {"k": "v"}, "long": "x" * 300}
    t = 1_790_000_000_000
    events = [s.meta(t, "/m"), s.snapshot(t + 1), s.custom(t + 2, "x")]
    ingest_recording(store, "", "typed-meta", settings=SETTINGS, metadata=metadata,
                     recording=s.recording("typed-meta", events))
    try:
        counts = store.metadata_counts(Scope())
        assert {k: v for k, v in counts.items() if k[0] in metadata} == {
            ("n", "5"): 1, ("ratio", "1.5"): 1, ("flag", "True"): 1, ("off", "False"): 1,
            ("none", "None"): 1, ("tags", "['a', 2]"): 1, ("obj", "{'k': 'v'}"): 1,
            ("long", "x" * 200): 1}
    finally:
        store.erase_sessions(["typed-meta"])
