"""``sentiero purge``, ``erase``, ``export`` and ``import`` as a user runs them, on real SQLite
files, and one export from SQLite imported into PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from sentiero.cli import main, parse_duration, parse_moment
from sentiero.stores.base import Batch, Fact, SessionQuery, Store, WindowRef
from sentiero.stores.saved_funnels import SavedFunnel
from sentiero.stores.sql import SQLStore
from tests.stores.contract import POSTGRES_URL, fixture_batches, require_server

NOW = datetime.now(timezone.utc)
FIXTURES = ("todo-a", "signup-b", "frustration-a")


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def add(store: Store, sid: str, age: timedelta = timedelta(0), **metadata: Any) -> None:
    store.save_batch(Batch(
        sid, "w1", [{"type": 4, "timestamp": 1000, "data": {"href": "https://a.test/"}}],
        seq=0, metadata=metadata, received_at=NOW - age,
        facts=[Fact("page_view", sid, "w1", 1000, "https://a.test/")],
    ))


def ids(url: str) -> list[str]:
    store = SQLStore(url)
    try:
        return sorted(s.session_id for s in store.list_sessions(SessionQuery(limit=100)))
    finally:
        store.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'rec.db'}"
    store = SQLStore(url)
    add(store, "fresh", user_id="42", plan="pro")
    add(store, "week", timedelta(days=7), user_id=42)
    add(store, "month", timedelta(days=30), plan="pro")
    add(store, "year", timedelta(days=365), user_id="7")
    store.close()
    return url


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("30d", 2_592_000), ("12h", 43_200), ("90m", 5_400), ("45s", 45), ("2w", 1_209_600),
    ("3600", 3_600), (" 1.5h ", 5_400), ("7D", 604_800),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "-1d", "0", "3y", "1 day", "1d2h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(Exception, match="not a duration"):
        parse_duration(text)


def test_dates_cover_whole_days() -> None:
    assert parse_moment("2024-05-01", end_of_day=False) == datetime(2024, 5, 1, tzinfo=timezone.utc)
    end = parse_moment("2024-05-01", end_of_day=True)
    assert (end.date().isoformat(), end.hour, end.minute, end.second) == ("2024-05-01", 23, 59, 59)
    assert parse_moment("2024-05-01T13:30:00", end_of_day=True) == datetime(
        2024, 5, 1, 13, 30, tzinfo=timezone.utc)
    assert parse_moment("2024-05-01T13:30:00+02:00", end_of_day=False).utcoffset() == timedelta(
        hours=2)


# --- purge --------------------------------------------------------------------------------


def test_purge_older_than(db: str) -> None:
    result = run("purge", "--store", db, "--older-than", "10d")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Purged 2 sessions with no activity since ")
    assert ids(db) == ["fresh", "week"]
    again = run("purge", "--store", db, "--older-than", "10d")
    assert again.stdout.startswith("Purged 0 sessions")


def test_purge_reads_the_retention_period_from_the_environment(db: str) -> None:
    result = run("purge", env={"SENTIERO_STORE_URL": db, "SENTIERO_RETENTION_PERIOD_S": "86400"})
    assert result.exit_code == 0, result.output
    assert ids(db) == ["fresh"]


def test_purge_needs_a_period(db: str) -> None:
    result = run("purge", "--store", db, env={"SENTIERO_RETENTION_PERIOD_S": ""})
    assert result.exit_code == 2
    assert "--older-than 30d" in result.output
    bad = run("purge", "--store", db, "--older-than", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output
    assert len(ids(db)) == 4


def test_purge_on_a_database_that_is_not_there_says_how_to_fix_it(tmp_path: Path) -> None:
    result = run("purge", "--store", "postgresql://postgres@127.0.0.1:1/none",
                 "--older-than", "1d")
    assert result.exit_code == 1
    assert "127.0.0.1:1" in result.output


# --- erase --------------------------------------------------------------------------------


def test_erase_by_session_asks_first(db: str) -> None:
    declined = run("erase", "--store", db, "--session", "fresh", "--session", "nope",
                   input="n\n")
    assert declined.exit_code == 1
    assert "1 session to erase." in declined.stdout
    assert "Erase 1 session and everything recorded in them?" in declined.stderr
    assert len(ids(db)) == 4
    accepted = run("erase", "--store", db, "--session", "fresh", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Erased 1 session." in accepted.stdout
    assert ids(db) == ["month", "week", "year"]


def test_erase_by_time_range(db: str) -> None:
    since = (NOW - timedelta(days=40)).date().isoformat()
    until = (NOW - timedelta(days=3)).date().isoformat()
    result = run("erase", "--store", db, "--since", since, "--until", until, "--yes")
    assert result.exit_code == 0, result.output
    assert "2 sessions to erase." in result.stdout and "Erased 2 sessions." in result.stdout
    assert ids(db) == ["fresh", "year"]


def test_erase_by_metadata_matches_text_and_json_values(db: str) -> None:
    result = run("erase", "--store", db, "--meta", "user_id=42", "-y")
    assert result.exit_code == 0, result.output
    assert "Erased 2 sessions." in result.stdout  # the string "42" and the number 42
    assert ids(db) == ["month", "year"]
    both = run("erase", "--store", db, "--meta", "plan=pro", "--meta", "user_id=7", "-y")
    assert "0 sessions to erase." in both.stdout
    assert ids(db) == ["month", "year"]


def test_erase_refuses_bad_or_missing_criteria(db: str) -> None:
    nothing = run("erase", "--store", db, "--yes")
    assert nothing.exit_code == 2
    assert "--session ID, --since/--until DATE or --meta KEY=VALUE" in nothing.output
    bad_id = run("erase", "--store", db, "--session", "fresh", "--session", "../x", "--yes")
    assert bad_id.exit_code == 2 and "session id" in bad_id.output
    reversed_range = run("erase", "--store", db, "--since", "2024-02-01", "--until",
                         "2024-01-01", "--yes")
    assert reversed_range.exit_code == 2 and "since must not be later" in reversed_range.output
    bad_meta = run("erase", "--store", db, "--meta", "novalue", "--yes")
    assert bad_meta.exit_code == 2
    bad_date = run("erase", "--store", db, "--since", "yesterday", "--yes")
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    assert len(ids(db)) == 4


# --- export / import ------------------------------------------------------------------------


@pytest.fixture
def recorded(tmp_path: Path) -> str:
    """A SQLite file holding real recordings, cut into recorder batches with seq."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    store = SQLStore(url)
    for name in FIXTURES:
        for b in fixture_batches(name, batch_size=20):
            b.metadata = {"fixture": name}
            b.facts = [Fact("custom", b.session_id, b.window_id, b.first_ms, None, {"n": name})]
            b.window_state = {"password_ids": [34], "field_ids": [26, 30, b.seq]}
            assert store.save_batch(b)
    store.save_funnel(SAVED)
    store.close()
    return url


SAVED = SavedFunnel("a" * 32, "Cart to checkout", (("url", "/cart"), ("tag", "checkout")),
                    600_000, datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))


def snapshot(store: Store) -> dict[str, Any]:
    """Everything a session holds, window by window and event by event."""
    out: dict[str, Any] = {}
    for summary in store.list_sessions(SessionQuery(limit=100)):
        sid = summary.session_id
        out[sid] = {
            "metadata": summary.metadata,
            "user_agent": summary.user_agent,
            "last_url": summary.last_url,
            "has_errors": summary.has_errors,
            "created_at": summary.created_at,
            "windows": {
                w.window_id: {
                    "events": [orjson.dumps(e) for e in store.get_events(ref)],
                    "chunks": [(c.index, c.first_ms, c.last_ms, c.event_count, c.seq)
                               for c in store.chunk_index(ref)],
                    "state": store.get_window_state(ref),
                }
                for w in summary.windows
                for ref in [WindowRef(sid, w.window_id)]
            },
            "facts": sorted(orjson.dumps([f.kind, f.window_id, f.ts_ms, f.url, f.data])
                            for f in store.iter_facts(session_id=sid)),
        }
    return out


def compare(source_url: str, target_url: str) -> None:
    source, target = SQLStore(source_url), SQLStore(target_url)
    try:
        a, b = snapshot(source), snapshot(target)
        assert sorted(a) == sorted(b)
        for sid in a:
            assert a[sid]["windows"].keys() == b[sid]["windows"].keys()
            for wid, window in a[sid]["windows"].items():
                other = b[sid]["windows"][wid]
                assert len(window["events"]) == len(other["events"]) > 0
                for n, (x, y) in enumerate(zip(window["events"], other["events"], strict=True)):
                    assert x == y, f"{sid}/{wid} event {n} differs"
                assert window["chunks"] == other["chunks"]
                assert window["state"] == other["state"] is not None
            assert a[sid]["facts"] == b[sid]["facts"]
            for key in ("metadata", "user_agent", "last_url", "has_errors", "created_at"):
                assert a[sid][key] == b[sid][key], key
    finally:
        source.close()
        target.close()


def test_export_then_import_into_another_sqlite_file(recorded: str, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    exported = run("export", "--store", recorded, "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert "Exporting" in exported.stderr  # the progress bar, on stderr
    assert f"Exported 3 sessions to {out}." in exported.stderr
    assert exported.stdout == ""
    header = orjson.loads(out.read_bytes().splitlines()[0])
    assert header["format"] == "sentiero-export" and header["sessions"] == 3
    assert not list(tmp_path.glob(".*.partial"))

    target = f"sqlite:///{tmp_path / 'target.db'}"
    imported = run("import", "--store", target, str(out))
    assert imported.exit_code == 0, imported.output
    assert "Imported 3 sessions with new data and 1 saved funnel." in imported.stdout
    assert "Importing" in imported.stderr
    compare(recorded, target)
    again = run("import", "--store", target, str(out))
    assert "Imported 0 sessions with new data." in again.stdout  # exactly once
    compare(recorded, target)
    kept = SQLStore(target)
    assert kept.list_funnels() == [SAVED]
    kept.close()


def test_export_to_stdout_and_by_session(recorded: str, tmp_path: Path) -> None:
    sid = SQLStore(recorded).list_sessions(SessionQuery(limit=1))[0].session_id
    result = run("export", "--store", recorded, "--session", sid)
    assert result.exit_code == 0, result.output
    lines = result.stdout_bytes.splitlines()
    assert len(lines) == 2 and orjson.loads(lines[1])["session_id"] == sid  # no funnels
    target = f"sqlite:///{tmp_path / 'one.db'}"
    imported = CliRunner().invoke(main, ["import", "--store", target, "-"],
                                  input=result.stdout_bytes)
    assert imported.exit_code == 0, imported.output
    assert ids(target) == [sid]
    bad = run("export", "--store", recorded, "--session", "no/pe")
    assert bad.exit_code == 2


def test_import_refuses_a_file_that_is_not_an_export(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"hello": "world"}\n')
    result = run("import", "--store", f"sqlite:///{tmp_path / 't.db'}", str(junk))
    assert result.exit_code == 1
    assert "not a Sentiero export file" in result.output


# --- SQLite -> PostgreSQL -------------------------------------------------------------------


@pytest.fixture
def postgres_db() -> Iterator[str]:
    """A fresh PostgreSQL database of its own (the CLI uses the default table names)."""
    import psycopg
    from sqlalchemy.engine import make_url

    require_server(POSTGRES_URL)
    name = f"sentiero_cli_{uuid.uuid4().hex[:10]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_export_from_sqlite_import_into_postgres(recorded: str, postgres_db: str,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "move.jsonl"
    assert run("export", "--store", recorded, "-o", str(out)).exit_code == 0
    unready = run("import", "--store", postgres_db, str(out))
    assert unready.exit_code == 1
    assert "sentiero migrate --store" in unready.output
    migrated = run("migrate", "--store", postgres_db)
    assert migrated.exit_code == 0 and "Applied migrations: 1, 2, 3, 4" in migrated.stdout
    imported = run("import", "--store", postgres_db, str(out))
    assert imported.exit_code == 0, imported.output
    assert "Imported 3 sessions with new data and 1 saved funnel." in imported.stdout
    compare(recorded, postgres_db)
    # and maintenance works there too
    erased = run("erase", "--store", postgres_db, "--meta", "fixture=todo-a", "--yes")
    assert "Erased 1 session." in erased.stdout
    assert len(ids(postgres_db)) == 2


# --- compact ------------------------------------------------------------------------------


def test_compact_joins_idle_windows_and_keeps_every_event(tmp_path: Path) -> None:
    from sentiero.stores.base import WindowRef
    from sentiero.stores.sql import SQLStore

    url = f"sqlite:///{tmp_path}/c.db"
    store = SQLStore(url)
    for sid, age in (("idle", timedelta(hours=2)), ("busy", timedelta(0))):
        for seq in range(5):
            store.save_batch(Batch(sid, "w", [{"type": 3, "timestamp": 1000 * seq + i,
                                               "data": {"n": i}} for i in range(3)],
                                   seq=seq, received_at=NOW - age))
    before = store.get_events(WindowRef("idle", "w"))
    store.close()
    result = run("compact", "--store", url, "--idle", "1h")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Compacted 1 window: 5 chunks into 1, ")
    store = SQLStore(url)
    assert len(store.chunk_index(WindowRef("idle", "w"))) == 1
    assert store.get_events(WindowRef("idle", "w")) == before
    assert len(store.chunk_index(WindowRef("busy", "w"))) == 5  # not idle: left alone
    store.close()
    named = run("compact", "--store", url, "--session", "busy")
    assert named.stdout.startswith("Compacted 1 window: 5 chunks into 1, ")
    assert run("compact", "--store", url, "--idle", "soon").exit_code == 2
    assert run("compact", "--help").output.count("--idle") == 1


def test_warm_cache_fills_the_day_cache_once(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from tests.analytics.test_day_cache import fill

    url = f"sqlite:///{tmp_path}/w.db"
    store = SQLStore(url)
    fill(store)  # sessions on the last four closed days and today
    store.close()
    result = run("warm-cache", "--store", url)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Warmed the day cache for ")
    for view in ("overview 14d", "overview 90d", "pages", "frustration", "engagement",
                 "page report http://127.0.0.1:39711/pricing.html"):  # the busiest page
        assert f"  {view}: " in result.stdout
    store = SQLStore(url)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(
            store.tables.day_cache)).scalar()
    store.close()
    assert rows and rows > 10
    again = run("warm-cache", "--store", url)
    assert again.stdout == "Nothing warmed: every closed day is cached already.\n"
    assert run("warm-cache", "--store", url, "--force").stdout.startswith("Warmed ")
    assert run("warm-cache", "--store", f"file://{tmp_path}/files").stdout == (
        "Nothing warmed: FileStore keeps no day cache.\n")
