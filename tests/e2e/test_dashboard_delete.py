"""Deleting from the dashboard in Chromium: the signed CSRF token round-trips through a real
browser's cookie jar and form, and a planted cookie does not pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from sentiero.app import Sentiero
from sentiero.stores.base import Batch, SessionQuery
from sentiero.stores.memory import MemoryStore

pytestmark = pytest.mark.e2e
META = [{"type": 4, "timestamp": 1_700_000_000_000,
         "data": {"href": "https://shop.test/", "width": 800, "height": 600}}]


def not_found(environ: Any, start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"nope"]


def test_delete_from_the_replay_page(page: Any, live_server: Any, tmp_path: Path) -> None:
    store = MemoryStore()
    store.save_batch(Batch("s-keep", "w1", META, seq=0))
    store.save_batch(Batch("s-gone", "w1", META, seq=0))
    sentiero = Sentiero(store=store, allow_open_dashboard=True)
    server = live_server(DispatcherMiddleware(not_found, {"/sentiero": sentiero.wsgi_app}))
    base = f"{server.url}/sentiero"

    # a cookie planted for the host (as a sibling subdomain or plain http could) is replaced
    # by the page's own signed token, and the delete goes through
    page.context.add_cookies([{"name": "sentiero_csrf", "value": "attacker",
                               "url": server.url + "/sentiero/"}])
    page.goto(f"{base}/sessions/s-gone/windows/w1")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("text=Delete recording")
    page.wait_for_url(f"{base}/**")
    ids = [s.session_id for s in store.list_sessions(SessionQuery())]
    assert ids == ["s-keep"]

    # a forged form post with the planted value refuses, and changes nothing
    page.context.add_cookies([{"name": "sentiero_csrf", "value": "attacker",
                               "url": server.url + "/sentiero/"}])
    answer = page.request.post(f"{base}/sessions/s-keep/delete",
                               form={"csrf_token": "attacker"})
    assert answer.status == 403
    assert [s.session_id for s in store.list_sessions(SessionQuery())] == ["s-keep"]
