from __future__ import annotations

import functools
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from contract import StoreContract, batch
from test_sql_common import SQLStoreTests, sql_leftovers

from sentiero.analytics.query import Scope
from sentiero.stores.base import Batch, Fact, SessionQuery, WindowRef
from sentiero.stores.sql import SQLStore


class TestSQLiteFile(SQLStoreTests):
    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.path = tmp_path / "sentiero.db"

    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def store_factory(self):
        return functools.partial(SQLStore, self.url(), prefix=f"t{uuid.uuid4().hex[:8]}_")

    def test_pragmas(self, store: SQLStore) -> None:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            # FULL (2): each commit syncs the WAL, so an acknowledged batch survives a power cut
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2

    def test_synchronous_normal_from_the_url(self) -> None:
        store = SQLStore(f"{self.url()}?synchronous=normal", prefix="tsync_")
        try:
            store.setup()
            assert store.save_batch(batch(seq=0))
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert store.get_session("s1") is not None
        finally:
            store.close()
        with pytest.raises(ValueError, match="synchronous"):
            SQLStore(f"{self.url()}?synchronous=off")

    def test_writers_queue_on_the_writer_lock(self, store: SQLStore) -> None:
        # another process's writer holds the lock beside the database: a batch waits for it
        # (it is not refused), and is stored once the lock is released
        import fcntl
        import os

        fd = os.open(f"{self.path}-writer", os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        saved: list[bool] = []
        writer = threading.Thread(target=lambda: saved.append(store.save_batch(batch(seq=0))))
        writer.start()
        time.sleep(0.3)
        assert store.get_session("s1") is None and not saved  # still waiting
        os.close(fd)
        writer.join(30)
        assert saved == [True] and store.get_session("s1").event_count > 0

    def test_a_database_failing_under_the_write_path_is_a_store_error(
            self, store: SQLStore) -> None:
        # the chunk insert runs on the driver's cursor (sql_direct): its failure is answered
        # as the store's (the events endpoint's 503), not a raw sqlite3 error (a 500), and
        # the batch's transaction leaves nothing behind
        from sentiero.stores.base import StoreError

        chunks = store.tables.chunks.name
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TRIGGER t_full BEFORE INSERT ON {chunks} "
                                 "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        with pytest.raises(StoreError, match="disk is full"):
            store.save_batch(batch(seq=0))
        assert store.get_session("s1") is None
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER t_full")
        assert store.save_batch(batch(seq=0)) is True

    def test_batches_waiting_for_the_writer_lock_share_one_transaction(
            self, store: SQLStore) -> None:
        # while another process writes, this process's batches gather: once the lock is free
        # they are committed together (one commit), not the first alone and then the rest
        import fcntl
        import os

        from sqlalchemy import event

        commits: list[int] = []
        event.listen(store.engine, "commit", lambda conn: commits.append(1))
        fd = os.open(f"{self.path}-writer", os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        saved: list[bool] = []
        threads = [threading.Thread(target=lambda i=i: saved.append(
            store.save_batch(batch(f"g{i}", seq=0)))) for i in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(store._group._queue) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(store._group._queue) == 4, "the four wait for the lock"
        os.close(fd)
        for thread in threads:
            thread.join(30)
        assert saved == [True] * 4
        assert len(commits) == 1
        for i in range(4):
            assert store.get_session(f"g{i}").event_count > 0

    def test_heatmap_cells_without_sqlite_math_functions(self, store: SQLStore) -> None:
        # SQLite builds without floor(): cells come from a CAST that truncates, corrected
        # below zero; a click left of the page (x -30) is in column -2, as with floor()
        page = "https://a.example/"
        clicks = [Fact("click", "s1", "w1", ts, page, {"x": x, "y": 30, "vw": 1280, "pv": 1})
                  for ts, x in ((1, -30), (2, 47.5), (3, 48))]
        assert store.save_batch(batch(seq=0, facts=clicks))
        with_floor = store.click_cells(Scope(), page, None, 24)
        store._sqlite_floor = False
        without = store.click_cells(Scope(), page, None, 24)
        assert sorted((c.gx, c.gy, c.count) for c in without.cells) == sorted(
            (c.gx, c.gy, c.count) for c in with_floor.cells) == [(-2, 1, 1), (1, 1, 1), (2, 1, 1)]
        assert [c.ts_ms for c in store.click_spot(Scope(), page, "desktop", 1280, (-2, 1), 24,
                                                  5)] == [1]

    def test_default_list_order_uses_the_index(self, store: SQLStore) -> None:
        store.save_batch(batch(seq=0))
        s = store.tables.sessions
        for key in (s.c.updated_us, s.c.created_us, s.c.event_count):
            query = sa.select(s).order_by(key.desc(), s.c.session_id).limit(20)
            sql = str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))
            with store.engine.connect() as conn:
                plan = " ".join(
                    str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
                )
            assert "TEMP B-TREE" not in plan, plan

    def test_data_survives_reopening(self, store: SQLStore) -> None:
        store.save_batch(batch(seq=0, metadata={"k": "v"}))
        again = SQLStore(self.url(), prefix=store.tables.prefix)
        try:
            assert again.get_session("s1").metadata == {"k": "v"}
            assert again.save_batch(batch(seq=0)) is False
        finally:
            again.close()
        with sqlite3.connect(self.path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


    def test_a_forked_worker_opens_its_own_connections(self, store: SQLStore) -> None:
        """gunicorn --workers N forks after setup() opened a connection; a child using the
        parent's socket corrupted both (PostgreSQL: "EMPTY_QUERY from command 'COMMIT'")."""
        import os

        store.save_batch(batch(seq=0))
        assert store.engine.pool.checkedin() >= 1
        pid = os.fork()
        if pid == 0:  # the child: a fresh pool, and it still works
            code = 1
            try:
                if store.engine.pool.checkedin() == 0 and store.save_batch(batch(seq=1)):
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.save_batch(batch(seq=2)) is True, "the parent's connection still works"
        assert len(store.chunk_index(WindowRef("s1", "w1"))) == 3


    def test_a_group_commits_each_batch_alone(self, store: SQLStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """Batches that arrive while another is being written share one transaction; a
        duplicate in that group is refused and a batch that fails half-written leaves no
        trace, while the others of its group are stored."""
        store.save_batch(batch("dup", seq=0))
        inside, release = threading.Event(), threading.Event()
        original = store._save

        def save(conn, b, *args):  # type: ignore[no-untyped-def]
            if b.session_id == "first":
                inside.set()
                assert release.wait(10)
            stored = original(conn, b, *args)
            if b.session_id == "bad":  # after its rows were written
                raise RuntimeError("the database refused this batch")
            return stored

        monkeypatch.setattr(store, "_save", save)
        outcomes: dict[str, object] = {}

        def post(b: Batch) -> None:
            try:
                outcomes[b.session_id] = store.save_batch(b)
            except Exception as error:  # noqa: BLE001
                outcomes[b.session_id] = error

        first = threading.Thread(target=post, args=(batch("first", seq=0),))
        first.start()
        assert inside.wait(10)
        group = [batch("a", seq=0), batch("dup", seq=0), batch("bad", seq=0), batch("b", seq=0)]
        threads = [threading.Thread(target=post, args=(b,)) for b in group]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(store._group._queue) < len(group) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(store._group._queue) == len(group), "the four wait for one group"
        release.set()
        for thread in (first, *threads):
            thread.join(10)
        assert outcomes["first"] is True and outcomes["a"] is True and outcomes["b"] is True
        assert outcomes["dup"] is False
        assert isinstance(outcomes["bad"], RuntimeError)
        assert store.get_session("bad") is None
        assert store.chunk_index(WindowRef("bad", "w1")) == []
        for sid in ("first", "a", "b", "dup"):
            assert len(store.chunk_index(WindowRef(sid, "w1"))) == 1, sid
        monkeypatch.undo()
        assert store.save_batch(batch("bad", seq=0)) is True, "its seq was not taken"

    def test_concurrent_batches_are_stored_once_each(self, store: SQLStore) -> None:
        batches = [batch(f"s{i % 5}", f"w{i % 3}", seq=i) for i in range(60)]
        results: list[bool] = []
        lock = threading.Lock()

        def post(part: list[Batch]) -> None:
            for b in part:
                stored = store.save_batch(b)
                with lock:
                    results.append(stored)

        threads = [threading.Thread(target=post, args=(batches[i::8] * 2,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [False] * 60 + [True] * 60
        chunks = sum(len(store.chunk_index(WindowRef(f"s{s}", f"w{w}")))
                     for s in range(5) for w in range(3))
        assert chunks == 60
        assert sum(store.get_session(f"s{s}").event_count for s in range(5)) == 600


class TestSQLiteMemory(StoreContract):
    def make_store(self) -> SQLStore:
        store = SQLStore("sqlite://")
        store.setup()
        return store

    def backend_leftovers(self, store: SQLStore) -> list[str]:  # type: ignore[override]
        return sql_leftovers(store)

    def test_memory_url_spellings(self) -> None:
        for url in ("sqlite://", "sqlite:///:memory:"):
            store = SQLStore(url)
            store.save_batch(batch(seq=0))
            assert len(store.list_sessions(SessionQuery())) == 1
            store.close()
