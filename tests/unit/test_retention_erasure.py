"""``Sentiero.purge_expired()`` and ``Sentiero.erase()``: criteria, validation before any
delete, counts, and their audit records."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sentiero.app import Sentiero
from sentiero.privacy.audit import AuditRecord
from sentiero.stores.base import Batch, Fact, SessionQuery, Store, WindowRef
from sentiero.stores.memory import MemoryStore
from sentiero.stores.sql import SQLStore

NOW = datetime.now(timezone.utc)


def add(store: Store, sid: str, age: timedelta = timedelta(0), **metadata: Any) -> None:
    when = NOW - age
    store.save_batch(Batch(
        sid, "w1", [{"type": 4, "timestamp": 1000, "data": {"href": "https://a.test/"}}],
        seq=0, metadata=metadata, received_at=when,
        facts=[Fact("page_view", sid, "w1", 1000, "https://a.test/")],
        window_state={"password_ids": [1]},
    ))


def ids(store: Store) -> list[str]:
    return sorted(s.session_id for s in store.list_sessions(SessionQuery(limit=100)))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    s: Store = MemoryStore() if request.param == "memory" else SQLStore(
        f"sqlite:///{tmp_path / 'r.db'}")
    add(s, "fresh", user_id="42", plan="pro")
    add(s, "week", timedelta(days=7), user_id="42", plan="free")
    add(s, "month", timedelta(days=30), user_id=42)
    add(s, "year", timedelta(days=365), plan="pro")
    return s


def app_for(store: Store, records: list[AuditRecord], **options: Any) -> Sentiero:
    return Sentiero(store=store, audit=records.append, **options)


# --- retention --------------------------------------------------------------------------------


def test_purge_without_retention_does_nothing_and_says_so(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    records: list[AuditRecord] = []
    with caplog.at_level(logging.WARNING, logger="sentiero"):
        assert app_for(store, records).purge_expired() == 0
    assert "retention_period_s is not set" in caplog.text
    assert len(ids(store)) == 4 and records == []


def test_purge_deletes_sessions_past_the_retention_period(store: Store) -> None:
    records: list[AuditRecord] = []
    app = app_for(store, records, retention_period_s=10 * 86_400)
    assert app.purge_expired() == 2
    assert ids(store) == ["fresh", "week"]
    assert store.get_window_state(WindowRef("month", "w1")) is None
    assert {f.session_id for f in store.iter_facts()} == {"fresh", "week"}
    assert app.purge_expired() == 0
    assert [(r.action, r.detail) for r in records] == [
        ("purge", {"retention_period_s": 864_000, "count": 2}),
        ("purge", {"retention_period_s": 864_000, "count": 0}),
    ]
    assert records[0].ip is None and records[0].user is None


# --- erasure ----------------------------------------------------------------------------------


def test_erase_by_ids_validates_every_id_first(store: Store) -> None:
    records: list[AuditRecord] = []
    app = app_for(store, records)
    with pytest.raises(ValueError, match="session id"):
        app.erase(session_ids=["fresh", "../../etc/passwd"])
    with pytest.raises(ValueError, match="not one string"):
        app.erase(session_ids="fresh")  # type: ignore[arg-type]
    assert len(ids(store)) == 4 and records == []
    assert app.erase(session_ids=["fresh", "week", "never-was", "fresh"]) == 2
    assert app.erase(session_ids=["fresh"]) == 0  # idempotent
    assert ids(store) == ["month", "year"]
    assert records[0].action == "erase"
    assert records[0].session_ids == ("fresh", "week")
    assert records[0].detail == {"session_ids": 3, "count": 2}


def test_erase_by_time_range_is_inclusive_on_updated_at(store: Store) -> None:
    app = app_for(store, [])
    week = store.get_session("week").updated_at
    month = store.get_session("month").updated_at
    assert app.erase(since=month, until=week) == 2  # both bounds included
    assert ids(store) == ["fresh", "year"]
    assert app.erase(until=NOW - timedelta(days=100)) == 1
    assert app.erase(since=(NOW - timedelta(hours=1)).replace(tzinfo=None)) == 1  # naive = UTC
    assert ids(store) == []


def test_erase_by_metadata_needs_every_key_equal(store: Store) -> None:
    records: list[AuditRecord] = []
    app = app_for(store, records)
    assert app.erase(metadata={"user_id": "42", "plan": "free"}) == 1
    assert ids(store) == ["fresh", "month", "year"]
    assert app.erase(metadata={"user_id": "42"}) == 1  # the int 42 is another value
    assert ids(store) == ["month", "year"]
    assert app.erase(metadata={"user_id": 42}) == 1
    assert app.erase(metadata={"missing": None}) == 0
    assert records[0].detail == {"metadata_keys": ["plan", "user_id"], "count": 1}


def test_erase_criteria_combine(store: Store) -> None:
    app = app_for(store, [])
    assert app.erase(session_ids=["fresh", "year"], metadata={"plan": "pro"},
                     since=NOW - timedelta(days=1)) == 1
    assert ids(store) == ["month", "week", "year"]


def test_erase_refuses_bad_criteria(store: Store) -> None:
    app = app_for(store, [])
    with pytest.raises(ValueError, match="say what to erase"):
        app.erase()
    with pytest.raises(ValueError, match="say what to erase"):
        app.erase(metadata={})
    with pytest.raises(ValueError, match="since must not be later than until"):
        app.erase(since=NOW, until=NOW - timedelta(seconds=1))
    with pytest.raises(ValueError, match="datetime"):
        app.erase(since="2024-01-01")  # type: ignore[arg-type]
    assert len(ids(store)) == 4


def test_erase_reaches_past_one_page(tmp_path: Path) -> None:
    store = MemoryStore()
    for i in range(1203):
        add(store, f"s{i}", user_id="7" if i % 2 else "8")
    assert Sentiero(store=store).erase(metadata={"user_id": "7"}) == 601
    assert len(store.list_sessions(SessionQuery(limit=2000))) == 602


def test_export_is_audited_and_imports_into_another_store() -> None:
    import io

    from sentiero.app import Sentiero
    from sentiero.stores.base import Batch, SessionQuery, WindowRef
    from sentiero.stores.memory import MemoryStore

    records: list[Any] = []
    source = Sentiero(store=MemoryStore(), audit=records.append, allow_open_dashboard=True)
    events = [{"type": 4, "timestamp": 1000, "data": {"href": "https://a.test/"}},
              {"type": 3, "timestamp": 1500, "data": {"source": 2, "type": 2, "x": 1, "y": 2}}]
    source.store.save_batch(Batch("s-export", "w1", events, seq=0))
    out = io.BytesIO()
    assert source.export_sessions(out) == 1
    assert [(r.action, r.dataset, r.detail["count"]) for r in records] == [
        ("export", "sessions", 1)]

    target = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    assert target.import_sessions(io.BytesIO(out.getvalue())) == 1
    assert target.import_sessions(io.BytesIO(out.getvalue())) == 0  # nothing stored twice
    assert target.store.get_events(WindowRef("s-export", "w1")) == events
    assert [s.session_id for s in target.store.list_sessions(SessionQuery())] == ["s-export"]
