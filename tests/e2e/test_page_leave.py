"""Leaving or hiding a page delivers what was recorded since the last periodic flush.

The flush interval is 10 s, longer than any of these tests waits, so everything recorded after
the page loaded can only arrive through the page-hide path (sendBeacon on pagehide and
visibilitychange).

Events are read chunk by chunk in seq order, the order the recorder gives them: beacons sent
together can reach the server in any order, and the store numbers chunks by arrival.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sentiero.app import Sentiero
from sentiero.stores.base import SessionQuery, WindowRef
from sentiero.stores.sql import SQLStore
from tests.e2e.site import make_site

pytestmark = pytest.mark.e2e

RECORDING = "() => window.Sentiero && window.Sentiero.isRecording()"

# Headless Chromium never changes visibilityState: bring_to_front() of another page, a minimized
# window (Browser.setWindowBounds) and Page.setWebLifecycleState all leave it "visible" with no
# event. So a tab switch is simulated; the recorder's own handler, sendBeacon, gzip (the
# CompressionStream path, unlike pagehide) and the server are real.
HIDE_PAGE = """() => {
    const set = (name, value) =>
        Object.defineProperty(document, name, {configurable: true, get: () => value});
    set("visibilityState", "hidden");
    set("hidden", true);
    document.dispatchEvent(new Event("visibilitychange"));
}"""


def wait_for(condition: Any, timeout: float = 15.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def make_sentiero(tmp_path: Path, **options: Any) -> Sentiero:
    return Sentiero(store=SQLStore(f"sqlite:///{tmp_path}/x.db"), allow_open_dashboard=True,
                    flush_interval_ms=10_000, **options)


def only_window(sentiero: Sentiero) -> WindowRef | None:
    sessions = sentiero.store.list_sessions(SessionQuery(limit=10))
    if len(sessions) != 1 or len(sessions[0].windows) != 1:
        return None
    return WindowRef(sessions[0].session_id, sessions[0].windows[0].window_id)


def window_events(sentiero: Sentiero) -> list[dict[str, Any]]:
    """The window's events in seq order, checking seqs are unique and timestamps ascending."""
    ref = only_window(sentiero)
    if ref is None:
        return []
    chunks = sorted(sentiero.store.get_chunks(ref), key=lambda chunk: chunk.info.seq)
    seqs = [chunk.info.seq for chunk in chunks]
    assert len(seqs) == len(set(seqs)), f"every seq stored once: {seqs}"
    events = [event for chunk in chunks for event in chunk.events()]
    stamps = [event["timestamp"] for event in events]
    assert stamps == sorted(stamps), "events in timestamp order"
    return events


def page_events(events: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    """The events of one page load: from its Meta event to the next Meta."""
    out: list[dict[str, Any]] = []
    inside = False
    for event in events:
        if event.get("type") == 4:
            inside = str(event["data"].get("href", "")).endswith(path)
        if inside:
            out.append(event)
    return out


def is_click(e: dict[str, Any]) -> bool:
    return e.get("type") == 3 and e["data"].get("source") == 2 and e["data"].get("type") == 2


def is_source(e: dict[str, Any], source: int) -> bool:
    return e.get("type") == 3 and e["data"].get("source") == source


def click_scroll_input(events: list[dict[str, Any]]) -> bool:
    return (any(is_click(e) for e in events) and any(is_source(e, 3) for e in events)
            and any(is_source(e, 5) for e in events))


def test_navigation_delivers_events_recorded_since_the_last_flush(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero = make_sentiero(tmp_path)
    server = live_server(make_site(sentiero))

    page.goto(server.url + "/")
    page.wait_for_function(RECORDING)
    page.locator("#go").click()
    page.mouse.wheel(0, 1500)
    page.wait_for_function("() => window.scrollY > 0")
    page.locator("#name").press_sequentially("Ann", delay=20)
    page.keyboard.press("Tab")
    page.goto(server.url + "/page")
    page.wait_for_function(RECORDING)

    first = wait_for(lambda: click_scroll_input(page_events(window_events(sentiero), "/"))
                     and page_events(window_events(sentiero), "/"))
    assert [e["type"] for e in first[:2]] == [4, 2], "Meta and FullSnapshot first"


def test_text_typed_just_before_leaving_is_delivered(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    """rrweb (sampling input "last") records a text field on `change` only, which never fires
    when the page is left with the field still focused; the recorder emits its value itself."""
    sentiero = make_sentiero(tmp_path)
    server = live_server(make_site(sentiero))

    page.goto(server.url + "/")
    page.wait_for_function(RECORDING)
    page.locator("#name").press_sequentially("Ann", delay=20)  # still focused: no change event
    page.goto(server.url + "/page")

    inputs = wait_for(lambda: [e for e in page_events(window_events(sentiero), "/")
                               if is_source(e, 5)])
    assert inputs[-1]["data"]["text"] == "********", "masked like rrweb masks it"


def test_page_left_right_after_loading_delivers_meta_and_full_snapshot(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero = make_sentiero(tmp_path)
    server = live_server(make_site(sentiero))

    page.goto(server.url + "/", wait_until="domcontentloaded")
    # The recorder runs once the page is idle (a page left before that is not recorded);
    # leaving as soon as it runs is inside the duplicate-tab guard's wait (transport held).
    page.wait_for_function(RECORDING, polling=5)
    page.goto("about:blank")

    events = wait_for(lambda: window_events(sentiero))
    assert [e["type"] for e in events[:2]] == [4, 2]


def test_hidden_tab_delivers_without_navigation(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero = make_sentiero(tmp_path)
    server = live_server(make_site(sentiero))

    page.goto(server.url + "/")
    page.wait_for_function(RECORDING)
    page.locator("#go").click()
    page.mouse.wheel(0, 1500)
    page.wait_for_function("() => window.scrollY > 0")
    page.locator("#name").press_sequentially("Ann", delay=20)  # still focused
    page.evaluate(HIDE_PAGE)

    wait_for(lambda: click_scroll_input(window_events(sentiero)))
    # The page lives on: leaving it later sends the rest without reusing a seq.
    page.goto(server.url + "/page")
    page.wait_for_function(RECORDING)
    page.goto("about:blank")
    wait_for(lambda: len(page_events(window_events(sentiero), "/page")) >= 2)


def test_page_hidden_while_the_window_guard_holds_still_beacons(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    """Hidden within the duplicate-tab guard's wait (no batch may be cut yet): the batch is
    beaconed as soon as the guard releases, not at the next interval flush 10 s later."""
    sentiero = make_sentiero(tmp_path)
    server = live_server(make_site(sentiero))

    # Right after the deferred recorder script started, well inside the guard's 150 ms wait.
    page.add_init_script(f"document.addEventListener('DOMContentLoaded', {HIDE_PAGE})")
    page.goto(server.url + "/", wait_until="domcontentloaded")
    assert page.evaluate("document.visibilityState") == "hidden"

    events = wait_for(lambda: window_events(sentiero), timeout=5)
    assert [e["type"] for e in events[:2]] == [4, 2]


def test_events_recorded_after_pagehide_are_delivered(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    """Chromium fires visibilitychange (hidden) after pagehide when a page is left; web-vitals
    reports its final CLS there, after the recorder's pagehide beacon went out."""
    sentiero = make_sentiero(tmp_path, capture_web_vitals=True)
    server = live_server(make_site(sentiero))

    page.goto(server.url + "/")
    page.wait_for_function("() => window.__sentieroWebVitals !== undefined")  # separate asset
    page.wait_for_timeout(200)
    page.locator("#go").click()
    page.goto(server.url + "/page")

    def cls() -> bool:
        return any(e.get("type") == 5 and e["data"].get("tag") == "__perf"
                   and e["data"]["payload"].get("metric") == "CLS"
                   for e in page_events(window_events(sentiero), "/"))

    wait_for(cls, timeout=8)
