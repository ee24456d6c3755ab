"""Attacker-controlled recordings in real Chromium: script-injection payloads in metadata,
URLs, custom-event tags and payloads, error messages and stacks, and the recorded DOM are
listed, replayed, shared and imported with no script of theirs running anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from sentiero.app import Sentiero
from sentiero.stores.memory import MemoryStore
from tests.e2e.replay_support import mounted, post_events, wait_for_replay

pytestmark = pytest.mark.e2e

P = ("<img src=x onerror=\"window.__pwned=1;alert(1)\">\"'><script>window.__pwned=1;"
     "alert(1)</script><svg onload=alert(1)>")
T0 = 1_760_000_000_000


def hostile_events() -> list[dict[str, Any]]:
    def el(node_id: int, tag: str, attrs: dict[str, str], children: list[Any]) -> dict[str, Any]:
        return {"type": 2, "id": node_id, "tagName": tag, "attributes": attrs,
                "childNodes": children}

    def text(node_id: int, value: str) -> dict[str, Any]:
        return {"type": 3, "id": node_id, "textContent": value}

    body = el(3, "body", {"onload": "window.__pwned=1"}, [
        el(4, "script", {}, [text(5, "window.__pwned=1;alert(1)")]),
        el(6, "img", {"src": "x", "onerror": "window.__pwned=1;alert(1)"}, []),
        el(7, "a", {"href": "javascript:window.__pwned=1", "id": "link"}, [text(8, P)]),
        el(9, "div", {"onmouseover": "window.__pwned=1", "id": "box"}, [text(10, P)]),
        el(11, "input", {"name": P, "aria-label": P}, []),
    ])
    snapshot = {"type": 0, "id": 1, "childNodes": [el(2, "html", {}, [body])]}
    custom = [
        {"type": 5, "timestamp": T0 + 1000, "data": {"tag": P, "payload": {P: P, "n": 1}}},
        {"type": 5, "timestamp": T0 + 1500, "data": {"tag": "error", "payload": {
            "message": P, "source": "javascript:" + P, "lineno": 1, "colno": 2, "stack": P}}},
        {"type": 5, "timestamp": T0 + 2000, "data": {"tag": "navigation", "payload": {
            "url": "javascript:alert(1)", "text": P}}},
        {"type": 5, "timestamp": T0 + 2500, "data": {"tag": "__perf", "payload": {
            "metric": "LCP", "value": 1200, "rating": P}}},
    ]
    clicks = [{"type": 3, "timestamp": T0 + 3000 + i * 100, "data": {
        "source": 2, "type": 2, "id": 9, "x": 20, "y": 30}} for i in range(4)]
    inputs = [{"type": 3, "timestamp": T0 + 4000, "data": {"source": 5, "id": 11,
                                                          "text": "***", "isChecked": False}}]
    return [
        {"type": 4, "timestamp": T0, "data": {"href": "https://evil.test/" + P, "width": 800,
                                               "height": 600}},
        {"type": 2, "timestamp": T0, "data": {"node": snapshot,
                                               "initialOffset": {"left": 0, "top": 0}}},
        *custom, *clicks, *inputs,
        {"type": 4, "timestamp": T0 + 6000, "data": {"href": "javascript:alert(1)//" + P,
                                                      "width": 800, "height": 600}},
        {"type": 3, "timestamp": T0 + 7000, "data": {"source": 1, "positions": []}},
    ]


class Watch:
    """Dialogs and CSP violations of our own scripts on a page."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.script_violations: list[str] = []
        page.on("dialog", self.on_dialog)
        page.on("console", self.on_console)

    def on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text and "script" in text:
            self.script_violations.append(text)


def assert_clean(page: Any, watch: Watch) -> None:
    page.wait_for_timeout(500)
    for frame in page.frames:
        try:
            value = frame.evaluate("() => window.__pwned")
        except Exception:  # a frame that went away meanwhile
            continue
        assert value is None, f"script ran in {frame.url}"
    assert watch.dialogs == []
    assert watch.script_violations == [], watch.script_violations


def exercise_replay(page: Any) -> None:
    wait_for_replay(page)
    page.wait_for_selector(".activity__item")
    page.wait_for_timeout(600)
    for details in page.locator(".activity__details").all():
        details.locator("summary").click()
    for marker in page.locator(".timeline__marker").all()[:10]:
        marker.hover()
    groups = page.locator(".timeline__group")
    if groups.count():
        groups.first.click()
        page.keyboard.press("Escape")
    page.locator("#replay-clicks").click()
    page.evaluate("() => window.__sentieroPlayer.player.play()")
    page.wait_for_timeout(1500)


def test_hostile_recording_never_runs_a_script(tmp_path: Path, live_server: Any,
                                               browser: Any) -> None:
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True, shareable_replays=True)
    app = mounted(sentiero)
    post_events(app, "s-xss", "w-xss", hostile_events(), per_batch=5,
                metadata={"url": "https://evil.test/" + P, "plan": P, "referrer": P})
    post_events(app, "s-xss", "w-other", hostile_events()[:3])
    server = live_server(app)
    base = server.url + "/sentiero"
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        watch = Watch(page)
        page.goto(base + "/")
        assert page.locator("a[href*='s-xss']").count() >= 1
        assert_clean(page, watch)

        page.goto(base + "/sessions/s-xss/windows/w-xss")
        exercise_replay(page)
        labels = page.locator(".activity__list").inner_text()
        assert "<script>" in labels, "recorded strings are shown as text"
        assert_clean(page, watch)

        share = Client(app).get("/sentiero/analytics/share/s-xss")
        assert share.status_code == 200
        path = tmp_path / "shared.html"
        path.write_bytes(share.data)
        page.goto(path.as_uri())
        exercise_replay(page)
        assert_clean(page, watch)

        array = Client(app).get("/sentiero/sessions/s-xss/windows/w-xss/events.json").data
        page.goto(base + "/analytics/import")
        page.locator("#import-text").fill(json.dumps(json.loads(array)))
        page.get_by_role("button", name="Replay").click()
        exercise_replay(page)
        assert_clean(page, watch)
    finally:
        context.close()
