"""Analytics in real Chromium: a visit recorded by our recorder shows up in the overview with
its charts; segment filters combine; a number's link lands on the sessions it counts; an
export downloads a file a spreadsheet opens."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from sentiero.analytics.query import Scope
from sentiero.app import Sentiero
from sentiero.stores.sql import SQLStore
from tests.analytics.dataset import fill
from tests.e2e.site import make_site
from tests.e2e.test_record_replay import wait_for

pytestmark = pytest.mark.e2e


def test_a_recorded_visit_reaches_the_analytics_pages(tmp_path: Path, live_server: Any,
                                                      page: Any) -> None:
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path / 'a.db'}"),
                        allow_open_dashboard=True, flush_interval_ms=500, capture_clicks=True,
                        capture_metadata=True, capture_errors=True)
    server = live_server(make_site(sentiero))
    page.goto(server.url + "/")
    page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")
    page.locator("#go").click()
    for _ in range(3):  # three quick clicks on the heading: a rage click, dead (no response)
        page.locator("h1").click(delay=10)
    page.wait_for_timeout(800)
    page.evaluate("() => window.Sentiero.addCustomEvent('checkout_started', {items: 2})")
    page.mouse.wheel(0, 1500)
    page.wait_for_timeout(600)
    page.goto(server.url + "/page")  # a second page: the first is left, not an exit
    page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")
    page.wait_for_timeout(800)
    store = sentiero.store
    wait_for(lambda: list(store.scope_facts(Scope(), ("custom",))))
    wait_for(lambda: list(store.scope_facts(Scope(), ("page_view",)))[1:])

    page.goto(server.url + "/sentiero/analytics")
    assert page.locator(".kpi-value").first.inner_text() == "1"
    assert page.locator("svg.chart-columns").count() == 2
    assert "checkout_started" in page.locator("text=Custom events >> ..").inner_text()

    page.goto(server.url + "/sentiero/analytics/pages")
    row = page.locator("tr", has=page.locator(f"a[title='{server.url}/']"))
    cells = row.locator("td").all_inner_texts()
    assert cells[1:5] == ["1", "1", "1", "0"]  # views, sessions, entries, exits
    assert int(cells[7]) == 1  # the rage click on the heading

    page.goto(server.url + "/sentiero/analytics/page?url=" + server.url + "/")
    assert "h1" in page.locator("section", has_text="Top elements").inner_text()


def test_filters_combine_links_land_and_export_downloads(tmp_path: Path, live_server: Any,
                                                         browser: Any) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'b.db'}")
    store.setup()
    fill(store)
    sentiero = Sentiero(store=store, allow_open_dashboard=True)
    server = live_server(make_site(sentiero))
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height},
                                      accept_downloads=True)
        page = context.new_page()
        page.goto(server.url + "/sentiero/analytics")
        page.locator(".bars a", has_text="Safari").first.click()
        assert "browser=Safari" in page.url
        assert page.locator("a.session-id").all_inner_texts() == ["sess-sig"]

        page.goto(server.url + "/sentiero/analytics/segments")
        page.select_option("#s-browser", "Chrome")
        page.check("input[name=has_errors]")
        page.click("button:has-text('Apply')")
        assert page.locator("a.session-id").all_inner_texts() == ["sess-fru"]
        page.fill("#s-url", "*dashboard*")
        page.click("button:has-text('Apply')")
        assert page.locator("a.session-id").count() == 0
        assert "No sessions match" in page.inner_text("main")

        page.goto(server.url + "/sentiero/analytics/export")
        with page.expect_download() as info:
            page.locator("form[action$='/sessions.csv'] button").click()
        download = info.value
        assert download.suggested_filename == "sessions.csv"
        rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
        assert rows[0][:3] == ["session_id", "created_at", "first_event_at"]
        assert len(rows) == 7
        context.close()
