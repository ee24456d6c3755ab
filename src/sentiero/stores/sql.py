"""The SQL store: SQLite (the default), PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL),
on SQLAlchemy Core.

Every batch is written in one transaction that first takes the session's row lock
(``SELECT ... FOR UPDATE``; SQLite: ``BEGIN IMMEDIATE``), so several processes writing one
session never collide on chunk numbers or merge metadata over each other, and a duplicate
``(session, window, seq)`` is detected before anything is written. On SQLite, batches that
arrive together in one process share that transaction, each in its own savepoint (group
commit, :mod:`sentiero.stores.group_commit`). Deadlocks and serialization failures are
retried; other backend failures surface as ``StoreError``. The statements of the write path
are built once per store with bind parameters.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.pool import StaticPool

from sentiero.analytics.query import TRAITS as TRAIT_NAMES
from sentiero.analytics.query import Segment
from sentiero.analytics.traits import Traits, session_traits
from sentiero.stores.base import (
    Batch,
    Chunk,
    ChunkInfo,
    Fact,
    SchemaNotReadyError,
    SessionQuery,
    SessionSummary,
    Store,
    StoreError,
    StoreLimits,
    WindowRef,
    WindowSummary,
    batch_has_errors,
    fact_data_json,
    index_seq,
    load_window_state,
    same_run,
    to_ms,
    utcnow,
    validate_batch,
    validate_id,
    validate_metadata,
    window_state_json,
)
from sentiero.stores.group_commit import GroupCommit, Pending
from sentiero.stores.sql_analytics import SQLAnalytics, click_values
from sentiero.stores.sql_engagement import (
    Seen,
    SQLEngagement,
    engagement_changes,
    new_session_engagement,
    rescore,
    seen_items,
)
from sentiero.stores.sql_funnels import SQLSavedFunnels, funnels_table
from sentiero.stores.sql_schema import LATEST_VERSION, MIGRATIONS, Tables, build_tables
from sentiero.stores.sql_tracking import SQLTracking

log = logging.getLogger(__name__)

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_RETRIES = 6
_PAGE = 500  # ids per IN (...) and rows per page when scanning
_FACT_PAGE = 5000


class _Duplicate(Exception):
    """The batch's (session, window, seq) is already stored: roll back, store nothing."""


class _Retry(Exception):
    """A race left the transaction without the row it needs (e.g. the session was deleted
    between our insert and our lock): run the transaction again."""


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _US


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def normalize_url(url: str | URL) -> URL:
    """Pick the driver Sentiero supports for each database: psycopg 3 for PostgreSQL,
    PyMySQL (utf8mb4) for MySQL/MariaDB."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=f"postgresql+{driver or 'psycopg'}")
    elif backend in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=f"mysql+{driver or 'pymysql'}")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    elif backend != "sqlite":
        raise ValueError(f"unsupported SQL database {backend!r}: use sqlite, postgresql or mysql")
    return parsed


class SQLStore(SQLEngagement, SQLAnalytics, SQLTracking, SQLSavedFunnels, Store):
    """``SQLStore("sqlite:///sentiero.db")``, ``SQLStore("postgresql://user@host/db")``,
    ``SQLStore("mysql://user@host/db")``.

    ``auto_migrate`` (default: True for SQLite, False for server databases, where
    ``sentiero migrate --store URL`` is a deploy step) lets ``setup()`` create or upgrade
    the tables. ``prefix`` names the tables (``sentiero_sessions``, ...). Extra keyword
    arguments go to ``sqlalchemy.create_engine``.
    """

    def __init__(
        self,
        url: str | URL,
        limits: StoreLimits | None = None,
        auto_migrate: bool | None = None,
        prefix: str = "sentiero_",
        **engine_kwargs: Any,
    ) -> None:
        super().__init__(limits)
        self.url = normalize_url(url)
        self.backend = self.url.get_backend_name()
        self.is_sqlite = self.backend == "sqlite"
        self.auto_migrate = self.is_sqlite if auto_migrate is None else auto_migrate
        self.tables: Tables = build_tables(prefix)
        self._ready = False
        self._setup_lock = threading.Lock()
        self._statements: dict[Any, Any] = {}
        self._seen: Seen | None = None
        self._memory = self.is_sqlite and self.url.database in (None, "", ":memory:")
        # an in-memory SQLite database is one connection: serialize every use of it
        self._serial: threading.RLock | None = threading.RLock() if self._memory else None
        self.engine = self._create_engine(engine_kwargs)
        # SQLite has one writer at a time: concurrent batches share a transaction
        self._group: GroupCommit[bool] | None = (
            GroupCommit(self._commit_group) if self.is_sqlite else None)
        if not self._memory:
            _forget_connections_after_fork(self.engine, self._group)

    # --- engine ---------------------------------------------------------------------------

    def _create_engine(self, engine_kwargs: dict[str, Any]) -> Engine:
        kwargs: dict[str, Any] = {}
        connect_args: dict[str, Any] = dict(engine_kwargs.pop("connect_args", {}))
        if self.is_sqlite:
            connect_args.setdefault("check_same_thread", False)
            connect_args.setdefault("timeout", 30)
            if self._memory:
                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_pre_ping"] = True
            connect_args.setdefault("connect_timeout", 10)
            if self.backend == "mysql":
                kwargs["pool_recycle"] = 3600
                # read what other writers committed once we hold the session lock, and no
                # gap locks between concurrent inserts
                kwargs["isolation_level"] = "READ COMMITTED"
        kwargs.update(engine_kwargs)
        engine = sa.create_engine(self.url, connect_args=connect_args, **kwargs)
        if self.is_sqlite:
            memory = self._memory

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=30000")
                if not memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
                    # every commit fsyncs the WAL: an acknowledged batch survives a power
                    # cut too (group commit pays it once per group; docs/storage.md)
                    cursor.execute("PRAGMA synchronous=FULL")
                    # analytics reads scan facts by index: a 32 MiB page cache per
                    # connection (the default is 2 MiB) keeps their table pages in memory
                    cursor.execute("PRAGMA cache_size=-32768")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                # writers take the write lock up front: no lock upgrade, no SQLITE_BUSY
                # deadlock between two writers that both read first
                immediate = conn.get_execution_options().get("sentiero_write")
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def __repr__(self) -> str:
        return f"SQLStore({self.url.render_as_string(hide_password=True)!r})"

    @property
    def _where(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Connection]:
        with self._serial or nullcontext():
            with self.engine.connect() as conn:
                if write and self.is_sqlite:
                    conn.execution_options(sentiero_write=True)
                with conn.begin():
                    yield conn

    def _run(self, work: Callable[[Connection], T], write: bool = True) -> T:
        """Run ``work`` in one transaction, retrying deadlocks and serialization failures;
        backend failures become StoreError."""
        for attempt in range(_RETRIES):
            try:
                with self._tx(write) as conn:
                    return work(conn)
            except _Retry:
                if attempt < _RETRIES - 1:
                    continue
                raise StoreError(
                    f"the database at {self._where} kept changing under a write"
                ) from None
            except exc.DBAPIError as error:
                if _retryable(error) and attempt < _RETRIES - 1:
                    time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
                    continue
                raise self._store_error(error) from error
            except exc.SQLAlchemyError as error:  # pool timeout, ...
                raise self._store_error(error) from error
        raise AssertionError("unreachable")

    def _store_error(self, error: Exception) -> StoreError:
        detail = getattr(error, "orig", None) or error
        return StoreError(f"the database at {self._where} failed: {detail}")

    # --- lifecycle and migrations -----------------------------------------------------------

    def schema_version(self) -> int:
        """The version of the Sentiero tables in the database (0: none yet)."""
        t = self.tables

        def read(conn: Connection) -> int:
            if not sa.inspect(conn).has_table(t.schema.name):
                return 0
            return conn.execute(sa.select(sa.func.max(t.schema.c.version))).scalar() or 0

        return self._run(read, write=False)

    def _missing_steps(self) -> list[int]:
        """Migration steps not applied, below the latest too (the numbers may skip one, and
        a step numbered below one already applied can arrive with a later release)."""
        t = self.tables

        def read(conn: Connection) -> set[int]:
            if not sa.inspect(conn).has_table(t.schema.name):
                return set()
            return set(conn.execute(sa.select(t.schema.c.version)).scalars())

        applied = self._run(read, write=False)
        return [m.version for m in MIGRATIONS if m.version not in applied]

    def setup(self) -> None:
        with self._setup_lock:
            if self._ready:
                return
            version = self.schema_version()
            missing = self._missing_steps() if version <= LATEST_VERSION else []
            if missing and self.auto_migrate:
                self.migrate()
                version = self.schema_version()
                missing = self._missing_steps()
            if version > LATEST_VERSION:
                raise SchemaNotReadyError(
                    f"the Sentiero tables in {self._where} are at schema version {version}, "
                    f"newer than this version of Sentiero knows ({LATEST_VERSION}): upgrade "
                    "the sentiero package"
                )
            if version < LATEST_VERSION:
                raise SchemaNotReadyError(
                    f"the Sentiero tables in {self._where} are at schema version {version}, "
                    f"this version needs {LATEST_VERSION}: run "
                    f"`sentiero migrate --store {self._where}`"
                )
            if missing:
                raise SchemaNotReadyError(
                    f"the Sentiero tables in {self._where} lack schema step(s) "
                    f"{', '.join(map(str, missing))}: run "
                    f"`sentiero migrate --store {self._where}`"
                )
            self._ready = True

    def _ensure_ready(self) -> None:
        if not self._ready:
            self.setup()

    def migrate(self, to_version: int | None = None) -> list[int]:
        """Apply the pending migration steps in order (each in its own transaction, under a
        database-wide lock so concurrent deploys apply each step once). Returns the
        versions applied."""
        target = LATEST_VERSION if to_version is None else to_version
        applied: list[int] = []
        t = self.tables
        for step in MIGRATIONS:
            if step.version > target:
                break

            def apply(conn: Connection, step: Any = step) -> bool:
                with self._migration_lock(conn):
                    return apply_locked(conn, step)

            def apply_locked(conn: Connection, step: Any) -> bool:
                t.schema.create(conn, checkfirst=True)
                done = conn.execute(
                    sa.select(t.schema.c.version).where(t.schema.c.version == step.version)
                ).first()
                if done:
                    return False
                step.upgrade(conn, t)
                conn.execute(
                    sa.insert(t.schema).values(
                        version=step.version,
                        description=step.description,
                        applied_us=_to_us(utcnow()),
                    )
                )
                return True

            if self._run(apply):
                log.info("sentiero: applied schema step %s (%s)", step.version, step.description)
                applied.append(step.version)
        return applied

    @contextmanager
    def _migration_lock(self, conn: Connection) -> Iterator[None]:
        key = {"k": f"{self.tables.prefix}migrate"}
        if self.backend == "postgresql":  # released at commit
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), key)
            yield
        elif self.backend == "mysql":  # a connection-level lock: release it ourselves
            if conn.execute(sa.text("SELECT GET_LOCK(:k, 60)"), key).scalar() != 1:
                raise StoreError("another `sentiero migrate` holds the migration lock")
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:k)"), key)
        else:  # SQLite: the transaction is BEGIN IMMEDIATE, which excludes other writers
            yield

    def drop_tables(self) -> None:
        """Remove every Sentiero table (tests, ``sentiero`` uninstall)."""
        t = self.tables

        def drop(conn: Connection) -> None:
            funnels_table(t.prefix).drop(conn, checkfirst=True)
            for table in (*t.tracking.all, t.facts, t.seen, t.batches, t.chunks, t.windows,
                          t.sessions, t.schema):
                table.drop(conn, checkfirst=True)

        self._run(drop)
        self._ready = False

    def close(self) -> None:
        self.engine.dispose()

    # --- writes -----------------------------------------------------------------------------

    def _statement(self, key: Any, build: Callable[[], Any]) -> Any:
        """A statement of the write path, built once with bind parameters: building and
        cache-keying a new SQLAlchemy statement per execution cost more than running it."""
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = build()
        return statement

    @property
    def seen(self) -> Seen:
        """The engagement_seen statements (sql_engagement.Seen)."""
        if self._seen is None:
            dialect = self.engine.dialect
            self._seen = Seen(self.tables, self._statement, self._insert_ignore,
                              self.backend != "mysql" and dialect.insert_executemany_returning)
        return self._seen

    def _lock_session(self, conn: Connection, session_id: str) -> Any:
        def build() -> Any:
            s = self.tables.sessions
            query = sa.select(s).where(s.c.session_id == sa.bindparam("k_sid"))
            return query if self.is_sqlite else query.with_for_update()

        return conn.execute(self._statement("lock_session", build), {"k_sid": session_id}).first()

    def _insert_ignore(self, table: sa.Table, values: dict[str, Any]) -> Any:
        if self.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).values(values).on_conflict_do_nothing()
        if self.backend == "mysql":
            from sqlalchemy.dialects.mysql import insert as my_insert

            key = table.primary_key.columns[0].name
            stmt = my_insert(table).values(values)
            return stmt.on_duplicate_key_update({key: stmt.inserted[key]})
        from sqlalchemy.dialects.sqlite import insert as lite_insert

        return lite_insert(table).values(values).on_conflict_do_nothing()

    @staticmethod
    def _fact_rows(batch: Batch) -> list[dict[str, Any]]:
        return [
            {
                "kind": f.kind,
                "session_id": f.session_id,
                "window_id": f.window_id,
                "ts_ms": int(f.ts_ms),
                "url": f.url,
                "data_json": fact_data_json(f),
                "key": f.key[:200] if f.key is not None else None,
                "value": f.value,
                **click_values(f.kind, f.data),
            }
            for f in batch.facts
        ]

    def save_batches(self, batches: Sequence[Batch]) -> int:
        """Store many batches in one transaction (bulk loads: benchmarks, large imports);
        the same rules as ``save_batch`` except ``limits``, which are not enforced here.
        Returns how many were stored (duplicates are skipped)."""
        prepared = [(b, validate_batch(b), self._fact_rows(b), window_state_json(b),
                     b.dedupe_key) for b in batches if b.events]
        self._ensure_ready()

        def write(conn: Connection) -> int:
            stored = 0
            for batch, data, facts, state, dedupe_key in prepared:
                try:
                    stored += self._save(conn, batch, data, facts, state, dedupe_key)
                except _Duplicate:
                    continue
            return stored

        return self._run(write)

    def save_batch(self, batch: Batch) -> bool:
        data = validate_batch(batch)
        facts = self._fact_rows(batch)
        state = window_state_json(batch)
        if not batch.events:
            return False
        self._ensure_ready()
        dedupe_key = batch.dedupe_key  # outside the transaction: a seq-less batch digests
        def save(conn: Connection) -> bool:
            return self._save(conn, batch, data, facts, state, dedupe_key)

        try:
            stored = self._group.submit(save) if self._group is not None else self._run(save)
        except _Duplicate:
            return False
        if stored and self.limits.max_sessions is not None:
            self._evict_sessions(batch.session_id, self.limits.max_sessions)
        return stored

    def _commit_group(self, group: Sequence[Pending[bool]]) -> None:
        """Write a group of batches in one transaction, each in its own savepoint: a batch
        that fails is rolled back alone and the others are committed (group_commit.py). A
        group of one needs no savepoint: its failure rolls back the transaction, and
        GroupCommit hands the error to its caller."""
        if len(group) == 1:
            only = group[0]
            only.result, only.error = None, None
            only.result = self._run(only.work)
            return

        def write(conn: Connection) -> None:
            for item in group:
                item.result, item.error = None, None
                # plain SQL: SQLAlchemy's begin_nested() compiles both statements every time
                conn.exec_driver_sql("SAVEPOINT sentiero_batch")
                try:
                    item.result = item.work(conn)
                except _Retry:
                    raise  # the whole transaction again
                except BaseException as error:
                    conn.exec_driver_sql("ROLLBACK TO SAVEPOINT sentiero_batch")
                    if not isinstance(error, Exception):
                        raise
                    item.error = (self._store_error(error) if isinstance(error, exc.DBAPIError)
                                  else error)  # a duplicate (_Duplicate) included
                conn.exec_driver_sql("RELEASE SAVEPOINT sentiero_batch")

        self._run(write)

    def _save(
        self,
        conn: Connection,
        batch: Batch,
        data: bytes,
        facts: list[dict[str, Any]],
        state: str | None,
        dedupe_key: int,
    ) -> bool:
        t = self.tables
        s = t.sessions
        sid, wid = batch.session_id, batch.window_id
        received_us = _to_us(batch.received_at)
        first_ms, last_ms, count = batch.first_ms, batch.last_ms, len(batch.events)

        session = self._lock_session(conn, sid)
        created: dict[str, Any] | None = None
        if session is None:
            # a new session: its row is written whole, with what this batch makes of it,
            # before the rows that refer to it (no update after; one statement, not three)
            blank = self._blank_session(sid, received_us)
            created = {**vars(blank), **self._session_changes(blank, batch, received_us)}
            created.update(new_session_engagement(batch.facts, created["first_ms"],
                                                  created["last_ms"]))
            if not self._insert_session(conn, created):  # another writer created it first
                created = None
                session = self._lock_session(conn, sid)
                if session is None:
                    raise _Retry
        if not self._claim_seq(conn, sid, wid, dedupe_key):
            raise _Duplicate
        wanted = index_seq(batch.seq)
        index = self._next_chunk_index(conn, sid, wid, count, first_ms, last_ms, state, wanted,
                                       new_window=created is not None)
        index = self._insert_chunk(conn, sid, wid, index, wanted is not None, batch.seq,
                                   first_ms, last_ms, count, data)
        if facts:
            conn.execute(self._statement("insert_facts", lambda: sa.insert(t.facts)), facts)

        if created is not None:
            self.seen.insert(conn, sid, seen_items(batch.facts))
            total = created["event_count"]
        else:
            changes = self._session_changes(session, batch, received_us)
            changes.update(engagement_changes(conn, t.facts, self.seen, session, batch.facts,
                                              changes["first_ms"], changes["last_ms"]))
            keys = tuple(sorted(changes))
            update = self._statement(("update_session", keys), lambda: (
                sa.update(s).where(s.c.session_id == sa.bindparam("k_sid"))
                .values({k: sa.bindparam(f"v_{k}") for k in keys})))
            conn.execute(update, {"k_sid": sid, **{f"v_{k}": changes[k] for k in keys}})
            total = changes["event_count"]

        max_events = self.limits.max_events_per_session
        if max_events is not None and total > max_events:
            self._drop_oldest_chunks(conn, sid, (wid, index), total, max_events)
        return True

    def _blank_session(self, sid: str, received_us: int) -> SimpleNamespace:
        """A session row before its first batch: every column, as a row read back."""
        row: dict[str, Any] = dict.fromkeys(self.tables.sessions.c.keys())
        row.update(session_id=sid, created_us=received_us, updated_us=received_us,
                   event_count=0, metadata_json="{}", has_errors=False)
        return SimpleNamespace(**row)

    def _insert_session(self, conn: Connection, row: dict[str, Any]) -> bool:
        """Insert a new session's row; False when another writer holds that id already."""
        s = self.tables.sessions
        if self.backend == "mysql":  # no RETURNING: a duplicate key fails the statement only
            try:
                conn.execute(self._statement("insert_session", lambda: sa.insert(s)), row)
            except exc.IntegrityError as error:
                if getattr(error.orig, "args", (None,))[0] == 1062:  # ER_DUP_ENTRY
                    return False
                raise
            return True
        insert = self._statement("insert_session", lambda: self._insert_ignore(
            s, {k: sa.bindparam(k) for k in row}).returning(s.c.session_id))
        return conn.execute(insert, row).first() is not None

    def _session_changes(self, session: Any, batch: Batch, received_us: int) -> dict[str, Any]:
        """The session row's columns this batch changes (engagement aside)."""
        first_ms, last_ms = batch.first_ms, batch.last_ms
        changes: dict[str, Any] = {
            "updated_us": max(session.updated_us, received_us),
            "event_count": session.event_count + len(batch.events),
            "first_ms": _min(session.first_ms, first_ms),
            "last_ms": _max(session.last_ms, last_ms),
        }
        if batch.metadata:
            merged = orjson.loads(session.metadata_json)
            merged.update(batch.metadata)
            changes["metadata_json"] = orjson.dumps(merged).decode()
        if not session.user_agent and batch.user_agent:
            changes["user_agent"] = batch.user_agent
        if batch.page_url and (session.last_url_ms is None or last_ms >= session.last_url_ms):
            changes["last_url"] = batch.page_url
            changes["last_url_ms"] = last_ms
        if batch_has_errors(batch) and not session.has_errors:
            changes["has_errors"] = True
        changes.update(self._trait_changes(session, batch, changes))
        return changes

    @staticmethod
    def _trait_changes(session: Any, batch: Batch, changes: dict[str, Any]) -> dict[str, Any]:
        """The session's traits after this batch, where they changed (one function computes
        them for every store: sentiero.analytics.traits)."""
        if not (batch.metadata or batch.user_agent or session.entry_url is None):
            return {}
        metadata = orjson.loads(changes.get("metadata_json", session.metadata_json))
        first_page = session.entry_url or next(
            (f.url for f in batch.facts if f.kind == "page_view" and f.url), None)
        traits = session_traits(metadata, session.user_agent or batch.user_agent, first_page)
        return {k: v for k, v in traits.as_dict().items() if getattr(session, k) != v}

    def _claim_seq(self, conn: Connection, sid: str, wid: str, seq: int) -> bool:
        """Record (session, window, seq); False when it was already there. ``seq`` is the
        batch's ``dedupe_key`` (negative for a seq-less batch: its content key). Runs under
        the session lock, so the check and the insert cannot interleave with another writer."""
        values = {"session_id": sid, "window_id": wid, "seq": seq}
        b = self.tables.batches
        if self.backend == "mysql":
            try:
                conn.execute(self._statement("claim_seq", lambda: sa.insert(b)), values)
            except exc.IntegrityError as error:
                if getattr(error.orig, "args", (None,))[0] == 1062:  # ER_DUP_ENTRY
                    return False
                raise
            return True

        def build() -> Any:
            stmt = self._insert_ignore(b, {k: sa.bindparam(k) for k in values})
            return stmt.returning(b.c.seq) if self.engine.dialect.insert_returning else stmt

        stmt = self._statement("claim_seq", build)
        if self.engine.dialect.insert_returning:
            return conn.execute(stmt, values).first() is not None
        return conn.execution_options(preserve_rowcount=True).execute(stmt, values).rowcount == 1

    def _insert_chunk(self, conn: Connection, sid: str, wid: str, index: int, guard: bool,
                      seq: int | None, first_ms: int, last_ms: int, count: int,
                      data: bytes) -> int:
        """Insert the chunk at ``index``; returns the index it got. A seq'd batch asks for
        its seq (``allocate_chunk_index``), and in a window mixing seq'd and seq-less batches
        a seq-less chunk may hold it already: the insert is guarded, and such a batch takes the
        window's next index instead (rare, so the common path stays one statement)."""
        c = self.tables.chunks
        row = {"session_id": sid, "window_id": wid, "chunk_index": index, "seq": seq,
               "first_ms": first_ms, "last_ms": last_ms, "event_count": count, "data": data}
        insert = self._statement("insert_chunk", lambda: sa.insert(c))
        if not guard:
            conn.execute(insert, row)
            return index

        def build() -> Any:
            held = sa.exists().where(c.c.session_id == sa.bindparam("session_id"),
                                     c.c.window_id == sa.bindparam("window_id"),
                                     c.c.chunk_index == sa.bindparam("chunk_index"))
            values = sa.select(*(sa.bindparam(k, type_=c.c[k].type).label(k) for k in row))
            return sa.insert(c).from_select(list(row), values.where(~held))

        guarded = self._statement("insert_chunk_guarded", build)
        if conn.execution_options(preserve_rowcount=True).execute(guarded, row).rowcount == 1:
            return index
        index = self._bump_next_chunk(conn, sid, wid)
        conn.execute(insert, {**row, "chunk_index": index})
        return index

    def _window_key(self) -> tuple[Any, ...]:
        w = self.tables.windows
        return (w.c.session_id == sa.bindparam("k_sid"), w.c.window_id == sa.bindparam("k_wid"))

    def _bump_next_chunk(self, conn: Connection, sid: str, wid: str) -> int:
        w = self.tables.windows
        key = {"k_sid": sid, "k_wid": wid}
        current = conn.execute(self._statement("next_chunk", lambda: sa.select(
            w.c.next_chunk).where(*self._window_key())), key).scalar_one()
        conn.execute(self._statement("bump_next_chunk", lambda: sa.update(w).where(
            *self._window_key()).values(next_chunk=sa.bindparam("v_next"))),
            {**key, "v_next": current + 1})
        return int(current)

    def _next_chunk_index(
        self,
        conn: Connection,
        sid: str,
        wid: str,
        count: int,
        first_ms: int,
        last_ms: int,
        state: str | None,
        seq: int | None = None,
        new_window: bool = False,
    ) -> int:
        """Allocate the batch's chunk index (its seq, else the window's next index: see
        ``allocate_chunk_index``), add the batch to the window's totals and replace its state
        (when the batch carries one). Whether a seq below the next index is free is left to
        ``_insert_chunk``. Each statement is built once per shape (seq or not, state or not).
        ``new_window``: the window is known not to exist (the session was just created)."""
        w = self.tables.windows
        with_seq, with_state = seq is not None, state is not None
        key = {"k_sid": sid, "k_wid": wid}
        values: dict[str, Any] = {"v_count": count, "v_first": first_ms, "v_last": last_ms}
        if with_seq:
            values["v_seq"], values["v_seq1"] = seq, seq + 1  # type: ignore[operator]
        if with_state:
            values["v_state"] = state
        if new_window:  # the session's first batch: its window cannot exist yet
            pass
        elif self.engine.dialect.update_returning:  # PostgreSQL, SQLite >= 3.35: one round trip

            def build_returning() -> Any:
                int_ = sa.BigInteger()
                first, last = sa.bindparam("v_first", type_=int_), sa.bindparam("v_last",
                                                                                 type_=int_)
                bumped: Any = (
                    sa.case((w.c.next_chunk <= sa.bindparam("v_seq", type_=sa.Integer()),
                             sa.bindparam("v_seq1", type_=sa.Integer())),
                            else_=w.c.next_chunk)
                    if with_seq else w.c.next_chunk + 1)
                new: dict[str, Any] = {
                    "next_chunk": bumped,
                    "event_count": w.c.event_count + sa.bindparam("v_count", type_=int_),
                    "first_ms": sa.case((w.c.first_ms.is_(None) | (w.c.first_ms > first), first),
                                        else_=w.c.first_ms),
                    "last_ms": sa.case((w.c.last_ms.is_(None) | (w.c.last_ms < last), last),
                                       else_=w.c.last_ms),
                }
                if with_state:
                    new["state_json"] = sa.bindparam("v_state")
                return sa.update(w).where(*self._window_key()).values(new).returning(
                    w.c.next_chunk)

            stmt = self._statement(("window_returning", with_seq, with_state), build_returning)
            row = conn.execute(stmt, {**key, **values}).first()
            if row is not None:
                return int(row.next_chunk) - 1 if seq is None else seq
        else:
            window = conn.execute(self._statement("window_totals", lambda: sa.select(
                w.c.next_chunk, w.c.event_count, w.c.first_ms, w.c.last_ms).where(
                *self._window_key())), key).first()
            if window is not None:
                names = ("next_chunk", "event_count", "first_ms", "last_ms",
                         *(("state_json",) if with_state else ()))
                update = self._statement(("window_update", with_state), lambda: sa.update(
                    w).where(*self._window_key()).values({n: sa.bindparam(f"n_{n}")
                                                         for n in names}))
                conn.execute(update, {
                    **key,
                    "n_next_chunk": (window.next_chunk + 1 if seq is None
                                     else max(window.next_chunk, seq + 1)),
                    "n_event_count": window.event_count + count,
                    "n_first_ms": _min(window.first_ms, first_ms),
                    "n_last_ms": _max(window.last_ms, last_ms),
                    **({"n_state_json": state} if with_state else {}),
                })
                return int(window.next_chunk) if seq is None else seq
        conn.execute(self._statement("new_window", lambda: sa.insert(w)), {
            "session_id": sid, "window_id": wid, "next_chunk": 1 if seq is None else seq + 1,
            "event_count": count, "first_ms": first_ms, "last_ms": last_ms,
            "state_json": state})
        return 0 if seq is None else seq

    def _drop_oldest_chunks(
        self, conn: Connection, sid: str, keep: tuple[str, int], total: int, max_events: int
    ) -> None:
        """Drop the session's oldest chunks (by first event) until it is within the limit,
        never the chunk just written. Runs under the session lock."""
        c, w = self.tables.chunks, self.tables.windows
        rows = conn.execute(
            sa.select(c.c.window_id, c.c.chunk_index, c.c.event_count)
            .where(c.c.session_id == sid)
            .order_by(c.c.first_ms, c.c.chunk_index, c.c.window_id)
        ).all()
        doomed: dict[str, list[int]] = {}
        for row in rows:
            if total <= max_events:
                break
            if (row.window_id, row.chunk_index) == keep:
                continue
            doomed.setdefault(row.window_id, []).append(row.chunk_index)
            total -= row.event_count
        for window_id, indexes in doomed.items():
            for start in range(0, len(indexes), _PAGE):
                conn.execute(
                    sa.delete(c).where(
                        c.c.session_id == sid,
                        c.c.window_id == window_id,
                        c.c.chunk_index.in_(indexes[start : start + _PAGE]),
                    )
                )
            agg = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(c.c.event_count), 0),
                    sa.func.min(c.c.first_ms),
                    sa.func.max(c.c.last_ms),
                ).where(c.c.session_id == sid, c.c.window_id == window_id)
            ).one()
            conn.execute(
                sa.update(w)
                .where(w.c.session_id == sid, w.c.window_id == window_id)
                .values(event_count=agg[0], first_ms=agg[1], last_ms=agg[2])
            )
        self._refresh_session_totals(conn, sid)

    def _refresh_session_totals(self, conn: Connection, sid: str) -> None:
        w, s = self.tables.windows, self.tables.sessions
        agg = conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(w.c.event_count), 0),
                sa.func.min(w.c.first_ms),
                sa.func.max(w.c.last_ms),
            ).where(w.c.session_id == sid)
        ).one()
        conn.execute(
            sa.update(s)
            .where(s.c.session_id == sid)
            .values(event_count=agg[0], first_ms=agg[1], last_ms=agg[2])
        )

    def _evict_sessions(self, current: str, max_sessions: int) -> None:
        """Delete the oldest sessions beyond ``max_sessions`` (never ``current``) in one
        transaction that first locks ``current``'s row.

        Two writers that would evict each other's new session each hold their own row and
        wait for the other's: the database sees a deadlock, one of them is retried, finds
        its session gone and stops, so at most one of the two is evicted (the original code
        could lose both). Candidates are locked before deleting, and the count taken again
        after, so evictions running side by side never delete more than needed.
        """
        s = self.tables.sessions

        def count(conn: Connection) -> int:
            return conn.execute(sa.select(sa.func.count()).select_from(s)).scalar() or 0

        def evict(conn: Connection) -> int:
            if self._lock_session(conn, current) is None:
                return 0  # evicted by another writer meanwhile: nothing for us to do
            excess = count(conn) - max_sessions
            if excess <= 0:
                return 0
            query = (
                sa.select(s.c.session_id)
                .where(s.c.session_id != current)
                .order_by(s.c.updated_us, s.c.session_id)
                .limit(excess)
            )
            if not self.is_sqlite:  # SQLite writers are serialized already
                query = query.with_for_update()
            doomed = list(conn.execute(query).scalars())
            # a row deleted by another eviction while we waited for its lock is not returned;
            # the count again, so we take only what is still beyond the limit
            doomed = doomed[: max(0, count(conn) - max_sessions)]
            return self._delete_sessions(conn, doomed) if doomed else 0

        self._run(evict)

    def save_metadata(self, session_id: str, metadata: dict[str, Any]) -> None:
        validate_id(session_id, "session id")
        clean = validate_metadata(metadata)
        self._ensure_ready()
        s = self.tables.sessions

        def merge(conn: Connection) -> None:
            session = self._lock_session(conn, session_id)
            if session is None:
                return
            merged = orjson.loads(session.metadata_json)
            merged.update(clean)
            traits = session_traits(merged, session.user_agent, session.entry_url)
            conn.execute(
                sa.update(s)
                .where(s.c.session_id == session_id)
                .values(metadata_json=orjson.dumps(merged).decode(), **traits.as_dict())
            )

        self._run(merge)

    # --- reads ------------------------------------------------------------------------------

    def _summaries(self, conn: Connection, rows: Sequence[Any]) -> list[SessionSummary]:
        w = self.tables.windows
        windows: dict[str, list[WindowSummary]] = {r.session_id: [] for r in rows}
        ids = list(windows)
        for start in range(0, len(ids), _PAGE):
            for win in conn.execute(
                sa.select(
                    w.c.session_id, w.c.window_id, w.c.event_count, w.c.first_ms, w.c.last_ms
                ).where(w.c.session_id.in_(ids[start : start + _PAGE]))
            ):
                windows[win.session_id].append(
                    WindowSummary(win.window_id, int(win.event_count), win.first_ms, win.last_ms)
                )
        out = []
        for r in rows:
            wins = sorted(
                windows[r.session_id],
                key=lambda x: (x.first_ms is None, x.first_ms or 0, x.window_id),
            )
            out.append(
                SessionSummary(
                    session_id=r.session_id,
                    created_at=_from_us(r.created_us),
                    updated_at=_from_us(r.updated_us),
                    first_ms=r.first_ms,
                    last_ms=r.last_ms,
                    event_count=int(r.event_count),
                    windows=wins,
                    metadata=orjson.loads(r.metadata_json),
                    user_agent=r.user_agent,
                    last_url=r.last_url,
                    has_errors=bool(r.has_errors),
                    traits=traits_of_row(r),
                )
            )
        return out

    def list_sessions(self, query: SessionQuery) -> list[SessionSummary]:
        """Index-backed for every sort. ``search`` is a LIKE over the id and the metadata's
        JSON text (so it also matches metadata keys; SQLite folds case for ASCII only)."""
        return self._list_sessions(query, [])

    def list_segment_sessions(self, query: SessionQuery, segment: Segment
                              ) -> list[SessionSummary]:
        return self._list_sessions(query, self._segment_where(segment))

    def _list_sessions(self, query: SessionQuery, where: list[Any]) -> list[SessionSummary]:
        self._ensure_ready()
        s = self.tables.sessions
        stmt = sa.select(s).where(*where)
        if query.since is not None:
            stmt = stmt.where(s.c.updated_us >= _to_us(query.since))
        if query.until is not None:
            stmt = stmt.where(s.c.updated_us <= _to_us(query.until))
        if query.has_errors is not None:
            stmt = stmt.where(s.c.has_errors == query.has_errors)
        if query.search:
            pattern = "%" + _escape_like(query.search.lower()) + "%"
            stmt = stmt.where(
                sa.or_(
                    sa.func.lower(s.c.session_id).like(pattern, escape="!"),
                    sa.func.lower(s.c.metadata_json).like(pattern, escape="!"),
                )
            )
        key = {
            "updated_at": s.c.updated_us,
            "created_at": s.c.created_us,
            "event_count": s.c.event_count,
        }[query.sort_by]
        stmt = stmt.order_by(key.desc(), s.c.session_id).limit(query.limit).offset(query.offset)

        def read(conn: Connection) -> list[SessionSummary]:
            return self._summaries(conn, conn.execute(stmt).all())

        return self._run(read, write=False)

    def get_session(self, session_id: str) -> SessionSummary | None:
        validate_id(session_id, "session id")
        self._ensure_ready()
        s = self.tables.sessions

        def read(conn: Connection) -> SessionSummary | None:
            row = conn.execute(sa.select(s).where(s.c.session_id == session_id)).first()
            return None if row is None else self._summaries(conn, [row])[0]

        return self._run(read, write=False)

    def iter_session_ids(self) -> Iterator[str]:
        self._ensure_ready()
        s = self.tables.sessions

        def read(conn: Connection) -> list[str]:
            return list(
                conn.execute(
                    sa.select(s.c.session_id).order_by(s.c.created_us, s.c.session_id)
                ).scalars()
            )

        return iter(self._run(read, write=False))

    def chunk_index(self, ref: WindowRef) -> list[ChunkInfo]:
        stmt, params = self._infos_query(ref)
        return self._run(lambda conn: self._read_infos(conn, stmt, params), write=False)

    def _infos_query(
        self,
        ref: WindowRef,
        from_ms: int | None = None,
        to_ms: int | None = None,
        start_index: int = 0,
        limit: int | None = None,
    ) -> tuple[sa.Select, dict[str, Any]]:
        """The chunk-range statement for these filters and its parameters. The statement is
        built once per combination of filters (values are bound parameters), so the replay
        page's many small page requests skip SQLAlchemy's statement construction."""
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")
        self._ensure_ready()
        shape = (bool(start_index), from_ms is not None, to_ms is not None, limit is not None)
        stmt = self._statements.get(("chunk_infos", shape))
        if stmt is None:
            c = self.tables.chunks
            stmt = (
                sa.select(c.c.chunk_index, c.c.first_ms, c.c.last_ms, c.c.event_count, c.c.seq)
                .where(c.c.session_id == sa.bindparam("sid"),
                       c.c.window_id == sa.bindparam("wid"))
                .order_by(c.c.chunk_index)
            )
            if shape[0]:
                stmt = stmt.where(c.c.chunk_index >= sa.bindparam("start"))
            if shape[1]:
                stmt = stmt.where(c.c.last_ms >= sa.bindparam("from_ms"))
            if shape[2]:
                stmt = stmt.where(c.c.first_ms <= sa.bindparam("to_ms"))
            if shape[3]:
                stmt = stmt.limit(sa.bindparam("lim", type_=sa.Integer))
            self._statements[("chunk_infos", shape)] = stmt
        params: dict[str, Any] = {"sid": ref.session_id, "wid": ref.window_id}
        if shape[0]:
            params["start"] = start_index
        if shape[1]:
            params["from_ms"] = from_ms
        if shape[2]:
            params["to_ms"] = to_ms
        if shape[3]:
            params["lim"] = limit
        return stmt, params

    @staticmethod
    def _read_infos(conn: Connection, stmt: sa.Select, params: dict[str, Any] | None = None
                    ) -> list[ChunkInfo]:
        return [ChunkInfo(*row) for row in conn.execute(stmt, params)]

    def _blobs_query(self) -> sa.Select:
        stmt = self._statements.get(("chunk_blobs",))
        if stmt is None:
            c = self.tables.chunks
            stmt = sa.select(c.c.chunk_index, c.c.data).where(
                c.c.session_id == sa.bindparam("sid"),
                c.c.window_id == sa.bindparam("wid"),
                c.c.chunk_index.in_(sa.bindparam("wanted", expanding=True)),
            )
            self._statements[("chunk_blobs",)] = stmt
        return stmt

    def get_chunks(
        self,
        ref: WindowRef,
        from_ms: int | None = None,
        to_ms: int | None = None,
        start_index: int = 0,
        limit: int | None = None,
    ) -> list[Chunk]:
        # Two queries so the database never reads a chunk's data it does not return: pick
        # the chunks from their ranges, then fetch exactly those blobs by primary key.
        stmt, params = self._infos_query(ref, from_ms, to_ms, start_index, limit)
        blobs_stmt = self._blobs_query()

        def read(conn: Connection) -> list[Chunk]:
            infos = self._read_infos(conn, stmt, params)
            wanted = [i.index for i in infos]
            blobs: dict[int, bytes] = {}
            for start in range(0, len(wanted), _PAGE):
                for index, data in conn.execute(blobs_stmt, {
                    "sid": ref.session_id, "wid": ref.window_id,
                    "wanted": wanted[start : start + _PAGE],
                }):
                    blobs[index] = bytes(data)
            # a chunk dropped between the two reads (eviction) is left out
            return [Chunk(info, blobs[info.index]) for info in infos if info.index in blobs]

        return self._run(read, write=False)

    def replace_chunks(self, ref: WindowRef, replaced: Sequence[ChunkInfo], chunk: Chunk) -> bool:
        """Compaction's primitive: one transaction holding the session's lock, like a batch."""
        self._ensure_ready()
        c = self.tables.chunks
        sid, wid = ref.session_id, ref.window_id
        lo, hi = replaced[0].index, replaced[-1].index
        in_run = (c.c.session_id == sid, c.c.window_id == wid, c.c.chunk_index >= lo,
                  c.c.chunk_index <= hi)

        def replace(conn: Connection) -> bool:
            if self._lock_session(conn, sid) is None:
                return False
            current = self._read_infos(conn, sa.select(
                c.c.chunk_index, c.c.first_ms, c.c.last_ms, c.c.event_count, c.c.seq
            ).where(*in_run).order_by(c.c.chunk_index))
            if not same_run(current, replaced):
                return False
            conn.execute(sa.delete(c).where(*in_run, c.c.chunk_index > lo))
            info = chunk.info
            conn.execute(sa.update(c).where(*in_run, c.c.chunk_index == lo).values(
                first_ms=info.first_ms, last_ms=info.last_ms, event_count=info.event_count,
                data=chunk.data))
            return True

        return self._run(replace)

    def get_window_state(self, ref: WindowRef) -> dict[str, Any] | None:
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")
        self._ensure_ready()
        w = self.tables.windows
        stmt = self._statement("window_state", lambda: sa.select(w.c.state_json).where(
            w.c.session_id == sa.bindparam("k_sid"), w.c.window_id == sa.bindparam("k_wid")))
        params = {"k_sid": ref.session_id, "k_wid": ref.window_id}
        text = self._run(lambda conn: conn.execute(stmt, params).scalar(), write=False)
        return load_window_state(text)

    def iter_facts(
        self,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
    ) -> Iterator[Fact]:
        if session_id is not None:
            validate_id(session_id, "session id")
        self._ensure_ready()
        f = self.tables.facts
        stmt = sa.select(f)
        if kind is not None:
            stmt = stmt.where(f.c.kind == kind)
        if session_id is not None:
            stmt = stmt.where(f.c.session_id == session_id)
        if since is not None:
            stmt = stmt.where(f.c.ts_ms >= to_ms(since, round_up=True))
        if until is not None:
            stmt = stmt.where(f.c.ts_ms <= to_ms(until))
        return self._fact_pages(stmt)

    def _fact_pages(self, stmt: sa.Select, limit: int | None = None) -> Iterator[Fact]:
        # keyset pages: no connection is held while the caller consumes facts
        f = self.tables.facts
        size = _FACT_PAGE if limit is None else min(limit, _FACT_PAGE)
        left = limit
        stmt = stmt.with_only_columns(f.c.kind, f.c.session_id, f.c.window_id, f.c.ts_ms, f.c.url,
                                      f.c.data_json, f.c.key, f.c.value, f.c.id)
        after: tuple[int, int] | None = None
        loads = orjson.loads
        while True:
            page = stmt
            if after is not None:
                page = page.where(
                    sa.or_(f.c.ts_ms > after[0], sa.and_(f.c.ts_ms == after[0], f.c.id > after[1]))
                )
            page = page.order_by(f.c.ts_ms, f.c.id).limit(size)
            rows = self._run(functools.partial(_fetch_tuples, page), write=False)
            for kind, sid, wid, ts, url, data, key, value, _id in rows:
                yield Fact(kind, sid, wid, ts, url, loads(data), key, value)
            if left is not None:
                left -= len(rows)
                size = min(size, left)
            if len(rows) < _FACT_PAGE or left == 0:
                return
            after = (rows[-1][3], rows[-1][8])

    # --- deletes ----------------------------------------------------------------------------

    def _delete_sessions(self, conn: Connection, ids: list[str]) -> int:
        t = self.tables
        for table in (t.facts, t.seen, t.batches, t.chunks, t.windows,
                      t.tracking.occurrences, t.tracking.server_events):
            conn.execute(sa.delete(table).where(table.c.session_id.in_(ids)))
        return conn.execute(sa.delete(t.sessions).where(t.sessions.c.session_id.in_(ids))).rowcount

    def delete_session(self, session_id: str) -> bool:
        validate_id(session_id, "session id")
        self._ensure_ready()

        def delete(conn: Connection) -> bool:
            if self._lock_session(conn, session_id) is None:
                return False
            return self._delete_sessions(conn, [session_id]) > 0

        return self._run(delete)

    def delete_window(self, ref: WindowRef) -> bool:
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")
        self._ensure_ready()
        t = self.tables
        sid, wid = ref.session_id, ref.window_id

        def delete(conn: Connection) -> bool:
            if self._lock_session(conn, sid) is None:
                return False
            w = t.windows
            gone = conn.execute(
                sa.delete(w).where(w.c.session_id == sid, w.c.window_id == wid)
            ).rowcount
            if not gone:
                return False
            for table in (t.facts, t.batches, t.chunks):
                conn.execute(
                    sa.delete(table).where(table.c.session_id == sid, table.c.window_id == wid)
                )
            left = conn.execute(
                sa.select(sa.func.count()).select_from(w).where(w.c.session_id == sid)
            ).scalar()
            if not left:
                self._delete_sessions(conn, [sid])
            else:
                self._refresh_session_totals(conn, sid)
                rescore(conn, t, self.seen, sid)  # its facts went with the window
            return True

        return self._run(delete)

    def purge_older_than(self, seconds: float) -> int:
        self._ensure_ready()
        s = self.tables.sessions
        cutoff = _to_us(utcnow() - timedelta(seconds=seconds))
        deleted = 0
        while True:

            def page(conn: Connection) -> int:
                # lock the rows as save_batch does (and re-check the cutoff once a writer
                # holding one commits): a session written meanwhile is not purged
                query = (
                    sa.select(s.c.session_id)
                    .where(s.c.updated_us < cutoff)
                    .order_by(s.c.updated_us)
                    .limit(_PAGE)
                )
                if not self.is_sqlite:
                    query = query.with_for_update()
                ids = list(conn.execute(query).scalars())
                return self._delete_sessions(conn, ids) if ids else -1

            count = self._run(page)
            if count < 0:
                self._purge_tracking(to_ms(utcnow() - timedelta(seconds=seconds)))
                return deleted
            deleted += count

    def clear(self) -> None:
        """Delete every session (tests and demos)."""
        self._ensure_ready()
        t = self.tables

        def wipe(conn: Connection) -> None:
            for table in (*t.tracking.all, t.facts, t.seen, t.batches, t.chunks, t.windows,
                          t.sessions):
                conn.execute(sa.delete(table))

        self._run(wipe)

    # --- sizes (benchmarks, `sentiero doctor`) ------------------------------------------------

    def stored_bytes(self) -> dict[str, int]:
        """Chunk data bytes and event count stored (compressed, as written)."""
        self._ensure_ready()
        c = self.tables.chunks

        def read(conn: Connection) -> dict[str, int]:
            data, events, chunks = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(sa.func.length(c.c.data)), 0),
                    sa.func.coalesce(sa.func.sum(c.c.event_count), 0),
                    sa.func.count(),
                )
            ).one()
            return {"chunk_bytes": int(data), "events": int(events), "chunks": int(chunks)}

        return self._run(read, write=False)


def traits_of_row(row: Any) -> Traits:
    return Traits(*(getattr(row, name) for name in TRAIT_NAMES))


def _fetch_tuples(stmt: sa.Select, conn: Connection) -> list[tuple[Any, ...]]:
    """Plain tuples: unpacking them is several times cheaper than reading Row attributes."""
    return [tuple(r) for r in conn.execute(stmt)]


def _fetch_all(stmt: sa.Select, conn: Connection) -> Sequence[Any]:
    return conn.execute(stmt).all()


def _forget_connections_after_fork(engine: Engine, group: GroupCommit[Any] | None) -> None:
    """A forked child (``sentiero serve --workers N`` forks after the app is built, and
    ``setup()`` has opened a connection by then) must not use the parent's pooled
    connections: two processes on one socket corrupt each other's protocol state (PostgreSQL
    answered "unexpected result EMPTY_QUERY from command 'COMMIT'"). The child's pool starts
    empty instead, without closing the parent's connections."""
    ref = weakref.ref(engine)
    group_ref = weakref.ref(group) if group is not None else None

    def reset() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)
        waiting = group_ref() if group_ref is not None else None
        if waiting is not None:
            waiting.reset()

    os.register_at_fork(after_in_child=reset)


def _retryable(error: exc.DBAPIError) -> bool:
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate in ("40001", "40P01"):  # serialization failure, deadlock
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in (1213, 1205):  # MySQL deadlock, lock wait timeout
        return True
    message = str(orig).lower()
    return "database is locked" in message or "deadlock" in message


def _escape_like(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
