"""End to end in Chromium: a real Flask app (examples/flask_errors_app.py) reports a server
exception through sentry-sdk to Sentiero; the problem is listed, and its replay link opens the
replay paused at the failing request's moment."""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from werkzeug.serving import make_server

from sentiero.stores.base import WindowRef
from sentiero.stores.sql import SQLStore
from sentiero.tracking import keys
from sentiero.tracking.models import ProblemQuery

pytestmark = pytest.mark.e2e
STAFF = "staff-e2e-token"


def wait_for(condition: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout} s")


def test_flask_error_links_to_the_replay_moment(tmp_path: Path, browser: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("flask")
    url = f"sqlite:///{tmp_path / 'errors.db'}"
    setup = SQLStore(url)
    key, _ = keys.create_key(setup, "shop")
    setup.close()
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("SENTIERO_STORE_URL", url)
    monkeypatch.setenv("SENTIERO_DSN", f"http://{key}@127.0.0.1:{server.server_port}/sentiero/1")
    monkeypatch.setenv("STAFF_TOKEN", STAFF)
    monkeypatch.setenv("SENTIERO_FLUSH_INTERVAL_MS", "500")
    previous = sentry_sdk.get_client()
    context = None
    try:
        example = importlib.reload(importlib.import_module("examples.flask_errors_app"))
        holder["app"] = example.app
        store = example.sentiero.store
        context = browser.new_context(viewport={"width": 1280, "height": 800},
                                      extra_http_headers={"X-Staff-Token": STAFF})
        page = context.new_page()
        page.goto(base + "/")
        page.wait_for_function("() => window.Sentiero !== undefined")
        page.wait_for_timeout(1500)  # some recording before the failure
        page.locator("#order").click()
        page.get_by_text("Something went wrong (500)").wait_for()
        page.mouse.move(400, 300)
        page.wait_for_timeout(1200)  # let the recorder flush what followed

        sentry_sdk.flush(5)
        problem = wait_for(lambda: (store.list_problems(ProblemQuery()) or [None])[0])
        assert problem.exception_class == "CardDeclined" and problem.project == "shop"
        [occ] = store.list_occurrences(problem_id=problem.id)
        assert occ.session_id and occ.window_id and occ.path == "/checkout"
        ref = WindowRef(occ.session_id, occ.window_id)
        wait_for(lambda: (store.chunk_index(ref) or [None])[-1]
                 and max(c.last_ms for c in store.chunk_index(ref)) > occ.replay_ms + 300)
        first_ms = min(c.first_ms for c in store.chunk_index(ref))
        expected = occ.replay_ms - first_ms
        assert expected > 1000  # the failure came well after the start

        page.goto(base + "/sentiero/issues")
        page.get_by_role("link", name="CardDeclined").click()
        page.get_by_role("heading", name="Sessions where it happened").wait_for()
        assert page.locator(".badge-status-open").first.inner_text() == "open"
        page.get_by_role("link", name="Watch replay").click()
        assert f"t={occ.replay_ms}" in page.url
        seek = page.locator(".sentiero-player__seek")
        seek.wait_for(state="visible", timeout=15_000)
        wait_for(lambda: float(seek.input_value() or 0) > 0, timeout=15)
        assert abs(float(seek.input_value()) - expected) < 500
        assert page.locator(".sentiero-player__play").inner_text() == "Play"  # paused there

        sessions = page.goto(base + "/sentiero/?has_errors=true")
        assert sessions.status == 200
        assert page.locator(".badge-error").count() == 1
    finally:
        if context is not None:
            context.close()
        server.shutdown()
        server.server_close()
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(previous)
