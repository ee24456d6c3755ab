from __future__ import annotations

import functools
import sqlite3
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from contract import StoreContract, batch
from test_sql_common import SQLStoreTests, sql_leftovers

from sentiero.stores.base import SessionQuery, WindowRef
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
