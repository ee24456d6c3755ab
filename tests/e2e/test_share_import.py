"""Shareable replays and import in real Chromium: the downloaded HTML file replays from
file:// with the network off, and the import page replays a file without asking the server."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from sentiero.app import Sentiero
from sentiero.stores.base import SessionQuery
from sentiero.stores.memory import MemoryStore
from tests.e2e.replay_support import fixture, mounted, post_events, wait_for_replay

pytestmark = pytest.mark.e2e


def shared_app() -> tuple[Sentiero, Any]:
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True, shareable_replays=True)
    app = mounted(sentiero)
    todo = fixture("todo-a")["windows"][0]
    post_events(app, "s-share", "w-todo", todo["events"])
    landing = fixture("landing-a")["windows"][0]
    post_events(app, "s-share", "w-landing", landing["events"])
    return sentiero, app


def test_share_file_replays_offline_from_file_url(tmp_path: Path, browser: Any) -> None:
    _, app = shared_app()
    response = Client(app).get("/sentiero/analytics/share/s-share")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="session-s-share.html"'
    html = response.get_data(as_text=True)
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"',
                             html).group(1))
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    path = tmp_path / "session-s-share.html"
    path.write_text(html, encoding="utf-8")

    context = browser.new_context(viewport={"width": 1280, "height": 800}, offline=True)
    requests: list[str] = []
    violations: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    try:
        page.goto(path.as_uri())
        wait_for_replay(page)
        frame = page.frame_locator("#sentiero-player iframe")
        frame.locator("body").wait_for(state="attached")
        assert page.locator(".activity__item").count() > 0
        assert page.locator(".timeline__marker, .timeline__group").count() > 0
        # every tab of the session is in the file; switching replays the other one
        tabs = page.locator("#share-tabs .tab")
        assert tabs.count() == 2
        first_text = page.locator("[data-testid=current-url]").inner_text()
        tabs.nth(1).click()
        page.wait_for_function(
            "t => document.querySelector('[data-testid=current-url]').textContent !== t",
            arg=first_text, timeout=10_000)
        wait_for_replay(page)
        assert all(url.startswith(("file:", "data:", "about:", "blob:")) for url in requests), \
            requests
        assert violations == [], violations
    finally:
        context.close()


def test_share_and_import_are_off_by_default() -> None:
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    client = Client(mounted(sentiero))
    assert client.get("/sentiero/analytics/share/s1").status_code == 404
    assert client.get("/sentiero/analytics/import").status_code == 404


def test_import_replays_a_file_without_asking_the_server(tmp_path: Path, live_server: Any,
                                                        page: Any) -> None:
    sentiero, app = shared_app()
    server = live_server(app)
    page.goto(server.url + "/sentiero/analytics/import")
    page.wait_for_selector("#import-form")
    page.wait_for_load_state("networkidle")
    after_load: list[str] = []
    page.on("request", lambda r: after_load.append(r.url))

    page.locator("#import-text").fill("[1, 2")
    page.get_by_role("button", name="Replay").click()
    assert page.locator("#import-status").inner_text() == "That is not valid JSON."
    page.locator("#import-text").fill('[{"type": 4, "timestamp": 1}]')
    page.get_by_role("button", name="Replay").click()
    assert "fewer than 2 events" in page.locator("#import-status").inner_text()

    events = fixture("todo-a")["windows"][0]["events"]
    file = tmp_path / "recording.json"
    file.write_text(json.dumps(events))
    page.locator("#import-text").fill("")
    page.locator("#import-file").set_input_files(str(file))
    page.wait_for_selector("#sentiero-player iframe", timeout=15_000)
    assert page.locator("#import-status").inner_text().startswith(f"Replaying {len(events)} events")
    page.wait_for_selector(".activity__item")
    assert page.locator(".activity__item[data-kind='click']").count() > 0
    page.wait_for_timeout(500)
    server_requests = [u for u in after_load if u.startswith(server.url)]
    assert server_requests == [], server_requests
    assert len(sentiero.store.list_sessions(SessionQuery(limit=10))) == 1  # nothing stored
