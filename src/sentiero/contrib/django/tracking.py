"""``DjangoStore``'s error-tracking half (stores/tracking.py has the contract; the tables are
models.py's ``Tracked*`` models, migration 0002).

An occurrence is written in one transaction holding its problem's row lock
(``SELECT ... FOR UPDATE``; SQLite: a no-op UPDATE takes the database's write lock first), so
concurrent reports of one problem count exactly; the problem rules are
:func:`~sentiero.tracking.models.apply_occurrence`'s, as in every store. Two first occurrences
racing to insert the problem: the loser's insert fails in a savepoint and it locks and
updates the winner's row. Occurrences and server events are kept as JSON beside the columns
the lists filter and sort on; a session's are deleted with it, its problems stay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Q

from sentiero.contrib.django.models import (
    RecordedSession,
    TrackedOccurrence,
    TrackedProblem,
    TrackedServerEvent,
    TrackingIngestKey,
)
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

T = TypeVar("T")
_PROBLEM_SORTS = {"last_seen": "last_seen_ms", "first_seen": "first_seen_ms", "count": "count"}
_PAGE = 500


def _problem(row: TrackedProblem) -> Problem:
    return Problem(
        id=row.problem_id, project=row.project, exception_class=row.exception_class,
        title=row.title, message=row.message, count=int(row.count), status=row.status,
        first_seen_ms=int(row.first_seen_ms), last_seen_ms=int(row.last_seen_ms),
        resolved_at_ms=None if row.resolved_at_ms is None else int(row.resolved_at_ms),
        platform=row.platform,
    )


def _problem_fields(problem: Problem) -> dict[str, Any]:
    values = problem.to_dict()
    values.pop("id")
    return values


def _key(row: TrackingIngestKey) -> IngestKey:
    return IngestKey(row.key_id, row.project, row.secret_hash, int(row.created_ms),
                     None if row.revoked_ms is None else int(row.revoked_ms))


class DjangoTracking(TrackingStore):
    using: str
    limits: Any

    # DjangoStore provides this
    def _run(self, work: Callable[[], T], atomic: bool = True) -> T: ...  # pragma: no cover

    def _problems(self) -> Any:
        return TrackedProblem.objects.using(self.using)

    def _occurrences(self) -> Any:
        return TrackedOccurrence.objects.using(self.using)

    def _server_events(self) -> Any:
        return TrackedServerEvent.objects.using(self.using)

    def _ingest_keys(self) -> Any:
        return TrackingIngestKey.objects.using(self.using)

    def _locked_problem(self, problem_id: str) -> TrackedProblem | None:
        """The problem's row, locked for this transaction (SQLite: the write lock, taken by
        a no-op UPDATE before reading, as the session writes do)."""
        if connections[self.using].vendor == "sqlite":
            self._problems().filter(pk=problem_id).update(count=F("count"))
        return self._problems().select_for_update().filter(pk=problem_id).first()

    # --- problems and occurrences -------------------------------------------------------------

    def save_occurrence(self, occurrence: Occurrence) -> Problem:
        validate_occurrence(occurrence)
        data = orjson.dumps(occurrence.to_dict()).decode()
        return self._run(lambda: self._save_occurrence(occurrence, data))

    def _save_occurrence(self, occurrence: Occurrence, data: str) -> Problem:
        pid = occurrence.problem_id
        row = self._locked_problem(pid)
        created = False
        if row is None:
            problem = apply_occurrence(None, occurrence)
            try:
                with transaction.atomic(using=self.using):  # a savepoint: a lost race is no error
                    row = self._problems().create(problem_id=pid, **_problem_fields(problem))
                    created = True
            except IntegrityError:
                row = self._problems().select_for_update().get(pk=pid)
        if not created:
            problem = apply_occurrence(_problem(row), occurrence)
            self._problems().filter(pk=pid).update(**_problem_fields(problem))
        self._occurrences().create(
            occurrence_id=occurrence.id, problem_id=pid, session_id=occurrence.session_id,
            window_id=occurrence.window_id, ts_ms=occurrence.ts_ms, data_json=data)
        self._cap_occurrences(pid)
        if created:
            self._cap_problems(pid)
        if occurrence.session_id is not None:
            RecordedSession.objects.using(self.using).filter(
                pk=occurrence.session_id, has_errors=False).update(has_errors=True)
        return problem

    def _cap_occurrences(self, problem_id: str) -> None:
        cap = self.limits.max_occurrences_per_problem
        if cap is None:
            return
        old = list(self._occurrences().filter(problem_id=problem_id)
                   .order_by("-ts_ms", "-occurrence_id")
                   .values_list("occurrence_id", flat=True)[cap:cap + 1000])
        if old:
            self._occurrences().filter(pk__in=old).delete()

    def _cap_problems(self, keep: str) -> None:
        cap = self.limits.max_problems
        if cap is None:
            return
        total = self._problems().count()
        if total <= cap:
            return
        victims = list(self._problems().exclude(pk=keep).order_by("last_seen_ms", "problem_id")
                       .values_list("problem_id", flat=True)[: total - cap])
        self._delete_problems(victims)

    def _delete_problems(self, ids: list[str]) -> None:
        for start in range(0, len(ids), _PAGE):
            part = ids[start:start + _PAGE]
            self._occurrences().filter(problem_id__in=part).delete()
            self._problems().filter(pk__in=part).delete()

    def get_problem(self, problem_id: str) -> Problem | None:
        def read() -> Problem | None:
            row = self._problems().filter(pk=problem_id).first()
            return None if row is None else _problem(row)

        return self._run(read, atomic=False)

    def list_problems(self, query: ProblemQuery) -> list[Problem]:
        qs = self._problems().all()
        if query.status is not None:
            qs = qs.filter(status=query.status)
        if query.project is not None:
            qs = qs.filter(project=query.project)
        if query.since_ms is not None:
            qs = qs.filter(last_seen_ms__gte=query.since_ms)
        if query.until_ms is not None:
            qs = qs.filter(last_seen_ms__lte=query.until_ms)
        if query.search:
            qs = qs.filter(Q(title__icontains=query.search)
                           | Q(exception_class__icontains=query.search))
        qs = qs.order_by(f"-{_PROBLEM_SORTS[query.sort_by]}", "problem_id")
        page = qs[query.offset:query.offset + query.limit]
        return self._run(lambda: [_problem(row) for row in page], atomic=False)

    def set_problem_status(self, problem_id: str, status: str, at_ms: int | None = None) -> bool:
        validate_status(status)

        def write() -> bool:
            row = self._locked_problem(problem_id)
            if row is None:
                return False
            changed = apply_status(_problem(row), status, at_ms)
            self._problems().filter(pk=problem_id).update(
                status=changed.status, resolved_at_ms=changed.resolved_at_ms)
            return True

        return self._run(write)

    def list_occurrences(
        self,
        problem_id: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
        since_ms: int | None = None,
    ) -> list[Occurrence]:
        occurrence_query_check(problem_id, session_id, limit)
        qs = self._occurrences().all()
        if problem_id is not None:
            qs = qs.filter(problem_id=problem_id)
        if session_id is not None:
            qs = qs.filter(session_id=session_id)
        if since_ms is not None:
            qs = qs.filter(ts_ms__gte=since_ms)
        rows = qs.order_by("-ts_ms", "-occurrence_id").values_list("data_json", flat=True)
        return self._run(lambda: [Occurrence.from_dict(orjson.loads(v)) for v in rows[:limit]],
                         atomic=False)

    def count_occurrences(self, problem_id: str, since_ms: int | None = None) -> int:
        qs = self._occurrences().filter(problem_id=problem_id)
        if since_ms is not None:
            qs = qs.filter(ts_ms__gte=since_ms)
        return int(self._run(qs.count, atomic=False))

    # --- server events --------------------------------------------------------------------------

    def save_server_event(self, event: ServerEvent) -> None:
        validate_server_event(event)
        data = orjson.dumps(event.to_dict()).decode()
        cap = self.limits.max_server_events

        def write() -> None:
            self._server_events().create(
                event_id=event.id, project=event.project, name=event.name, level=event.level,
                session_id=event.session_id, ts_ms=event.ts_ms, data_json=data)
            if cap is None:
                return
            old = list(self._server_events().order_by("-ts_ms", "-event_id")
                       .values_list("event_id", flat=True)[cap:cap + 1000])
            if old:
                self._server_events().filter(pk__in=old).delete()

        self._run(write)

    def list_server_events(self, query: ServerEventQuery) -> list[ServerEvent]:
        qs = self._server_events().all()
        for column in ("level", "project", "session_id"):
            value = getattr(query, column)
            if value is not None:
                qs = qs.filter(**{column: value})
        if query.since_ms is not None:
            qs = qs.filter(ts_ms__gte=query.since_ms)
        if query.until_ms is not None:
            qs = qs.filter(ts_ms__lte=query.until_ms)
        if query.search:
            qs = qs.filter(name__icontains=query.search)
        rows = (qs.order_by("-ts_ms", "event_id").values_list("data_json", flat=True)
                [query.offset:query.offset + query.limit])
        return self._run(lambda: [ServerEvent.from_dict(orjson.loads(v)) for v in rows],
                         atomic=False)

    def get_server_event(self, event_id: str) -> ServerEvent | None:
        rows = self._server_events().filter(pk=event_id).values_list("data_json", flat=True)
        value = self._run(rows.first, atomic=False)
        return None if value is None else ServerEvent.from_dict(orjson.loads(value))

    # --- ingest keys ----------------------------------------------------------------------------

    def save_ingest_key(self, key: IngestKey) -> None:
        validate_ingest_key(key)

        def write() -> None:
            try:
                with transaction.atomic(using=self.using):
                    self._ingest_keys().create(**key.to_dict())
            except IntegrityError:
                raise ValueError(f"an ingest key with id {key.key_id} exists") from None

        self._run(write)

    def get_ingest_key(self, key_id: str) -> IngestKey | None:
        row = self._run(self._ingest_keys().filter(pk=key_id).first, atomic=False)
        return None if row is None else _key(row)

    def list_ingest_keys(self) -> list[IngestKey]:
        rows = self._ingest_keys().order_by("created_ms", "key_id")
        return self._run(lambda: [_key(row) for row in rows], atomic=False)

    def revoke_ingest_key(self, key_id: str, at_ms: int | None = None) -> bool:
        when = at_ms if at_ms is not None else now_ms()
        rows = self._ingest_keys().filter(pk=key_id, revoked_ms__isnull=True)
        return self._run(lambda: rows.update(revoked_ms=when) > 0)

    # --- sessions leaving, retention ------------------------------------------------------------

    def _forget_tracked_sessions(self, ids: list[str]) -> None:
        """In the transaction deleting the sessions: their occurrences and server events go;
        the problems stay (their counts are aggregates)."""
        self._occurrences().filter(session_id__in=ids).delete()
        self._server_events().filter(session_id__in=ids).delete()

    def _purge_tracking(self, cutoff_ms: int) -> None:
        def purge() -> None:
            old = list(self._problems().filter(last_seen_ms__lt=cutoff_ms)
                       .values_list("problem_id", flat=True))
            self._delete_problems(old)
            self._occurrences().filter(ts_ms__lt=cutoff_ms).delete()
            self._server_events().filter(ts_ms__lt=cutoff_ms).delete()

        self._run(purge)


__all__ = ["DjangoTracking"]
