"""The error-tracking half of the store contract (problems, occurrences, server events,
ingest keys), and its implementation for the stores that keep it as one document in
process memory or one file (memory, files).

Every store gets the methods from :class:`TrackingStore`; a store that does not keep
tracking data (a third-party backend written before it existed) answers with
``NotImplementedError`` and the tracking endpoints refuse with a clear message.

What every implementation does (tests/stores/contract.py, ``TrackingContract``):

- ``save_occurrence`` upserts the problem with :func:`~sentiero.tracking.models.apply_occurrence`
  and stores the occurrence atomically, marks a linked, existing session ``has_errors``,
  then enforces ``limits.max_problems`` (least recently seen problems go, with their
  occurrences), ``limits.max_occurrences_per_problem`` (oldest occurrences go; counts stay).
- ``save_server_event`` enforces ``limits.max_server_events`` (oldest go).
- Removing a session (delete_session, purge) removes its occurrences and server events;
  the problems stay (their counts are aggregates). ``purge_older_than`` also drops
  occurrences, server events and problems last seen before the cutoff.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiero.tracking.models import (
        IngestKey,
        Occurrence,
        Problem,
        ProblemQuery,
        ServerEvent,
        ServerEventQuery,
    )

_MISSING = (
    "this store does not keep error-tracking data (problems, occurrences, server events, "
    "ingest keys): use SQLStore, DjangoStore, RedisStore, FileStore or MemoryStore"
)


class TrackingStore:
    """Methods of the store contract for server-side error tracking (see module docstring).

    Lists are newest first unless said otherwise; all times are epoch milliseconds.
    """

    def save_occurrence(self, occurrence: Occurrence) -> Problem:
        """Store one occurrence and return its problem as it now is."""
        raise NotImplementedError(_MISSING)

    def get_problem(self, problem_id: str) -> Problem | None:
        raise NotImplementedError(_MISSING)

    def list_problems(self, query: ProblemQuery) -> list[Problem]:
        raise NotImplementedError(_MISSING)

    def set_problem_status(self, problem_id: str, status: str, at_ms: int | None = None) -> bool:
        """False for an unknown problem."""
        raise NotImplementedError(_MISSING)

    def list_occurrences(
        self,
        problem_id: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
        since_ms: int | None = None,
    ) -> list[Occurrence]:
        """Occurrences of a problem or of a session (at least one is required), newest
        first (ts_ms, then id descending); ``since_ms`` is inclusive."""
        raise NotImplementedError(_MISSING)

    def count_occurrences(self, problem_id: str, since_ms: int | None = None) -> int:
        """Stored occurrences of the problem with ts_ms >= since_ms."""
        raise NotImplementedError(_MISSING)

    def save_server_event(self, event: ServerEvent) -> None:
        raise NotImplementedError(_MISSING)

    def list_server_events(self, query: ServerEventQuery) -> list[ServerEvent]:
        raise NotImplementedError(_MISSING)

    def get_server_event(self, event_id: str) -> ServerEvent | None:
        raise NotImplementedError(_MISSING)

    def save_ingest_key(self, key: IngestKey) -> None:
        """Add a key (ValueError when its key_id exists)."""
        raise NotImplementedError(_MISSING)

    def get_ingest_key(self, key_id: str) -> IngestKey | None:
        raise NotImplementedError(_MISSING)

    def list_ingest_keys(self) -> list[IngestKey]:
        """Every key, revoked ones included, oldest first."""
        raise NotImplementedError(_MISSING)

    def revoke_ingest_key(self, key_id: str, at_ms: int | None = None) -> bool:
        """False for an unknown or already revoked key."""
        raise NotImplementedError(_MISSING)


def occurrence_query_check(problem_id: str | None, session_id: str | None, limit: int) -> None:
    if problem_id is None and session_id is None:
        raise ValueError("list_occurrences needs a problem_id or a session_id")
    if limit < 1:
        raise ValueError("limit must be >= 1")


# --- one-document implementation (memory, files) --------------------------------------------


@dataclass
class TrackingState:
    problems: dict[str, Problem] = field(default_factory=dict)
    # by problem, oldest first
    occurrences: dict[str, list[Occurrence]] = field(default_factory=dict)
    events: list[ServerEvent] = field(default_factory=list)  # oldest first
    keys: dict[str, IngestKey] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "problems": [p.to_dict() for p in self.problems.values()],
            "occurrences": [o.to_dict() for occs in self.occurrences.values() for o in occs],
            "events": [e.to_dict() for e in self.events],
            "keys": [k.to_dict() for k in self.keys.values()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackingState:
        from sentiero.tracking.models import IngestKey, Occurrence, Problem, ServerEvent

        state = cls()
        for p in data.get("problems", []):
            problem = Problem.from_dict(p)
            state.problems[problem.id] = problem
        for o in data.get("occurrences", []):
            occ = Occurrence.from_dict(o)
            state.occurrences.setdefault(occ.problem_id, []).append(occ)
        state.events = [ServerEvent.from_dict(e) for e in data.get("events", [])]
        for k in data.get("keys", []):
            key = IngestKey.from_dict(k)
            state.keys[key.key_id] = key
        return state

    def mentions(self, session_ids: set[str]) -> bool:
        return any(o.session_id in session_ids for occs in self.occurrences.values()
                   for o in occs) or any(e.session_id in session_ids for e in self.events)

    def has_older(self, cutoff_ms: int) -> bool:
        return any(p.last_seen_ms < cutoff_ms for p in self.problems.values()) or any(
            o.ts_ms < cutoff_ms for occs in self.occurrences.values() for o in occs
        ) or any(e.ts_ms < cutoff_ms for e in self.events)

    def forget_sessions(self, session_ids: set[str]) -> None:
        for pid, occs in list(self.occurrences.items()):
            self.occurrences[pid] = [o for o in occs if o.session_id not in session_ids]
        self.events = [e for e in self.events if e.session_id not in session_ids]

    def purge_before(self, cutoff_ms: int) -> None:
        for pid, problem in list(self.problems.items()):
            if problem.last_seen_ms < cutoff_ms:
                del self.problems[pid]
                self.occurrences.pop(pid, None)
        for pid, occs in list(self.occurrences.items()):
            self.occurrences[pid] = [o for o in occs if o.ts_ms >= cutoff_ms]
        self.events = [e for e in self.events if e.ts_ms >= cutoff_ms]


class DocumentTracking(TrackingStore):
    """Tracking data as one :class:`TrackingState`. Subclasses provide ``_tracking`` (a
    context manager yielding the state, saving it after a write) and
    ``_mark_session_errors``; they call ``_forget_tracked_sessions`` and
    ``_purge_tracking`` from their deletes."""

    limits: Any

    @contextmanager
    def _tracking(self, write: bool) -> Iterator[TrackingState]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _mark_session_errors(self, session_id: str) -> None:
        raise NotImplementedError

    def _forget_tracked_sessions(self, session_ids: set[str]) -> None:
        with self._tracking(False) as state:  # most deletes have nothing to do here
            if not state.mentions(session_ids):
                return
        with self._tracking(True) as state:
            state.forget_sessions(session_ids)

    def _purge_tracking(self, cutoff_ms: int) -> None:
        with self._tracking(False) as state:
            if not state.has_older(cutoff_ms):
                return
        with self._tracking(True) as state:
            state.purge_before(cutoff_ms)

    def _clear_tracking(self) -> None:
        with self._tracking(True) as state:
            state.problems.clear()
            state.occurrences.clear()
            state.events.clear()
            state.keys.clear()

    def save_occurrence(self, occurrence: Occurrence) -> Problem:
        from sentiero.tracking.models import apply_occurrence, validate_occurrence

        validate_occurrence(occurrence)
        limits = self.limits
        with self._tracking(True) as state:
            problem = apply_occurrence(state.problems.get(occurrence.problem_id), occurrence)
            state.problems[problem.id] = problem
            occs = state.occurrences.setdefault(problem.id, [])
            occs.append(occurrence)
            occs.sort(key=lambda o: (o.ts_ms, o.id))
            per_problem = limits.max_occurrences_per_problem
            if per_problem is not None and len(occs) > per_problem:
                del occs[: len(occs) - per_problem]
            if limits.max_problems is not None and len(state.problems) > limits.max_problems:
                others = sorted(
                    (p for p in state.problems.values() if p.id != problem.id),
                    key=lambda p: (p.last_seen_ms, p.id),
                )
                for victim in others[: len(state.problems) - limits.max_problems]:
                    del state.problems[victim.id]
                    state.occurrences.pop(victim.id, None)
        if occurrence.session_id is not None:
            self._mark_session_errors(occurrence.session_id)
        return problem

    def get_problem(self, problem_id: str) -> Problem | None:
        with self._tracking(False) as state:
            return state.problems.get(problem_id)

    def list_problems(self, query: ProblemQuery) -> list[Problem]:
        from sentiero.tracking.models import select_problems

        with self._tracking(False) as state:
            return select_problems(state.problems.values(), query)

    def set_problem_status(self, problem_id: str, status: str, at_ms: int | None = None) -> bool:
        from sentiero.tracking.models import apply_status, validate_status

        validate_status(status)
        with self._tracking(True) as state:
            problem = state.problems.get(problem_id)
            if problem is None:
                return False
            state.problems[problem_id] = apply_status(problem, status, at_ms)
            return True

    def list_occurrences(
        self,
        problem_id: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
        since_ms: int | None = None,
    ) -> list[Occurrence]:
        occurrence_query_check(problem_id, session_id, limit)
        with self._tracking(False) as state:
            pool = (
                state.occurrences.get(problem_id, [])
                if problem_id is not None
                else [o for occs in state.occurrences.values() for o in occs]
            )
            chosen = [
                o
                for o in pool
                if (session_id is None or o.session_id == session_id)
                and (since_ms is None or o.ts_ms >= since_ms)
            ]
        chosen.sort(key=lambda o: (o.ts_ms, o.id), reverse=True)
        return chosen[:limit]

    def count_occurrences(self, problem_id: str, since_ms: int | None = None) -> int:
        with self._tracking(False) as state:
            return sum(
                1
                for o in state.occurrences.get(problem_id, [])
                if since_ms is None or o.ts_ms >= since_ms
            )

    def save_server_event(self, event: ServerEvent) -> None:
        from sentiero.tracking.models import validate_server_event

        validate_server_event(event)
        cap = self.limits.max_server_events
        with self._tracking(True) as state:
            state.events.append(event)
            state.events.sort(key=lambda e: (e.ts_ms, e.id))
            if cap is not None and len(state.events) > cap:
                del state.events[: len(state.events) - cap]

    def list_server_events(self, query: ServerEventQuery) -> list[ServerEvent]:
        from sentiero.tracking.models import select_events

        with self._tracking(False) as state:
            return select_events(state.events, query)

    def get_server_event(self, event_id: str) -> ServerEvent | None:
        with self._tracking(False) as state:
            return next((e for e in state.events if e.id == event_id), None)

    def save_ingest_key(self, key: IngestKey) -> None:
        from sentiero.tracking.models import validate_ingest_key

        validate_ingest_key(key)
        with self._tracking(True) as state:
            if key.key_id in state.keys:
                raise ValueError(f"an ingest key with id {key.key_id} exists")
            state.keys[key.key_id] = key

    def get_ingest_key(self, key_id: str) -> IngestKey | None:
        with self._tracking(False) as state:
            return state.keys.get(key_id)

    def list_ingest_keys(self) -> list[IngestKey]:
        with self._tracking(False) as state:
            return sorted(state.keys.values(), key=lambda k: (k.created_ms, k.key_id))

    def revoke_ingest_key(self, key_id: str, at_ms: int | None = None) -> bool:
        from dataclasses import replace

        from sentiero.tracking.models import now_ms

        with self._tracking(True) as state:
            key = state.keys.get(key_id)
            if key is None or key.revoked_ms is not None:
                return False
            state.keys[key_id] = replace(key, revoked_ms=at_ms if at_ms is not None else now_ms())
            return True


class MemoryTracking(DocumentTracking):
    """The state held in memory under a lock (MemoryStore)."""

    _tracking_state: TrackingState
    _tracking_lock: threading.RLock

    def _init_tracking(self, lock: threading.RLock | None = None) -> None:
        self._tracking_state = TrackingState()
        self._tracking_lock = lock or threading.RLock()

    @contextmanager
    def _tracking(self, write: bool) -> Iterator[TrackingState]:
        with self._tracking_lock:
            yield self._tracking_state


class FileTracking(DocumentTracking):
    """The state in ``<root>/.tracking/state.json`` (FileStore): replaced atomically by each
    write under an exclusive ``flock`` on ``<root>/.tracking/lock``, read without a lock.
    Bounded by the caps, it is small enough to rewrite; use SQL or Redis for heavy traffic."""

    root: Any

    @property
    def _tracking_dir(self) -> Any:
        return self.root / ".tracking"

    def _load_tracking(self) -> TrackingState:
        import orjson

        try:
            data = (self._tracking_dir / "state.json").read_bytes()
        except FileNotFoundError:
            return TrackingState()
        return TrackingState.from_json(orjson.loads(data))

    @contextmanager
    def _tracking(self, write: bool) -> Iterator[TrackingState]:
        import fcntl
        import os

        import orjson

        from sentiero.stores.base import StoreError

        if not write:
            try:
                yield self._load_tracking()
            except OSError as exc:
                raise StoreError(f"file store: {exc}") from exc
            return
        try:
            self._tracking_dir.mkdir(exist_ok=True)
            fd = os.open(self._tracking_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = self._load_tracking()
            yield state
            from sentiero.stores.files import _write_atomic

            _write_atomic(self._tracking_dir / "state.json", orjson.dumps(state.to_json()))
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc
        finally:
            os.close(fd)
