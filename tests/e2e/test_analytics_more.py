"""Analytics part 2 in real Chromium: the heatmap draws over the recorded page (its text under
the dots), a hot spot lists its clicks and opens a replay at one of them, a four-step funnel
shows its counts, and a frustration incident opens its replay at the incident."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sentiero.app import Sentiero
from sentiero.stores.memory import MemoryStore
from tests.analytics.dataset import fill
from tests.analytics.test_funnel_conversions import fill_shop
from tests.e2e.site import make_site

pytestmark = pytest.mark.e2e
HOST = "http://127.0.0.1:39711"


@pytest.fixture
def site(live_server: Any) -> tuple[str, MemoryStore]:
    store = MemoryStore()
    fill(store)
    fill_shop(store)
    server = live_server(make_site(Sentiero(store=store, allow_open_dashboard=True)))
    return server.url + "/sentiero", store


def _replay_offset(page: Any) -> float:
    seek = page.locator(".sentiero-player__seek")
    seek.wait_for(state="attached", timeout=15_000)
    page.wait_for_function(
        "() => { const s = document.querySelector('.sentiero-player__seek');"
        " return s && Number(s.max) > 0 && Number(s.value) > 0; }", timeout=15_000)
    return float(seek.input_value())


def _first_ms(store: MemoryStore, session_id: str, window_id: str) -> int:
    summary = store.get_session(session_id)
    assert summary is not None
    return next(w.first_ms for w in summary.windows if w.window_id == window_id)


def test_heatmap_over_the_recorded_page_and_a_hot_spot_opens_a_replay(
        site: tuple[str, MemoryStore], browser: Any) -> None:
    base, store = site
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{base}/analytics/heatmap?url={HOST}/frustration.html&since=2020-01-01")
        page.wait_for_selector("#sentiero-heatmap[data-ready=true]", timeout=15_000)
        frame = page.frame_locator(".heatmap-page iframe")
        assert "Checkout" in frame.locator("body").inner_text()  # the page under the dots
        assert "Pay now" in frame.locator("body").inner_text()
        assert page.locator("circle.heatmap-spot").count() == 5
        assert page.locator("circle.heatmap-spot[data-count='6']").count() == 1
        # the dot sits over the button that was clicked six times
        dot = page.locator("circle.heatmap-spot[data-count='6']").bounding_box()
        button = frame.locator("button", has_text="Pay now").bounding_box()
        assert dot is not None and button is not None
        centre = (dot["x"] + dot["width"] / 2, dot["y"] + dot["height"] / 2)
        assert button["x"] <= centre[0] <= button["x"] + button["width"], (centre, button)
        assert button["y"] <= centre[1] <= button["y"] + button["height"], (centre, button)
        page.locator("circle.heatmap-spot[data-count='6']").click()
        page.wait_for_url(re.compile(r".*spot=15-8.*"))
        assert page.locator(".heatmap-spot-list li").count() == 6
        link = page.locator(".heatmap-spot-list a", has_text="Replay this click").first
        href = link.get_attribute("href") or ""
        ts = int(re.search(r"[?&]t=(\d+)", href).group(1))  # type: ignore[union-attr]
        clicks = {f.ts_ms for f in store.iter_facts(kind="click")}
        assert ts in clicks
        link.click()
        window_id = re.search(r"/windows/([^/?]+)", page.url).group(1)  # type: ignore[union-attr]
        offset = _replay_offset(page)
        expected = ts - _first_ms(store, "sess-frustration-a", window_id)
        assert abs(offset - expected) < 600, (offset, expected)
        context.close()


def test_a_four_step_funnel_shows_its_counts(site: tuple[str, MemoryStore], page: Any) -> None:
    base, _ = site
    page.goto(f"{base}/analytics/funnel?since=2020-01-01")
    page.select_option("#f-type1", "url")
    page.fill("#f-step1", "/cart")
    page.fill("#f-step2", "checkout")
    page.fill("#f-step3", "pay")
    page.click("button:has-text('Show funnel')")
    page.fill("#f-step4", "done")  # the page offers one more row after three steps
    page.click("button:has-text('Show funnel')")
    assert page.locator(".funnel-sessions").all_inner_texts() == ["6", "4", "3", "2"]
    page.fill("#f-within", "30")
    page.click("button:has-text('Show funnel')")
    assert page.locator(".funnel-sessions").all_inner_texts() == ["6", "4", "3", "1"]


def test_a_frustration_incident_opens_its_replay_at_the_incident(
        site: tuple[str, MemoryStore], page: Any) -> None:
    base, store = site
    page.goto(f"{base}/analytics/frustration?since=2020-01-01")
    rage = page.locator("li.incident-rage").first
    assert "4 clicks within 10 px" in rage.inner_text()
    rage.locator("a", has_text="Replay at this moment").click()
    (fact,) = list(store.iter_facts(kind="rage_click"))
    assert f"t={fact.ts_ms}" in page.url
    offset = _replay_offset(page)
    expected = fact.ts_ms - _first_ms(store, fact.session_id, fact.window_id)
    assert abs(offset - expected) < 600, (offset, expected)


def test_the_replay_of_an_incident_shows_why_it_counted(
        site: tuple[str, MemoryStore], browser: Any) -> None:
    """The rage incident's replay lists the cluster's clicks (the fixture's four on "Pay now")
    and marks them on the page; a dead click's says nothing answered it in time."""
    base, store = site
    (rage,) = list(store.iter_facts(kind="rage_click"))
    cluster = sorted((f for f in store.iter_facts(kind="click")
                      if f.window_id == rage.window_id and f.ts_ms >= rage.ts_ms),
                     key=lambda f: f.ts_ms)[:4]
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{base}/analytics/frustration?since=2020-01-01")
        page.locator("li.incident-rage a", has_text="Replay at this moment").first.click()
        assert "incident=rage" in page.url
        panel = page.locator("[data-testid=incident-panel]")
        assert "Why this counted as a rage click" in panel.inner_text()
        items = panel.locator(".incident-clicks li")
        assert items.count() == 4
        first_ms = _first_ms(store, rage.session_id, rage.window_id)
        for item, click in zip(items.all(), cluster, strict=True):
            text = item.inner_text()
            assert f"at {int(click.data['x'])}, {int(click.data['y'])}" in text
        assert f"+{cluster[1].ts_ms - cluster[0].ts_ms} ms" in items.nth(1).inner_text()
        offset = _replay_offset(page)
        assert abs(offset - (rage.ts_ms - first_ms)) < 600
        overlay = page.locator("[data-testid=incident-overlay]")
        overlay.wait_for(state="attached", timeout=15_000)
        assert overlay.locator(".incident-overlay__dot").count() == 4
        assert "4 clicks" in overlay.inner_text()
        # the marks sit over the button that was clicked
        frame = page.frame_locator(".sentiero-player iframe, #sentiero-player iframe").first
        button = frame.locator("button", has_text="Pay now").bounding_box()
        dot = overlay.locator(".incident-overlay__dot").first.bounding_box()
        assert button is not None and dot is not None
        cx, cy = dot["x"] + dot["width"] / 2, dot["y"] + dot["height"] / 2
        assert button["x"] - 4 <= cx <= button["x"] + button["width"] + 4, (dot, button)
        assert button["y"] - 4 <= cy <= button["y"] + button["height"] + 4, (dot, button)
        page.screenshot(path=f"/tmp/incident-rage-{width}.png", full_page=True)

        page.goto(f"{base}/analytics/frustration?since=2020-01-01")
        page.locator("li.incident-dead a", has_text="Replay at this moment").first.click()
        assert "incident=dead" in page.url
        panel = page.locator("[data-testid=incident-panel]")
        assert "Why this counted as a dead click" in panel.inner_text()
        assert "No page change, DOM change or input within 500 ms" in panel.inner_text()
        response = panel.locator("[data-testid=incident-response]").inner_text()
        assert "too late" in response or "nothing answered it" in response
        page.locator("[data-testid=incident-overlay] .incident-overlay__dot").wait_for(
            timeout=15_000)
        page.screenshot(path=f"/tmp/incident-dead-{width}.png", full_page=True)
        context.close()


def test_the_mouse_move_map_draws_over_the_recorded_page(
        site: tuple[str, MemoryStore], browser: Any) -> None:
    base, _ = site
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{base}/analytics/heatmap?url={HOST}/frustration.html&since=2020-01-01")
        page.locator(".heatmap-modes a", has_text="Mouse moves").click()
        assert "mode=moves" in page.url
        page.wait_for_selector("#sentiero-heatmap[data-ready=true]", timeout=15_000)
        frame = page.frame_locator(".heatmap-page iframe")
        assert "Checkout" in frame.locator("body").inner_text()  # the page under the cells
        cells = page.locator(".heatmap-cell circle.heatmap-spot")
        assert cells.count() > 0
        assert page.locator("a.heatmap-spot-link").count() == 0  # nothing to list
        page.screenshot(path=f"/tmp/moves-{width}.png", full_page=True)
        context.close()


@pytest.mark.parametrize("path", [
    "/issues?source=client&since=2020-01-01",
    "/analytics/frustration?since=2020-01-01",
    "/analytics/scroll?since=2020-01-01",
])
def test_analytics_pages_fit_a_phone(site: tuple[str, MemoryStore], browser: Any,
                                     path: str) -> None:
    """At 390 px the page scrolls down, not sideways: wide tables become a card per row and
    long URLs in headings are cut (the client errors table was 754 px wide)."""
    base, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(base + path)
    assert page.locator("main, .container").first.inner_text()  # the page rendered
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path} is {width} px wide on a 390 px screen"
    context.close()
