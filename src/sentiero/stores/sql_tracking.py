"""The SQL store's error-tracking half (stores/tracking.py has the contract; the tables are
migration step 6 in sql_schema.py).

An occurrence is written in one transaction with its problem's row lock held
(``SELECT ... FOR UPDATE``; SQLite: ``BEGIN IMMEDIATE``), so concurrent reports of one
problem count exactly; two first occurrences racing to insert the problem retry once the
loser sees the winner's row. Occurrences and server events are stored as JSON beside the
columns the lists filter and sort on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from sentiero.stores.base import StoreError
from sentiero.stores.tracking import TrackingStore, occurrence_query_check
from sentiero.tracking.models import (
    IngestKey,
    Occurrence,
    Problem,
    ProblemQuery,
    ServerEvent,
    ServerEventQuery,
    apply_occurrence,
    apply_status,
    now_ms,
    validate_ingest_key,
    validate_occurrence,
    validate_server_event,
    validate_status,
)

if TYPE_CHECKING:
    from sentiero.stores.sql_schema import Tables

_INSERT_RACES = 3
_PROBLEM_SORT_COLUMNS = {"last_seen": "last_seen_ms", "first_seen": "first_seen_ms",
                         "count": "count"}


def _problem(row: Any) -> Problem:
    return Problem(
        id=row.problem_id,
        project=row.project,
        exception_class=row.exception_class,
        title=row.title,
        message=row.message,
        count=int(row.count),
        status=row.status,
        first_seen_ms=int(row.first_seen_ms),
        last_seen_ms=int(row.last_seen_ms),
        resolved_at_ms=None if row.resolved_at_ms is None else int(row.resolved_at_ms),
        platform=row.platform,
    )


def _problem_values(problem: Problem) -> dict[str, Any]:
    values = problem.to_dict()
    values["problem_id"] = values.pop("id")
    return values


def _like(text: str) -> str:
    return "%" + text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


class SQLTracking(TrackingStore):
    tables: Tables
    limits: Any
    is_sqlite: bool

    # SQLStore provides these
    def _run(self, work: Any, write: bool = True) -> Any: ...  # pragma: no cover
    def _ensure_ready(self) -> None: ...  # pragma: no cover

    # --- problems and occurrences -------------------------------------------------------------

    def save_occurrence(self, occurrence: Occurrence) -> Problem:
        validate_occurrence(occurrence)
        data = orjson.dumps(occurrence.to_dict()).decode()
        self._ensure_ready()
        t = self.tables.tracking
        sessions = self.tables.sessions

        def work(conn: Connection) -> Problem:
            query = sa.select(t.problems).where(t.problems.c.problem_id == occurrence.problem_id)
            if not self.is_sqlite:
                query = query.with_for_update()
            row = conn.execute(query).first()
            problem = apply_occurrence(_problem(row) if row else None, occurrence)
            values = _problem_values(problem)
            if row is None:
                conn.execute(sa.insert(t.problems).values(values))
            else:
                conn.execute(
                    sa.update(t.problems)
                    .where(t.problems.c.problem_id == problem.id)
                    .values(values)
                )
            conn.execute(sa.insert(t.occurrences).values(
                occurrence_id=occurrence.id,
                problem_id=problem.id,
                session_id=occurrence.session_id,
                window_id=occurrence.window_id,
                ts_ms=occurrence.ts_ms,
                data_json=data,
            ))
            if occurrence.session_id is not None:
                conn.execute(
                    sa.update(sessions)
                    .where(sessions.c.session_id == occurrence.session_id,
                           sessions.c.has_errors == sa.false())
                    .values(has_errors=True)
                )
            self._cap_occurrences(conn, problem.id)
            if row is None:
                self._cap_problems(conn, problem.id)
            return problem

        for attempt in range(_INSERT_RACES):
            try:
                return self._run(work)
            except StoreError as error:
                # another writer inserted the problem first: run again, now updating it
                if isinstance(error.__cause__, exc.IntegrityError) and attempt < _INSERT_RACES - 1:
                    continue
                raise
        raise AssertionError("unreachable")

    def _cap_occurrences(self, conn: Connection, problem_id: str) -> None:
        cap = self.limits.max_occurrences_per_problem
        if cap is None:
            return
        o = self.tables.tracking.occurrences
        old = list(conn.execute(
            sa.select(o.c.occurrence_id)
            .where(o.c.problem_id == problem_id)
            .order_by(o.c.ts_ms.desc(), o.c.occurrence_id.desc())
            .offset(cap)
            .limit(1000)
        ).scalars())
        if old:
            conn.execute(sa.delete(o).where(o.c.occurrence_id.in_(old)))

    def _cap_problems(self, conn: Connection, keep: str) -> None:
        cap = self.limits.max_problems
        if cap is None:
            return
        p = self.tables.tracking.problems
        total = conn.execute(sa.select(sa.func.count()).select_from(p)).scalar() or 0
        if total <= cap:
            return
        victims = list(conn.execute(
            sa.select(p.c.problem_id)
            .where(p.c.problem_id != keep)
            .order_by(p.c.last_seen_ms, p.c.problem_id)
            .limit(total - cap)
        ).scalars())
        self._delete_problems(conn, victims)

    def _delete_problems(self, conn: Connection, ids: list[str]) -> None:
        t = self.tables.tracking
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            conn.execute(sa.delete(t.occurrences).where(t.occurrences.c.problem_id.in_(part)))
            conn.execute(sa.delete(t.problems).where(t.problems.c.problem_id.in_(part)))

    def get_problem(self, problem_id: str) -> Problem | None:
        self._ensure_ready()
        p = self.tables.tracking.problems

        def read(conn: Connection) -> Problem | None:
            row = conn.execute(sa.select(p).where(p.c.problem_id == problem_id)).first()
            return _problem(row) if row else None

        return self._run(read, write=False)

    def list_problems(self, query: ProblemQuery) -> list[Problem]:
        self._ensure_ready()
        p = self.tables.tracking.problems
        stmt = sa.select(p)
        if query.status is not None:
            stmt = stmt.where(p.c.status == query.status)
        if query.project is not None:
            stmt = stmt.where(p.c.project == query.project)
        if query.since_ms is not None:
            stmt = stmt.where(p.c.last_seen_ms >= query.since_ms)
        if query.until_ms is not None:
            stmt = stmt.where(p.c.last_seen_ms <= query.until_ms)
        if query.search:
            pattern = _like(query.search)
            stmt = stmt.where(sa.or_(
                sa.func.lower(p.c.title).like(pattern, escape="!"),
                sa.func.lower(p.c.exception_class).like(pattern, escape="!"),
            ))
        key = p.c[_PROBLEM_SORT_COLUMNS[query.sort_by]]
        stmt = stmt.order_by(key.desc(), p.c.problem_id).limit(query.limit).offset(query.offset)

        def read(conn: Connection) -> list[Problem]:
            return [_problem(row) for row in conn.execute(stmt)]

        return self._run(read, write=False)

    def set_problem_status(self, problem_id: str, status: str, at_ms: int | None = None) -> bool:
        validate_status(status)
        problem = self.get_problem(problem_id)
        if problem is None:
            return False
        changed = apply_status(problem, status, at_ms)
        p = self.tables.tracking.problems

        def write(conn: Connection) -> bool:
            return bool(conn.execute(
                sa.update(p)
                .where(p.c.problem_id == problem_id)
                .values(status=changed.status, resolved_at_ms=changed.resolved_at_ms)
            ).rowcount)

        return self._run(write)

    def list_occurrences(
        self,
        problem_id: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
        since_ms: int | None = None,
    ) -> list[Occurrence]:
        occurrence_query_check(problem_id, session_id, limit)
        self._ensure_ready()
        o = self.tables.tracking.occurrences
        stmt = sa.select(o.c.data_json)
        if problem_id is not None:
            stmt = stmt.where(o.c.problem_id == problem_id)
        if session_id is not None:
            stmt = stmt.where(o.c.session_id == session_id)
        if since_ms is not None:
            stmt = stmt.where(o.c.ts_ms >= since_ms)
        stmt = stmt.order_by(o.c.ts_ms.desc(), o.c.occurrence_id.desc()).limit(limit)

        def read(conn: Connection) -> list[Occurrence]:
            return [Occurrence.from_dict(orjson.loads(v)) for v in conn.execute(stmt).scalars()]

        return self._run(read, write=False)

    def count_occurrences(self, problem_id: str, since_ms: int | None = None) -> int:
        self._ensure_ready()
        o = self.tables.tracking.occurrences
        stmt = sa.select(sa.func.count()).select_from(o).where(o.c.problem_id == problem_id)
        if since_ms is not None:
            stmt = stmt.where(o.c.ts_ms >= since_ms)
        return int(self._run(lambda conn: conn.execute(stmt).scalar() or 0, write=False))

    # --- server events --------------------------------------------------------------------------

    def save_server_event(self, event: ServerEvent) -> None:
        validate_server_event(event)
        data = orjson.dumps(event.to_dict()).decode()
        self._ensure_ready()
        e = self.tables.tracking.server_events
        cap = self.limits.max_server_events

        def write(conn: Connection) -> None:
            conn.execute(sa.insert(e).values(
                event_id=event.id, project=event.project, name=event.name, level=event.level,
                session_id=event.session_id, ts_ms=event.ts_ms, data_json=data,
            ))
            if cap is None:
                return
            old = list(conn.execute(
                sa.select(e.c.event_id)
                .order_by(e.c.ts_ms.desc(), e.c.event_id.desc())
                .offset(cap)
                .limit(1000)
            ).scalars())
            if old:
                conn.execute(sa.delete(e).where(e.c.event_id.in_(old)))

        self._run(write)

    def list_server_events(self, query: ServerEventQuery) -> list[ServerEvent]:
        self._ensure_ready()
        e = self.tables.tracking.server_events
        stmt = sa.select(e.c.data_json)
        for column, value in (("level", query.level), ("project", query.project),
                              ("session_id", query.session_id)):
            if value is not None:
                stmt = stmt.where(e.c[column] == value)
        if query.since_ms is not None:
            stmt = stmt.where(e.c.ts_ms >= query.since_ms)
        if query.until_ms is not None:
            stmt = stmt.where(e.c.ts_ms <= query.until_ms)
        if query.search:
            stmt = stmt.where(sa.func.lower(e.c.name).like(_like(query.search), escape="!"))
        stmt = stmt.order_by(e.c.ts_ms.desc(), e.c.event_id).limit(query.limit).offset(
            query.offset)

        def read(conn: Connection) -> list[ServerEvent]:
            return [ServerEvent.from_dict(orjson.loads(v)) for v in conn.execute(stmt).scalars()]

        return self._run(read, write=False)

    def get_server_event(self, event_id: str) -> ServerEvent | None:
        self._ensure_ready()
        e = self.tables.tracking.server_events
        stmt = sa.select(e.c.data_json).where(e.c.event_id == event_id)

        def read(conn: Connection) -> ServerEvent | None:
            value = conn.execute(stmt).scalar()
            return ServerEvent.from_dict(orjson.loads(value)) if value else None

        return self._run(read, write=False)

    # --- ingest keys ----------------------------------------------------------------------------

    def save_ingest_key(self, key: IngestKey) -> None:
        validate_ingest_key(key)
        self._ensure_ready()
        k = self.tables.tracking.ingest_keys
        try:
            self._run(lambda conn: conn.execute(sa.insert(k).values(key.to_dict())))
        except StoreError as error:
            if isinstance(error.__cause__, exc.IntegrityError):
                raise ValueError(f"an ingest key with id {key.key_id} exists") from None
            raise

    def get_ingest_key(self, key_id: str) -> IngestKey | None:
        self._ensure_ready()
        k = self.tables.tracking.ingest_keys

        def read(conn: Connection) -> IngestKey | None:
            row = conn.execute(sa.select(k).where(k.c.key_id == key_id)).first()
            return IngestKey.from_dict(dict(row._mapping)) if row else None

        return self._run(read, write=False)

    def list_ingest_keys(self) -> list[IngestKey]:
        self._ensure_ready()
        k = self.tables.tracking.ingest_keys

        def read(conn: Connection) -> list[IngestKey]:
            rows = conn.execute(sa.select(k).order_by(k.c.created_ms, k.c.key_id))
            return [IngestKey.from_dict(dict(row._mapping)) for row in rows]

        return self._run(read, write=False)

    def revoke_ingest_key(self, key_id: str, at_ms: int | None = None) -> bool:
        self._ensure_ready()
        k = self.tables.tracking.ingest_keys
        when = at_ms if at_ms is not None else now_ms()

        def write(conn: Connection) -> bool:
            return bool(conn.execute(
                sa.update(k).where(k.c.key_id == key_id, k.c.revoked_ms.is_(None))
                .values(revoked_ms=when)
            ).rowcount)

        return self._run(write)

    # --- retention ------------------------------------------------------------------------------

    def _purge_tracking(self, cutoff_ms: int) -> None:
        t = self.tables.tracking

        def purge(conn: Connection) -> None:
            old = list(conn.execute(
                sa.select(t.problems.c.problem_id).where(t.problems.c.last_seen_ms < cutoff_ms)
            ).scalars())
            self._delete_problems(conn, old)
            conn.execute(sa.delete(t.occurrences).where(t.occurrences.c.ts_ms < cutoff_ms))
            conn.execute(sa.delete(t.server_events).where(t.server_events.c.ts_ms < cutoff_ms))

        self._run(purge)


__all__ = ["SQLTracking"]
