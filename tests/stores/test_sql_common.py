"""SQL-store behaviour beyond the contract (migrations, query shape), shared by the SQLite,
PostgreSQL and MySQL test modules through ``SQLStoreTests``; plus backend-free unit tests."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from contract import StoreConcurrencyContract, StoreContract, batch, fixture_batches
from sqlalchemy import event

from sentiero.analytics.query import Scope
from sentiero.stores import open_store
from sentiero.stores.base import (
    Fact,
    SchemaNotReadyError,
    SessionQuery,
    StoreError,
    WindowRef,
    encode_events,
)
from sentiero.stores.sql import SQLStore, normalize_url
from sentiero.stores.sql_read import _escape_like
from sentiero.stores.sql_schema import (
    CLICK_COLUMNS,
    ENGAGEMENT_COLUMNS,
    FORM_COLUMNS,
    LATEST_VERSION,
    MIGRATIONS,
)


def drop_columns(conn: Any, table: sa.Table, columns: Iterable[str]) -> None:
    """Take ``columns`` off ``table``: the table as a release before their step created it."""
    quote = conn.dialect.identifier_preparer.quote
    for column in columns:
        conn.execute(sa.text(f"ALTER TABLE {quote(table.name)} DROP COLUMN {quote(column)}"))


def old_session(conn: Any, table: sa.Table, has_errors: bool, **values: Any) -> None:
    """Session ``old-1`` as an older release stored it: 9 events from 1 s to 60 s."""
    conn.execute(sa.insert(table).values(
        session_id="old-1", created_us=1, updated_us=1, first_ms=1000, last_ms=60_000,
        event_count=9, metadata_json="{}", has_errors=has_errors, **values))


def steps_from(version: int) -> list[int]:
    """The migration steps from ``version`` on (the numbers may skip one)."""
    return [m.version for m in MIGRATIONS if m.version >= version]


def step(version: int) -> Any:
    return next(m for m in MIGRATIONS if m.version == version)


def sql_leftovers(store: SQLStore) -> list[str]:
    """Rows left in every Sentiero table of the store (its prefix), schema versions and
    day versions (day numbers and counters, sql_day_cache) aside."""
    t = store.tables
    assert t.day_versions is not None
    names = [
        n for n in sa.inspect(store.engine).get_table_names()
        if n.startswith(t.prefix) and n not in (t.schema.name, t.day_versions.name)
    ]
    assert {tab.name for tab in (t.sessions, t.windows, t.chunks, t.batches, t.facts)} <= set(
        names
    )
    quote = store.engine.dialect.identifier_preparer.quote
    out = []
    with store.engine.connect() as conn:
        for name in sorted(names):
            count = conn.execute(sa.text(f"SELECT COUNT(*) FROM {quote(name)}")).scalar()
            if count:
                out.append(f"{name}: {count} rows")
    return out


class SQLStoreTests(StoreContract, StoreConcurrencyContract):
    """Subclasses implement ``url()``; every test gets its own table prefix."""

    def url(self) -> str:
        raise NotImplementedError

    def new_store(self, **kwargs: Any) -> SQLStore:
        kwargs.setdefault("prefix", f"t{uuid.uuid4().hex[:8]}_")
        store = SQLStore(self.url(), **kwargs)
        self._made = getattr(self, "_made", [])
        self._made.append(store)
        return store

    def make_store(self) -> SQLStore:
        store = self.new_store(auto_migrate=True)
        store.setup()
        return store

    def cleanup_store(self, store: Any) -> None:
        store.drop_tables()

    def backend_leftovers(self, store: Any) -> list[str]:
        return sql_leftovers(store)

    def store_factory(self):
        return functools.partial(
            SQLStore, self.url(), auto_migrate=True, prefix=f"t{uuid.uuid4().hex[:8]}_"
        )

    @pytest.fixture
    def bare(self):
        """A store over a database without Sentiero tables, dropped afterwards."""
        store = self.new_store(auto_migrate=False)
        yield store
        store.drop_tables()
        store.close()

    # --- migrations -------------------------------------------------------------------------

    def test_empty_database_needs_migrate(self, bare: SQLStore) -> None:
        with pytest.raises(SchemaNotReadyError) as info:
            bare.setup()
        message = str(info.value)
        assert f"schema version 0, this version needs {LATEST_VERSION}" in message
        assert "sentiero migrate --store" in message
        assert bare.schema_version() == 0
        with pytest.raises(SchemaNotReadyError):
            bare.save_batch(batch(seq=0))

    def test_migrate_applies_every_step_once(self, bare: SQLStore) -> None:
        assert bare.migrate() == [m.version for m in MIGRATIONS]
        assert bare.migrate() == []
        assert bare.schema_version() == LATEST_VERSION
        bare.setup()
        assert bare.save_batch(batch(seq=0))

    @staticmethod
    def _drop_state_column(store: SQLStore) -> None:
        """Make the windows table what releases before step 4 created (no state_json)."""
        quote = store.engine.dialect.identifier_preparer.quote
        with store.engine.begin() as conn:
            conn.execute(sa.text(
                f"ALTER TABLE {quote(store.tables.windows.name)} DROP COLUMN state_json"
            ))

    def test_previous_schema_is_upgraded_in_place(self, bare: SQLStore) -> None:
        assert bare.migrate(to_version=1) == [1]
        self._drop_state_column(bare)
        t = bare.tables
        with pytest.raises(SchemaNotReadyError, match="schema version 1, this version needs"):
            bare.setup()
        # a recording written by the version that had only step 1
        events = [
            {"type": 4, "timestamp": 1000, "data": {"href": "https://x.test/"}},
            {"type": 3, "timestamp": 1500, "data": {"source": 2}},
        ]
        with bare.engine.begin() as conn:
            conn.execute(
                sa.insert(t.sessions).values(
                    session_id="old-1",
                    created_us=1_700_000_000_000_000,
                    updated_us=1_700_000_000_000_000,
                    first_ms=1000,
                    last_ms=1500,
                    event_count=2,
                    metadata_json='{"plan": "pro"}',
                    has_errors=False,
                )
            )
            conn.execute(
                sa.insert(t.windows).values(
                    session_id="old-1",
                    window_id="w",
                    next_chunk=1,
                    event_count=2,
                    first_ms=1000,
                    last_ms=1500,
                )
            )
            conn.execute(
                sa.insert(t.chunks).values(
                    session_id="old-1",
                    window_id="w",
                    chunk_index=0,
                    seq=0,
                    first_ms=1000,
                    last_ms=1500,
                    event_count=2,
                    data=encode_events(events),
                )
            )
            conn.execute(sa.insert(t.batches).values(session_id="old-1", window_id="w", seq=0))
        assert not sa.inspect(bare.engine).has_table(t.facts.name)

        assert bare.migrate() == steps_from(2)
        bare.setup()
        assert bare.get_events(WindowRef("old-1", "w")) == events
        summary = bare.get_session("old-1")
        assert summary.metadata == {"plan": "pro"} and summary.event_count == 2
        assert bare.save_batch(batch("old-1", "w", seq=0)) is False  # dedup kept
        assert bare.save_batch(batch("old-1", "w", seq=1, facts=[Fact("click", "old-1", "w", 9)]))
        assert [c.index for c in bare.chunk_index(WindowRef("old-1", "w"))] == [0, 1]
        assert [f.ts_ms for f in bare.iter_facts()] == [9]
        indexes = {ix["name"] for ix in sa.inspect(bare.engine).get_indexes(t.sessions.name)}
        assert {ix.name for ix in t.sort_indexes} <= indexes
        # step 4: the window of the old recording has no state until a batch brings one
        assert bare.get_window_state(WindowRef("old-1", "w")) is None
        assert bare.save_batch(batch("old-1", "w", seq=2, window_state={"password_ids": [7]}))
        assert bare.get_window_state(WindowRef("old-1", "w")) == {"password_ids": [7]}

    def test_window_state_step_adds_the_column_once(self, bare: SQLStore) -> None:
        assert bare.migrate(to_version=3) == [1, 2, 3]
        self._drop_state_column(bare)
        windows = bare.tables.windows.name
        with pytest.raises(SchemaNotReadyError, match="schema version 3"):
            bare.setup()
        assert bare.migrate() == steps_from(4)
        columns = {c["name"]: c for c in sa.inspect(bare.engine).get_columns(windows)}
        assert columns["state_json"]["nullable"] is True
        # re-running the step (a crash before its version row was written) changes nothing
        with bare.engine.begin() as conn:
            MIGRATIONS[3].upgrade(conn, bare.tables)
        bare.setup()
        assert bare.save_batch(batch(seq=0, window_state={"field_ids": [1, 2]}))
        assert bare.get_window_state(WindowRef("s1", "w1")) == {"field_ids": [1, 2]}

    def test_analytics_step_adds_fact_keys_and_traits_to_an_older_database(
        self, bare: SQLStore
    ) -> None:
        assert bare.migrate(to_version=4) == [1, 2, 3, 4]
        t = bare.tables
        with bare.engine.begin() as conn:  # what releases before step 5 created
            drop_columns(conn, t.facts, ("key", "value"))
            drop_columns(conn, t.sessions, ("browser", "entry_url"))
        with pytest.raises(SchemaNotReadyError, match="schema version 4"):
            bare.setup()
        assert bare.migrate() == steps_from(5)
        with bare.engine.begin() as conn:  # a re-run after a crash changes nothing
            MIGRATIONS[4].upgrade(conn, t)
        bare.setup()
        chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
        assert bare.save_batch(batch(seq=0, user_agent=chrome, facts=[
            Fact("vital", "s1", "w1", 5, "https://a.example/", {}, "LCP", 1234.5)]))
        assert [(f.key, f.value) for f in bare.iter_facts()] == [("LCP", 1234.5)]
        assert bare.get_session("s1").traits.browser == "Chrome"

    def test_engagement_step_scores_the_sessions_already_stored(self, bare: SQLStore) -> None:
        assert bare.migrate(to_version=7) == list(range(1, 8))
        t = bare.tables
        with bare.engine.begin() as conn:  # what releases before step 8 created
            drop_columns(conn, t.sessions, ENGAGEMENT_COLUMNS)
            old_session(conn, t.sessions, has_errors=True)
            conn.execute(sa.insert(t.facts), [
                {"kind": kind, "session_id": "old-1", "window_id": "w", "ts_ms": ts,
                 "url": "https://a.example/", "data_json": "{}", "key": None, "value": None}
                for kind, ts in (("rage_click", 2000), ("dead_click", 3000), ("error", 55_000))])
        assert bare.migrate() == steps_from(8)
        bare.setup()
        # rage 1 (1/3 x 20) + dead 1 (1/3 x 15) + an error 5 s before the end (10): 21.7 -> 22
        data = bare.engagement_scores(Scope(), "score", 10)
        assert [(r.row.session_id, r.score) for r in data.rows] == [("old-1", 22)]
        assert data.rows[0].signals.chips() == ["Rage clicks 1", "Dead clicks 1", "Error exit"]
        assert data.distribution[1] == ("20-40", 1)

    def test_seen_step_records_the_pages_and_fields_already_stored(self, bare: SQLStore
                                                                  ) -> None:
        assert bare.migrate(to_version=10) == steps_from(1)[:10]
        t = bare.tables
        a, b = "https://a.example/", "https://a.example/b"
        with bare.engine.begin() as conn:  # what releases before step 12 stored
            old_session(conn, t.sessions, has_errors=False,
                        **{c: 0 for c in ENGAGEMENT_COLUMNS if c != "eng_last_error_ms"})
            conn.execute(sa.insert(t.facts), [
                {"kind": kind, "session_id": "old-1", "window_id": "w", "ts_ms": ts,
                 "url": url, "data_json": "{}", "key": key, "value": value}
                for kind, ts, url, key, value in (
                    ("page_view", 1000, a, None, None), ("page_view", 2000, b, None, None),
                    ("form_field", 3000, b, "5", 2.0))])
            conn.execute(sa.update(t.sessions).values(eng_pages=2, eng_refills=1))
        assert bare.migrate() == steps_from(11)  # step 11 (click geometry) too
        with bare.engine.begin() as conn:  # a re-run after a crash changes nothing
            step(12).upgrade(conn, t)
        bare.setup()
        # /a again and field 5 typed once more count against the stored pages and fields
        assert bare.save_batch(batch("old-1", "w", count=2, start_ms=61_000, seq=0, facts=[
            Fact("page_view", "old-1", "w", 61_000, a),
            Fact("form_field", "old-1", "w", 61_500, b, {}, "5", 1.0)]))
        signals = bare.engagement_scores(Scope(), "score", 10).rows[0].signals
        assert (signals.pages, signals.churn, signals.refills) == (2, 1, 2)

    def test_a_step_missing_below_the_latest_is_applied_or_asked_for(self, bare: SQLStore
                                                                     ) -> None:
        bare.migrate()
        t = bare.tables
        with bare.engine.begin() as conn:  # as if step 10 came with a later release than 12
            conn.execute(sa.delete(t.schema).where(t.schema.c.version == 10))
        manual = SQLStore(bare.url, auto_migrate=False, prefix=t.prefix)
        try:
            with pytest.raises(SchemaNotReadyError, match="lack schema step"):
                manual.setup()
        finally:
            manual.close()
        bare.auto_migrate = True
        bare.setup()
        with bare.engine.connect() as conn:
            assert conn.execute(sa.select(t.schema.c.version).where(
                t.schema.c.version == 10)).scalar() == 10

    def test_click_geometry_step_fills_the_clicks_already_stored(self, bare: SQLStore) -> None:
        assert bare.migrate(to_version=10) == list(range(1, 11))
        t = bare.tables
        page = "https://a.example/"
        with bare.engine.begin() as conn:  # what releases before step 11 created
            drop_columns(conn, t.facts, CLICK_COLUMNS)
            old_session(conn, t.sessions, has_errors=False)
            conn.execute(sa.insert(t.facts), [
                {"kind": kind, "session_id": "old-1", "window_id": "w", "ts_ms": ts,
                 "url": page, "data_json": data, "key": key, "value": None}
                for kind, ts, data, key in (
                    ("click", 2000, '{"x":100,"y":50,"page_y":650,"vw":1280,"vh":800,'
                                    '"pv":1000}', "#buy"),
                    ("click", 3000, '{"x":100,"y":50}', None),  # no viewport: not placed
                    ("dead_click", 2000, '{"x":100,"y":50,"vw":1280}', None))])
        assert bare.migrate() == steps_from(11)
        with bare.engine.begin() as conn:  # a re-run after a crash changes nothing
            step(11).upgrade(conn, t)
        indexes = {ix["name"] for ix in sa.inspect(bare.engine).get_indexes(t.facts.name)}
        assert {ix.name for ix in t.click_indexes} <= indexes  # facts_reads replaces
        assert t.count_indexes[0].name not in indexes  # step 10's facts_counts
        bare.setup()
        cells = bare.click_cells(Scope(), page, None, 24)
        assert (cells.counts, cells.max_y, cells.elements) == (
            {"phone": 0, "tablet": 0, "desktop": 1}, 650, {"#buy": 1})
        assert [(c.gx, c.gy, c.count) for c in cells.cells] == [(4, 27, 1)]
        rep = cells.representative
        assert rep is not None and (rep.session_id, rep.pv, rep.width, rep.height) == (
            "old-1", 1000, 1280, 800)
        # a click stored after the upgrade is placed at ingest
        assert bare.save_batch(batch("old-1", "w", seq=0, facts=[
            Fact("click", "old-1", "w", 4000, page, {"x": 10, "y": 5, "vw": 390})]))
        assert bare.click_cells(Scope(), page, None, 24).counts["phone"] == 1

    def test_form_step_fills_the_form_facts_already_stored(self, bare: SQLStore) -> None:
        """Two page views of old-1 on /f typed in field 5 (the first page view over two
        facts: 3 inputs from 2000 to 2500, one at 2600; the second once at 9000), and one
        submit at 9500 on the second: as an older release stored them, page views and input
        moments only in the JSON. After step 14 the forms analysis, grouped in SQL from the
        new columns, reads them: 1 session, not completed (the first page view was not
        submitted), field 5 with 4 + 1 inputs (3 refills), time to fill (600 + 0) / 2 = 300
        ms, left once, at 2600."""
        assert bare.migrate(to_version=13) == [v for v in steps_from(1) if v <= 13]
        t = bare.tables
        page = "https://a.example/f"
        with bare.engine.begin() as conn:  # what releases before step 14 created
            drop_columns(conn, t.facts, FORM_COLUMNS)
            old_session(conn, t.sessions, has_errors=False)
            conn.execute(sa.insert(t.facts), [
                {"kind": kind, "session_id": "old-1", "window_id": "w", "ts_ms": ts,
                 "url": page, "data_json": orjson.dumps(data).decode(), "key": key,
                 "value": value}
                for kind, ts, data, key, value in (
                    ("form_field", 2000, {"first_ms": 2000, "last_ms": 2500, "pv": 1000},
                     "5", 3.0),
                    ("form_field", 2600, {"first_ms": 2600, "last_ms": 2600, "pv": 1000},
                     "5", 1.0),
                    ("form_field", 9000, {"first_ms": 9000, "last_ms": 9000, "pv": 8000},
                     "5", 1.0),
                    ("form_submit", 9500, {"name": "f", "pv": 8000}, "f", None),
                    ("click", 3000, {"x": 1, "y": 2, "pv": 1000}, None, None))])
        assert bare.migrate() == steps_from(14)
        with bare.engine.begin() as conn:  # a re-run after a crash changes nothing
            step(14).upgrade(conn, t)
            stored = conn.execute(sa.select(t.facts.c.kind, *(t.facts.c[c] for c in FORM_COLUMNS))
                                  .order_by(t.facts.c.ts_ms)).all()
        assert [tuple(r) for r in stored] == [
            ("form_field", 1000, 2000, 2500), ("form_field", 1000, 2600, 2600),
            ("click", None, None, None), ("form_field", 8000, 9000, 9000),
            ("form_submit", 8000, None, None)]
        indexes = {ix["name"] for ix in sa.inspect(bare.engine).get_indexes(t.facts.name)}
        assert {ix.name for ix in t.form_indexes} <= indexes
        bare.setup()
        groups = bare.form_groups(Scope(), page)
        assert [(p.url, p.started, p.completed, p.submits) for p in groups.pages] == [
            (page, 1, 0, 1)]
        (field,) = groups.fields
        assert (field.node, field.sessions, field.units, field.fill_ms, field.refills,
                field.drop_offs) == ("5", 1, 2, 600.0, 3, 1)
        assert [(m.session_id, m.ts_ms) for m in field.examples] == [("old-1", 2600)]
        # a field typed after the upgrade has its columns filled at ingest
        assert bare.save_batch(batch("old-1", "w", seq=0, facts=[
            Fact("form_field", "old-1", "w", 61_000, page,
                 {"first_ms": 61_000, "last_ms": 61_400, "pv": 60_000}, "5", 2.0)]))
        assert bare.form_groups(Scope(), page).fields[0].fill_ms == 1000.0

    def test_a_step_numbered_below_one_applied_comes_later_and_is_applied(
            self, bare: SQLStore, monkeypatch: pytest.MonkeyPatch) -> None:
        """Step numbers are reserved by the change that brings a step, and changes land in
        any order: a database migrated by a release with step 14 but not yet 13 gets step 13
        from the release that brings it (``setup`` with auto_migrate, or ``sentiero
        migrate``), and one without auto_migrate is refused until then."""
        import sentiero.stores.sql as sql_module

        without_13 = tuple(m for m in MIGRATIONS if m.version != 13)
        monkeypatch.setattr(sql_module, "MIGRATIONS", without_13)
        assert bare.migrate() == [m.version for m in without_13]
        # the release that brings 13, listed after 14
        monkeypatch.setattr(sql_module, "MIGRATIONS", (*without_13, step(13)))
        manual = SQLStore(bare.url, auto_migrate=False, prefix=bare.tables.prefix)
        try:
            with pytest.raises(SchemaNotReadyError, match=r"lack schema step\(s\) 13:"):
                manual.setup()
        finally:
            manual.close()
        bare.auto_migrate = True
        bare.setup()
        t = bare.tables
        with bare.engine.connect() as conn:
            versions = list(conn.execute(sa.select(t.schema.c.version)
                                         .order_by(t.schema.c.applied_us, t.schema.c.version))
                            .scalars())
        assert versions[-2:] == [14, 13] and bare.schema_version() == 14
        # and on an empty database every step runs in version order, whatever the list's
        fresh = self.new_store(auto_migrate=False)
        try:
            assert fresh.migrate() == sorted(m.version for m in MIGRATIONS)
        finally:
            fresh.drop_tables()
            fresh.close()

    def test_save_batches_stores_many_in_one_transaction_and_skips_duplicates(
        self, store: SQLStore
    ) -> None:
        assert store.save_batches([batch("s1", seq=0), batch("s1", seq=1), batch("s2", seq=0)]) == 3
        assert store.save_batches([batch("s1", seq=1), batch("s1", seq=2)]) == 1
        assert [c.seq for c in store.chunk_index(WindowRef("s1", "w1"))] == [0, 1, 2]
        assert store.get_session("s2").event_count == 10

    def test_newer_schema_is_refused(self, bare: SQLStore) -> None:
        bare.migrate()
        with bare.engine.begin() as conn:
            conn.execute(
                sa.insert(bare.tables.schema).values(
                    version=LATEST_VERSION + 1, description="from the future", applied_us=0
                )
            )
        with pytest.raises(SchemaNotReadyError, match="upgrade the sentiero package"):
            bare.setup()



    def test_get_chunks_reads_only_the_blobs_it_returns(self, store: SQLStore) -> None:
        for i in range(60):
            store.save_batch(batch(count=3, start_ms=i * 1000, seq=i))
        statements: list[tuple[str, Any]] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        event.listen(store.engine, "before_cursor_execute", record)
        try:
            chunks = store.get_chunks(WindowRef("s1", "w1"), limit=1)
            seek = store.get_chunks(WindowRef("s1", "w1"), from_ms=30_100, to_ms=31_100)
        finally:
            event.remove(store.engine, "before_cursor_execute", record)
        assert [c.info.index for c in chunks] == [0]
        assert [c.info.index for c in seek] == [30, 31]
        blob_reads = [(s, p) for s, p in statements if "data" in s.split("FROM")[0]]
        assert len(blob_reads) == 2
        # the blob queries name exactly the chunks returned
        assert "chunk_index IN" in blob_reads[0][0]
        for (_, params), returned in zip(blob_reads, ([0], [30, 31]), strict=True):
            values = params.values() if isinstance(params, dict) else params
            assert sorted(v for v in values if isinstance(v, int)) == returned

    def test_fixture_sizes_are_compressed(self, store: SQLStore) -> None:
        raw = 0
        for b in fixture_batches("todo-a"):
            raw += len(orjson.dumps(b.events))
            store.save_batch(b)
        sizes = store.stored_bytes()
        assert sizes["events"] == 84 and 0 < sizes["chunk_bytes"] < raw / 2


# --- backend-free unit tests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2"),
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mariadb://u@h/db", "mysql+pymysql"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_url_drivers(given: str, driver: str) -> None:
    url = normalize_url(given)
    assert url.drivername == driver
    if driver.startswith("mysql"):
        assert url.query["charset"] == "utf8mb4"


def test_url_keeps_explicit_charset_and_rejects_others() -> None:
    assert normalize_url("mysql://u@h/db?charset=utf8").query["charset"] == "utf8"
    with pytest.raises(ValueError, match="unsupported SQL database"):
        normalize_url("oracle://u@h/db")


def test_like_escaping() -> None:
    assert _escape_like("50%_off!") == "50!%!_off!!"


def test_open_store_sql_urls() -> None:
    store = open_store("sqlite://")
    assert isinstance(store, SQLStore) and store.auto_migrate
    store.close()
    pg = open_store("postgresql://u@127.0.0.1/db")
    assert isinstance(pg, SQLStore) and pg.auto_migrate is False
    pg.close()


def test_unreachable_server_is_a_store_error() -> None:
    store = SQLStore("postgresql://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    with pytest.raises(StoreError) as info:
        store.setup()
    assert not isinstance(info.value, SchemaNotReadyError)
    assert "127.0.0.1:1" in str(info.value)
    with pytest.raises(StoreError):
        store.list_sessions(SessionQuery())
    store.close()


class ServerSQLStoreTests(SQLStoreTests):
    """Behaviour of server databases with row locks (PostgreSQL, MySQL/MariaDB); SQLite
    serializes every writer with BEGIN IMMEDIATE, so these races cannot happen there."""

    def test_purge_spares_a_session_written_while_it_waits(self, store: SQLStore) -> None:
        """A writer holding the session's lock makes it recent; purge, which picked it as old,
        must wait for the lock and then leave it (whole) alone."""
        old = datetime.now(timezone.utc) - timedelta(days=3)
        facts = [Fact("click", "busy", "w1", 1)]
        store.save_batch(batch("busy", seq=0, received_at=old, facts=facts))
        s = store.tables.sessions
        result: list[int] = []
        with store.engine.connect() as writer:
            tx = writer.begin()
            writer.execute(sa.select(s).where(s.c.session_id == "busy").with_for_update()).first()
            purge = threading.Thread(target=lambda: result.append(store.purge_older_than(86_400)))
            purge.start()
            time.sleep(0.5)  # purge reads "busy" as old and waits on its lock
            writer.execute(
                sa.update(s)
                .where(s.c.session_id == "busy")
                .values(updated_us=int(datetime.now(timezone.utc).timestamp() * 1_000_000))
            )
            tx.commit()
        purge.join(30)
        assert result == [0]
        summary = store.get_session("busy")
        assert summary is not None and summary.event_count == 10
        assert [c.seq for c in store.chunk_index(WindowRef("busy", "w1"))] == [0]
        assert len(list(store.iter_facts(session_id="busy"))) == 1

    # --- query shape ------------------------------------------------------------------------
