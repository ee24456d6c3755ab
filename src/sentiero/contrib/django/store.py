"""``DjangoStore``: the store contract on the Django ORM, in the project's own database.

The default store when ``sentiero.contrib.django`` is installed; its tables come from the app's
migrations (``manage.py migrate``). Every batch is one transaction holding the session row's
lock (``SELECT ... FOR UPDATE``; SQLite serialises writers itself), so the exactly-once check,
the chunk numbering and the session totals cannot interleave with another writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import orjson
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    connections,
    transaction,
)
from django.db.models import F, Max, Min, Q, Sum

from sentiero.contrib.django.funnels import DjangoSavedFunnels
from sentiero.contrib.django.models import (
    ReceivedBatch,
    RecordedChunk,
    RecordedFact,
    RecordedSession,
    RecordedWindow,
)
from sentiero.contrib.django.tracking import DjangoTracking
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
    allocate_chunk_index,
    batch_has_errors,
    fact_data_json,
    load_window_state,
    same_run,
    to_ms,
    utcnow,
    validate_batch,
    validate_id,
    validate_metadata,
    window_state_json,
)

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_RETRIES = 8
_SORT_FIELDS = {"updated_at": "updated_us", "created_at": "created_us",
                "event_count": "event_count"}
NOT_MIGRATED = ("Sentiero's tables are missing from the Django database: run "
                "`python manage.py migrate sentiero`")


class _Duplicate(Exception):
    """The batch's (session, window, seq) is already stored: roll back, store nothing."""


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _US


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def _search_text(metadata: dict[str, Any]) -> str:
    return "\n".join(
        (v if isinstance(v, str) else orjson.dumps(v).decode()).lower() for v in metadata.values()
    )


def _lower_min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _upper_max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


class DjangoStore(DjangoTracking, DjangoSavedFunnels, Store):
    """Recordings in a Django database (``using`` = a key of ``settings.DATABASES``)."""

    def __init__(self, using: str = "default", limits: StoreLimits | None = None) -> None:
        super().__init__(limits)
        self.using = using

    # --- plumbing -------------------------------------------------------------------------

    def _run(self, work: Callable[[], T], atomic: bool = True) -> T:
        """Run ``work`` (in a transaction), retrying when the database says the write lost a
        race (SQLite's "database is locked", PostgreSQL's deadlock or serialization
        failures); driver errors become ``StoreError`` so the events endpoint answers 503."""
        for attempt in range(_RETRIES):
            try:
                if not atomic:
                    return work()
                with transaction.atomic(using=self.using):
                    return work()
            except ProgrammingError as exc:
                if "sentiero_" in str(exc) or "does not exist" in str(exc):
                    raise SchemaNotReadyError(NOT_MIGRATED) from None
                raise StoreError(f"database error: {type(exc).__name__}") from None
            except OperationalError as exc:
                text = str(exc).lower()
                if "no such table" in text:
                    raise SchemaNotReadyError(NOT_MIGRATED) from None
                retry = "locked" in text or "deadlock" in text or "serializ" in text
                if not retry or attempt == _RETRIES - 1:
                    raise StoreError(f"database unavailable: {type(exc).__name__}") from None
                time.sleep(0.01 * 2**attempt)
            except (_Duplicate, ValueError):
                raise
            except IntegrityError:
                if attempt == _RETRIES - 1:
                    raise StoreError("database refused the write (integrity error)") from None
            except DatabaseError as exc:
                raise StoreError(f"database error: {type(exc).__name__}") from None
        raise StoreError("database kept refusing the write")  # pragma: no cover

    def _sessions(self) -> Any:
        return RecordedSession.objects.using(self.using)

    def _windows(self) -> Any:
        return RecordedWindow.objects.using(self.using)

    def _chunks(self) -> Any:
        return RecordedChunk.objects.using(self.using)

    def _batches(self) -> Any:
        return ReceivedBatch.objects.using(self.using)

    def _facts(self) -> Any:
        return RecordedFact.objects.using(self.using)

    # --- writes ---------------------------------------------------------------------------

    def save_batch(self, batch: Batch) -> bool:
        data = validate_batch(batch)
        facts = [self._fact_row(fact) for fact in batch.facts]
        state = window_state_json(batch)
        if not batch.events:
            return False
        try:
            stored = self._run(lambda: self._save(batch, data, facts, state))
        except _Duplicate:
            return False
        if stored and self.limits.max_sessions is not None:
            self._evict_sessions(batch.session_id, self.limits.max_sessions)
        return stored

    @staticmethod
    def _fact_row(fact: Fact) -> dict[str, Any]:
        return {
            "window_id": fact.window_id, "kind": fact.kind, "ts_ms": int(fact.ts_ms),
            "url": fact.url, "key": None if fact.key is None else str(fact.key),
            "value": None if fact.value is None else float(fact.value),
            "data_json": fact_data_json(fact),
        }

    def _locked(self, session_id: str) -> RecordedSession | None:
        """The session row, locked for this transaction. SQLite has no row locks: a no-op
        UPDATE takes its write lock first (waiting its busy timeout), because a transaction
        that reads first and writes later can only fail when another writer got there."""
        if connections[self.using].vendor == "sqlite":
            self._sessions().filter(pk=session_id).update(event_count=F("event_count"))
        return self._sessions().select_for_update().filter(pk=session_id).first()

    def _lock_session(self, batch: Batch) -> RecordedSession:
        sid = batch.session_id
        session = self._locked(sid)
        if session is not None:
            return session
        received_us = _to_us(batch.received_at)
        try:
            with transaction.atomic(using=self.using):  # a savepoint: a lost race is no error
                self._sessions().create(session_id=sid, created_us=received_us,
                                        updated_us=received_us)
        except IntegrityError:
            pass
        return self._sessions().select_for_update().get(pk=sid)

    def _save(self, batch: Batch, data: bytes, facts: list[dict[str, Any]],
              state: str | None) -> bool:
        session = self._lock_session(batch)
        wid = batch.window_id
        key = batch.dedupe_key  # seq, or the content key of a seq-less batch
        if self._batches().filter(session=session, window_id=wid, seq=key).exists():
            raise _Duplicate
        self._batches().create(session=session, window_id=wid, seq=key)
        first_ms, last_ms, count = batch.first_ms, batch.last_ms, len(batch.events)
        window, _ = self._windows().get_or_create(session=session, window_id=wid)
        index, window.next_chunk = allocate_chunk_index(
            batch.seq, window.next_chunk,
            lambda i: self._chunks().filter(window=window, index=i).exists())
        window.event_count += count
        window.first_ms = _lower_min(window.first_ms, first_ms)
        window.last_ms = _upper_max(window.last_ms, last_ms)
        if state is not None:
            window.state_json = state
        window.save(using=self.using)
        chunk = self._chunks().create(window=window, index=index, seq=batch.seq,
                                      first_ms=first_ms, last_ms=last_ms, event_count=count,
                                      data=data)
        if facts:
            self._facts().bulk_create([RecordedFact(session=session, **row) for row in facts])

        session.updated_us = max(session.updated_us, _to_us(batch.received_at))
        session.event_count += count
        if batch.metadata:
            merged = orjson.loads(session.metadata_json)
            merged.update(batch.metadata)
            session.metadata_json = orjson.dumps(merged).decode()
            session.search_text = _search_text(merged)
        if not session.user_agent and batch.user_agent:
            session.user_agent = batch.user_agent
        if batch.page_url and (session.last_url_ms is None or last_ms >= session.last_url_ms):
            session.last_url, session.last_url_ms = batch.page_url, last_ms
        session.has_errors = session.has_errors or batch_has_errors(batch)
        session.save(using=self.using)

        max_events = self.limits.max_events_per_session
        if max_events is not None and session.event_count > max_events:
            self._drop_oldest_chunks(session, chunk.pk, max_events)
        return True

    def _drop_oldest_chunks(self, session: RecordedSession, keep_pk: int, max_events: int
                            ) -> None:
        """Drop the session's oldest chunks (by first event) until it is within the limit,
        never the chunk just written; a window left without chunks stays listed (its dedup
        records and chunk numbering must survive)."""
        total = session.event_count
        rows = (self._chunks().filter(window__session=session).exclude(pk=keep_pk)
                .order_by("first_ms", "index", "window__window_id")
                .values_list("pk", "window_id", "event_count"))
        doomed: list[int] = []
        windows: set[int] = set()
        for pk, window_pk, events in rows:
            if total <= max_events:
                break
            doomed.append(pk)
            windows.add(window_pk)
            total -= events
        for start in range(0, len(doomed), 500):
            self._chunks().filter(pk__in=doomed[start:start + 500]).delete()
        for window_pk in windows:
            agg = self._chunks().filter(window_id=window_pk).aggregate(
                n=Sum("event_count"), first=Min("first_ms"), last=Max("last_ms"))
            self._windows().filter(pk=window_pk).update(
                event_count=agg["n"] or 0, first_ms=agg["first"], last_ms=agg["last"])
        session.event_count = total
        session.save(using=self.using, update_fields=["event_count"])

    def _evict_sessions(self, current: str, max_sessions: int) -> None:
        """Delete the oldest sessions beyond ``max_sessions`` (never ``current``) in one
        transaction that first locks ``current``'s row, as ``SQLStore`` does.

        On PostgreSQL two writers that would evict each other's new session each hold their
        own row and wait for the other's: the database reports a deadlock, one of them is
        retried, finds its session gone and stops, so at most one of the two is evicted.
        Candidates are locked before deleting and the count is taken again after, so
        evictions side by side never delete more than needed. On SQLite the lock is the
        database's write lock, so evictions simply run one after the other.
        """

        def evict() -> int:
            if self._locked(current) is None:
                return 0  # evicted by another writer meanwhile: nothing for us to do
            excess = self._sessions().count() - max_sessions
            if excess <= 0:
                return 0
            candidates = (self._sessions().select_for_update().exclude(pk=current)
                          .order_by("updated_us", "session_id")
                          .values_list("session_id", flat=True)[:excess])
            doomed = list(candidates)
            # a row deleted by another eviction while we waited for its lock is not
            # returned; count again, so we take only what is still beyond the limit
            doomed = doomed[: max(0, self._sessions().count() - max_sessions)]
            return self._delete_sessions(doomed) if doomed else 0

        self._run(evict)

    def save_metadata(self, session_id: str, metadata: dict[str, Any]) -> None:
        validate_id(session_id, "session id")
        clean = validate_metadata(metadata)

        def merge() -> None:
            session = self._locked(session_id)
            if session is None:
                return
            merged = orjson.loads(session.metadata_json)
            merged.update(clean)
            session.metadata_json = orjson.dumps(merged).decode()
            session.search_text = _search_text(merged)
            session.save(using=self.using, update_fields=["metadata_json", "search_text"])

        self._run(merge)

    # --- reads ----------------------------------------------------------------------------

    def _summaries(self, sessions: list[RecordedSession]) -> list[SessionSummary]:
        by_session: dict[str, list[WindowSummary]] = {s.session_id: [] for s in sessions}
        ids = list(by_session)
        for start in range(0, len(ids), 500):
            rows = (self._windows().filter(session_id__in=ids[start:start + 500])
                    .values_list("session_id", "window_id", "event_count", "first_ms",
                                 "last_ms"))
            for sid, wid, count, first, last in rows:
                by_session[sid].append(WindowSummary(wid, int(count), first, last))
        out = []
        for s in sessions:
            windows = sorted(by_session[s.session_id],
                             key=lambda w: (w.first_ms is None, w.first_ms or 0, w.window_id))
            firsts = [w.first_ms for w in windows if w.first_ms is not None]
            lasts = [w.last_ms for w in windows if w.last_ms is not None]
            out.append(SessionSummary(
                session_id=s.session_id,
                created_at=_from_us(s.created_us),
                updated_at=_from_us(s.updated_us),
                first_ms=min(firsts, default=None),
                last_ms=max(lasts, default=None),
                event_count=sum(w.event_count for w in windows),
                windows=windows,
                metadata=orjson.loads(s.metadata_json),
                user_agent=s.user_agent,
                last_url=s.last_url,
                has_errors=s.has_errors,
            ))
        return out

    def list_sessions(self, query: SessionQuery) -> list[SessionSummary]:
        qs = self._sessions().defer("search_text")
        if query.since is not None:
            qs = qs.filter(updated_us__gte=_to_us(query.since))
        if query.until is not None:
            qs = qs.filter(updated_us__lte=_to_us(query.until))
        if query.has_errors is not None:
            qs = qs.filter(has_errors=query.has_errors)
        if query.search:
            needle = query.search.lower()
            qs = qs.filter(Q(session_id__icontains=needle) | Q(search_text__contains=needle))
        qs = qs.order_by(f"-{_SORT_FIELDS[query.sort_by]}", "session_id")
        page = qs[query.offset: query.offset + query.limit]
        return self._run(lambda: self._summaries(list(page)), atomic=False)

    def get_session(self, session_id: str) -> SessionSummary | None:
        validate_id(session_id, "session id")

        def read() -> SessionSummary | None:
            session = self._sessions().filter(pk=session_id).first()
            return None if session is None else self._summaries([session])[0]

        return self._run(read, atomic=False)

    def iter_session_ids(self) -> Iterator[str]:
        ids = self._run(lambda: list(self._sessions().order_by("created_us", "session_id")
                                     .values_list("session_id", flat=True)), atomic=False)
        return iter(ids)

    def _window_filter(self, ref: WindowRef) -> dict[str, str]:
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")
        return {"window__session_id": ref.session_id, "window__window_id": ref.window_id}

    def chunk_index(self, ref: WindowRef) -> list[ChunkInfo]:
        where = self._window_filter(ref)
        rows = (self._chunks().filter(**where).order_by("index")
                .values_list("index", "first_ms", "last_ms", "event_count", "seq"))
        return self._run(lambda: [ChunkInfo(*row) for row in rows], atomic=False)

    def get_chunks(
        self,
        ref: WindowRef,
        from_ms: int | None = None,
        to_ms: int | None = None,
        start_index: int = 0,
        limit: int | None = None,
    ) -> list[Chunk]:
        qs = self._chunks().filter(**self._window_filter(ref), index__gte=start_index)
        if from_ms is not None:
            qs = qs.filter(last_ms__gte=from_ms)
        if to_ms is not None:
            qs = qs.filter(first_ms__lte=to_ms)
        qs = qs.order_by("index").values_list("index", "first_ms", "last_ms", "event_count",
                                              "seq", "data")
        if limit is not None:
            qs = qs[:limit]
        return self._run(
            lambda: [Chunk(ChunkInfo(*row[:5]), bytes(row[5])) for row in qs], atomic=False)

    def replace_chunks(self, ref: WindowRef, replaced: Sequence[ChunkInfo], chunk: Chunk) -> bool:
        """Compaction's primitive: one transaction holding the session's lock, like a batch."""
        lo, hi = replaced[0].index, replaced[-1].index
        run = dict(self._window_filter(ref), index__gte=lo, index__lte=hi)

        def replace() -> bool:
            if self._locked(ref.session_id) is None:
                return False
            rows = self._chunks().filter(**run).order_by("index").values_list(
                "index", "first_ms", "last_ms", "event_count", "seq")
            if not same_run([ChunkInfo(*row) for row in rows], replaced):
                return False
            self._chunks().filter(**run, index__gt=lo).delete()
            info = chunk.info
            self._chunks().filter(**run, index=lo).update(
                first_ms=info.first_ms, last_ms=info.last_ms, event_count=info.event_count,
                data=chunk.data)
            return True

        return self._run(replace)

    def get_window_state(self, ref: WindowRef) -> dict[str, Any] | None:
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")
        rows = self._windows().filter(session_id=ref.session_id, window_id=ref.window_id)
        state = self._run(lambda: rows.values_list("state_json", flat=True).first(),
                          atomic=False)
        return load_window_state(state)

    def iter_facts(
        self,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
    ) -> Iterator[Fact]:
        qs = self._facts().all()
        if kind is not None:
            qs = qs.filter(kind=kind)
        if session_id is not None:
            qs = qs.filter(session_id=validate_id(session_id, "session id"))
        if since is not None:
            qs = qs.filter(ts_ms__gte=to_ms(since, round_up=True))
        if until is not None:
            qs = qs.filter(ts_ms__lte=to_ms(until))
        rows = qs.order_by("ts_ms", "id").values_list(
            "kind", "session_id", "window_id", "ts_ms", "url", "data_json", "key", "value")
        facts = self._run(lambda: [self._fact(row) for row in rows], atomic=False)
        return iter(facts)

    @staticmethod
    def _fact(row: tuple[Any, ...]) -> Fact:
        kind, sid, wid, ts_ms, url, data, key, value = row
        return Fact(kind, sid, wid, int(ts_ms), url, orjson.loads(data), key, value)

    # --- deletes --------------------------------------------------------------------------

    def delete_window(self, ref: WindowRef) -> bool:
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")

        def delete() -> bool:
            session = self._locked(ref.session_id)
            if session is None:
                return False
            window = self._windows().filter(session=session, window_id=ref.window_id).first()
            if window is None:
                return False
            if not self._windows().filter(session=session).exclude(pk=window.pk).exists():
                self._delete_sessions([session.pk])
                return True
            self._chunks().filter(window=window).delete()
            window.delete(using=self.using)
            self._batches().filter(session=session, window_id=ref.window_id).delete()
            self._facts().filter(session=session, window_id=ref.window_id).delete()
            agg = self._windows().filter(session=session).aggregate(n=Sum("event_count"))
            session.event_count = agg["n"] or 0
            session.save(using=self.using, update_fields=["event_count"])
            return True

        return self._run(delete)

    def _delete_sessions(self, ids: list[str]) -> int:
        """Delete sessions with everything under them, children first in bulk (no row-by-row
        cascade collection of chunk data), with their error-tracking occurrences and server
        events."""
        self._forget_tracked_sessions(ids)
        self._chunks().filter(window__session_id__in=ids).delete()
        self._facts().filter(session_id__in=ids).delete()
        self._batches().filter(session_id__in=ids).delete()
        self._windows().filter(session_id__in=ids).delete()
        _total, per_model = self._sessions().filter(session_id__in=ids).delete()
        return per_model.get(RecordedSession._meta.label, 0)

    def delete_session(self, session_id: str) -> bool:
        validate_id(session_id, "session id")
        return self._run(lambda: self._delete_sessions([session_id]) > 0)

    def purge_older_than(self, seconds: float) -> int:
        moment = utcnow() - timedelta(seconds=seconds)
        cutoff = _to_us(moment)
        ids = self._run(lambda: list(self._sessions().filter(updated_us__lt=cutoff)
                                     .values_list("session_id", flat=True)), atomic=False)
        count = 0
        for start in range(0, len(ids), 500):
            count += self._run(lambda s=start: self._delete_sessions(ids[s:s + 500]))
        self._purge_tracking(to_ms(moment))
        return count
