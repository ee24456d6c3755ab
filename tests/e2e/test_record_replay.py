"""The spine, end to end in real Chromium: record a visit, store it, replay it in the dashboard."""

from __future__ import annotations

import gzip
import io
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.app import Sentiero
from sentiero.stores.base import SessionQuery, WindowRef
from sentiero.stores.sql import SQLStore
from tests.e2e.site import make_site

pytestmark = pytest.mark.e2e

TYPED_NAME = "Zanzibar-canary-4417"
TYPED_PASSWORD = "hunter2-canary-9931"


def wait_for(condition: Any, timeout: float = 20.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def all_events(store: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for summary in store.list_sessions(SessionQuery(limit=100)):
        for window in summary.windows:
            events.extend(store.get_events(WindowRef(summary.session_id, window.window_id)))
    return events


def has_click(events: list[dict[str, Any]]) -> bool:
    return any(
        e.get("type") == 3 and e["data"].get("source") == 2 and e["data"].get("type") == 2
        for e in events
    )


def test_recorded_visit_replays_in_dashboard_and_typed_values_are_not_stored(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    db = tmp_path / "e2e.db"
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{db}"), allow_open_dashboard=True,
                        flush_interval_ms=1000)
    server = live_server(make_site(sentiero))

    page.goto(server.url + "/")
    page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")
    page.locator("#name").press_sequentially(TYPED_NAME, delay=20)
    page.locator("#password").press_sequentially(TYPED_PASSWORD, delay=20)
    assert page.locator("#password").input_value() == TYPED_PASSWORD  # really typed
    page.locator("#go").click()
    page.mouse.wheel(0, 2500)
    page.wait_for_timeout(300)

    wait_for(lambda: has_click(all_events(sentiero.store)))
    events = all_events(sentiero.store)
    assert any(e["type"] == 2 for e in events), "a full snapshot was stored"
    inputs = [e for e in events if e["type"] == 3 and e["data"].get("source") == 5]
    assert inputs, "input events were recorded (masked)"
    assert any(e["type"] == 3 and e["data"].get("source") == 3 for e in events), "scroll recorded"

    # Nothing typed reaches storage: not in the events, not in any byte of the database files.
    stored_json = orjson.dumps(events).decode()
    for secret in (TYPED_NAME, TYPED_PASSWORD):
        assert secret not in stored_json
        for path in tmp_path.glob("e2e.db*"):
            assert secret.encode() not in path.read_bytes()
    summary = sentiero.store.list_sessions(SessionQuery(limit=10))[0]
    assert TYPED_NAME not in orjson.dumps(summary.metadata).decode()

    # The dashboard lists the session and its replay shows the recorded page.
    page.goto(server.url + "/sentiero/")
    link = page.locator(f"a[href*='{summary.session_id}']").first
    link.click()
    page.wait_for_selector("#sentiero-player iframe", timeout=15_000)
    frame = page.frame_locator("#sentiero-player iframe")
    frame.locator("#intro").wait_for(state="attached", timeout=15_000)
    assert "purple umbrellas" in frame.locator("#intro").inner_text()
    state = page.evaluate("document.body.dataset.replayState")
    assert state in ("playing", "paused")


class FlakyEvents:
    """Wraps the app: the first ``failures`` event POSTs answer 503; records what got through."""

    def __init__(self, app: Any, failures: int) -> None:
        self.app = app
        self.failures = failures
        self.attempts: list[tuple[float, int | None, int]] = []  # (time, seq, status)
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].endswith("/events") and environ["REQUEST_METHOD"] == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            raw = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            seq = orjson.loads(raw).get("seq")
            environ["wsgi.input"] = io.BytesIO(body)
            with self.lock:
                failing = self.failures > 0
                self.failures -= 1 if failing else 0
            if failing:
                self.attempts.append((time.monotonic(), seq, 503))
                start_response("503 Service Unavailable", [("Content-Type", "application/json"),
                                                           ("Retry-After", "1")])
                return [b'{"error":"try later"}']
            status_holder: list[str] = []

            def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
                status_holder.append(status)
                return start_response(status, headers, exc_info)

            result = list(self.app(environ, capture))
            self.attempts.append((time.monotonic(), seq, int(status_holder[0][:3])))
            return result
        return self.app(environ, start_response)


def test_recorder_backs_off_and_delivers_every_batch_once_in_order(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path / 'retry.db'}"),
                        allow_open_dashboard=True, flush_interval_ms=500,
                        flush_event_threshold=5)
    flaky = FlakyEvents(make_site(sentiero), failures=3)
    server = live_server(flaky)

    page.goto(server.url + "/")
    page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")
    for i in range(6):
        page.locator("#go").click()
        page.mouse.move(100 + i * 40, 200 + i * 10)
        page.wait_for_timeout(150)

    # three failures back off 1 s, 2 s, 4 s; then everything queued drains in order
    wait_for(lambda: len([a for a in flaky.attempts if a[2] == 200]) >= 3, timeout=30)
    page.wait_for_timeout(1500)
    failed = [a for a in flaky.attempts if a[2] == 503]
    accepted = [a[1] for a in flaky.attempts if a[2] == 200]
    assert len(failed) == 3
    assert failed[0][1] == failed[1][1] == failed[2][1] == 0, "the same first batch is retried"
    times = [attempt[0] for attempt in flaky.attempts[:4]]
    gaps = [times[1] - times[0], times[2] - times[1], times[3] - times[2]]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.8 and gaps[2] >= 3.6, f"backoff doubles: {gaps}"
    assert accepted == list(range(len(accepted))), f"every batch once, in order: {accepted}"

    summary = sentiero.store.list_sessions(SessionQuery(limit=10))[0]
    ref = WindowRef(summary.session_id, summary.windows[0].window_id)
    assert len(sentiero.store.chunk_index(ref)) == len(accepted)
    events = sentiero.store.get_events(ref)
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert len(events) == summary.event_count


def test_global_privacy_control_means_no_request_at_all(
    tmp_path: Path, live_server: Any, browser: Any
) -> None:
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path / 'gpc.db'}"),
                        allow_open_dashboard=True, flush_interval_ms=300)
    server = live_server(make_site(sentiero))
    context = browser.new_context()
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    page = context.new_page()
    requests: list[str] = []
    scripts: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/events" in r.url else None)
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    page.goto(server.url + "/")
    page.locator("#name").press_sequentially("anything", delay=10)
    page.locator("#go").click()
    page.wait_for_timeout(2500)  # past the loader's idle timeout
    page.goto("about:blank")  # page hide would beacon if recording
    page.wait_for_timeout(300)
    context.close()
    assert requests == []
    # Only the small loader: the recorder itself is never fetched for this visitor.
    loader = sentiero.assets.url("recorder", sentiero.base_url())
    assert [s.removeprefix(server.url) for s in scripts] == [loader]
    assert sentiero.store.list_sessions(SessionQuery(limit=10)) == []
