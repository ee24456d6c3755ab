"""Heatmaps on every store, from the fixtures (tests/unit/test_ingest_facts.py lists
frustration-a's clicks): on frustration.html, 1280 px wide (desktop), 3 clicks on the dead
button at (398, 143), 6 on the slow button at (383, 197) (the rage burst and its 2 stragglers),
the two throwing buttons at y 285 and 340 and the link at y 383 (no scroll on that page: page
y = viewport y). In 24 px cells: (15, 8) holds 6, (16, 5) 3, the rest 1 each: 12 clicks.
signup-b taps pricing.html twice on a 390 px phone; nobody clicked it on a desktop. The
snapshot drawn is the page view's own, fetched from its window."""

from __future__ import annotations

from sentiero.analytics import heatmap, snapshots
from sentiero.analytics.periods import resolve_period
from sentiero.analytics.query import Scope
from sentiero.stores.base import Store

ALL = resolve_period(None, None, None, default_preset=None)
HOST = "http://127.0.0.1:39711"


def test_clicks_in_page_positions_by_viewport(filled_store: Store) -> None:
    h = heatmap.heatmap(filled_store, ALL, HOST + "/frustration.html", spot="15-8")
    assert (h.bucket, h.counts, h.total) == ("desktop", {"phone": 0, "tablet": 0,
                                                         "desktop": 12}, 12)
    assert [(s.key, s.count) for s in h.spots][:2] == [("15-8", 6), ("16-5", 3)]
    assert sum(s.count for s in h.spots) == 12
    hot = h.spot("15-8")
    assert hot is not None and (hot.count, hot.sessions) == (6, 1)
    assert {c.session_id for c in hot.clicks} == {"sess-frustration-a"}
    assert len(hot.clicks) == 6 and [c.ts_ms for c in hot.clicks] == sorted(
        c.ts_ms for c in hot.clicks)
    assert hot.centre == (383.0, 197.0)
    assert h.page_height == 383 + heatmap.CELL_PX  # the link, the deepest click
    other = h.spot("16-5")
    assert other is not None and other.clicks == []  # listed only when asked for
    rep = h.representative
    assert rep is not None and (rep.session_id, rep.width) == ("sess-frustration-a", 1280)
    events = snapshots.page_events(filled_store, rep.session_id, rep.window_id, rep.pv)
    assert events is not None and [e["type"] for e in events] == [4, 2]
    assert "Checkout" in snapshots.text_of(snapshots.snapshot_node(events) or {})


def test_a_viewport_never_recorded_is_empty_and_the_default_is_the_busiest(
        filled_store: Store) -> None:
    phone = heatmap.heatmap(filled_store, ALL, HOST + "/pricing.html")
    assert (phone.bucket, phone.total, phone.representative.width) == ("phone", 2, 390)
    desktop = heatmap.heatmap(filled_store, ALL, HOST + "/pricing.html", "desktop")
    assert (desktop.total, desktop.spots, desktop.representative) == (0, [], None)
    assert heatmap.heatmap(filled_store, ALL, "https://nowhere.example/").total == 0


def test_click_cells_and_spot_scale_to_the_layout_asked(filled_store: Store) -> None:
    # the store's query itself: landing-a's CTA at viewport y 170 after scrolling to 300 is
    # at page y 470 (Firefox desktop); frustration's 6 clicks at x 383 of 1280 px land at
    # x 191.5 of a 640 px layout, column 7 of 24 px
    scope = Scope()
    landing = filled_store.click_cells(scope, HOST + "/landing.html", None, heatmap.CELL_PX)
    assert (landing.bucket, landing.counts["desktop"], landing.max_y) == ("desktop", 1, 470)
    (cta,) = landing.cells
    assert (cta.gy, cta.count, cta.sessions, cta.sum_y) == (470 // 24, 1, 1, 470)
    phone = filled_store.click_cells(scope, HOST + "/frustration.html", "phone", 24)
    assert (phone.counts["desktop"], phone.cells, phone.representative) == (12, [], None)
    half = filled_store.click_spot(scope, HOST + "/frustration.html", "desktop", 640, (7, 8),
                                   24, 4)
    assert [(c.x, c.y) for c in half] == [(191.5, 197)] * 4  # the first 4 of 6
    assert [c.ts_ms for c in half] == sorted(c.ts_ms for c in half)
    assert filled_store.click_spot(scope, HOST + "/frustration.html", "phone", 640, (7, 8),
                                   24, 4) == []


def test_export_lists_each_pages_hot_spots_per_viewport(filled_store: Store) -> None:
    """The same spots as the page: frustration.html's 12 desktop clicks (the hottest, 6 at
    (383, 197) on its 1280 px layout), pricing.html's 2 phone taps; no bucket without clicks."""
    from sentiero.analytics import export

    rows = list(export.DATASETS["heatmap"].rows(filled_store, ALL))
    frustration = [r for r in rows if r[0] == HOST + "/frustration.html"]
    assert {r[1] for r in frustration} == {"desktop"}
    assert sum(r[5] for r in frustration) == 12
    assert frustration[0] == [HOST + "/frustration.html", "desktop", 1280, 383.0, 197.0, 6, 1]
    pricing = [r for r in rows if r[0] == HOST + "/pricing.html"]
    assert {r[1] for r in pricing} == {"phone"} and sum(r[5] for r in pricing) == 2
    # the fixtures carry no selectors (capture_clicks was off): no element rows
    assert list(export.DATASETS["clicked_elements"].rows(filled_store, ALL)) == []


def test_export_lists_clicked_elements_with_their_share(empty_store: Store) -> None:
    """Three clicks on a 1280 px page, two labelled ``#buy`` by the recorder's ``__click``
    event and one ``#help``: #buy 2 of 3 clicks (66.7%), #help 1 (33.3%)."""
    from sentiero.analytics import export
    from tests.analytics.support import ingest_recording

    url, t0 = "https://shop.example/cart", 1_767_000_000_000
    events = [{"type": 4, "timestamp": t0, "data": {"href": url, "width": 1280, "height": 800}},
              {"type": 2, "timestamp": t0 + 1, "data": {}}]
    for n, selector in enumerate(("#buy", "#help", "#buy")):
        at = t0 + 1_000 + n * 5_000
        events.append({"type": 3, "timestamp": at,
                       "data": {"source": 2, "type": 2, "id": 7, "x": 100 + n, "y": 50}})
        events.append({"type": 5, "timestamp": at + 5,
                       "data": {"tag": "__click", "payload": {"selector": selector}}})
    recording = {"session_id": "el", "meta": {},
                 "windows": [{"window_id": "el-w", "url": url, "events": events}]}
    ingest_recording(empty_store, "", recording=recording)
    rows = list(export.DATASETS["clicked_elements"].rows(empty_store, ALL))
    assert rows == [[url, "desktop", "#buy", 2, 66.7], [url, "desktop", "#help", 1, 33.3]]
