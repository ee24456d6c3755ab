"""build_batch: validation, URL redaction, facts, has_errors gating and user agent."""

from __future__ import annotations

from typing import Any

import pytest

from sentiero.ingest.decode import IngestError
from sentiero.ingest.pipeline import build_batch, redact_events, redact_metadata, redact_url
from sentiero.settings import Settings

META = {"type": 4, "timestamp": 1000,
        "data": {"href": "https://a.test/p?token=abc#frag", "width": 1, "height": 2}}
ERROR = {"type": 5, "timestamp": 1200,
         "data": {"tag": "error", "payload": {"message": "boom",
                                              "source": "https://a.test/app.js?v=1"}}}
CLICK = {"type": 3, "timestamp": 1100, "data": {"source": 2, "type": 2, "id": 1, "x": 3, "y": 4}}


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sessionId": "s1", "windowId": "w1", "events": [META, CLICK, ERROR]}
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("url", "expected"),
    [("https://a.test/p?x=1#y", "https://a.test/p"), ("https://a.test/p#y?x", "https://a.test/p"),
     ("https://a.test/p", "https://a.test/p"), ("/rel?q", "/rel")],
)
def test_redact_url_drops_query_and_fragment(url: str, expected: str) -> None:
    assert redact_url(url, Settings()) == expected


def test_build_batch_strips_urls_everywhere_and_keeps_input_untouched() -> None:
    batch = build_batch(body(seq=7, metadata={"url": "https://a.test/p?e=x@y.z", "plan": "pro"}),
                        Settings(), "UA/1.0")
    assert batch.events[0]["data"]["href"] == "https://a.test/p"
    assert batch.events[2]["data"]["payload"]["source"] == "https://a.test/app.js"
    assert META["data"]["href"].endswith("#frag"), "the caller's dict is not modified"
    assert batch.page_url == "https://a.test/p"
    assert {f.url for f in batch.facts} == {"https://a.test/p"}
    error = next(f for f in batch.facts if f.kind == "error")
    assert error.data["source"] == "https://a.test/app.js"
    assert batch.metadata == {"url": "https://a.test/p", "plan": "pro"}
    assert (batch.session_id, batch.window_id, batch.seq, batch.user_agent) == (
        "s1", "w1", 7, "UA/1.0")


def test_has_errors_only_when_capture_errors_is_on() -> None:
    assert not build_batch(body(), Settings(), None).has_errors
    assert build_batch(body(), Settings(capture_errors=True), None).has_errors
    assert not build_batch(body(events=[META]), Settings(capture_errors=True), None).has_errors


def test_user_agent_falls_back_to_metadata() -> None:
    batch = build_batch(body(metadata={"userAgent": "Meta/2"}), Settings(), None)
    assert batch.user_agent == "Meta/2"


def test_max_events_per_request_comes_from_settings() -> None:
    with pytest.raises(IngestError) as exc:
        build_batch(body(), Settings(max_events_per_request=2), None)
    assert (exc.value.status, exc.value.message) == (400, "too many events (max 2)")


def test_redaction_seams_are_pure() -> None:
    events = [META]
    assert redact_events(events, Settings())[0] is not META
    assert META["data"]["href"].endswith("#frag")
    metadata = {"referrer": "https://r.test/?q=1", "entry_url": "https://a.test/?utm=x"}
    assert redact_metadata(metadata, Settings()) == {"referrer": "https://r.test/",
                                                     "entry_url": "https://a.test/"}
    assert metadata["referrer"].endswith("q=1")


def test_navigation_and_form_submit_urls_are_redacted() -> None:
    nav = {"type": 5, "timestamp": 1, "data": {"tag": "navigation",
                                                "payload": {"url": "https://x.test/a?b=c"}}}
    form = {"type": 5, "timestamp": 2, "data": {"tag": "__form_submit",
                                                 "payload": {"url": "https://x.test/f#z"}}}
    out = redact_events([nav, form], Settings())
    assert out[0]["data"]["payload"]["url"] == "https://x.test/a"
    assert out[1]["data"]["payload"]["url"] == "https://x.test/f"


def test_page_url_is_the_last_meta_href_and_errors_need_an_error_event() -> None:
    """build_batch reads page_url and has_errors off its facts; they must match the events."""
    second = {"type": 4, "timestamp": 1300, "data": {"href": "https://a.test/q?x=1"}}
    no_href = {"type": 4, "timestamp": 1400, "data": {"width": 5}}
    batch = build_batch(body(events=[META, ERROR, second, no_href, CLICK]),
                        Settings(capture_errors=True), None)
    assert batch.page_url == "https://a.test/q"
    assert batch.has_errors
    quiet = build_batch(body(events=[CLICK, {**ERROR, "type": 3}]),
                        Settings(capture_errors=True), None)
    assert quiet.page_url is None and not quiet.has_errors


def test_keys_beside_an_rrweb_event_are_not_stored() -> None:
    from sentiero.ingest.pipeline import build_batch
    from sentiero.settings import Settings

    payload = {"sessionId": "s1", "windowId": "w1", "events": [
        {"type": 4, "timestamp": 1, "data": {"href": "https://a.test/"},
         "note": "card 4111 1111 1111 1111", "delay": 0}]}
    batch = build_batch(payload, Settings(), None)
    assert batch.events == [{"type": 4, "timestamp": 1, "data": {"href": "https://a.test/"},
                             "delay": 0}]
