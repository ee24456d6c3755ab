"""The maintenance page in real Chromium: a purge needs the confirmation box, then says what
it did."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sentiero.app import Sentiero
from sentiero.stores.base import Batch, SessionQuery
from sentiero.stores.memory import MemoryStore
from tests.e2e.replay_support import mounted

pytestmark = pytest.mark.e2e


def test_purge_before_a_date_with_and_without_confirmation(live_server: Any, page: Any) -> None:
    store = MemoryStore()
    now = datetime.now(timezone.utc)
    for sid, age in (("old-1", 50), ("old-2", 60), ("fresh", 0)):
        store.save_batch(Batch(sid, "w", [{"type": 4, "timestamp": 1000, "data": {}},
                                          {"type": 3, "timestamp": 2000, "data": {}}],
                               received_at=now - timedelta(days=age)))
    sentiero = Sentiero(store=store, allow_open_dashboard=True)
    server = live_server(mounted(sentiero))
    page.goto(server.url + "/sentiero/maintenance")
    day = (now - timedelta(days=10)).date().isoformat()
    page.locator("#purge-date").fill(day)

    # without the box ticked the browser does not send the form ...
    page.get_by_role("button", name="Purge").click()
    assert page.url.endswith("/sentiero/maintenance")
    # ... and if the required flag is removed, the server refuses and says why
    page.evaluate("document.querySelector('input[name=confirm]').required = false")
    page.get_by_role("button", name="Purge").click()
    page.wait_for_url("**/maintenance?error=confirm")
    assert "Tick the confirmation checkbox" in page.get_by_role("alert").inner_text()
    assert len(store.list_sessions(SessionQuery(limit=10))) == 3

    page.locator("#purge-date").fill(day)
    page.get_by_label("I understand these recordings are deleted for good").check()
    page.get_by_role("button", name="Purge").click()
    page.wait_for_url("**/maintenance?purged=2")
    assert page.get_by_role("status").inner_text() == "Purged 2 sessions."
    assert [s.session_id for s in store.list_sessions(SessionQuery(limit=10))] == ["fresh"]
