"""The SQL store: SQLite (the default), PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL),
on SQLAlchemy Core.

Every batch is written in one transaction that first takes the session's row lock
(``SELECT ... FOR UPDATE``; SQLite: ``BEGIN IMMEDIATE``), so several processes writing one
session never collide on chunk numbers or merge metadata over each other, and a duplicate
``(session, window, seq)`` is detected before anything is written. On SQLite, batches that
arrive together in one process share that transaction, each in its own savepoint (group
commit, :mod:`sentiero.stores.group_commit`), and the writers of every process queue on an
``flock`` beside the database file (``_writer_lock``). Deadlocks and serialization failures
are retried; other backend failures surface as ``StoreError``. The statements of the write
path are built once per store with bind parameters, and on SQLite run on the driver's cursor
(:mod:`sentiero.stores.sql_direct`).

This module holds the engine, the transaction runner, setup and migrations, the statement
cache and the session lock; ``SQLStore`` mixes in the rest: sql_write.py (saving batches),
sql_read.py (sessions, chunks, facts), sql_delete.py (limits, erasure, retention),
sql_day_cache.py, sql_analytics.py, sql_goals.py, sql_clicks.py, sql_forms.py,
sql_engagement.py, sql_tracking.py and sql_funnels.py.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.pool import StaticPool

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy wait alone
    fcntl = None  # type: ignore[assignment]

from sentiero.stores.base import SchemaNotReadyError, Store, StoreError, StoreLimits, utcnow
from sentiero.stores.group_commit import GroupCommit
from sentiero.stores.sql_analytics import SQLAnalytics
from sentiero.stores.sql_clicks import SQLClicks
from sentiero.stores.sql_day_cache import SQLDayCache
from sentiero.stores.sql_delete import SQLDelete
from sentiero.stores.sql_direct import Direct
from sentiero.stores.sql_engagement import Seen, SQLEngagement
from sentiero.stores.sql_forms import SQLForms
from sentiero.stores.sql_funnels import SQLSavedFunnels, funnels_table
from sentiero.stores.sql_goals import SQLGoals
from sentiero.stores.sql_helpers import _Retry, _to_us
from sentiero.stores.sql_read import SQLRead
from sentiero.stores.sql_schema import LATEST_VERSION, MIGRATIONS, Tables, build_tables
from sentiero.stores.sql_tracking import SQLTracking
from sentiero.stores.sql_write import SQLWrite

log = logging.getLogger(__name__)

T = TypeVar("T")

_RETRIES = 6
SYNCHRONOUS = "FULL"
"""SQLite's default ``synchronous`` (docs/storage.md "what a crash can cost")."""


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


class SQLStore(SQLWrite, SQLRead, SQLDelete, SQLDayCache, SQLEngagement, SQLAnalytics,
               SQLGoals, SQLClicks, SQLForms, SQLTracking, SQLSavedFunnels, Store):
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
        synchronous: str | None = None,
        **engine_kwargs: Any,
    ) -> None:
        super().__init__(limits)
        self.url = normalize_url(url)
        self.backend = self.url.get_backend_name()
        self.is_sqlite = self.backend == "sqlite"
        self.synchronous = self._synchronous(synchronous)
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
        # the write path's statements: on SQLite straight on the driver's cursor
        self._exec = Direct(self.engine.dialect, self._statement, self.is_sqlite).run
        # SQLite has one writer at a time: concurrent batches share a transaction
        self._group: GroupCommit[bool] | None = (
            GroupCommit(self._commit_group, gate=self._writer_lock) if self.is_sqlite else None)
        if not self._memory:
            _forget_connections_after_fork(self.engine, self._group)

    # --- engine ---------------------------------------------------------------------------

    def _synchronous(self, given: str | None) -> str:
        """SQLite's ``synchronous`` setting: the argument, else the URL's ``synchronous``
        (taken out of the URL: the driver does not know it), else the default."""
        in_url = self.url.query.get("synchronous")
        if in_url is not None:
            self.url = self.url.difference_update_query(["synchronous"])
        value = (given or (in_url if isinstance(in_url, str) else None) or SYNCHRONOUS).upper()
        if value not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'full' or 'normal', not {value.lower()!r}")
        if not self.is_sqlite and (given or in_url):
            raise ValueError("synchronous is a SQLite setting")
        return value

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
            memory, synchronous = self._memory, self.synchronous

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=30000")
                if not memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
                    # FULL (the default): every commit fsyncs the WAL, an acknowledged batch
                    # survives a power cut too (group commit pays it once per group); NORMAL
                    # only survives a process crash (docs/storage.md)
                    cursor.execute(f"PRAGMA synchronous={synchronous}")
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
    def _tx(self, write: bool = False, locked: bool = False) -> Iterator[Connection]:
        """A transaction; ``write`` takes the writer lock first (``locked``: the caller holds
        it already, the group commit's leader)."""
        with self._serial or (self._writer_lock() if write and not locked else nullcontext()):
            with self.engine.connect() as conn:
                if write and self.is_sqlite:
                    conn.execution_options(sentiero_write=True)
                with conn.begin():
                    yield conn

    def _run(self, work: Callable[[Connection], T], write: bool = True, *,
             locked: bool = False) -> T:
        """Run ``work`` in one transaction, retrying deadlocks and serialization failures;
        backend failures become StoreError. ``locked``: see ``_tx``."""
        for attempt in range(_RETRIES):
            try:
                with self._tx(write, locked) as conn:
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

    def _read_statement(self, work: Callable[[Connection], T]) -> T:
        """A read of one statement (``work`` runs one ``_exec``). On SQLite it runs outside a
        transaction, on the driver's cursor: one SELECT reads one snapshot by itself, and the
        BEGIN / COMMIT around it through SQLAlchemy cost more than the statement (the events
        endpoint reads the window state so before every batch). Elsewhere ``_run``."""
        if not self.is_sqlite:
            return self._run(work, write=False)
        try:
            with self._serial or nullcontext(), self.engine.connect() as conn:
                return work(conn)
        except exc.SQLAlchemyError as error:
            raise self._store_error(error) from error

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """SQLite writers of every process queue on an ``flock`` beside the database file
        before ``BEGIN IMMEDIATE``: the kernel wakes the next one as soon as a transaction
        ends. (SQLite's own wait for its write lock sleeps and retries, up to 100 ms a time:
        under load one process kept the lock while the other slept, p99 0.5 s.) Opened per
        transaction, so threads and forked processes each hold their own; where the file
        cannot be created, SQLite's wait is the only one."""
        if fcntl is None or not self.is_sqlite or self._memory:
            yield
            return
        try:
            fd = os.open(f"{self.url.database}-writer", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

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
        for step in sorted(MIGRATIONS, key=lambda m: m.version):
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

    # --- statements and the session lock (shared by reads, writes and deletes) -------------

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
                              self.backend != "mysql" and dialect.insert_executemany_returning,
                              direct=self._exec if self.is_sqlite else None)
        return self._seen

    def _lock_session(self, conn: Connection, session_id: str) -> Any:
        def build() -> Any:
            s = self.tables.sessions
            query = sa.select(s).where(s.c.session_id == sa.bindparam("k_sid"))
            return query if self.is_sqlite else query.with_for_update()

        return self._exec(conn, "lock_session", build, {"k_sid": session_id}).first()

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
