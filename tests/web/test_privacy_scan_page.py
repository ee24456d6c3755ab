"""The dashboard's PII scan page (/maintenance/scan)."""

from __future__ import annotations

from typing import Any

from sentiero.stores.memory import MemoryStore
from tests.web.support import MountedClient, save

EMAIL = "ann.seeded@example.org"


def seeded_store() -> MemoryStore:
    store = MemoryStore()
    node = {"type": 0, "id": 1, "childNodes": [{"type": 3, "id": 2, "textContent": f"Hi {EMAIL}"}]}
    save(store, "seeded-1", "w1", [
        {"type": 4, "timestamp": 1_700_000_000_000, "data": {"href": "https://a.test/"}},
        {"type": 2, "timestamp": 1_700_000_000_100, "data": {"node": node}},
    ], seq=0)
    return store


def test_page_runs_the_scan_on_demand_and_never_shows_a_value(make_app: Any) -> None:
    records: list[Any] = []
    app = make_app(seeded_store(), audit=records.append, allow_open_dashboard=True)
    client = MountedClient(app.wsgi_app)
    before = client.get("/maintenance/scan")
    assert before.status_code == 200
    assert "Run the scan" in before.get_data(as_text=True) and not records
    page = client.get("/maintenance/scan?run=1&sessions=5").get_data(as_text=True)
    assert EMAIL not in page
    assert "an…rg" in page
    assert "/sentiero/sessions/seeded-1/windows/w1?t=1700000000100" in page
    assert [r.action for r in records] == ["scan"]
    assert records[0].detail == {"sessions": 1, "findings": 1}


def test_bad_parameters_fall_back_and_an_empty_store_is_clean(make_app: Any) -> None:
    client = MountedClient(make_app(MemoryStore(), allow_open_dashboard=True).wsgi_app)
    page = client.get("/maintenance/scan?run=1&sessions=abc")
    assert page.status_code == 200
    assert "No candidate personal data found." in page.get_data(as_text=True)


def test_scan_page_needs_dashboard_auth(make_app: Any) -> None:
    client = MountedClient(make_app(seeded_store()).wsgi_app)
    assert client.get("/maintenance/scan?run=1").status_code in (401, 403)
