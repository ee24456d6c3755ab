"""The maintenance page: purge before a date (with confirmation) and the retention purge,
both CSRF-protected, audited, and answered with a flash message."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sentiero.privacy.audit import AuditRecord
from sentiero.stores.memory import MemoryStore
from tests.web.support import csrf_from, save, stored_sessions

NOW = datetime.now(timezone.utc)


def events(start: int = 1000) -> list[dict[str, Any]]:
    return [{"type": 4, "timestamp": start, "data": {"href": "https://a.test/", "width": 1,
                                                       "height": 1}},
            {"type": 3, "timestamp": start + 10, "data": {"source": 1}}]


@pytest.fixture
def records() -> list[AuditRecord]:
    return []


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save(store, "old", "w", events(), received_at=NOW - timedelta(days=40))
    save(store, "older", "w", events(), received_at=NOW - timedelta(days=400))
    save(store, "new", "w", events(), received_at=NOW)
    return store


def client_with(make_app: Any, client_for: Any, store: MemoryStore,
                records: list[AuditRecord], **options: Any) -> Any:
    return client_for(make_app(store, allow_open_dashboard=True, audit=records.append,
                               **options))


def test_page_shows_both_actions_and_flash_messages(make_app, client_for, store, records):
    client = client_with(make_app, client_for, store, records, retention_period_s=86400 * 30)
    body = client.get("/maintenance").get_data(as_text=True)
    assert "Purge recordings before a date" in body and 'name="confirm"' in body
    assert "30.0 days" in body and "Run retention purge now" in body
    assert "Purged 3 sessions." in client.get("/maintenance?purged=3").get_data(as_text=True)
    flash = client.get("/maintenance?error=confirm").get_data(as_text=True)
    assert "Tick the confirmation checkbox to purge." in flash
    # only known messages: a crafted error text is not echoed
    assert "pwned" not in client.get("/maintenance?error=pwned").get_data(as_text=True)
    no_retention = client_with(make_app, client_for, MemoryStore(), records)
    assert "kept until they are deleted" in no_retention.get("/maintenance").get_data(
        as_text=True)


def test_purge_before_a_date_needs_confirmation(make_app, client_for, store, records):
    client = client_with(make_app, client_for, store, records)
    token = csrf_from(client, "/maintenance")
    day = (NOW - timedelta(days=30)).date().isoformat()
    refused = client.post("/maintenance/purge-before", data={"csrf_token": token, "date": day})
    assert refused.status_code == 302
    assert refused.headers["Location"].endswith("/sentiero/maintenance?error=confirm")
    assert len(stored_sessions(store)) == 3
    bad = client.post("/maintenance/purge-before", data={"csrf_token": token, "date": "2024-13-40",
                                                         "confirm": "1"})
    assert bad.headers["Location"].endswith("?error=date")
    done = client.post("/maintenance/purge-before",
                       data={"csrf_token": token, "date": day, "confirm": "1"})
    assert done.headers["Location"].endswith("/sentiero/maintenance?purged=2")
    assert [s.session_id for s in stored_sessions(store)] == ["new"]
    erase = [r for r in records if r.action == "erase"]
    assert len(erase) == 1 and sorted(erase[0].session_ids) == ["old", "older"]
    assert erase[0].dataset == day


def test_retention_purge(make_app, client_for, store, records):
    client = client_with(make_app, client_for, store, records, retention_period_s=86400 * 100)
    token = csrf_from(client, "/maintenance")
    response = client.post("/maintenance/purge-expired", data={"csrf_token": token})
    assert response.headers["Location"].endswith("?purged=1")
    assert sorted(s.session_id for s in stored_sessions(store)) == ["new", "old"]
    assert [r.detail["count"] for r in records if r.action == "purge"] == [1]
    unset = client_with(make_app, client_for, store, records)
    token = csrf_from(unset, "/maintenance")
    assert unset.post("/maintenance/purge-expired", data={"csrf_token": token}
                      ).headers["Location"].endswith("?error=retention")


def test_maintenance_posts_need_the_csrf_token(make_app, client_for, store, records):
    client = client_with(make_app, client_for, store, records, retention_period_s=1.0)
    csrf_from(client, "/maintenance")
    day = NOW.date().isoformat()
    for path, data in (("/maintenance/purge-before", {"date": day, "confirm": "1"}),
                       ("/maintenance/purge-expired", {})):
        assert client.post(path, data=data).status_code == 403
        assert client.post(path + "?csrf_token=x", data=data).status_code == 403
    assert client.get("/maintenance/purge-expired").status_code == 404
    assert len(stored_sessions(store)) == 3
    assert not [r for r in records if r.action in ("erase", "purge")]


def test_maintenance_is_behind_dashboard_auth(make_app, client_for, store):
    client = client_for(make_app(store))
    assert client.get("/maintenance").status_code == 403
