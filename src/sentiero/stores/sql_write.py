"""The SQL store's write path, mixed into :class:`~sentiero.stores.sql.SQLStore`:
``save_batch`` / ``save_batches`` and the group-commit glue (``_commit_group``), the
per-batch transaction (``_save``: session row, seq dedup, chunk index allocation, chunk and
fact inserts, session totals), ``save_metadata`` and compaction's ``replace_chunks``. The
session lock, the statement cache and the runner are SQLStore's (sql.py); the event limit's
chunk dropping and session eviction are in sql_delete.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from sentiero.analytics.traits import session_traits
from sentiero.stores.base import (
    Batch,
    Chunk,
    ChunkInfo,
    WindowRef,
    batch_has_errors,
    fact_data_json,
    index_seq,
    same_run,
    validate_batch,
    validate_id,
    validate_metadata,
    window_state_json,
)
from sentiero.stores.group_commit import Pending
from sentiero.stores.sql_clicks import click_values
from sentiero.stores.sql_day_cache import spans_days
from sentiero.stores.sql_engagement import engagement_changes, new_session_engagement, seen_items
from sentiero.stores.sql_forms import form_values
from sentiero.stores.sql_helpers import _Duplicate, _max, _min, _Retry, _to_us


class SQLWrite:
    """The write path of the SQL store."""

    # provided by SQLStore (sql.py) and its other mixins
    tables: Any
    limits: Any
    backend: str
    engine: Any
    seen: Any
    _group: Any
    _run: Any
    _ensure_ready: Any
    _store_error: Any
    _statement: Any
    _exec: Any
    is_sqlite: bool
    _lock_session: Any
    _insert_ignore: Any
    day_versions: Any
    _read_infos: Any
    _evict_sessions: Any
    _drop_oldest_chunks: Any

    # --- batches ----------------------------------------------------------------------------

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
                **form_values(f.kind, f.data),
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
        GroupCommit hands the error to its caller. GroupCommit holds the writer lock (its
        gate) around this call."""
        if len(group) == 1:
            only = group[0]
            only.result, only.error = None, None
            only.result = self._run(only.work, locked=True)
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

        self._run(write, locked=True)

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
        first_ms, last_ms = span = batch.span_ms()
        count = len(batch.events)

        session = self._lock_session(conn, sid)
        created: dict[str, Any] | None = None
        if session is None:
            # a new session: its row is written whole, with what this batch makes of it,
            # before the rows that refer to it (no update after; one statement, not three)
            blank = self._blank_session(sid, received_us)
            created = {**vars(blank), **self._session_changes(blank, batch, received_us,
                                                                     span)}
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
            self._exec(conn, "insert_facts", lambda: sa.insert(t.facts), facts)

        if created is not None:
            self.seen.insert(conn, sid, seen_items(batch.facts))
            total = created["event_count"]
            received_ms = received_us // 1000
            self.day_versions.touch(conn, min(first_ms, received_ms), max(last_ms, received_ms))
        else:
            self.day_versions.touch_session(conn, session, first_ms, last_ms,
                                            received_us // 1000)
            changes = self._session_changes(session, batch, received_us, span)
            changes.update(engagement_changes(conn, t.facts, self.seen, session, batch.facts,
                                              changes["first_ms"], changes["last_ms"]))
            keys = tuple(sorted(changes))
            self._exec(conn, ("update_session", keys), lambda: (
                sa.update(s).where(s.c.session_id == sa.bindparam("k_sid"))
                .values({k: sa.bindparam(f"v_{k}") for k in keys})),
                {"k_sid": sid, **{f"v_{k}": changes[k] for k in keys}})
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
        return self._exec(conn, "insert_session", lambda: self._insert_ignore(
            s, {k: sa.bindparam(k) for k in row}).returning(s.c.session_id), row
        ).first() is not None

    def _session_changes(self, session: Any, batch: Batch, received_us: int,
                         span: tuple[int, int]) -> dict[str, Any]:
        """The session row's columns this batch changes (engagement aside); ``span`` is
        ``batch.span_ms()``."""
        first_ms, last_ms = span
        changes: dict[str, Any] = {
            "updated_us": max(session.updated_us, received_us),
            "event_count": session.event_count + len(batch.events),
            "first_ms": _min(session.first_ms, first_ms),
            "last_ms": _max(session.last_ms, last_ms),
        }
        changes["multi_day"] = spans_days(changes["first_ms"], changes["last_ms"])
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

        if self.engine.dialect.insert_returning:
            return self._exec(conn, "claim_seq", build, values).first() is not None
        stmt = self._statement("claim_seq", build)
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
        def insert() -> Any:
            return sa.insert(c)

        if not guard:
            self._exec(conn, "insert_chunk", insert, row)
            return index

        def build() -> Any:
            held = sa.exists().where(c.c.session_id == sa.bindparam("session_id"),
                                     c.c.window_id == sa.bindparam("window_id"),
                                     c.c.chunk_index == sa.bindparam("chunk_index"))
            values = sa.select(*(sa.bindparam(k, type_=c.c[k].type).label(k) for k in row))
            return sa.insert(c).from_select(list(row), values.where(~held))

        if self.is_sqlite:  # the driver's rowcount (sql_direct.py)
            stored = self._exec(conn, "insert_chunk_guarded", build, row).rowcount
        else:
            stored = conn.execution_options(preserve_rowcount=True).execute(
                self._statement("insert_chunk_guarded", build), row).rowcount
        if stored == 1:
            return index
        index = self._bump_next_chunk(conn, sid, wid)
        self._exec(conn, "insert_chunk", insert, {**row, "chunk_index": index})
        return index

    # --- chunk index allocation -------------------------------------------------------------

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

            row = self._exec(conn, ("window_returning", with_seq, with_state),
                             build_returning, {**key, **values}).first()
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
        self._exec(conn, "new_window", lambda: sa.insert(w), {
            "session_id": sid, "window_id": wid, "next_chunk": 1 if seq is None else seq + 1,
            "event_count": count, "first_ms": first_ms, "last_ms": last_ms,
            "state_json": state})
        return 0 if seq is None else seq

    # --- metadata and compaction ------------------------------------------------------------

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
            self.day_versions.touch_session(conn, session)
            traits = session_traits(merged, session.user_agent, session.entry_url)
            conn.execute(
                sa.update(s)
                .where(s.c.session_id == session_id)
                .values(metadata_json=orjson.dumps(merged).decode(), **traits.as_dict())
            )

        self._run(merge)

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
            # events per day are counted by each chunk's first event: merged chunks move
            self.day_versions.touch(conn, min(i.first_ms for i in current),
                                    max(i.last_ms for i in current))
            conn.execute(sa.delete(c).where(*in_run, c.c.chunk_index > lo))
            info = chunk.info
            conn.execute(sa.update(c).where(*in_run, c.c.chunk_index == lo).values(
                first_ms=info.first_ms, last_ms=info.last_ms, event_count=info.event_count,
                data=chunk.data))
            return True

        return self._run(replace)
