"""The error-tracking pages: issues list, problem page, status changes, custom events."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sentiero.stores.memory import MemoryStore
from sentiero.tracking.models import Occurrence, ServerEvent, ServerEventQuery, now_ms
from tests.web.support import PREFIX, MountedClient, csrf_from, save

FP = "c" * 40
OTHER = "d" * 40


def occ(problem_id: str = FP, **kw: Any) -> Occurrence:
    values = {"project": "shop", "exception_class": "ZeroDivisionError",
              "message": "division by zero", "ts_ms": now_ms(),
              "frames": [{"module": "shop.views", "function": "total", "lineno": 7,
                          "in_app": True}],
              "context": {"request": {"method": "GET", "path": "/cart"}}, "path": "/cart",
              "environment": "prod", "release": "1.2.3", **kw}
    return Occurrence(problem_id=problem_id, **values)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def client(make_app: Any, store: MemoryStore) -> MountedClient:
    return MountedClient(make_app(store=store, allow_open_dashboard=True).wsgi_app)


def test_list_tabs_search_sort_and_inline_status(client, store) -> None:
    store.save_occurrence(occ(ts_ms=now_ms() - 60_000))
    store.save_occurrence(occ(OTHER, exception_class="KeyError", message="cart_id"))
    store.save_occurrence(occ(OTHER, exception_class="KeyError", message="cart_id"))
    page = client.get("/issues").get_data(as_text=True)
    assert "ZeroDivisionError" in page and "KeyError" in page
    assert page.index("KeyError") < page.index("ZeroDivisionError")  # newest first
    by_count = client.get("/issues?sort_by=count").get_data(as_text=True)
    assert by_count.index("KeyError") < by_count.index("ZeroDivisionError")
    found = client.get("/issues?search=zerodiv").get_data(as_text=True)
    assert "ZeroDivisionError" in found and "KeyError" not in found
    token = csrf_from(client, "/issues")
    response = client.post(f"/issues/{FP}/status", data={
        "csrf_token": token, "status": "resolved", "return_to": f"{PREFIX}/issues?status=open"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/issues?status=open")
    assert store.get_problem(FP).status == "resolved"
    assert "ZeroDivisionError" not in client.get("/issues").get_data(as_text=True)
    assert "ZeroDivisionError" in client.get("/issues?status=resolved").get_data(as_text=True)
    assert "Reopen" in client.get("/issues?status=resolved").get_data(as_text=True)
    all_tab = client.get("/issues?status=all").get_data(as_text=True)
    assert "ZeroDivisionError" in all_tab and "KeyError" in all_tab


def test_status_change_refusals(client, store) -> None:
    store.save_occurrence(occ())
    assert client.post(f"/issues/{FP}/status", data={"status": "resolved"}).status_code == 403
    token = csrf_from(client, "/issues")
    bad = client.post(f"/issues/{FP}/status", data={"csrf_token": token, "status": "closed"})
    assert (bad.status_code, bad.get_data(as_text=True)) == (400, "bad status")
    token = csrf_from(client, "/issues")
    missing = client.post(f"/issues/{OTHER}/status", data={"csrf_token": token,
                                                           "status": "open"})
    assert missing.status_code == 404
    token = csrf_from(client, "/issues")
    evil = client.post(f"/issues/{FP}/status", data={
        "csrf_token": token, "status": "ignored", "return_to": "https://evil.example/"})
    assert evil.headers["Location"].endswith(f"/issues/{FP}")
    assert store.get_problem(FP).status == "ignored"
    assert client.get("/issues/not%20valid").status_code == 400


def test_bad_parameters_never_500(client, store) -> None:
    store.save_occurrence(occ())
    for query in ("status=weird", "sort_by=x", "page=-4", "per_page=99999", "since=garbage",
                  "until=2020-13-45", "trend=1y", "page=abc"):
        assert client.get(f"/issues?{query}").status_code == 200, query
        assert client.get(f"/issues/{FP}?{query}").status_code == 200, query
        assert client.get(f"/custom-events?{query}&level=fatal").status_code == 200, query


def test_problem_page_links_the_replay_at_the_failing_moment(client, store) -> None:
    events = [{"type": 4, "timestamp": 1_800_000_000_000, "data": {"href": "https://s/cart"}},
              {"type": 3, "timestamp": 1_800_000_009_000, "data": {}}]
    save(store, "sess1", "win1", events, user_agent="Mozilla/5.0 (X11; Linux x86_64) "
         "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
    store.save_occurrence(occ(session_id="sess1", window_id="win1",
                              replay_ms=1_800_000_004_321))
    store.save_occurrence(occ(message="division by zero again"))
    page = client.get(f"/issues/{FP}").get_data(as_text=True)
    assert f'href="{PREFIX}/sessions/sess1/windows/win1?t=1800000004321"' in page
    assert "shop.views:7 in total" in page
    assert "/cart" in page and "prod" in page and "1.2.3" in page and "Chrome 120" in page
    assert re.search(r"24h <span class=\"muted\">2</span>", page)
    assert "<svg" in page and "<script" not in page.split("</head>")[1]
    sessions = client.get("/?has_errors=true").get_data(as_text=True)
    assert "sess1"[:8] in sessions and "badge-error" in sessions
    assert client.get(f"/issues/{OTHER}").status_code == 404


def test_client_source_is_handed_to_the_client_error_groups(client, monkeypatch) -> None:
    import sys

    page = client.get("/issues?source=client")
    assert page.status_code == 200 and "Client errors" in page.get_data(as_text=True)
    monkeypatch.setitem(sys.modules, "sentiero.web.client_errors", None)  # not installed
    import sentiero.web

    monkeypatch.delattr(sentiero.web, "client_errors", raising=False)
    notice = client.get("/issues?source=client").get_data(as_text=True)
    assert "Client error groups arrive with the analytics pages" in notice
    browser = client.get("/custom-events?source=browser").get_data(as_text=True)
    assert "Browser custom events arrive" in browser


def test_custom_events_log(client, store) -> None:
    store.save_server_event(ServerEvent("shop", "signup", "info", now_ms(),
                                        payload={"plan": "pro"}, session_id="sess9",
                                        window_id="w9"))
    store.save_server_event(ServerEvent("shop", "payment_failed", "error", now_ms() - 5))
    page = client.get("/custom-events").get_data(as_text=True)
    assert "signup" in page and "payment_failed" in page and "plan" in page
    assert f"{PREFIX}/sessions/sess9/windows/w9?t=" in page
    errors_only = client.get("/custom-events?level=error").get_data(as_text=True)
    assert "payment_failed" in errors_only and "signup" not in errors_only
    event_id = next(e.id for e in store.list_server_events(ServerEventQuery())
                    if e.name == "signup")
    detail = client.get(f"/custom-events/{event_id}")
    assert detail.status_code == 200 and "signup" in detail.get_data(as_text=True)
    assert client.get("/custom-events/" + "0" * 32).status_code == 404


def test_pages_need_auth(make_app, store) -> None:
    closed = MountedClient(make_app(store=store).wsgi_app)
    for path in ("/issues", f"/issues/{FP}", "/custom-events"):
        assert closed.get(path).status_code == 403
