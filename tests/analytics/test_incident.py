"""Why an incident counted (sentiero.analytics.incident, the replay page's panel), on every
store, over a small recording whose figures are derived by hand below."""

from __future__ import annotations

from typing import Any

from sentiero.analytics.incident import explain
from sentiero.ingest.rules import FrustrationRules
from sentiero.stores.base import Store
from tests.analytics.support import ingest_recording

T0 = 1_767_000_000_000
URL = "https://shop.example/pay"
RULES = FrustrationRules()


def _click(ts: int, x: int, y: int) -> dict[str, Any]:
    return {"type": 3, "timestamp": T0 + ts,
            "data": {"source": 2, "type": 2, "id": 9, "x": x, "y": y}}


def _recording() -> dict[str, Any]:
    """A page at 0; clicks at 1000, 1200, 1400 within 3 px of the first (a rage cluster of 3,
    each 200 ms after the previous, not also dead); a click at 3000 answered only by a DOM
    change at 3800 (800 ms: dead, the answer 300 ms past the 500 ms allowed); a click at 6000
    that nothing answers (a scroll at 7000 and the end of the recording follow)."""
    events = [
        {"type": 4, "timestamp": T0, "data": {"href": URL, "width": 1000, "height": 800}},
        {"type": 2, "timestamp": T0 + 1, "data": {}},
        _click(1000, 100, 100), _click(1200, 103, 98), _click(1400, 101, 101),
        _click(3000, 50, 60),
        {"type": 3, "timestamp": T0 + 3800,
         "data": {"source": 0, "adds": [], "removes": [], "texts": [], "attributes": []}},
        _click(6000, 500, 400),
        {"type": 3, "timestamp": T0 + 7000, "data": {"source": 3, "id": 1, "x": 0, "y": 10}},
    ]
    return {"session_id": "incident-s", "meta": {},
            "windows": [{"window_id": "incident-w", "url": URL, "events": events}]}


def test_a_rage_cluster_lists_its_clicks(empty_store: Store) -> None:
    ingest_recording(empty_store, "", recording=_recording())
    e = explain(empty_store, "incident-s", "incident-w", "rage", T0 + 1000, T0, RULES)
    assert e is not None and e.subtype == "rage"
    assert [(c.offset_ms, c.x, c.y) for c in e.clicks] == \
        [(1000, 100, 100), (1200, 103, 98), (1400, 101, 101)]
    assert e.reason.startswith("3 clicks within 10 px of the first")
    assert e.to_dict()["clicks"][0] == {"offsetMs": 1000, "x": 100, "y": 100, "vw": 1000,
                                        "vh": 800}
    # no rage cluster starts at the second click, and a dead click is no rage click
    assert explain(empty_store, "incident-s", "incident-w", "rage", T0 + 1200, T0, RULES) is None
    assert explain(empty_store, "incident-s", "incident-w", "rage", T0 + 3000, T0, RULES) is None


def test_a_dead_click_says_what_answered_it_too_late_or_that_nothing_did(
        empty_store: Store) -> None:
    ingest_recording(empty_store, "", recording=_recording())
    late = explain(empty_store, "incident-s", "incident-w", "dead", T0 + 3000, T0, RULES)
    assert late is not None
    assert [(c.offset_ms, c.x, c.y) for c in late.clicks] == [(3000, 50, 60)]
    assert (late.response, late.response_after_ms) == ("DOM change", 800)
    assert late.reason.startswith("no page change, DOM change or input within 500 ms")
    never = explain(empty_store, "incident-s", "incident-w", "dead", T0 + 6000, T0, RULES)
    assert never is not None and never.response is None and never.clicks[0].x == 500
    assert explain(empty_store, "incident-s", "incident-w", "dead", T0 + 1000, T0, RULES) is None
    assert explain(empty_store, "incident-s", "other-w", "dead", T0 + 3000, T0, RULES) is None
    assert explain(empty_store, "incident-s", "incident-w", "nope", T0 + 3000, T0, RULES) is None
