"""Every optional capture feature, end to end in real Chromium: the event it produces reaches
storage (decoded with ``store.get_events``), and with default settings none of them exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.app import Sentiero
from sentiero.stores.base import SessionQuery
from sentiero.stores.sql import SQLStore
from tests.e2e.site import make_site
from tests.e2e.test_record_replay import all_events, wait_for

pytestmark = pytest.mark.e2e

# `{tag}` is the script tag; other braces are doubled for str.format.
CAPTURE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Capture</title>
{tag}</head>
<body>
<h1 id="hero">A headline large enough to be the largest contentful paint of this page</h1>
<p><a id="internal" href="/page?ref=secret-ref#top">Internal page</a>
<a id="external" href="https://external.invalid/path?q=secret-q">External site</a>
<a id="in-page" href="#hero">Back to top</a></p>
<button id="cta" class="btn primary" data-sentiero-track-click="cta-click"
  data-sentiero-data='{{"plan": "pro", "email": "jane@example.com"}}'>Buy now</button>
<div class="card wide dark"><span id="inner-text">card text</span></div>
<form id="signup-form" name="signup">
  <input id="email" name="email"><input id="name" name="id">
  <button id="send">Send</button>
</form>
<script>
document.getElementById("signup-form").addEventListener("submit", function (e) {{
  e.preventDefault(); }});
document.getElementById("external").addEventListener("click", function (e) {{
  e.preventDefault(); }});
</script>
</body></html>"""

FORM_CANARY = "form-canary-5521@example.com"


def start(tmp_path: Path, live_server: Any, **flags: Any) -> tuple[Sentiero, str]:
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path}/capture.db"),
                        allow_open_dashboard=True, flush_interval_ms=500, **flags)
    server = live_server(make_site(sentiero, CAPTURE_PAGE))
    return sentiero, server.url


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")


def customs(store: Any, tag: str | None = None) -> list[dict[str, Any]]:
    return [e for e in all_events(store)
            if e.get("type") == 5 and (tag is None or e["data"].get("tag") == tag)]


def payloads(store: Any, tag: str) -> list[Any]:
    return [e["data"]["payload"] for e in customs(store, tag)]


def only_session(store: Any) -> Any:
    sessions = store.list_sessions(SessionQuery(limit=10))
    assert len(sessions) == 1
    return sessions[0]


def test_add_custom_event_and_set_metadata(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server)  # always available: no flag needed
    open_page(page, url + "/")
    page.evaluate("""() => {
        window.Sentiero.setMetadata({plan: "pro", contact: "jane@example.com"});
        window.Sentiero.addCustomEvent("checkout", {step: 2, email: "jane@example.com"});
    }""")
    found = wait_for(lambda: payloads(sentiero.store, "checkout"), timeout=10)
    assert found == [{"step": 2, "email": "[redacted]"}]
    metadata = wait_for(lambda: only_session(sentiero.store).metadata.get("plan") and
                        only_session(sentiero.store).metadata, timeout=10)
    assert metadata["plan"] == "pro"
    assert metadata["contact"] == "[redacted]"


def test_declarative_click_tracking(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, track_custom_events=True)
    open_page(page, url + "/")
    page.locator("#cta").click()
    found = wait_for(lambda: payloads(sentiero.store, "cta-click"), timeout=10)
    assert found == [{"plan": "pro", "email": "[redacted]"}]


def test_js_error_and_unhandled_rejection(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, capture_errors=True)
    open_page(page, url + "/")
    page.evaluate("""() => {
        setTimeout(() => { throw new Error("boom-e2e"); }, 0);
        Promise.reject(new Error("rejected-e2e"));
    }""")
    errors = wait_for(lambda: len(payloads(sentiero.store, "error")) >= 2 and
                      payloads(sentiero.store, "error"), timeout=10)
    thrown = next(p for p in errors if "boom-e2e" in p["message"])
    assert set(thrown) == {"message", "source", "lineno", "colno", "stack"}
    assert isinstance(thrown["lineno"], int) and isinstance(thrown["colno"], int)
    rejected = next(p for p in errors if p.get("type") == "unhandledrejection")
    assert rejected["message"] == "rejected-e2e"
    assert set(rejected) == {"message", "type", "stack"}
    assert wait_for(lambda: only_session(sentiero.store).has_errors, timeout=5)


def test_navigation_internal_and_external(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, track_navigation=True)
    open_page(page, url + "/")
    page.locator("#in-page").click()  # same page anchor: not a navigation
    page.locator("#external").click()  # the page prevents it: we stay here
    with page.expect_navigation():
        page.locator("#internal").click()  # a real navigation to /page
    open_page(page, url + "/page")
    found = wait_for(lambda: len(payloads(sentiero.store, "navigation")) >= 2 and
                     payloads(sentiero.store, "navigation"), timeout=10)
    assert found == [
        {"url": "https://external.invalid/path", "text": "External site", "external": True},
        {"url": url + "/page", "text": "Internal page"},
    ]


def test_metadata_strips_the_query(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, capture_metadata=True)
    open_page(page, url + "/?token=secret-token&q=meta-canary#frag")
    metadata = wait_for(lambda: sentiero.store.list_sessions(SessionQuery(limit=1)) and
                        only_session(sentiero.store).metadata.get("url") and
                        only_session(sentiero.store).metadata, timeout=10)
    assert metadata["url"] == url + "/"
    assert metadata["entry_url"] == url + "/"
    assert metadata["referrer"] == ""
    assert metadata["entry_referrer"] == ""
    assert metadata["viewport"] == "1280x800"
    assert "Chrome" in metadata["userAgent"]
    assert "meta-canary" not in orjson.dumps(metadata).decode()


def test_form_submit_without_values(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, track_forms=True)
    open_page(page, url + "/?step=secret-step")
    page.locator("#email").fill(FORM_CANARY)
    page.locator("#name").fill("id-field-canary")  # an input named "id" shadows form.id
    page.locator("#send").click()
    found = wait_for(lambda: payloads(sentiero.store, "__form_submit"), timeout=10)
    assert found == [{"name": "signup", "id": "signup-form", "url": url + "/"}]
    stored = orjson.dumps(all_events(sentiero.store)).decode()
    assert FORM_CANARY not in stored and "id-field-canary" not in stored


def test_web_vitals_lcp(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, capture_web_vitals=True)
    open_page(page, url + "/")
    page.wait_for_function("() => window.__sentieroWebVitals !== undefined")  # separate asset
    page.wait_for_timeout(200)
    page.locator("#cta").click()  # an interaction finalizes LCP (and gives INP one sample)
    page.evaluate("""() => {
        const hidden = (name, value) =>
            Object.defineProperty(document, name, {configurable: true, get: () => value});
        hidden("visibilityState", "hidden");
        hidden("hidden", true);
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    perf = wait_for(lambda: any(p["metric"] == "LCP" for p in payloads(sentiero.store, "__perf"))
                    and payloads(sentiero.store, "__perf"), timeout=10)
    lcp = next(p for p in perf if p["metric"] == "LCP")
    assert lcp["value"] > 0
    assert lcp["rating"] in ("good", "needs-improvement", "poor")
    assert {p["metric"] for p in perf} <= {"LCP", "CLS", "INP"}


def test_click_selectors(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, capture_clicks=True)
    open_page(page, url + "/")
    page.locator("#cta").click()
    page.locator(".card").click(position={"x": 400, "y": 5})
    found = wait_for(lambda: len(payloads(sentiero.store, "__click")) >= 2 and
                     payloads(sentiero.store, "__click"), timeout=10)
    assert found[:2] == [{"selector": "button#cta"}, {"selector": "div.card.wide"}]


def test_default_settings_produce_no_capture_events(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero, url = start(tmp_path, live_server)
    open_page(page, url + "/?q=default-canary")
    page.locator("#cta").click()
    page.locator(".card").click()
    page.locator("#email").fill(FORM_CANARY)
    page.locator("#send").click()
    page.locator("#external").click()
    page.evaluate("""() => {
        setTimeout(() => { throw new Error("boom-default"); }, 0);
        Promise.reject(new Error("rejected-default"));
    }""")
    assert page.evaluate("() => window.__sentieroWebVitals") is None
    with page.expect_navigation():
        page.locator("#internal").click()
    open_page(page, url + "/page")
    page.evaluate("() => window.Sentiero.addCustomEvent('marker', {})")
    wait_for(lambda: payloads(sentiero.store, "marker"), timeout=10)
    assert [e["data"]["tag"] for e in customs(sentiero.store)] == ["marker"]
    session = only_session(sentiero.store)
    assert session.metadata.get("url") is None and session.metadata.get("viewport") is None
    assert not session.has_errors
