"""A store in process memory: for tests, the demo, and trying Sentiero without a database.

Everything lives in plain dicts guarded by one lock, so it is safe across threads of one
process; nothing survives a restart.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from threading import RLock
from typing import Any

import orjson

from sentiero.stores.base import (
    Batch,
    Chunk,
    ChunkInfo,
    Fact,
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
from sentiero.stores.saved_funnels import MAX_SAVED, SavedFunnel, sorted_funnels
from sentiero.stores.tracking import MemoryTracking


@dataclass
class _Chunk:
    info: ChunkInfo
    data: bytes


@dataclass
class _Window:
    chunks: list[_Chunk] = field(default_factory=list)
    next_index: int = 0
    state: bytes | None = None  # window_state as JSON, so callers never share the dict

    @property
    def event_count(self) -> int:
        return sum(c.info.event_count for c in self.chunks)

    @property
    def first_ms(self) -> int | None:
        return min((c.info.first_ms for c in self.chunks), default=None)

    @property
    def last_ms(self) -> int | None:
        return max((c.info.last_ms for c in self.chunks), default=None)


@dataclass
class _Session:
    created_at: datetime
    updated_at: datetime
    windows: dict[str, _Window] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    user_agent: str | None = None
    last_url: str | None = None
    last_url_ms: int | None = None
    has_errors: bool = False

    @property
    def event_count(self) -> int:
        return sum(w.event_count for w in self.windows.values())


class MemoryStore(MemoryTracking, Store):
    def __init__(self, limits: StoreLimits | None = None) -> None:
        super().__init__(limits)
        self._lock = RLock()
        self._init_tracking(self._lock)
        self._sessions: dict[str, _Session] = {}
        self._seen: dict[str, set[tuple[str, int]]] = {}  # session -> {(window, seq)}
        self._facts: list[Fact] = []  # in arrival order; sorted by ts_ms on read
        self._funnels: dict[str, bytes] = {}  # saved funnels by id (SavedFunnel.to_json)

    # --- writes ---------------------------------------------------------------------------

    def save_batch(self, batch: Batch) -> bool:
        data = validate_batch(batch)
        for fact in batch.facts:
            fact_data_json(fact)  # same rule as the SQL store: fact data must be JSON
        state = window_state_json(batch)
        if not batch.events:
            return False
        first_ms, last_ms = batch.first_ms, batch.last_ms
        key = (batch.window_id, batch.dedupe_key)
        with self._lock:
            seen = self._seen.setdefault(batch.session_id, set())
            if key in seen:
                return False
            session = self._sessions.get(batch.session_id)
            if session is None:
                session = _Session(created_at=batch.received_at, updated_at=batch.received_at)
                self._sessions[batch.session_id] = session
            window = session.windows.setdefault(batch.window_id, _Window())
            chunks = window.chunks
            index, window.next_index = allocate_chunk_index(
                batch.seq, window.next_index, lambda i: any(c.info.index == i for c in chunks))
            info = ChunkInfo(index, first_ms, last_ms, len(batch.events), batch.seq)
            insort(window.chunks, _Chunk(info, data), key=lambda c: c.info.index)
            if state is not None:
                window.state = state.encode()
            seen.add(key)

            session.updated_at = max(session.updated_at, batch.received_at)
            session.metadata.update(batch.metadata)
            if not session.user_agent and batch.user_agent:
                session.user_agent = batch.user_agent
            if batch.page_url and (session.last_url_ms is None or last_ms >= session.last_url_ms):
                session.last_url = batch.page_url
                session.last_url_ms = last_ms
            session.has_errors = session.has_errors or batch_has_errors(batch)
            self._facts.extend(batch.facts)

            self._enforce_limits(batch.session_id, window, info.index)
        return True

    def _enforce_limits(self, session_id: str, window: _Window, chunk_index: int) -> None:
        max_events = self.limits.max_events_per_session
        if max_events is not None:
            session = self._sessions[session_id]
            total = session.event_count
            if total > max_events:
                protected = (id(window), chunk_index)
                candidates = sorted(
                    (
                        (c.info.first_ms, c.info.index, wid, c)
                        for wid, w in session.windows.items()
                        for c in w.chunks
                        if (id(w), c.info.index) != protected
                    ),
                    key=lambda t: (t[0], t[1], t[2]),
                )
                for _first, _index, wid, chunk in candidates:
                    if total <= max_events:
                        break
                    session.windows[wid].chunks.remove(chunk)
                    total -= chunk.info.event_count
                # a window whose chunks all went stays listed (0 events): its dedup records
                # and chunk numbering must survive
        max_sessions = self.limits.max_sessions
        if max_sessions is not None and len(self._sessions) > max_sessions:
            others = sorted(
                (s.updated_at, sid) for sid, s in self._sessions.items() if sid != session_id
            )
            for _updated, sid in others[: len(self._sessions) - max_sessions]:
                self._drop_session(sid)

    def save_metadata(self, session_id: str, metadata: dict[str, Any]) -> None:
        validate_id(session_id, "session id")
        clean = validate_metadata(metadata)
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                session.metadata.update(clean)

    # --- reads ----------------------------------------------------------------------------

    def _summary(self, session_id: str, session: _Session) -> SessionSummary:
        windows = [
            WindowSummary(wid, w.event_count, w.first_ms, w.last_ms)
            for wid, w in session.windows.items()
        ]
        windows.sort(key=lambda w: (w.first_ms is None, w.first_ms or 0, w.window_id))
        firsts = [w.first_ms for w in windows if w.first_ms is not None]
        lasts = [w.last_ms for w in windows if w.last_ms is not None]
        return SessionSummary(
            session_id=session_id,
            created_at=session.created_at,
            updated_at=session.updated_at,
            first_ms=min(firsts, default=None),
            last_ms=max(lasts, default=None),
            event_count=sum(w.event_count for w in windows),
            windows=windows,
            metadata=dict(session.metadata),
            user_agent=session.user_agent,
            last_url=session.last_url,
            has_errors=session.has_errors,
        )

    def list_sessions(self, query: SessionQuery) -> list[SessionSummary]:
        needle = query.search.lower() if query.search else None
        with self._lock:
            rows = []
            for sid, session in self._sessions.items():
                if query.since is not None and session.updated_at < query.since:
                    continue
                if query.until is not None and session.updated_at > query.until:
                    continue
                if query.has_errors is not None and session.has_errors != query.has_errors:
                    continue
                if needle is not None and not _matches(sid, session.metadata, needle):
                    continue
                rows.append(self._summary(sid, session))
        rows.sort(key=lambda s: s.session_id)
        rows.sort(key=lambda s: getattr(s, query.sort_by), reverse=True)
        return rows[query.offset : query.offset + query.limit]

    def get_session(self, session_id: str) -> SessionSummary | None:
        validate_id(session_id, "session id")
        with self._lock:
            session = self._sessions.get(session_id)
            return None if session is None else self._summary(session_id, session)

    def iter_session_ids(self) -> Iterator[str]:
        with self._lock:
            ordered = sorted(self._sessions.items(), key=lambda kv: (kv[1].created_at, kv[0]))
        return iter([sid for sid, _ in ordered])

    def _window(self, ref: WindowRef) -> _Window | None:
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")
        session = self._sessions.get(ref.session_id)
        return None if session is None else session.windows.get(ref.window_id)

    def chunk_index(self, ref: WindowRef) -> list[ChunkInfo]:
        with self._lock:
            window = self._window(ref)
            return [] if window is None else [c.info for c in window.chunks]

    def get_chunks(
        self,
        ref: WindowRef,
        from_ms: int | None = None,
        to_ms: int | None = None,
        start_index: int = 0,
        limit: int | None = None,
    ) -> list[Chunk]:
        with self._lock:
            window = self._window(ref)
            chunks = [] if window is None else list(window.chunks)
        out: list[Chunk] = []
        for chunk in chunks:
            info = chunk.info
            if not info.selected(from_ms, to_ms, start_index):
                continue
            if limit is not None and len(out) >= limit:
                break
            out.append(Chunk(info, chunk.data))
        return out

    def replace_chunks(self, ref: WindowRef, replaced: Sequence[ChunkInfo], chunk: Chunk) -> bool:
        with self._lock:
            window = self._window(ref)
            if window is None or not same_run((c.info for c in window.chunks), replaced):
                return False
            doomed = {c.index for c in replaced}
            kept = [c for c in window.chunks if c.info.index not in doomed]
            insort(kept, _Chunk(chunk.info, chunk.data), key=lambda c: c.info.index)
            window.chunks = kept
            return True

    def get_window_state(self, ref: WindowRef) -> dict[str, Any] | None:
        with self._lock:
            window = self._window(ref)
            state = None if window is None else window.state
        return load_window_state(state)

    def iter_facts(
        self,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
    ) -> Iterator[Fact]:
        since_ms = None if since is None else to_ms(since, round_up=True)
        until_ms = None if until is None else to_ms(until)
        with self._lock:
            facts = [
                f
                for f in self._facts
                if (kind is None or f.kind == kind)
                and (session_id is None or f.session_id == session_id)
                and (since_ms is None or f.ts_ms >= since_ms)
                and (until_ms is None or f.ts_ms <= until_ms)
            ]
        facts.sort(key=lambda f: f.ts_ms)
        return iter(facts)

    # --- deletes --------------------------------------------------------------------------

    def _drop_session(self, session_id: str) -> bool:
        if self._sessions.pop(session_id, None) is None:
            return False
        self._seen.pop(session_id, None)
        self._facts = [f for f in self._facts if f.session_id != session_id]
        self._forget_tracked_sessions({session_id})
        return True

    def _mark_session_errors(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                session.has_errors = True

    def delete_window(self, ref: WindowRef) -> bool:
        with self._lock:
            if self._window(ref) is None:
                return False
            session = self._sessions[ref.session_id]
            del session.windows[ref.window_id]
            if not session.windows:
                return self._drop_session(ref.session_id)
            seen = self._seen.get(ref.session_id, set())
            self._seen[ref.session_id] = {k for k in seen if k[0] != ref.window_id}
            self._facts = [
                f
                for f in self._facts
                if (f.session_id, f.window_id) != (ref.session_id, ref.window_id)
            ]
            return True

    def delete_session(self, session_id: str) -> bool:
        validate_id(session_id, "session id")
        with self._lock:
            return self._drop_session(session_id)

    def purge_older_than(self, seconds: float) -> int:
        cutoff = utcnow() - timedelta(seconds=seconds)
        with self._lock:
            old = [sid for sid, s in self._sessions.items() if s.updated_at < cutoff]
            for sid in old:
                self._drop_session(sid)
            self._purge_tracking(to_ms(cutoff))
        return len(old)

    # --- saved funnels -----------------------------------------------------------------

    def save_funnel(self, funnel: SavedFunnel) -> None:
        with self._lock:
            if funnel.funnel_id not in self._funnels and len(self._funnels) >= MAX_SAVED:
                raise StoreError(f"at most {MAX_SAVED} saved funnels")
            self._funnels[funnel.funnel_id] = funnel.to_json()

    def list_funnels(self) -> list[SavedFunnel]:
        with self._lock:
            docs = list(self._funnels.values())
        return sorted_funnels([SavedFunnel.from_json(d) for d in docs])

    def delete_funnel(self, funnel_id: str) -> bool:
        with self._lock:
            return self._funnels.pop(funnel_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._seen.clear()
            self._facts.clear()
            self._init_tracking(self._lock)


def _matches(session_id: str, metadata: dict[str, Any], needle: str) -> bool:
    if needle in session_id.lower():
        return True
    for value in metadata.values():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if needle in text.lower():
            return True
    return False
