"""The store contract every backend implements, and the helpers they share.

A window's recording is kept as ordered, zstandard-compressed chunks (one per accepted
batch) with their time ranges, so replay can start from the first chunk and seek by
fetching only the chunks it needs (DESIGN.md decision 6). Facts (DESIGN.md decision 4)
are compact records extracted at ingest that analytics read instead of raw events.

Times: event timestamps and chunk ranges are epoch milliseconds (``*_ms``); every other
time is a timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

import hashlib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson
import zstandard

from sentiero.analytics import clicks, query
from sentiero.analytics.clicks import Click, ClickCells
from sentiero.analytics.query import Facets, FactCount, Scope, Segment, SessionRow
from sentiero.analytics.traits import Traits
from sentiero.limits import MAX_NESTING, nested_too_deeply
from sentiero.stores import chunk_codec
from sentiero.stores.saved_funnels import SavedFunnel
from sentiero.stores.tracking import TrackingStore

if TYPE_CHECKING:
    from sentiero.analytics.conversions import GoalGroup
    from sentiero.analytics.engagement import Engagement
    from sentiero.analytics.form_groups import FormGroups
    from sentiero.analytics.funnel import FunnelTally, Step
    from sentiero.analytics.scroll import ScrollGroup

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}\Z")
SORT_KEYS = ("updated_at", "created_at", "event_count")
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 128
METADATA_MAX_VALUE_LENGTH = 1024
STORABLE_INT = 2**63
"""Exclusive bound on ``abs()`` of seq, event timestamps and fact ts_ms: the 64-bit integer
columns of the SQL stores and the file store's record header."""


DAY_MS = 86_400_000


class StoreError(Exception):
    """The backend could not complete an operation (server down, timeout, ...).

    The events endpoint answers 503 with Retry-After for it; nothing was stored.
    """


class SchemaNotReadyError(StoreError):
    """The database schema is missing or older than this version of Sentiero."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_ms(moment: datetime, *, round_up: bool = False) -> int:
    """Epoch milliseconds of a datetime (naive ones are taken as UTC).

    ``round_up`` is for inclusive lower bounds, so ``since`` never admits an earlier ms.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    value = moment.timestamp() * 1000
    return math.ceil(value) if round_up else math.floor(value)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def validate_id(value: object, what: str = "id") -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ValueError(f"{what} must be 1-128 alphanumeric, hyphen, or underscore characters")
    return value


def validate_metadata(metadata: object) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise ValueError("metadata must be an object")
    if len(metadata) > METADATA_MAX_KEYS:
        raise ValueError(f"metadata may hold at most {METADATA_MAX_KEYS} keys")
    if nested_too_deeply(metadata):
        raise ValueError(f"metadata may be nested at most {MAX_NESTING - 1} levels deep")
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not 0 < len(key) <= METADATA_MAX_KEY_LENGTH:
            raise ValueError(f"metadata keys must be 1-{METADATA_MAX_KEY_LENGTH} characters")
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if len(text) > METADATA_MAX_VALUE_LENGTH:
            raise ValueError(
                f"metadata values must be at most {METADATA_MAX_VALUE_LENGTH} characters"
            )
        clean[key] = value
    return clean


def validate_batch(batch: Batch) -> bytes:
    """Check a batch before anything is written and return its chunk data.

    Raises ValueError for bad ids, seq, metadata, facts of another window, or events that
    cannot be serialized as JSON; a store calls this first so a bad batch stores nothing.
    """
    validate_id(batch.session_id, "session id")
    validate_id(batch.window_id, "window id")
    if batch.seq is not None and (
        isinstance(batch.seq, bool) or not isinstance(batch.seq, int) or batch.seq < 0
    ):
        raise ValueError("seq must be a non-negative integer or None")
    if batch.seq is not None and batch.seq >= STORABLE_INT:
        raise ValueError("seq is too large to store")
    if batch.content_key is not None and (
        isinstance(batch.content_key, bool) or not isinstance(batch.content_key, int)
        or not -2 - CONTENT_KEY_SPAN < batch.content_key <= -2
    ):
        raise ValueError("content_key must come from content_key() or be None")
    validate_metadata(batch.metadata)
    for event in batch.events:
        if not _storable_ms(event.get("timestamp") if isinstance(event, dict) else None, True):
            raise ValueError("event timestamps must be finite and fit in 64 bits")
    for fact in batch.facts:
        if fact.session_id != batch.session_id or fact.window_id != batch.window_id:
            raise ValueError("a batch's facts must belong to its session and window")
        if not isinstance(fact.kind, str) or not 0 < len(fact.kind) <= 32:
            raise ValueError("fact kind must be 1-32 characters")
        if not _storable_ms(fact.ts_ms, False):
            raise ValueError("fact ts_ms must be a finite number that fits in 64 bits")
    if batch.received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    window_state_json(batch)
    try:
        return encode_events(batch.events)
    except TypeError as exc:  # orjson.JSONEncodeError: a set, bytes, NaN key, ...
        raise ValueError(f"events cannot be stored as JSON: {exc}") from None


def _storable_ms(value: object, optional: bool) -> bool:
    """Whether a time (event timestamp, fact ts_ms) can be stored as a 64-bit integer; for
    events, anything that is not a number counts as 0 (see ``Batch.first_ms``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return optional
    return math.isfinite(value) and -STORABLE_INT < int(value) < STORABLE_INT


def batch_has_errors(batch: Batch) -> bool:
    return bool(batch.has_errors or batch.metadata.get("has_errors"))


def window_state_json(batch: Batch) -> str | None:
    """The batch's window state as JSON text (None: leave the stored state as it is)."""
    if batch.window_state is None:
        return None
    if not isinstance(batch.window_state, dict):
        raise ValueError("window_state must be a dict or None")
    try:
        return orjson.dumps(batch.window_state).decode()
    except TypeError as exc:
        raise ValueError(f"window_state cannot be stored as JSON: {exc}") from None


def load_window_state(text: str | bytes | None) -> dict[str, Any] | None:
    """Parse stored window state; anything unreadable is None (callers start afresh)."""
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def fact_data_json(fact: Fact) -> str:
    try:
        return orjson.dumps(fact.data).decode()
    except TypeError as exc:
        raise ValueError(f"fact data cannot be stored as JSON: {exc}") from None


_KEY, _VALUE = "_k", "_v"


def fact_stored_data(fact: Fact) -> dict[str, Any]:
    """``data`` with ``key`` and ``value`` folded in, for stores that keep a fact as one JSON
    document (Redis, files); :func:`fact_from_stored` unfolds them."""
    if fact.key is None and fact.value is None:
        return fact.data
    out = dict(fact.data)
    if fact.key is not None:
        out[_KEY] = fact.key
    if fact.value is not None:
        out[_VALUE] = fact.value
    return out


def fact_from_stored(
    kind: str, session_id: str, window_id: str, ts_ms: int, url: str | None, data: Any
) -> Fact:
    data = dict(data) if isinstance(data, dict) else {}
    key = data.pop(_KEY, None)
    value = data.pop(_VALUE, None)
    return Fact(kind, session_id, window_id, int(ts_ms), url, data,
                key if isinstance(key, str) else None,
                float(value) if isinstance(value, (int, float)) else None)


# --- chunk encoding -------------------------------------------------------------------------

_COMPRESSOR_LEVEL = 1
"""Ingest compresses every batch at once and fast; compaction recompresses idle windows
(docs/storage.md). On the fixtures' recorder-size batches level 1 stored 0.6-9% fewer bytes
than level 3 on four of seven and up to 1.5% more on three, at 10-35% less CPU on large
batches (benchmarks/RESULTS.md, 2026-12-04)."""


def encode_events(events: list[dict[str, Any]]) -> bytes:
    """Serialize events as one JSON array and compress it with zstandard."""
    return zstandard.ZstdCompressor(level=_COMPRESSOR_LEVEL).compress(orjson.dumps(events))


def decode_events_json(blob: bytes) -> bytes:
    """The JSON array text of a chunk, without parsing it (API responses stitch these);
    compacted chunks may use a dictionary (``chunk_codec``)."""
    return chunk_codec.decompress(blob)


def decode_events(blob: bytes) -> list[dict[str, Any]]:
    return orjson.loads(decode_events_json(blob))


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowRef:
    session_id: str
    window_id: str


@dataclass(frozen=True)
class Fact:
    """One compact analytics record derived from events at ingest.

    The kinds, with what ``key`` (the group key), ``value`` (the measure) and ``data`` hold
    for each, are listed in docs/CONTRACTS.md ("Facts"). ``url`` is the redacted page URL.
    """

    kind: str
    session_id: str
    window_id: str
    ts_ms: int
    url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    value: float | None = None


@dataclass
class Batch:
    """One accepted request from the recorder, validated and redacted, ready to store.

    ``seq`` is the recorder's per-window batch number; a store never stores two
    batches with the same (session_id, window_id, seq). A batch with ``seq=None`` (the
    original recorder) is deduplicated by its content instead (:attr:`dedupe_key`).
    """

    session_id: str
    window_id: str
    events: list[dict[str, Any]]
    seq: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)
    user_agent: str | None = None
    page_url: str | None = None  # latest page of this batch (redacted), for "last page"
    has_errors: bool = False
    received_at: datetime = field(default_factory=utcnow)
    content_key: int | None = None
    """The dedup key of a batch without ``seq``: :func:`content_key` of the events as the
    client sent them (ingest computes it before scrubbing); None computes it from ``events``."""
    window_state: dict[str, Any] | None = None
    """Ingest's per-window memory (the password scrubber's ``ScrubState.to_dict()``), saved
    in the same atomic write as the batch and replacing the window's previous state; None
    leaves the stored state as it is. A duplicate batch stores no state either."""

    @property
    def ref(self) -> WindowRef:
        return WindowRef(self.session_id, self.window_id)

    @property
    def dedupe_key(self) -> int:
        """What a store records to refuse this batch a second time: its ``seq`` (>= 0), or for
        a batch without one (the original recorder) its content key (<= -2): a retried
        seq-less batch is stored once too."""
        if self.seq is not None:
            return self.seq
        if self.content_key is not None:
            return self.content_key
        return content_key(self.events)

    @property
    def first_ms(self) -> int:
        return self.span_ms()[0]

    @property
    def last_ms(self) -> int:
        return self.span_ms()[1]

    def span_ms(self) -> tuple[int, int]:
        """(first_ms, last_ms) in one pass over the events; (0, 0) without events."""
        times = [_ts(e) for e in self.events]
        return (min(times), max(times)) if times else (0, 0)


CONTENT_KEY_SPAN = 2**62


def content_key(events: list[dict[str, Any]]) -> int:
    """The dedup key of a seq-less batch: from a 64-bit BLAKE2b digest of its events' JSON,
    mapped into [-2 - 2**62 + 1, -2], so it never equals a recorder's seq (>= 0) nor -1 (the
    file store's "no seq"). Only seq-less batches pay for it."""
    digest = hashlib.blake2b(orjson.dumps(events), digest_size=8).digest()
    return -2 - int.from_bytes(digest, "big") % CONTENT_KEY_SPAN


def _ts(event: dict[str, Any]) -> int:
    value = event.get("timestamp")
    return int(value) if isinstance(value, (int, float)) else 0


@dataclass(frozen=True)
class ChunkInfo:
    """Where a chunk sits in a window's timeline; ``index`` orders chunks (0-based).

    A batch with a ``seq`` gets the index ``seq`` (the recorder numbers a window's batches
    from 0), so a window's chunks read in seq order even when beacons arrive out of order;
    a seq-less batch (and, in a window mixing both, a seq whose index a seq-less batch took)
    gets the window's next index, after every index allocated so far, so seq-less batches read
    in arrival order (``allocate_chunk_index``). Indexes are never reused or renumbered: when
    ``max_events_per_session`` drops a window's oldest chunks, the remaining ones keep
    their index (so the first chunk of a window may have index > 0). ``seq`` is the
    batch's seq (None for the original recorder); export/import uses it so re-importing
    a file stores nothing twice.
    """

    index: int
    first_ms: int
    last_ms: int
    event_count: int
    seq: int | None = None

    def selected(self, from_ms: int | None, to_ms: int | None, start_index: int = 0) -> bool:
        """Whether ``get_chunks(from_ms, to_ms, start_index)`` returns this chunk: its index
        is at least ``start_index`` and its time range overlaps [from_ms, to_ms]."""
        return (
            self.index >= start_index
            and (from_ms is None or self.last_ms >= from_ms)
            and (to_ms is None or self.first_ms <= to_ms)
        )


SEQ_INDEX_LIMIT = 2**30
"""A seq at or above this is numbered like a seq-less batch: chunk indexes are 32-bit columns
in the SQL stores and the recorder's seqs are small."""


def index_seq(seq: int | None) -> int | None:
    """The seq a batch asks for as its chunk index (None: the window's next index)."""
    return seq if seq is not None and seq < SEQ_INDEX_LIMIT else None


def allocate_chunk_index(
    seq: int | None, next_index: int, taken: Callable[[int], bool]
) -> tuple[int, int]:
    """(index for a new chunk, the window's next index after it): ``seq`` when it is free,
    else ``next_index``. Every store allocates with this rule, under its write lock.

    ``taken(i)`` says whether a chunk of the window holds index i; it is only asked for an
    index below ``next_index`` (a batch that arrived after a later one), so the in-order path
    never looks anything up.
    """
    seq = index_seq(seq)
    if seq is not None and (seq >= next_index or not taken(seq)):
        return seq, max(next_index, seq + 1)
    return next_index, next_index + 1


def merged_info(replaced: Sequence[ChunkInfo]) -> ChunkInfo:
    """The ChunkInfo of one chunk holding a run's events: the run's first index and seq."""
    return ChunkInfo(replaced[0].index, min(c.first_ms for c in replaced),
                     max(c.last_ms for c in replaced), sum(c.event_count for c in replaced),
                     replaced[0].seq)


def same_run(current: Iterable[ChunkInfo], replaced: Sequence[ChunkInfo]) -> bool:
    """Whether ``current`` (the window's chunks, any order) holds exactly ``replaced`` in the
    run's index range: what ``replace_chunks`` checks under its lock."""
    lo, hi = replaced[0].index, replaced[-1].index
    inside = sorted((c for c in current if lo <= c.index <= hi), key=lambda c: c.index)
    return inside == list(replaced)


@dataclass(frozen=True)
class Chunk:
    info: ChunkInfo
    data: bytes  # encode_events() output

    def events(self) -> list[dict[str, Any]]:
        return decode_events(self.data)

    def events_json(self) -> bytes:
        return decode_events_json(self.data)


@dataclass
class WindowSummary:
    window_id: str
    event_count: int
    first_ms: int | None
    last_ms: int | None


@dataclass
class SessionSummary:
    """``windows`` are ordered by first_ms (windows without events last), then window_id.
    ``updated_at`` is the latest ``received_at`` of a stored batch; ``created_at`` the first.
    """

    session_id: str
    created_at: datetime
    updated_at: datetime
    first_ms: int | None
    last_ms: int | None
    event_count: int
    windows: list[WindowSummary]
    metadata: dict[str, Any] = field(default_factory=dict)
    user_agent: str | None = None
    last_url: str | None = None
    has_errors: bool = False
    traits: Traits | None = None
    """Kept at ingest by stores that index them (SQL); None = derive from the metadata."""

    @property
    def duration_ms(self) -> int | None:
        return query.span_ms(self.first_ms, self.last_ms)

    @property
    def window_ids(self) -> list[str]:
        return [w.window_id for w in self.windows]


@dataclass
class SessionQuery:
    """Filters for ``list_sessions``; since/until are inclusive bounds on ``updated_at``.

    Ties in the sort key are broken by session_id ascending, so pages are stable.
    """

    limit: int = 20
    offset: int = 0
    since: datetime | None = None
    until: datetime | None = None
    sort_by: str = "updated_at"  # one of SORT_KEYS, always descending
    search: str | None = None  # case-insensitive substring of the id or any metadata value
    has_errors: bool | None = None

    def __post_init__(self) -> None:
        if self.sort_by not in SORT_KEYS:
            raise ValueError(f"sort_by must be one of {', '.join(SORT_KEYS)}")
        if self.limit < 1 or self.offset < 0:
            raise ValueError("limit must be >= 1 and offset >= 0")


@dataclass
class StoreLimits:
    max_sessions: int | None = None  # oldest (by updated_at) sessions evicted beyond this
    max_events_per_session: int | None = None  # oldest chunks dropped beyond this
    # error tracking (stores/tracking.py): least recently seen problems, oldest server
    # events and a problem's oldest occurrences go beyond these
    max_problems: int | None = 5_000
    max_server_events: int | None = 50_000
    max_occurrences_per_problem: int | None = 1_000


# --- the contract ---------------------------------------------------------------------------


class Store(TrackingStore, ABC):
    """What Sentiero needs from storage (the error-tracking half: tracking.py). Subclass it
    to plug in your own backend and run ``tests/stores/contract.py`` against it.

    Every write is all-or-nothing. Backend failures (connection refused, timeouts) are
    raised as ``StoreError`` so the events endpoint can answer 503 and the recorder retries.
    ``limits`` may be replaced at any time: stores read it on every write.
    """

    limits: StoreLimits

    def __init__(self, limits: StoreLimits | None = None) -> None:
        self.limits = limits or StoreLimits()

    # lifecycle
    def setup(self) -> None:  # noqa: B027 - optional hook
        """Check (or for embedded stores, create) the schema. Called once at app start."""

    def migrate(self) -> list[int]:
        """Bring the schema up to date (``sentiero migrate``); the versions applied.

        Stores without a schema have nothing to do.
        """
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # writes
    @abstractmethod
    def save_batch(self, batch: Batch) -> bool:
        """Store the batch as one chunk plus its facts and session bookkeeping, atomically.

        Returns False, storing nothing, when (session, window, seq) was already stored.
        Then enforces ``limits``.
        """

    @abstractmethod
    def save_metadata(self, session_id: str, metadata: dict[str, Any]) -> None:
        """Shallow-merge into the session's metadata; ignored for an unknown session."""

    # reads
    @abstractmethod
    def list_sessions(self, query: SessionQuery) -> list[SessionSummary]:
        """Newest first by ``query.sort_by``."""

    @abstractmethod
    def get_session(self, session_id: str) -> SessionSummary | None: ...

    @abstractmethod
    def chunk_index(self, ref: WindowRef) -> list[ChunkInfo]:
        """Every chunk of the window in replay order, without its data."""

    @abstractmethod
    def get_chunks(
        self,
        ref: WindowRef,
        from_ms: int | None = None,
        to_ms: int | None = None,
        start_index: int = 0,
        limit: int | None = None,
    ) -> list[Chunk]:
        """Chunks overlapping [from_ms, to_ms] with ``index >= start_index``, in order."""

    @abstractmethod
    def get_window_state(self, ref: WindowRef) -> dict[str, Any] | None:
        """The ``window_state`` of the window's latest stored batch that carried one; None for
        an unknown window or one without state. It goes with the window (delete_window,
        delete_session, purge, eviction of the session)."""

    @abstractmethod
    def iter_facts(
        self,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
    ) -> Iterator[Fact]:
        """Facts ordered by ts_ms; since/until bound ts_ms inclusively."""

    # deletes
    @abstractmethod
    def delete_window(self, ref: WindowRef) -> bool:
        """Remove one window (and the session with its last window). True if it existed."""

    @abstractmethod
    def delete_session(self, session_id: str) -> bool:
        """Remove everything the session left: chunks, facts, dedup records, window state,
        metadata."""

    @abstractmethod
    def purge_older_than(self, seconds: float) -> int:
        """Delete sessions whose updated_at is older than now - seconds; returns the count."""

    # compaction (sentiero.compaction; optional: a store without it is never compacted)
    def replace_chunks(self, ref: WindowRef, replaced: Sequence[ChunkInfo], chunk: Chunk) -> bool:
        """Replace the window's chunks ``replaced`` (a run of consecutive indexes, in order)
        by ``chunk``, whose index is the run's first, in one atomic write; dedup records and
        totals stay as they are. Returns False, changing nothing, unless the window's chunks
        with indexes in the run's range are exactly ``replaced`` (``same_run``): a batch,
        a delete or a limit that got there first wins."""
        raise NotImplementedError

    # conveniences built on the contract (backends may override for speed)
    def get_events(
        self, ref: WindowRef, after_ms: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Events of a window ordered by timestamp (stable: equal timestamps keep their stored
        order); ``after_ms`` is exclusive.

        Chunks read in seq order, but a window's batches can overlap in time (and seq-less
        batches read in arrival order), so the events are sorted rather than concatenated.
        """
        out = [
            event
            for chunk in self.get_chunks(ref, from_ms=after_ms)
            for event in chunk.events()
            if after_ms is None or _ts(event) > after_ms
        ]
        out.sort(key=_ts)
        return out if limit is None else out[:limit]

    def iter_session_ids(self) -> Iterator[str]:
        """Every session id, oldest created first (export, bulk jobs).

        The default pages ``list_sessions``; backends override it with a snapshot.
        """
        ids: list[str] = []
        offset = 0
        while True:
            page = self.list_sessions(SessionQuery(limit=500, offset=offset, sort_by="created_at"))
            ids.extend(s.session_id for s in page)
            if len(page) < 500:
                break
            offset += len(page)
        seen: set[str] = set()
        for session_id in reversed(ids):
            if session_id not in seen:
                seen.add(session_id)
                yield session_id

    def erase_sessions(self, session_ids: Iterable[str]) -> int:
        ids = [validate_id(s, "session id") for s in session_ids]
        return sum(1 for s in ids if self.delete_session(s))

    # saved funnels (sentiero.stores.saved_funnels): optional for custom stores

    def save_funnel(self, funnel: SavedFunnel) -> None:
        """Store ``funnel`` (replacing one of the same id); ``StoreError`` past
        ``saved_funnels.MAX_SAVED``."""
        raise NotImplementedError("this store keeps no saved funnels")

    def list_funnels(self) -> list[SavedFunnel]:
        """Every saved funnel, by name then newest."""
        raise NotImplementedError("this store keeps no saved funnels")

    def delete_funnel(self, funnel_id: str) -> bool:
        """Whether a funnel of that id was there (and is gone)."""
        raise NotImplementedError("this store keeps no saved funnels")

    # analytics (sentiero.analytics.query): generic answers; SQL stores push them into SQL

    def analytics_sessions(self, scope: Scope, limit: int | None = None, offset: int = 0
                           ) -> list[SessionRow]:
        """Sessions in scope, newest ``updated_at`` first (ties by id)."""
        rows = query.generic_sessions(self, scope)
        return rows[offset:] if limit is None else rows[offset:offset + limit]

    def list_segment_sessions(self, session_query: SessionQuery, segment: Segment
                              ) -> list[SessionSummary]:
        """``list_sessions`` restricted to the sessions matching ``segment`` (the sessions
        list's analytics filters)."""
        if segment.empty:
            return self.list_sessions(session_query)
        wanted = query.segment_session_ids(self, Scope(segment=segment)) or set()
        out: list[SessionSummary] = []
        skip, offset, page = session_query.offset, 0, 500
        while len(out) < session_query.limit:
            batch = self.list_sessions(SessionQuery(
                limit=page, offset=offset, since=session_query.since, until=session_query.until,
                sort_by=session_query.sort_by, search=session_query.search,
                has_errors=session_query.has_errors))
            for summary in batch:
                if summary.session_id not in wanted:
                    continue
                if skip:
                    skip -= 1
                    continue
                out.append(summary)
                if len(out) == session_query.limit:
                    break
            if len(batch) < page:
                break
            offset += page
        return out

    def session_rows(self, session_ids: Iterable[str]) -> list[SessionRow]:
        """The rows of these sessions (unknown ids left out), in no particular order; their
        ``first_window_id`` may be None (callers want traits and times)."""
        rows = []
        for session_id in session_ids:
            summary = self.get_session(session_id)
            if summary is not None:
                rows.append(query.row_of(summary))
        return rows

    def count_sessions(self, scope: Scope) -> int:
        return len(query.generic_sessions(self, scope))

    def session_counts(self, scope: Scope, trait: str) -> dict[Any, tuple[int, int]]:
        """{trait value: (sessions, sessions with errors)} over the sessions in scope."""
        if trait not in query.TRAITS:
            raise ValueError(f"unknown trait {trait!r}")
        return query.generic_session_counts(query.generic_sessions(self, scope), trait)

    def fact_counts(self, scope: Scope, kind: str | tuple[str, ...], by_url: bool = False,
                    by_key: bool = False, by_day: bool = False, url: str | None = None,
                    sessions: bool = True, by_kind: bool = False) -> list[FactCount]:
        """Facts of ``kind`` (or of several kinds together, or each apart with ``by_kind``)
        in scope, on one page ``url`` if given: their number, distinct sessions (unless
        ``sessions`` is False: the costly part on SQL stores), latest time and summed
        values, grouped by url, key and/or UTC day."""
        kinds = (kind,) if isinstance(kind, str) else tuple(kind)
        return query.generic_fact_counts(query.generic_facts(self, scope, kinds, url),
                                         by_url, by_key, by_day, only_url=url is not None,
                                         kind_label=",".join(kinds), with_sessions=sessions,
                                         by_kind=by_kind)

    def engagement_scores(self, scope: Scope, sort: str, limit: int) -> Engagement:
        """Every session in scope scored (sentiero.analytics.engagement); the top ``limit``
        by ``sort`` ("score" or "duration"), ties by id."""
        from sentiero.analytics.engagement import generic_scores

        return generic_scores(self, scope, sort, limit)

    def session_facets(self, scope: Scope, by_trait: bool = True) -> Facets:
        """Counts, durations and (unless ``by_trait`` is False: the counts alone are wanted)
        trait distributions of the sessions in scope, in one pass."""
        return query.generic_facets(query.generic_sessions(self, scope))

    def metadata_counts(self, scope: Scope) -> dict[tuple[str, str], int]:
        """{(metadata key, value as text): sessions} over the sessions in scope (values as
        ``query.metadata_text`` prints them)."""
        return query.generic_metadata_counts(query.generic_sessions(self, scope))

    def latest_facts(self, scope: Scope, kind: str, per_key: int, key: str | None = None,
                     url: str | None = None) -> list[Fact]:
        """The newest ``per_key`` facts of ``kind`` in scope (on ``url`` when given) for each
        fact key (or only for ``key``), all newest first (in ``query.newest_first`` order)."""
        return query.generic_latest_facts(query.generic_facts(self, scope, (kind,), url),
                                          per_key, key)

    def sessions_with_each(self, scope: Scope, kinds: tuple[str, ...], url: str) -> int:
        """Distinct sessions with facts of every one of ``kinds`` in scope on one page (the
        page report's sessions that typed in a form and submitted one)."""
        return query.generic_sessions_with_each(
            query.generic_facts(self, scope, kinds, url), kinds)

    def fact_maxima(self, scope: Scope, kind: str, url: str | None = None) -> list[float]:
        """The largest value of each (session, window, fact key) among the facts of ``kind``
        in scope (on ``url`` when given) that have a value, smallest first: a page view's
        time on page is its longest ``page_time`` fact."""
        return query.generic_fact_maxima(query.generic_facts(self, scope, (kind,), url))

    def fact_trait_counts(self, scope: Scope, kind: str, traits: tuple[str, ...]
                          ) -> dict[tuple[Any, ...], int]:
        """{(fact key, the session's value of each trait...): distinct sessions} for the facts
        of ``kind`` in scope; ``traits`` are some of ``query.FACET_TRAITS``."""
        if not set(traits) <= set(query.FACET_TRAITS):
            raise ValueError(f"unknown traits {traits!r}")
        return query.generic_fact_trait_counts(self, query.generic_facts(self, scope, (kind,)),
                                               traits)

    def step_events(self, scope: Scope, steps: list[Step]
                    ) -> dict[str, list[tuple[int, str, frozenset[int]]]]:
        """Per session, its facts in scope matching some funnel step: (ts_ms, window id,
        indexes of the steps matched), in no particular order: the funnel sorts them by time
        and window, and events equal in both give the same chain in any order
        (sentiero.analytics.funnel)."""
        from sentiero.analytics.funnel import generic_step_events

        return generic_step_events(self, scope, steps)

    def funnel_tally(self, scope: Scope, steps: list[Step], within_ms: int | None = None
                     ) -> FunnelTally:
        """Each session's chain through ``steps`` (its step events in scope, every step within
        ``within_ms`` of the first when given), added up (sentiero.analytics.funnel)."""
        from sentiero.analytics.funnel import generic_funnel_tally

        return generic_funnel_tally(self, scope, steps, within_ms)

    def goal_groups(self, scope: Scope, goal: Step) -> list[GoalGroup]:
        """The sessions in scope with an entry URL, grouped by entry URL, referrer, UTM
        source/medium/campaign and whether they reached ``goal`` (a fact in scope matching it),
        with each group's first session oldest first and its example moment
        (sentiero.analytics.conversions.GoalGroup)."""
        from sentiero.analytics.conversions import generic_goal_groups

        return generic_goal_groups(self, scope, goal)

    def form_groups(self, scope: Scope, url: str | None = None) -> FormGroups:
        """The form facts in scope (on ``url`` when given) per page and per field: sessions
        that typed and completed, submits, per field its sessions, time to fill, refills and
        drop-offs with their first moments, and with ``url`` the page view with the most
        fields (sentiero.analytics.form_groups)."""
        from sentiero.analytics.form_groups import generic_form_groups

        return generic_form_groups(self, scope, url)

    def form_completion(self, scope: Scope, url: str, forms: Mapping[str, str]
                        ) -> dict[str, tuple[int, int]]:
        """{form: (sessions that typed in it, sessions that then submitted it)} on one page,
        ``forms`` mapping field node ids to their form (sentiero.analytics.form_groups)."""
        from sentiero.analytics.form_groups import generic_form_completion

        return generic_form_completion(self, scope, url, forms)

    def scroll_groups(self, scope: Scope, url: str | None = None) -> list[ScrollGroup]:
        """Per page (only ``url`` when given), the scroll facts in scope as scroll depth
        samples: each page view's deepest point, distinct sessions, the deepest sample
        (sentiero.analytics.scroll)."""
        from sentiero.analytics.scroll import generic_scroll_groups

        return generic_scroll_groups(query.generic_facts(self, scope, ("scroll",), url))

    def click_cells(self, scope: Scope, url: str, bucket: str | None, cell_px: int
                    ) -> ClickCells:
        """One page's clicks in scope per viewport bucket, and those of ``bucket`` (None: the
        busiest) per ``cell_px`` cell of its representative layout and per element
        (sentiero.analytics.clicks)."""
        return clicks.generic_click_cells(query.generic_facts(self, scope, ("click",), url),
                                          bucket, cell_px)

    def click_spot(self, scope: Scope, url: str, bucket: str, width: float,
                   cell: tuple[int, int], cell_px: int, limit: int) -> list[Click]:
        """The first ``limit`` clicks (earliest first, ties by session id) of one cell of
        ``click_cells``' layout ``width`` px wide."""
        return clicks.generic_click_spot(query.generic_facts(self, scope, ("click",), url),
                                         bucket, width, cell, cell_px, limit)

    def scope_facts(self, scope: Scope, kinds: Iterable[str], url: str | None = None,
                    limit: int | None = None) -> Iterator[Fact]:
        """The facts of ``kinds`` in scope (optionally on one page URL), in ts_ms order per
        kind; with ``limit``, only the first ``limit`` of all kinds together in ts_ms order."""
        facts = query.generic_facts(self, scope, tuple(kinds), url)
        if limit is None:
            return facts
        return iter(sorted(facts, key=lambda f: (f.ts_ms, f.session_id))[:limit])

    def daily_activity(self, scope: Scope) -> list[tuple[int, int, int]]:
        """(UTC day as epoch ms, events, sessions starting) per day of the scope's range, for
        sessions matching its segment: events by the time their batch began, sessions by
        their first event."""
        lo = to_ms(scope.since, round_up=True) if scope.since else None
        hi = to_ms(scope.until) if scope.until else None

        def inside(ms: int) -> bool:
            return (lo is None or ms >= lo) and (hi is None or ms <= hi)

        events: dict[int, int] = {}
        starts: dict[int, int] = {}
        for row in query.generic_sessions(self, Scope(segment=scope.segment)):
            if row.first_ms is not None and inside(row.first_ms):
                day = row.first_ms - row.first_ms % DAY_MS
                starts[day] = starts.get(day, 0) + 1
            summary = self.get_session(row.session_id)
            for window in summary.windows if summary else ():
                for info in self.chunk_index(WindowRef(row.session_id, window.window_id)):
                    if inside(info.first_ms):
                        day = info.first_ms - info.first_ms % DAY_MS
                        events[day] = events.get(day, 0) + info.event_count
        days = sorted(set(events) | set(starts))
        return [(d, events.get(d, 0), starts.get(d, 0)) for d in days]
