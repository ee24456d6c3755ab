"""Heatmaps on every store, from the fixtures (tests/unit/test_ingest_facts.py lists
frustration-a's clicks): on frustration.html, 1280 px wide (desktop), 3 clicks on the dead
button at (398, 143), 6 on the slow button at (383, 197) (the rage burst and its 2 stragglers),
the two throwing buttons at y 285 and 340 and the link at y 365 (no scroll on that page: page
y = viewport y). In 24 px cells: (15, 8) holds 6, (16, 5) 3, the rest 1 each: 12 clicks.
signup-b taps pricing.html twice on a 390 px phone; nobody clicked it on a desktop. The
snapshot drawn is the page view's own, fetched from its window."""

from __future__ import annotations

from sentiero.analytics import heatmap, snapshots
from sentiero.analytics.periods import resolve_period
from sentiero.stores.base import Store

ALL = resolve_period(None, None, None, default_preset=None)
HOST = "http://127.0.0.1:39711"


def test_clicks_in_page_positions_by_viewport(filled_store: Store) -> None:
    h = heatmap.heatmap(filled_store, ALL, HOST + "/frustration.html")
    assert (h.bucket, h.counts, h.total) == ("desktop", {"phone": 0, "tablet": 0,
                                                         "desktop": 12}, 12)
    assert [(s.key, s.count) for s in h.spots][:2] == [("15-8", 6), ("16-5", 3)]
    assert sum(s.count for s in h.spots) == 12
    hot = h.spot("15-8")
    assert hot is not None and {c.session_id for c in hot.clicks} == {"sess-frustration-a"}
    assert hot.centre == (383.0, 197.0)
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
