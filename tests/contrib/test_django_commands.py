"""``manage.py sentiero_purge|erase|export|import`` run the CLI's commands on the project's
store (DjangoStore here)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from django.test import override_settings

from sentiero.contrib.django import get_sentiero
from sentiero.stores.base import SessionQuery, utcnow
from tests.contrib.conftest import empty_tables
from tests.stores.contract import batch


@pytest.fixture
def store(sqlite_db: str):  # type: ignore[no-untyped-def]
    empty_tables("default")
    yield get_sentiero().store
    empty_tables("default")


def ids(store) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(s.session_id for s in store.list_sessions(SessionQuery(limit=100)))


def manage(*args: str) -> int:
    try:
        execute_from_command_line(["manage.py", *args])
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_purge_uses_the_retention_period_of_settings(store, capsys) -> None:  # type: ignore[no-untyped-def]
    store.save_batch(batch("old", seq=0, received_at=utcnow() - timedelta(days=40)))
    store.save_batch(batch("new", seq=0))
    with override_settings(SENTIERO={"retention_period_s": 30 * 86400}):
        assert manage("sentiero_purge") == 0
        assert "Purged 1 session with no activity since" in capsys.readouterr().out
        assert ids(get_sentiero().store) == ["new"]


def test_purge_without_a_period_says_how(store, capsys) -> None:  # type: ignore[no-untyped-def]
    assert manage("sentiero_purge") == 2
    assert "--older-than 30d" in capsys.readouterr().err
    assert manage("sentiero_purge", "--older-than", "1d") == 0


def test_erase_by_metadata(store, capsys) -> None:  # type: ignore[no-untyped-def]
    store.save_batch(batch("ann", seq=0, metadata={"user": "ann"}))
    store.save_batch(batch("bob", seq=0, metadata={"user": "bob"}))
    assert manage("sentiero_erase", "--meta", "user=ann", "--yes") == 0
    assert "Erased 1 session." in capsys.readouterr().out
    assert ids(store) == ["bob"]


def test_export_then_import_round_trips(store, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    store.save_batch(batch("s1", seq=0))
    store.save_batch(batch("s2", seq=0))
    out = tmp_path / "export.jsonl"
    assert manage("sentiero_export", "-o", str(out)) == 0
    assert len(out.read_bytes().splitlines()) >= 2
    empty_tables("default")
    call_command("sentiero_import", str(out))
    assert ids(store) == ["s1", "s2"]
    assert "Imported 2 sessions" in capsys.readouterr().out


def test_help_and_errors_come_from_the_cli(store, capsys) -> None:  # type: ignore[no-untyped-def]
    assert manage("sentiero_erase", "--help") == 0
    help_text = capsys.readouterr().out
    assert "Usage: manage.py sentiero_erase" in help_text and "--meta KEY=VALUE" in help_text
    with pytest.raises(CommandError, match="--session ID, --since/--until DATE or --meta"):
        call_command("sentiero_erase", "--yes")
    with pytest.raises(CommandError, match="project's store"):
        call_command("sentiero_export", "--store", "sqlite:///other.db")
