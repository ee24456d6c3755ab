"""Facts derived from rrweb events at ingest: one walk per batch, state carried across batches.

Expected values are derived by hand from the recordings (tests/fixtures/README.md says what
each one does) and from rrweb's event numbers (3 incremental: source 0 mutation, 2 mouse
interaction (type 2 click), 3 scroll, 5 input; 4 meta; 5 custom)."""

from __future__ import annotations

import gzip
import json

from tests.fixtures import RRWEB_DIR

from sentiero.ingest.facts import (
    FactState,
    derive_facts,
    error_group_key,
    has_errors,
    latest_page_url,
)
from sentiero.ingest.rules import FrustrationRules

META = {"type": 4, "timestamp": 1000, "data": {"href": "https://a.test/p", "width": 1280,
                                               "height": 800}}
CLICK = {"type": 3, "timestamp": 1100,
         "data": {"source": 2, "type": 2, "id": 17, "x": 398, "y": 143, "pointerType": 0}}
MOUSEDOWN = {"type": 3, "timestamp": 1099, "data": {"source": 2, "type": 1, "id": 17, "x": 1,
                                                    "y": 2}}
MUTATION = {"type": 3, "timestamp": 1150, "data": {"source": 0, "adds": [], "removes": []}}
ERROR = {"type": 5, "timestamp": 1200,
         "data": {"tag": "error", "payload": {"message": "boom", "source": "https://a.test/app.js",
                                              "lineno": 10, "colno": 68}}}
CUSTOM = {"type": 5, "timestamp": 1300, "data": {"tag": "signup", "payload": {"plan": "pro",
                                                                              "seats": 3}}}


def ev(kind: int, ts: int, **data: object) -> dict:
    return {"type": kind, "timestamp": ts, "data": data}


def click(ts: int, x: int = 100, y: int = 100, node: int = 5) -> dict:
    return ev(3, ts, source=2, type=2, id=node, x=x, y=y)


def kinds(facts: list) -> list[str]:
    return [f.kind for f in facts if f.kind not in ("page_time",)]


def recording(name: str) -> list[dict]:
    data = json.loads(gzip.decompress((RRWEB_DIR / f"{name}.json.gz").read_bytes()))
    return data["windows"][0]["events"]


def test_page_view_click_error_and_custom_event() -> None:
    facts = derive_facts("s", "w", [META, MOUSEDOWN, CLICK, MUTATION, ERROR, CUSTOM])
    assert kinds(facts) == ["page_view", "click", "error", "custom"]
    view = facts[0]
    assert (view.url, view.ts_ms, view.key, view.data) == (
        "https://a.test/p", 1000, "entry", {"width": 1280, "height": 800})
    c = next(f for f in facts if f.kind == "click")
    assert c.data == {"x": 398, "y": 143, "page_y": 143, "vw": 1280, "vh": 800, "id": 17,
                      "pv": 1000}
    error = next(f for f in facts if f.kind == "error")
    assert error.data == {"message": "boom", "source": "https://a.test/app.js", "line": 10,
                          "column": 68, "pv": 1000}
    assert error.key == "boom"
    custom = next(f for f in facts if f.kind == "custom")
    assert (custom.key, custom.data["keys"], custom.data["numbers"]) == (
        "signup", ["plan", "seats"], {"seats": 3})
    assert "pro" not in json.dumps(custom.data)  # payload values are not kept, only numbers
    assert all((f.session_id, f.window_id) == ("s", "w") for f in facts)


def test_facts_before_any_meta_use_the_initial_url() -> None:
    facts = derive_facts("s", "w", [CLICK], initial_url="https://a.test/start")
    assert facts[0].url == "https://a.test/start"
    assert derive_facts("s", "w", [CLICK])[0].url is None


def test_malformed_events_produce_no_facts_and_no_errors() -> None:
    weird = [{"type": 4}, {"type": 4, "data": {"href": 5}}, {"type": 3, "data": "x"},
             {"type": 5, "data": None}, {"data": {"tag": "error"}},
             ev(3, 5, source=3, id=1, y="deep"), ev(5, 6, tag="__perf", payload={"value": 1}),
             ev(3, 7, source=5, id="x")]
    assert derive_facts("s", "w", weird) == []
    assert latest_page_url(weird) is None
    assert not has_errors(weird)


def test_error_message_is_bounded_and_non_string_messages_kept_as_text() -> None:
    long = ev(5, 1, tag="error", payload={"message": "x" * 9000})
    assert len(derive_facts("s", "w", [long])[0].data["message"]) == 4000
    odd = ev(5, 1, tag="error", payload={"message": 42})
    assert derive_facts("s", "w", [odd])[0].data["message"] == "42"


def test_error_group_key_is_the_first_line_with_digit_runs_as_hash() -> None:
    assert error_group_key("Timeout after 3000 ms on item 17\n    at f (a.js:1:2)") == \
        "Timeout after # ms on item #"
    assert error_group_key("  ") == "Unknown error"
    assert error_group_key(None) == "Unknown error"
    assert len(error_group_key("y" * 500)) == 200


def test_latest_page_url_is_the_last_meta_href() -> None:
    second = {"type": 4, "timestamp": 2000, "data": {"href": "https://a.test/q"}}
    assert latest_page_url([META, CLICK, second, CLICK]) == "https://a.test/q"


def test_has_errors() -> None:
    assert has_errors([META, ERROR])
    assert not has_errors([META, CUSTOM])


def test_frustration_recording_rage_and_dead_clicks_by_the_original_rules() -> None:
    # frustration-a clicks (ms from the start): a dead button at 1265, 1995, 2863; a rage burst
    # on the slow button at 3531 3697 3829 3997 4168 4363 (only the first four are within
    # 500 ms of the first click, so the cluster has 4 clicks and 4168/4363 are plain dead
    # clicks); 7495 and 8330 throw (dead + JS error); 9365 follows a link to signup.html.
    events = recording("frustration-a")
    t0 = events[0]["timestamp"]
    facts = derive_facts("s", "w", events)
    rage = [f for f in facts if f.kind == "rage_click"]
    assert [(f.ts_ms - t0, f.value) for f in rage] == [(3531, 4.0)]
    dead = [f for f in facts if f.kind == "dead_click"]
    assert [f.ts_ms - t0 for f in dead] == [1265, 1995, 2863, 4168, 4363, 7495, 8330]
    assert [f.data["error"] for f in dead] == [False] * 5 + [True, True]
    assert kinds(facts).count("click") == 12
    assert kinds(facts).count("error") == 2
    views = [f for f in facts if f.kind == "page_view"]
    assert [v.url.rsplit("/", 1)[1] for v in views] == ["frustration.html", "signup.html"]
    assert [v.key for v in views] == ["entry", None]
    leave = next(f for f in facts if f.kind == "page_leave")
    assert (leave.url.endswith("frustration.html"), leave.key, leave.value) == (True, "entry",
                                                                                9428.0)


def test_landing_recording_scroll_depth_and_page_position_of_a_click() -> None:
    # landing-a scrolls down to 1200 px and back up to 300 px, then clicks the CTA at
    # viewport y 170: its page y is 170 + 300
    facts = derive_facts("s", "w", recording("landing-a"))
    scroll = [f for f in facts if f.kind == "scroll"]
    assert [(f.value, f.data["vh"]) for f in scroll] == [(1200.0, 800)]
    cta = next(f for f in facts if f.kind == "click")
    assert (cta.data["y"], cta.data["page_y"]) == (170, 470)


def test_form_fields_count_inputs_never_values() -> None:
    # todo-a types a todo title key by key into field 16 (8 input events, sampled "last")
    facts = derive_facts("s", "w", recording("todo-a"))
    fields = {f.key: f for f in facts if f.kind == "form_field"}
    assert fields["16"].value == 8.0
    assert fields["16"].data["last_ms"] > fields["16"].data["first_ms"]
    assert set(fields["16"].data) == {"first_ms", "last_ms", "pv"}


def test_state_carries_a_window_across_batches() -> None:
    rules = FrustrationRules()
    state = FactState()
    first = derive_facts("s", "w", [META, click(1100)], state=state, rules=rules)
    assert "dead_click" not in kinds(first)  # still waiting for a response
    restored = FactState.from_dict(json.loads(json.dumps(state.to_dict())))
    second = derive_facts("s", "w", [click(1200, 400, 400), ev(3, 1900, source=0)],
                          state=restored, rules=rules)
    assert [f.ts_ms for f in second if f.kind == "dead_click"] == [1100, 1200]
    assert all(f.url == "https://a.test/p" for f in second)
    assert "page_view" not in kinds(second)  # same page: no second view


def test_a_response_in_time_means_no_dead_click_and_an_app_event_counts() -> None:
    answered = derive_facts("s", "w", [META, click(1100), ev(3, 1400, source=0), click(3000),
                                       ev(5, 3100, tag="added", payload={}), ev(3, 5000,
                                                                                 source=0)])
    assert "dead_click" not in kinds(answered)


def test_rage_thresholds_come_from_the_rules() -> None:
    burst = [META] + [click(2000 + 100 * i) for i in range(3)] + [ev(3, 4000, source=0)]
    assert "rage_click" in kinds(derive_facts("s", "w", burst))
    strict = FrustrationRules(rage_min_clicks=4)
    assert "rage_click" not in kinds(derive_facts("s", "w", burst, rules=strict))


def test_vitals_keep_the_last_report_per_metric_and_page_view() -> None:
    perf = [META, ev(5, 1500, tag="__perf", payload={"metric": "LCP", "value": 900,
                                                      "rating": "good"}),
            ev(5, 1800, tag="__perf", payload={"metric": "LCP", "value": 2600,
                                                "rating": "needs-improvement"}),
            ev(5, 1900, tag="__perf", payload={"metric": "CLS", "value": 0.12,
                                                "rating": "needs-improvement"})]
    vitals = [(f.key, f.value, f.data["rating"]) for f in derive_facts("s", "w", perf)
              if f.kind == "vital"]
    assert sorted(vitals) == [("CLS", 0.12, "needs-improvement"),
                              ("LCP", 2600.0, "needs-improvement")]


def test_the_original_recorders_tags_become_facts() -> None:
    tagged = [META, click(1100), ev(5, 1101, tag="__click", payload={"selector": "button#buy"}),
              ev(5, 1200, tag="__form_submit", payload={"name": "signup", "url": "x"}),
              ev(5, 1300, tag="navigation", payload={"url": "https://b.test/", "text": "Docs",
                                                     "external": True})]
    facts = derive_facts("s", "w", tagged)
    assert next(f for f in facts if f.kind == "click").key == "button#buy"
    assert next(f for f in facts if f.kind == "form_submit").key == "signup"
    nav = next(f for f in facts if f.kind == "navigation")
    assert (nav.key, nav.data["target"], nav.data["text"]) == ("external", "https://b.test/",
                                                               "Docs")
    assert "custom" not in kinds(facts)  # internal tags are not app custom events


def test_mouse_moves_become_one_small_grid_per_page_view_and_batch() -> None:
    """Viewport 1280 wide: 40 columns of 32 px; rows of 32 page px. Samples at x 10 and 20,
    y 5 (column 0, row 0: 2), x 1279, y 40 (column 39, row 1); after a scroll to 100, y 5 is
    page y 105 (row 3); a malformed sample and one outside the viewport's left are skipped.
    A second page gets its own fact; moves before any Meta have no page view: none."""
    def moves(ts: int, *points: object) -> dict:
        return ev(3, ts, source=1, positions=list(points))

    events = [
        moves(900, {"x": 1, "y": 1, "id": 1, "timeOffset": 0}),  # before the page
        META,
        moves(1100, {"x": 10, "y": 5, "id": 4, "timeOffset": -40},
              {"x": 20, "y": 5, "id": 4, "timeOffset": 0}),
        moves(1200, {"x": 1279, "y": 40, "id": 4, "timeOffset": 0}, {"x": "no"}, "junk",
              {"x": -3, "y": 8}),
        ev(3, 1300, source=3, id=1, x=0, y=100),
        moves(1400, {"x": 10, "y": 5, "id": 4, "timeOffset": 0}),
        ev(4, 2000, href="https://a.test/q", width=1280, height=800),
        moves(2100, {"x": 640, "y": 0, "id": 4, "timeOffset": 0}),
    ]
    found = [f for f in derive_facts("s", "w", events) if f.kind == "move"]
    assert [(f.url, f.ts_ms, f.value) for f in found] == \
        [("https://a.test/p", 1100, 4.0), ("https://a.test/q", 2100, 1.0)]
    assert found[0].data == {"pv": 1000, "vw": 1280, "vh": 800,
                             "cells": [[0, 0, 2], [0, 3, 1], [39, 1, 1]]}
    assert found[1].data["cells"] == [[20, 0, 1]]


def test_touch_moves_count_as_pointer_samples_like_mouse_moves() -> None:
    """rrweb TouchMove (source 6) has MouseMove's ``positions``: a mouse sample at x 10 and a
    touch at x 20, y 5 share column 0, row 0 of the page view's one grid; a touch at x 1279,
    y 40 is column 39, row 1. A drag (source 12) is not a pointer sample here."""
    events = [
        META,
        ev(3, 1100, source=1, positions=[{"x": 10, "y": 5, "id": 4, "timeOffset": 0}]),
        ev(3, 1200, source=6, positions=[{"x": 20, "y": 5, "id": 4, "timeOffset": -20},
                                         {"x": 1279, "y": 40, "id": 4, "timeOffset": 0}]),
        ev(3, 1300, source=12, positions=[{"x": 640, "y": 400, "id": 4, "timeOffset": 0}]),
    ]
    (move,) = [f for f in derive_facts("s", "w", events) if f.kind == "move"]
    assert (move.ts_ms, move.value) == (1100, 3.0)
    assert move.data["cells"] == [[0, 0, 2], [39, 1, 1]]
