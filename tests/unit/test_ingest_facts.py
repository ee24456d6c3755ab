"""Facts derived from rrweb events: page views, clicks, errors; latest URL; has_errors."""

from __future__ import annotations

import gzip
import json

from tests.fixtures import RRWEB_DIR

from sentiero.ingest.facts import derive_facts, has_errors, latest_page_url

FIXTURES = RRWEB_DIR

META = {"type": 4, "timestamp": 1000, "data": {"href": "https://a.test/p", "width": 1280,
                                               "height": 800}}
CLICK = {"type": 3, "timestamp": 1100,
         "data": {"source": 2, "type": 2, "id": 17, "x": 398, "y": 143, "pointerType": 0}}
MOUSEDOWN = {"type": 3, "timestamp": 1099, "data": {"source": 2, "type": 1, "id": 17, "x": 1,
                                                    "y": 2}}
ERROR = {"type": 5, "timestamp": 1200,
         "data": {"tag": "error", "payload": {"message": "boom", "source": "https://a.test/app.js",
                                              "lineno": 10, "colno": 68}}}
CUSTOM = {"type": 5, "timestamp": 1300, "data": {"tag": "signup", "payload": {}}}


def test_page_view_click_and_error() -> None:
    facts = derive_facts("s", "w", [META, MOUSEDOWN, CLICK, ERROR, CUSTOM])
    assert [f.kind for f in facts] == ["page_view", "click", "error"]
    view, click, error = facts
    assert (view.url, view.ts_ms, view.data) == ("https://a.test/p", 1000,
                                                 {"width": 1280, "height": 800})
    assert (click.url, click.data) == ("https://a.test/p", {"x": 398, "y": 143, "id": 17})
    assert error.data == {"message": "boom", "source": "https://a.test/app.js", "line": 10,
                          "column": 68}
    assert all((f.session_id, f.window_id) == ("s", "w") for f in facts)


def test_facts_before_any_meta_use_the_initial_url() -> None:
    facts = derive_facts("s", "w", [CLICK], initial_url="https://a.test/start")
    assert facts[0].url == "https://a.test/start"
    assert derive_facts("s", "w", [CLICK])[0].url is None


def test_malformed_events_produce_no_facts_and_no_errors() -> None:
    weird = [{"type": 4}, {"type": 4, "data": {"href": 5}}, {"type": 3, "data": "x"},
             {"type": 5, "data": None}, {"data": {"tag": "error"}}]
    assert derive_facts("s", "w", weird) == []
    assert latest_page_url(weird) is None
    assert not has_errors(weird)


def test_error_message_is_bounded_and_non_string_messages_kept_as_text() -> None:
    long = {"type": 5, "timestamp": 1, "data": {"tag": "error", "payload": {"message": "x" * 9000}}}
    assert len(derive_facts("s", "w", [long])[0].data["message"]) == 4000
    odd = {"type": 5, "timestamp": 1, "data": {"tag": "error", "payload": {"message": 42}}}
    assert derive_facts("s", "w", [odd])[0].data["message"] == "42"


def test_latest_page_url_is_the_last_meta_href() -> None:
    second = {"type": 4, "timestamp": 2000, "data": {"href": "https://a.test/q"}}
    assert latest_page_url([META, CLICK, second, CLICK]) == "https://a.test/q"


def test_has_errors() -> None:
    assert has_errors([META, ERROR])
    assert not has_errors([META, CUSTOM])


def test_real_recording_yields_its_clicks_errors_and_pages() -> None:
    data = json.loads(gzip.decompress((FIXTURES / "frustration-a.json.gz").read_bytes()))
    events = data["windows"][0]["events"]
    facts = derive_facts("s", "w", events)
    kinds = [f.kind for f in facts]
    assert kinds.count("page_view") == 2
    assert kinds.count("error") == 2
    assert kinds.count("click") >= 8
    assert latest_page_url(events).endswith("/signup.html")
