"""The sessions list, the session redirect, the replay page and deletes."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from sentiero.stores.memory import MemoryStore
from sentiero.web.dashboard import format_duration, parse_bound, parse_browser
from tests.web.support import csrf_from, save, stored_sessions

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
T0 = datetime(2026, 3, 14, 9, 26, 53, tzinfo=timezone.utc)


def events(start: int, count: int = 2, step: int = 1000, href: str = "https://a.test/p"
           ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"type": 4, "timestamp": start,
                                  "data": {"href": href, "width": 800, "height": 600}}]
    out += [{"type": 3, "timestamp": start + step * i, "data": {"source": 1}}
            for i in range(1, count)]
    return out


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def client(make_app: Any, client_for: Any, store: MemoryStore) -> Any:
    return client_for(make_app(store, allow_open_dashboard=True))


def page(client: Any, path: str = "/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def listed_ids(body: str) -> list[str]:
    return re.findall(r'name="session_ids\[\]" value="([^"]+)"', body)


def replay_data(body: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="sentiero-replay-data">(.*?)</script>', body, re.S)
    assert match
    return orjson.loads(match.group(1))


# --- formatting helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ms", "text"),
    [(None, "N/A"), (0, "0s"), (59_999, "59s"), (60_000, "1m 0s"), (3_599_000, "59m 59s"),
     (3_600_000, "1h 0m"), (7_380_000, "2h 3m")],
)
def test_format_duration(ms: int | None, text: str) -> None:
    assert format_duration(ms) == text


def test_parse_browser() -> None:
    chrome = parse_browser(CHROME)
    assert (chrome.name, chrome.os, chrome.mobile) == ("Chrome 126", "Linux", False)
    iphone = parse_browser(IPHONE)
    assert iphone.mobile and iphone.os == "iOS"
    assert parse_browser(None).name == "Unknown"


def test_parse_bound() -> None:
    assert parse_bound("2026-03-14", end=False) == datetime(2026, 3, 14, tzinfo=timezone.utc)
    assert parse_bound("2026-03-14", end=True) == datetime(
        2026, 3, 14, 23, 59, 59, 999_999, tzinfo=timezone.utc)
    assert parse_bound("2026-03-14T10:00:00Z", end=False) == datetime(
        2026, 3, 14, 10, tzinfo=timezone.utc)
    assert parse_bound("2026-03-14T12:00:00+02:00", end=False) == datetime(
        2026, 3, 14, 10, tzinfo=timezone.utc)
    assert parse_bound("2026-03-14T10:00:00", end=True) == datetime(
        2026, 3, 14, 10, tzinfo=timezone.utc)
    for bad in ("", None, "yesterday", "2026-13-40", "14/03/2026"):
        assert parse_bound(bad, end=False) is None


# --- sessions list ---------------------------------------------------------------------------


def test_empty_state(client: Any) -> None:
    body = page(client)
    assert "No sessions recorded yet." in body
    assert "<title>Sessions · Sentiero</title>" in body


def test_no_results_state(client: Any, store: MemoryStore) -> None:
    save(store, "abc", "w", events(1000))
    body = page(client, "/?search=zzz")
    assert "No results match your filters." in body
    assert "No sessions recorded yet." not in body


def test_columns(client: Any, store: MemoryStore) -> None:
    save(store, "0123456789abcdef", "w1", events(1_000_000, 3, 30_500,
                                                  href="https://a.test/cart/checkout?step=2"),
         user_agent=IPHONE, page_url="https://a.test/cart/checkout", received_at=T0,
         has_errors=True)
    save(store, "0123456789abcdef", "w2", events(1_000_500), received_at=T0)
    body = page(client)
    assert 'href="/sentiero/sessions/0123456789abcdef"' in body
    assert ">01234567</a>" in body
    assert 'class="badge badge-error">errors<' in body
    assert 'title="https://a.test/cart/checkout">/cart/checkout<' in body
    assert "Mobile Safari 17" in body and ">Mobile<" in body
    assert f'title="{html.escape(IPHONE)}"' in body
    assert re.search(r'data-label="Windows" class="num">2<', body)
    assert re.search(r'data-label="Events" class="num">5<', body)
    assert re.search(r'data-label="Duration" class="num">1m 1s<', body)
    assert "Mar 14, 09:26" in body
    assert 'action="/sentiero/sessions/0123456789abcdef/delete"' in body


def test_last_page_falls_back_to_metadata_url(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "w", [{"type": 3, "timestamp": 1}], metadata={"url": "https://a.test/m"})
    assert 'title="https://a.test/m">/m<' in page(client)


def test_pagination_preserves_filters(client: Any, store: MemoryStore) -> None:
    for i in range(5):
        save(store, f"sess{i}", "w", events(1000), received_at=T0 + timedelta(minutes=i),
             metadata={"plan": "pro"})
    body = page(client, "/?per_page=2&search=pro")
    assert listed_ids(body) == ["sess4", "sess3"]
    assert 'href="/sentiero/?search=pro&amp;per_page=2&amp;page=2"' in body
    assert 'rel="prev"' not in body
    body = page(client, "/?per_page=2&search=pro&page=3")
    assert listed_ids(body) == ["sess0"]
    assert 'rel="next"' not in body
    assert 'href="/sentiero/?search=pro&amp;per_page=2&amp;page=2"' in body


def test_exactly_a_full_last_page_has_no_next(client: Any, store: MemoryStore) -> None:
    for i in range(4):
        save(store, f"s{i}", "w", events(1000))
    body = page(client, "/?per_page=2&page=2")
    assert len(listed_ids(body)) == 2
    assert 'rel="next"' not in body


@pytest.mark.parametrize(
    ("query", "expected_count"),
    [("page=0", 3), ("page=-5", 3), ("page=abc", 3), ("page=99999999", 0), ("per_page=0", 3),
     ("per_page=1000", 3), ("per_page=x", 3), ("sort_by=evil", 3)],
)
def test_bad_paging_values_fall_back(client: Any, store: MemoryStore, query: str,
                                     expected_count: int) -> None:
    for i in range(3):
        save(store, f"s{i}", "w", events(1000))
    assert len(listed_ids(page(client, f"/?{query}"))) == expected_count


def test_per_page_is_capped_at_100(client: Any, store: MemoryStore) -> None:
    for i in range(105):
        save(store, f"s{i:03d}", "w", [{"type": 3, "timestamp": i}])
    assert len(listed_ids(page(client, "/?per_page=500"))) == 100


def test_search_over_id_and_metadata_trimmed_and_capped(client: Any, store: MemoryStore) -> None:
    save(store, "alpha1", "w", events(1000), metadata={"email_domain": "Example.org"})
    save(store, "beta22", "w", events(1000))
    assert listed_ids(page(client, "/?search=%20example.ORG%20")) == ["alpha1"]
    assert listed_ids(page(client, "/?search=beta")) == ["beta22"]
    body = page(client, "/?search=" + "x" * 400)
    assert 'value="' + "x" * 256 + '"' in body and "x" * 257 not in body


def test_date_range_on_last_activity(client: Any, store: MemoryStore) -> None:
    save(store, "old", "w", events(1000), received_at=datetime(2026, 1, 1, 12, tzinfo=timezone.utc))
    save(store, "mid", "w", events(1000),
         received_at=datetime(2026, 2, 1, 23, 59, 59, tzinfo=timezone.utc))
    save(store, "new", "w", events(1000), received_at=datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert listed_ids(page(client, "/?since=2026-02-01&until=2026-02-01")) == ["mid"]
    assert listed_ids(page(client, "/?since=2026-02-02")) == ["new"]
    assert sorted(listed_ids(page(client, "/?until=2026-02-01T23:59:59Z"))) == ["mid", "old"]
    body = page(client, "/?since=garbage")
    assert len(listed_ids(body)) == 3, "an invalid bound is ignored"
    assert "garbage" not in body, "and not echoed back"


def test_sort_by(client: Any, store: MemoryStore) -> None:
    save(store, "small", "w", events(1000, 1), received_at=T0 + timedelta(hours=1))
    save(store, "big", "w", events(1000, 9), received_at=T0)
    assert listed_ids(page(client, "/")) == ["small", "big"]
    assert listed_ids(page(client, "/?sort_by=event_count")) == ["big", "small"]
    assert 'value="event_count" selected' in page(client, "/?sort_by=event_count")


def test_has_errors_filter(client: Any, store: MemoryStore) -> None:
    save(store, "clean", "w", events(1000))
    save(store, "broken", "w", events(1000), has_errors=True)
    assert listed_ids(page(client, "/?has_errors=true")) == ["broken"]
    assert 'name="has_errors" value="true" checked' in page(client, "/?has_errors=true")


def test_links_follow_the_mount_prefix(make_app: Any, store: MemoryStore) -> None:
    from werkzeug.test import Client

    save(store, "s1", "w", events(1000))
    client = Client(make_app(store, allow_open_dashboard=True).wsgi_app)
    body = client.get("/", environ_overrides={"SCRIPT_NAME": "/admin/rec"}).get_data(as_text=True)
    assert 'href="/admin/rec/sessions/s1"' in body
    assert 'href="/admin/rec/assets/dashboard-IJKL9012.css"' in body
    assert 'src="/admin/rec/assets/dashboard-EFGH5678.js"' in body


def test_empty_path_info_is_the_sessions_list(make_app: Any) -> None:
    from werkzeug.test import Client

    client = Client(make_app(allow_open_dashboard=True).wsgi_app)
    response = client.get("/", environ_overrides={"SCRIPT_NAME": "/sentiero", "PATH_INFO": ""})
    assert response.status_code == 200
    assert "Sessions" in response.get_data(as_text=True)


def test_unknown_path_and_wrong_method_are_plain_404(client: Any) -> None:
    for response in (client.get("/nope"), client.post("/"), client.get("/sessions/s1/delete")):
        assert response.status_code == 404
        assert response.get_data(as_text=True) == "Not Found"
        assert response.headers["Content-Type"].startswith("text/plain")


def test_unexpected_error_is_500_without_details(make_app: Any, client_for: Any) -> None:
    class Broken(MemoryStore):
        def list_sessions(self, query: Any) -> Any:
            raise RuntimeError("password=hunter2")

    response = client_for(make_app(Broken(), allow_open_dashboard=True)).get("/")
    assert response.status_code == 500
    assert "hunter2" not in response.get_data(as_text=True)


# --- session redirect and replay page --------------------------------------------------------


def test_session_opens_on_its_main_window(client: Any, store: MemoryStore) -> None:
    # the main window has the most activity (events); ties go to the earliest
    save(store, "s1", "early", events(1000, 2))
    save(store, "s1", "busy", events(5000, 6))
    save(store, "s1", "middle", events(3000, 6))
    save(store, "s1", "late", events(9000, 3))
    response = client.get("/sessions/s1")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sentiero/sessions/s1/windows/middle")


def test_unknown_session_is_404(client: Any) -> None:
    for path in ("/sessions/nope", "/sessions/nope/windows/w"):
        response = client.get(path)
        assert response.status_code == 404
        assert "not found" in response.get_data(as_text=True).lower()


def test_unknown_window_is_404(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "w1", events(1000))
    assert client.get("/sessions/s1/windows/w2").status_code == 404


@pytest.mark.parametrize("path", ["/sessions/a.b", "/sessions/" + "a" * 129,
                                  "/sessions/s1/windows/bad%20id", "/sessions/a%3Bb/windows/w"])
def test_invalid_ids_are_400_json(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid ID format"}


def test_replay_page(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "w1", events(1_000_000, 3, 5000), user_agent=CHROME,
         metadata={"plan": "pro", "userAgent": CHROME})
    body = page(client, "/sessions/s1/windows/w1?t=2500")
    assert '<div id="sentiero-player"></div>' in body
    assert 'href="/sentiero/"' in body and "Sessions" in body
    assert "Chrome 126" in body and "3 events" in body and "10s" in body
    assert "Session details" in body and "plan" in body and "pro" in body
    assert 'action="/sentiero/sessions/s1/delete"' in body
    assert "Delete this tab" not in body, "single window: one delete button"
    assert replay_data(body) == {
        "sessionId": "s1",
        "windowId": "w1",
        "chunksUrl": "/sentiero/api/sessions/s1/windows/w1/chunks",
        "eventsUrl": "/sentiero/api/sessions/s1/windows/w1/events",
        "activityUrl": "/sentiero/api/sessions/s1/windows/w1/activity",
        "startAt": 2500,
        "windows": [{"id": "w1", "label": "Tab 1", "url": "/sentiero/sessions/s1/windows/w1",
                     "active": True, "eventCount": 3}],
    }


@pytest.mark.parametrize(("t", "expected"), [("", None), ("abc", None), ("-5", None),
                                             ("1700000000123", 1700000000123), ("12.5", 12.5),
                                             ("nan", None), ("inf", None)])
def test_start_at(client: Any, store: MemoryStore, t: str, expected: Any) -> None:
    save(store, "s1", "w1", events(1000))
    assert replay_data(page(client, f"/sessions/s1/windows/w1?t={t}"))["startAt"] == expected


def test_tab_switcher_with_several_windows(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "wa", events(1000, 2))
    save(store, "s1", "wb", events(2000, 4))
    body = page(client, "/sessions/s1/windows/wb")
    assert "Tab 1 · 2 events" in body and "Tab 2 · 4 events" in body
    assert 'href="/sentiero/sessions/s1/windows/wa" title="wa"' in body
    data = replay_data(body)
    # most active first; labels number the tabs by when they started
    assert [(w["id"], w["label"], w["active"]) for w in data["windows"]] == [
        ("wb", "Tab 2", True), ("wa", "Tab 1", False)]
    assert "This tab: 3s" in body and "Whole session: 4s" in body
    assert 'action="/sentiero/sessions/s1/windows/wb/delete"' in body


def test_replay_island_is_escaped_for_script_context(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "w1", events(1000))
    body = page(client, "/sessions/s1/windows/w1")
    island = re.search(r'id="sentiero-replay-data">(.*?)</script>', body, re.S).group(1)
    assert "<" not in island and ">" not in island and "&" not in island


# --- deletes ---------------------------------------------------------------------------------


def test_delete_window_redirects_to_the_remaining_main(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "w1", events(1000, 2))
    save(store, "s1", "w2", events(9000, 5))
    save(store, "s1", "w3", events(5000, 4))
    token = csrf_from(client)
    response = client.post("/sessions/s1/windows/w2/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sentiero/sessions/s1/windows/w3")
    assert sorted(stored_sessions(store)[0].window_ids) == ["w1", "w3"]


def test_deleting_the_last_window_goes_back_to_the_list(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "w1", events(1000))
    token = csrf_from(client)
    response = client.post("/sessions/s1/windows/w1/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sentiero/")
    assert stored_sessions(store) == []


def test_delete_session(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "w1", events(1000))
    save(store, "s2", "w1", events(1000))
    token = csrf_from(client)
    response = client.post("/sessions/s1/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sentiero/?deleted=1")
    assert [s.session_id for s in stored_sessions(store)] == ["s2"]


def test_bulk_delete_skips_invalid_ids(client: Any, store: MemoryStore) -> None:
    for sid in ("s1", "s2", "s3"):
        save(store, sid, "w", events(1000))
    token = csrf_from(client)
    response = client.post("/sessions/bulk_delete", data={
        "csrf_token": token, "session_ids[]": ["s1", "s3", "../etc", "a b", "unknown"]})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sentiero/?deleted=2")
    assert [s.session_id for s in stored_sessions(store)] == ["s2"]
    flash = client.get("/?deleted=2").get_data(as_text=True)
    assert "Deleted 2 sessions." in flash


def test_bulk_delete_needs_csrf(client: Any, store: MemoryStore) -> None:
    save(store, "s1", "w", events(1000))
    csrf_from(client)
    response = client.post("/sessions/bulk_delete", data={"session_ids[]": ["s1"]})
    assert response.status_code == 403
    assert len(stored_sessions(store)) == 1


def test_delete_with_invalid_id_is_400(client: Any) -> None:
    token = csrf_from(client)
    response = client.post("/sessions/a.b/delete", data={"csrf_token": token})
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid ID format"}


def test_an_unexpected_dashboard_error_logs_no_request_data(
    make_app: Any, client_for: Any, caplog: Any
) -> None:
    class BrokenStore(MemoryStore):
        def list_sessions(self, query: Any) -> Any:
            raise RuntimeError(f"driver failed; parameters: {query.search}")

    client = client_for(make_app(BrokenStore(), allow_open_dashboard=True))
    with caplog.at_level("DEBUG", logger="sentiero"):
        response = client.get("/?search=ann%40example.org")
    assert response.status_code == 500
    assert "RuntimeError" in caplog.text
    assert "ann@example.org" not in caplog.text


def test_session_deep_link_keeps_its_moment_through_the_redirect(
    make_app: Any, client_for: Any
) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", [{"type": 4, "timestamp": 1000, "data": {"href": "https://a.test/"}}])
    client = client_for(make_app(store, allow_open_dashboard=True))
    response = client.get("/sessions/s1?t=2500")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sessions/s1/windows/w1?t=2500")
    hostile = client.get("/sessions/s1?t=1%0d%0aSet-Cookie:x")
    assert hostile.headers["Location"].endswith("/sessions/s1/windows/w1")


def test_many_tabs_show_five_and_the_rest_behind_more(client: Any, store: MemoryStore) -> None:
    for n in range(1, 8):  # w1 has 2 events ... w7 has 8: the later ones are busier
        save(store, "s1", f"w{n}", events(n * 1000, n + 1))
    body = page(client, "/sessions/s1/windows/w1")
    inline = body.split('<details class="menu tabs-more">')[0]
    assert "+2 more" in body
    # the five busiest are inline, but the open tab is always shown: w1 replaces the fifth
    for wid in ("w7", "w6", "w5", "w4", "w1"):
        assert f'title="{wid}"' in inline
    for wid in ("w3", "w2"):
        assert f'title="{wid}"' not in inline and f'title="{wid}"' in body
