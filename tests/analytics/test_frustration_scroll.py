"""Frustration and scroll depth on every store.

Frustration, from the fixtures and the ingest rules (tests/unit/test_ingest_facts.py derives
each fact): frustration-a clicks a dead button 3 times, bursts 6 clicks on a slow button (the
first 4 within 500 ms of the first: one rage click of 4, its clicks not also dead; the other 2
plain dead) and twice where a JS error follows instead of a response: 1 rage + 7 dead (2 with a
JS error) on frustration.html, 1 session; its last click, a link to signup.html, is withdrawn.
todo-a has 5 clicks that changed nothing within 500 ms on todo.html; signup-b one on
pricing.html and one on signup.html. Pages sort by incidents, then URL.

Scroll: four sessions view /long (viewport 800 px high) and scroll to 200, 1200, 2200 and
3200 px (the third first goes to 2200, then back up to 900: its deepest point counts); a fifth
view never scrolls and is no sample. Page height = 3200 + 800 = 4000; depths (y + 800) / 4000:
25, 50, 75, 100% -> average 62.5%, 1700 px; nearest-rank p50 = 2nd = 50, p75 = 3rd = 75,
p90 = ceil(3.6) = 4th = 100; one sample in each quarter bin.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sentiero.analytics import export, frustration, pages, scroll
from sentiero.analytics.periods import resolve_period
from sentiero.stores.base import Store
from tests.analytics import synthetic as s
from tests.analytics.dataset import SETTINGS, fill
from tests.analytics.support import ingest_recording

ALL = resolve_period(None, None, None, default_preset=None)
HOST = "http://127.0.0.1:39711"
START = 1_790_000_000_000


def test_frustration_per_page_with_every_incident(filled_store: Store) -> None:
    pages = frustration.frustration(filled_store, ALL)
    assert [(p.url, p.rage, p.dead, p.dead_with_error, p.sessions_affected) for p in pages] == [
        (HOST + "/frustration.html", 1, 7, 2, 1),
        (HOST + "/todo.html", 0, 5, 0, 1),
        (HOST + "/pricing.html", 0, 1, 0, 1),
        (HOST + "/signup.html", 0, 1, 0, 1),
    ]
    page = pages[0]
    assert len(page.incidents) == 8  # every incident, in time order
    times = [i.fact.ts_ms for i in page.incidents]
    assert times == sorted(times)
    (rage,) = [i for i in page.incidents if i.subtype == "rage"]
    assert rage.clicks == 4 and rage.fact.session_id == "sess-frustration-a"
    rules = SETTINGS.frustration_rules()
    assert rage.reason(rules).startswith("4 clicks within 10 px")
    assert [i.reason(rules).endswith("a JS error followed") for i in page.incidents].count(
        True) == 2
    only = frustration.frustration(filled_store, ALL, url=HOST + "/todo.html")
    assert [p.url for p in only] == [HOST + "/todo.html"]
    rows = list(export.DATASETS["frustration"].rows(filled_store, ALL))
    assert len(rows) == 8 + 5 + 1 + 1
    # a page lists only its first incidents when asked for fewer; the counts stay whole
    short = frustration.frustration(filled_store, ALL, shown=3)[0]
    assert (short.rage, short.dead) == (1, 7)
    assert [i.fact.ts_ms for i in short.incidents] == times[:3]


def _scroll_sessions(store: Store) -> None:
    for n, depths in enumerate(([200], [1200], [2200, 900], [3200], [])):
        start = START + n * 60_000
        events = [s.meta(start, "/long"), s.snapshot(start + 1)]
        events += [s.scroll(start + 100 * (i + 1), y) for i, y in enumerate(depths)]
        events.append(s.custom(start + 1_000, "tick"))
        ingest_recording(store, "", f"scroll-{n}", settings=SETTINGS,
                         recording=s.recording(f"scroll-{n}", events))


def test_scroll_depth_fold_lines_and_histogram(empty_store: Store) -> None:
    _scroll_sessions(empty_store)
    (page,) = scroll.scroll_depth(empty_store, ALL)
    assert page.url == s.SITE + "/long"
    assert (page.views, page.sessions, page.page_height_px) == (4, 4, 4000)
    assert page.depths_pct == [25.0, 50.0, 75.0, 100.0]
    assert (page.avg_depth_px, page.avg_depth_pct) == (1700, 62.5)
    assert (page.fold(50), page.fold(75), page.fold(90)) == (50.0, 75.0, 100.0)
    assert page.histogram == [("0-25%", 1), ("25-50%", 1), ("50-75%", 1), ("75-100%", 1)]
    assert page.deepest is not None and page.deepest.session_id == "scroll-3"
    (row,) = export.DATASETS["scroll"].rows(empty_store, ALL)
    assert row == [s.SITE + "/long", 4, 1700.0, 62.5, 4000, 50.0, 75.0, 100.0, 4, 1, 1, 1, 1]
    # the page report's scroll summary is the scroll depth page's of that URL
    report = pages.page_report(empty_store, ALL, s.SITE + "/long")
    assert (report.scroll_samples, report.scroll_avg_px, report.scroll_avg_pct) == (4, 1700, 62.5)


def test_scroll_depth_of_the_fixtures(filled_store: Store) -> None:
    """landing-a scrolls to 1200 px and dashboard-a to 3200 px (800 px viewports); nobody else
    scrolls the document: one sample each, at 100% of the page it saw."""
    found = {p.url: (p.views, p.avg_depth_px, p.page_height_px)
             for p in scroll.scroll_depth(filled_store, ALL)}
    assert found == {HOST + "/landing.html": (1, 1200, 2000),
                     HOST + "/dashboard.html": (1, 3200, 4000)}


def test_erased_sessions_leave_frustration(empty_store: Store) -> None:
    ids = fill(empty_store, ["frustration-a", "todo-a"])
    empty_store.erase_sessions([ids["frustration-a"]])
    assert [p.url for p in frustration.frustration(empty_store, ALL)] == [HOST + "/todo.html"]


def _dead_clicks_on_selectors(store: Store) -> list[tuple[int, str]]:
    """Five dead clicks (nothing answers them) on one page, far apart, labelled by the
    recorder's ``__click`` event: #b, #a, #c, #a, #b, two seconds apart."""
    t0 = START + 3_600_000
    events = [s.meta(t0, "/cart"), s.snapshot(t0 + 1)]
    clicked = []
    for n, selector in enumerate(("#b", "#a", "#c", "#a", "#b")):
        at = t0 + 1_000 + n * 2_000
        events.append({"type": 3, "timestamp": at,
                       "data": {"source": 2, "type": 2, "id": 7, "x": 100 + 50 * n, "y": 50}})
        events.append(s.custom(at + 5, "__click", {"selector": selector}))
        clicked.append((at, selector))
    events.append(s.custom(t0 + 20_000, "tick"))
    ingest_recording(store, "", "cart", settings=SETTINGS,
                     recording=s.recording("cart", events))
    return clicked


def test_a_pages_first_incidents_across_its_selectors(empty_store: Store) -> None:
    """The first 3 in time order whatever their selector (#b, #a, #c), over every time and
    over a range of closed days (where the SQL stores read them per selector)."""
    clicked = _dead_clicks_on_selectors(empty_store)
    day = datetime.fromtimestamp(START / 1000, tz=timezone.utc)
    closed = resolve_period(day - timedelta(days=1), day + timedelta(days=2), None)
    for period in (ALL, closed):
        (page,) = frustration.frustration(empty_store, period, shown=3)
        assert (page.url, page.dead, page.sessions_affected) == (s.SITE + "/cart", 5, 1)
        assert dict(page.top_selectors) == {"#b": 2, "#a": 2, "#c": 1}
        assert [(i.fact.ts_ms, i.fact.key) for i in page.incidents] == clicked[:3]
        (only,) = frustration.frustration(empty_store, period, url=s.SITE + "/cart", shown=500)
        assert [(i.fact.ts_ms, i.fact.key) for i in only.incidents] == clicked


def test_a_page_with_more_selectors_than_read_one_by_one(empty_store: Store,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Past ``MAX_PAGE_KEYS`` selectors the SQL stores sort the page's incidents instead of
    reading each selector's first: the same first three."""
    from sentiero.stores import sql_analytics

    monkeypatch.setattr(sql_analytics, "MAX_PAGE_KEYS", 2)
    clicked = _dead_clicks_on_selectors(empty_store)
    (page,) = frustration.frustration(empty_store, ALL, shown=3)
    assert [(i.fact.ts_ms, i.fact.key) for i in page.incidents] == clicked[:3]
