"""The activity API: a window's facts as timeline/sidebar items."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson

from sentiero.stores.base import Batch, Fact
from sentiero.stores.memory import MemoryStore
from sentiero.web.activity import ITEM_BUILDERS, fact_item

SID, WID, OTHER = "s" * 16, "w" * 16, "o" * 16
T0 = 1_700_000_000_000


def events(start: int, n: int = 3) -> list[dict[str, Any]]:
    return [{"type": 3, "timestamp": start + i * 100, "data": {"source": 1}} for i in range(n)]


def seeded_store() -> MemoryStore:
    store = MemoryStore()
    store.save_batch(Batch(SID, WID, events(T0), seq=0, facts=[
        Fact("page_view", SID, WID, T0, "https://shop.test/cart?x=1",
             {"width": 1280, "height": 720}),
        Fact("click", SID, WID, T0 + 100, "https://shop.test/cart?x=1", {"x": 10, "y": 20}),
        Fact("error", SID, WID, T0 + 200, "https://shop.test/cart?x=1",
             {"message": "TypeError: x is undefined", "source": "https://shop.test/app.js",
              "line": 3, "column": 9}),
    ]))
    store.save_batch(Batch(SID, WID, events(T0 + 300), seq=1, facts=[
        Fact("page_time", SID, WID, T0, "https://shop.test/cart?x=1", {}, str(T0), 250.0),
    ]))
    store.save_batch(Batch(SID, OTHER, events(T0 + 50), seq=0, facts=[
        Fact("click", SID, OTHER, T0 + 60, "https://shop.test/other", {"x": 1, "y": 2}),
    ]))
    return store


def test_activity_lists_the_windows_facts_in_time_order_with_offsets(make_app, client_for):
    client = client_for(make_app(seeded_store(), allow_open_dashboard=True))
    response = client.get(f"/api/sessions/{SID}/windows/{WID}/activity")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = orjson.loads(response.data)
    assert [i["kind"] for i in body["items"]] == ["page_view", "click", "error"]
    assert [i["offset_ms"] for i in body["items"]] == [0, 100, 200]
    page, click, error = body["items"]
    assert page["label"] == "Page loaded: /cart?x=1"
    assert page["detail"]["viewport"] == "1280x720"
    assert click["label"] == "Click (10, 20)"
    assert error["label"] == "TypeError: x is undefined"
    assert error["detail"] == {"message": "TypeError: x is undefined",
                               "source": "https://shop.test/app.js", "line": 3, "column": 9}
    assert body["counts"] == {"page_view": 1, "click": 1, "error": 1}
    assert body["first_ms"] == T0


def test_activity_refuses_bad_ids_and_unknown_windows(make_app, client_for):
    client = client_for(make_app(seeded_store(), allow_open_dashboard=True))
    assert client.get(f"/api/sessions/bad!/windows/{WID}/activity").status_code == 400
    missing = client.get(f"/api/sessions/{SID}/windows/{'z' * 16}/activity")
    assert missing.status_code == 404
    assert orjson.loads(missing.data) == {"error": "window not found"}


def test_activity_is_behind_dashboard_auth(make_app, client_for):
    client = client_for(make_app(seeded_store()))
    assert client.get(f"/api/sessions/{SID}/windows/{WID}/activity").status_code == 403


def fact(kind: str, data: dict[str, Any], key: Any = None, value: Any = None) -> Any:
    # Facts with key/value as the CONTRACTS "Facts" table defines them (ingest is extending
    # Fact with these attributes); fact_item reads them with getattr.
    return SimpleNamespace(kind=kind, session_id=SID, window_id=WID, ts_ms=T0 + 500,
                           url="https://shop.test/p", data=data, key=key, value=value)


def test_every_fact_kind_of_the_contract_has_a_readable_label():
    cases = {
        "scroll": (fact("scroll", {"vh": 700, "pv": T0}, value=1500.4), "Scrolled to 1500 px"),
        "form_field": (fact("form_field", {"first_ms": T0, "last_ms": T0 + 9, "pv": T0}, "12", 3),
                       "Form field #12 · 3 inputs"),
        "form_submit": (fact("form_submit", {"name": "signup"}, "signup"),
                        "Form submitted: signup"),
        "custom": (fact("custom", {"keys": ["plan", "price"], "numbers": {"price": 9}}, "checkout"),
                   "checkout"),
        "navigation": (fact("navigation", {"target": "https://other.test/docs", "text": "Docs"},
                            "external"), "Leaving to: other.test/docs"),
        "vital": (fact("vital", {"rating": "poor", "pv": T0}, "LCP", 4100.2), "LCP 4100 ms (poor)"),
        "rage_click": (fact("rage_click", {"x": 5, "y": 6}, "#buy", 4),
                       "Rage click on #buy · 4 clicks"),
        "dead_click": (fact("dead_click", {"x": 5, "y": 6, "error": True}, "#nope"),
                       "Dead click on #nope (an error followed)"),
        "click": (fact("click", {"x": 1, "y": 2, "label": "Buy now"}, "button.buy"),
                  "Click: Buy now"),
    }
    assert set(cases) | {"page_view", "error"} == set(ITEM_BUILDERS)
    for kind, (f, label) in cases.items():
        item = fact_item(f, T0, False)
        assert item["label"] == label, kind
        assert item["offset_ms"] == 500
    custom = fact_item(cases["custom"][0], T0, False)["detail"]
    assert custom == {"tag": "checkout", "keys": ["plan", "price"], "numbers": {"price": 9}}
    rage = fact_item(cases["rage_click"][0], T0, False)["detail"]
    assert rage["clicks"] == 4 and "500 ms" in rage["rule"]
    internal = fact_item(fact("navigation", {"target": "https://shop.test/a?b=1"}, "internal"),
                         T0, False)
    assert internal["label"] == "Navigating to: /a?b=1"
    cls = fact_item(fact("vital", {"rating": "good"}, "CLS", 0.0123), T0, False)
    assert cls["label"] == "CLS 0.012 (good)"
    assert fact_item(fact("something_new", {}), T0, False)["label"] == "something_new"
    anywhere = fact_item(fact("dead_click", {"x": 5.4, "y": 6}), T0, False)
    assert anywhere["label"] == "Dead click (5, 6)"


def test_server_errors_of_the_windows_requests_are_timeline_items(make_app, client_for):
    from sentiero.tracking.models import Occurrence

    store = seeded_store()
    store.save_occurrence(Occurrence(
        problem_id="p" * 16, project="shop", exception_class="ZeroDivisionError",
        message="division by zero", ts_ms=T0 + 260, session_id=SID, window_id=WID,
        replay_ms=T0 + 250, path="/checkout"))
    store.save_occurrence(Occurrence(  # another tab of the session: not on this timeline
        problem_id="p" * 16, project="shop", exception_class="ZeroDivisionError",
        message="division by zero", ts_ms=T0 + 70, session_id=SID, window_id=OTHER))
    client = client_for(make_app(store, allow_open_dashboard=True))
    body = orjson.loads(client.get(f"/api/sessions/{SID}/windows/{WID}/activity").data)
    (server,) = [i for i in body["items"] if i["kind"] == "server_error"]
    assert (server["ts_ms"], server["offset_ms"], server["url"]) == (T0 + 250, 250, "/checkout")
    assert "ZeroDivisionError" in server["label"]
    assert server["detail"]["problem_url"] == f"/sentiero/issues/{'p' * 16}"
    assert body["counts"]["server_error"] == 1
