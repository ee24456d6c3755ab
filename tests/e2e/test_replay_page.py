"""The replay page in real Chromium: timeline markers seek, the sidebar follows the playhead,
a session opens on its main window, and a far seek downloads only the chunks it needs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sentiero.app import Sentiero
from sentiero.stores.memory import MemoryStore
from tests.e2e.replay_support import (
    current_ms,
    fixture,
    long_recording,
    mounted,
    pause,
    post_batches,
    post_events,
    wait_for_replay,
)

pytestmark = pytest.mark.e2e

T0 = 1_750_000_000_000


@pytest.fixture
def frustration(live_server: Any) -> tuple[str, Sentiero]:
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    recording = fixture("frustration-a")["windows"][0]
    post_events(mounted(sentiero), "s-frus", "w-main", recording["events"])
    server = live_server(mounted(sentiero))
    return server.url + "/sentiero", sentiero


def open_paused(page: Any, url: str) -> None:
    page.goto(url + ("&" if "?" in url else "?") + "t=0")
    wait_for_replay(page)
    page.wait_for_function("() => window.__sentieroPlayer.loadingDone")
    page.wait_for_selector(".activity__item[data-kind='rage_click']")
    page.wait_for_timeout(400)  # the sidebar's last refresh after loading
    pause(page)


def test_timeline_markers_seek_to_their_moment(frustration: Any, page: Any) -> None:
    base, _ = frustration
    open_paused(page, base + "/sessions/s-frus/windows/w-main")
    legend = page.locator(".timeline__legend")
    assert "Errors (2)" in legend.inner_text() and "Clicks" in legend.inner_text()
    # hide everything but errors: what is left on the bar are the two error markers
    for category in ("page", "click", "frustration"):
        page.locator(f".timeline__legend input[data-category='{category}']").uncheck()
    slots = page.locator(".timeline__slot")
    assert slots.count() >= 1
    markers = page.locator(".timeline__marker[data-kind='error'], .timeline__group")
    target = markers.last
    assert "Error" in (target.get_attribute("title") or "")
    if target.get_attribute("class") == "timeline__group":
        target.click()
        item = page.locator(".timeline__popover-item").last
        expected = None
        item.click()
    else:
        expected = int(target.get_attribute("data-offset") or 0)
        target.click()
    page.wait_for_function("() => document.querySelector('.activity__item.is-current')"
                           " && document.querySelector('.activity__item.is-current')"
                           ".dataset.kind === 'error'")
    current = page.locator(".activity__item.is-current")
    offset = int(current.get_attribute("data-offset") or -1)
    if expected is not None:
        assert offset == expected
    assert abs(current_ms(page) - offset) < 300
    assert page.evaluate("document.body.dataset.replayState") == "paused"
    # hover text says what a marker is; clicking the bar itself seeks too
    box = page.locator(".timeline__bar").bounding_box()
    page.mouse.click(box["x"] + 3, box["y"] + box["height"] / 2)
    page.wait_for_function("() => window.__sentieroPlayer.currentTime() < 500")


def test_sidebar_follows_the_playhead_and_seeks(frustration: Any, page: Any) -> None:
    base, _ = frustration
    open_paused(page, base + "/sessions/s-frus/windows/w-main")
    items = page.locator(".activity__item")
    offsets = [int(items.nth(i).get_attribute("data-offset") or 0) for i in range(items.count())]
    assert offsets == sorted(offsets) and len(offsets) > 5
    assert page.locator(".activity__title").inner_text().startswith("Activity")
    for target in (offsets[2] + 10, offsets[-1] + 10):
        page.evaluate("t => window.__sentieroPlayer.player.seek(t, false)", target)
        page.wait_for_function(
            "t => { const c = document.querySelector('.activity__item.is-current');"
            " return c && Number(c.dataset.offset) <= t; }", arg=target)
        current = int(page.locator(".activity__item.is-current").get_attribute("data-offset"))
        assert current == max(o for o in offsets if o <= target)
    # clicking an entry seeks there
    third = items.nth(3).locator(".activity__seek")
    third.click()
    page.wait_for_function(
        "t => Math.abs(window.__sentieroPlayer.currentTime() - t) < 300", arg=offsets[3])
    # kind filter and search narrow the list
    page.locator(".activity__kind").select_option("error")
    assert {items.nth(i).get_attribute("data-kind") for i in range(items.count())} == {"error"}
    page.locator(".activity__kind").select_option("")
    page.locator(".activity__search").fill("unavailable")
    assert 1 <= items.count() < len(offsets)
    assert "unavailable" in items.first.inner_text().lower()
    # an error's stack and source are there to expand
    items.first.locator("summary").click()
    assert "Stack" in items.first.inner_text() or "Source" in items.first.inner_text()


def test_badges_url_bar_click_overlay_and_keyboard(frustration: Any, page: Any) -> None:
    base, _ = frustration
    open_paused(page, base + "/sessions/s-frus/windows/w-main")
    page.wait_for_selector("[data-testid=active-time]")
    assert re.match(r"Active .+ of .+ \(\d+%\)", page.locator("[data-testid=active-time]")
                    .inner_text())
    assert page.locator("[data-testid=viewport]").inner_text().startswith("Viewport ")
    assert "frustration.html" in page.locator("[data-testid=current-url]").inner_text()
    # rage/dead clicks explain why they were flagged
    rage = page.locator(".activity__item[data-kind='rage_click']").first
    rage.locator("summary").click()
    assert "500 ms" in rage.inner_text()
    # keyboard only: c toggles the click overlay, ? opens the help, Escape closes it
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("c")
    assert page.locator("#replay-clicks").get_attribute("aria-pressed") == "true"
    assert page.locator(".click-overlay__dot").count() > 3
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert dialog.is_visible()
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    before = current_ms(page)
    page.keyboard.press("n")
    page.wait_for_function("t => window.__sentieroPlayer.currentTime() > t", arg=before)


def test_session_opens_on_its_main_window(live_server: Any, page: Any) -> None:
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    app = mounted(sentiero)
    # the busy window started first; a short one came later (the latest activity)
    post_batches(app, "s-main", "busy", long_recording(T0, 3, checkout_every=3))
    post_batches(app, "s-main", "late", long_recording(T0 + 300_000, 1))
    server = live_server(app)
    page.goto(server.url + "/sentiero/sessions/s-main")
    wait_for_replay(page)
    assert page.url.split("?")[0].endswith("/sessions/s-main/windows/busy")
    tabs = page.locator("nav.window-tabs .tab")
    assert tabs.first.inner_text().startswith("Tab 1 ·")
    assert "aria-current" in (tabs.first.evaluate("e => e.getAttributeNames().join(' ')"))
    assert "This tab" in page.locator(".replay-badges").first.inner_text()
    assert "Whole session" in page.locator(".replay-badges").first.inner_text()


def test_far_seek_downloads_only_the_chunks_it_needs(live_server: Any, page: Any) -> None:
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    app = mounted(sentiero)
    post_batches(app, "s-long", "w", long_recording(T0, 60))  # 60 chunks, one per minute
    server = live_server(app)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if "/events?" in r.url else None)
    page.goto(server.url + "/sentiero/sessions/s-long/windows/w?t=0")
    wait_for_replay(page)
    frame = page.frame_locator("#sentiero-player iframe")
    assert frame.locator("#where").inner_text() == "minute 0"
    first_requests = len(requested)
    end = page.evaluate("() => window.__sentieroPlayer.totalMs")
    assert end > 59 * 60_000
    page.evaluate("t => window.__sentieroPlayer.player.seek(t, false)", end)
    frame.locator("#where").filter(has_text="minute 59").wait_for(timeout=15_000)
    loaded = page.evaluate("() => window.__sentieroPlayer.loadedChunks")
    # the last snapshot before the end is at minute 50: chunks 50..59 are needed. The player
    # walks back 4 chunks per request until it finds a snapshot (the chunk index does not say
    # which chunks hold one), so it may overshoot by up to 3: 46..49 at most, never 4..45.
    assert set(range(50, 60)) <= set(loaded)
    assert not set(loaded) & set(range(4, 46)), loaded
    assert len(requested) - first_requests <= 3, requested
    assert page.evaluate("document.body.dataset.replayState") == "paused"


def test_playback_downloads_what_comes_next_and_keeps_going(live_server: Any, page: Any) -> None:
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    app = mounted(sentiero)
    post_batches(app, "s-play", "w", long_recording(T0, 40))
    server = live_server(app)
    page.goto(server.url + "/sentiero/sessions/s-play/windows/w?t=0")
    wait_for_replay(page)
    frame = page.frame_locator("#sentiero-player iframe")
    # seek into the middle (snapshot at minute 20), then play across into chunks not loaded yet
    page.evaluate("t => window.__sentieroPlayer.player.seek(t, false)", 21 * 60_000 + 10_000)
    frame.locator("#where").filter(has_text="minute 21").wait_for(timeout=15_000)
    page.wait_for_timeout(500)
    # paused, the player keeps 30 s ahead downloaded: minute 22 is not fetched yet
    assert 22 not in page.evaluate("() => window.__sentieroPlayer.loadedChunks")
    page.evaluate("() => { window.__sentieroPlayer.player.setSpeed(16);"
                  " window.__sentieroPlayer.player.play(); }")
    frame.locator("#where").filter(has_text="minute 22").wait_for(timeout=20_000)
    assert page.evaluate("document.body.dataset.replayState") == "playing"
    assert 22 in page.evaluate("() => window.__sentieroPlayer.loadedChunks")


def short_window_in_batches(app: Any, session_id: str) -> int:
    """A 4-minute window in 49 batches: Meta + full snapshot, then one per 5 s."""
    events = [e for batch in long_recording(T0, 4, checkout_every=10) for e in batch]
    batches = [events[:2]] + [[event] for event in events[2:]]
    post_batches(app, session_id, "w", batches)
    return len(batches)


@pytest.mark.parametrize("worker", ["worker", "worker refused", "worker cannot decode"])
def test_short_window_is_read_whole_then_seeks_need_no_request(live_server: Any, page: Any,
                                                               worker: str) -> None:
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    app = mounted(sentiero)
    chunks = short_window_in_batches(app, "s-short")
    server = live_server(app)
    if worker == "worker refused":  # the worker file cannot load: the main thread downloads
        page.route("**/assets/replay.worker-*.js", lambda route: route.abort())
    if worker == "worker cannot decode":  # the worker's zstd bodies are garbage: each page is
        # fetched again by the main thread, as JSON with Content-Encoding
        page.route("**/events?*wire=zstd*", lambda route: route.fulfill(
            status=200, body=b"\x28\xb5\x2f\xfd not zstd",
            headers={"Content-Type": "application/zstd", "X-Decoded-Length": "400"}))
    zstd_bodies: list[str] = []
    page.on("response", lambda r: zstd_bodies.append(r.url) if "/events?" in r.url and r.headers
            .get("content-type") == "application/zstd" and "content-encoding" not in r.headers
            else None)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if "/events?" in r.url else None)
    page.goto(server.url + "/sentiero/sessions/s-short/windows/w?t=0")
    wait_for_replay(page)
    frame = page.frame_locator("#sentiero-player iframe")
    assert frame.locator("#where").inner_text() == "minute 0"
    page.wait_for_function("() => window.__sentieroPlayer.loadingDone", timeout=15_000)
    assert page.evaluate("() => window.__sentieroPlayer.loadedChunks") == list(range(chunks))
    pages = 1 + -(-(chunks - 1) // 16)  # one chunk first, then pages of up to 16 chunks
    # which thread downloaded them: the page's own timeline holds only its own requests
    on_page = page.evaluate("() => performance.getEntriesByType('resource')"
                            ".filter((e) => e.name.includes('/events?')).length")
    if worker == "worker":
        assert len(requested) <= pages, requested
        assert on_page == 1, (on_page, requested)
        # the worker's pages came as stored (zstd, no Content-Encoding) and it decoded them
        assert sorted(zstd_bodies) == sorted(requested[1:]), (zstd_bodies, requested)
        assert len(zstd_bodies) >= 1
    elif worker == "worker refused":
        assert len(requested) <= pages, requested
        assert on_page == len(requested), (on_page, requested)
    else:
        worker_pages = [url for url in requested if "wire=zstd" in url]
        assert worker_pages and len(requested) == 1 + 2 * len(worker_pages), requested
        assert on_page == 1 + len(worker_pages), (on_page, requested)
    read = len(requested)
    end = page.evaluate("() => window.__sentieroPlayer.totalMs")
    page.evaluate("t => window.__sentieroPlayer.player.seek(t, false)", end)
    frame.locator("#where").filter(has_text="minute 3").wait_for(timeout=15_000)
    page.evaluate("() => window.__sentieroPlayer.player.seek(65000, false)")
    frame.locator("#where").filter(has_text="minute 1").wait_for(timeout=15_000)
    assert len(requested) == read, requested[read:]
    assert page.evaluate("document.body.dataset.replayState") == "paused"
