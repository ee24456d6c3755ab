"""Deletes of the SQL store, mixed into :class:`~sentiero.stores.sql.SQLStore`: the limits
enforced on write (``max_events_per_session`` drops a session's oldest chunks,
``max_sessions`` evicts the oldest sessions), erasure (``delete_session``,
``delete_window``), retention (``purge_older_than``) and ``clear``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sentiero.stores.base import WindowRef, to_ms, utcnow, validate_id
from sentiero.stores.sql_day_cache import spans_days
from sentiero.stores.sql_engagement import rescore
from sentiero.stores.sql_helpers import _PAGE, _to_us


class SQLDelete:
    """Deletes and limits of the SQL store."""

    # provided by SQLStore (sql.py) and its other mixins
    tables: Any
    is_sqlite: bool
    backend: str
    seen: Any
    _run: Any
    _ensure_ready: Any
    _lock_session: Any
    _purge_tracking: Any
    day_versions: Any

    # --- limits (enforced by the write path, sql_write.py) ----------------------------------

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
        before = conn.execute(sa.select(s.c.first_ms, s.c.last_ms, s.c.updated_us)
                              .where(s.c.session_id == sid)).first()
        if before is not None:
            self.day_versions.touch_session(conn, before)
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
            .values(event_count=agg[0], first_ms=agg[1], last_ms=agg[2],
                    multi_day=spans_days(agg[1], agg[2]))
        )

    def _evict_sessions(self, current: str, max_sessions: int) -> None:
        """Delete the oldest sessions beyond ``max_sessions`` (never ``current``) in one
        transaction that first locks ``current``'s row.

        Two writers that would evict each other's new session each hold their own row and
        wait for the other's: the database sees a deadlock, one of them is retried, finds
        its session gone and stops, so at most one of the two is evicted (the original code
        could lose both). Candidates are locked before deleting, and the count taken again
        after, so evictions running side by side never delete more than needed.

        On PostgreSQL evictions take a transaction-level advisory lock first and so run one
        at a time: PostgreSQL looks for deadlocks only after ``deadlock_timeout`` (1 s), and
        four writers at the limit could deadlock again on each retry until the retries ran
        out (a StoreError for an acknowledged write's eviction). Serialized, the first
        eviction deletes the others' new sessions and theirs find their own gone.
        """
        s = self.tables.sessions

        def count(conn: Connection) -> int:
            return conn.execute(sa.select(sa.func.count()).select_from(s)).scalar() or 0

        def evict(conn: Connection) -> int:
            if self.backend == "postgresql":  # released at commit
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                             {"k": f"{self.tables.prefix}evict"})
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

    # --- erasure and retention --------------------------------------------------------------

    def _delete_sessions(self, conn: Connection, ids: list[str]) -> int:
        t = self.tables
        self.day_versions.touch_sessions(conn, ids)
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
                          t.sessions, t.day_cache, t.day_versions):
                conn.execute(sa.delete(table))

        self._run(wipe)
