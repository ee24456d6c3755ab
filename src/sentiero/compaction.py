"""Compaction: once a window is idle, rewrite runs of its small chunks as fewer, larger ones.

Ingest stores each batch as its own chunk, compressed fast (a few KB to a few hundred KB of
JSON each), which costs ratio: every frame starts with an empty window. Compaction joins runs
of consecutive chunks (up to ``TARGET_RAW_BYTES`` of JSON each) and compresses each run as
one frame (``stores/chunk_codec``). Chunks stay chunks, with their time ranges, so the
player still seeks by chunk and fetches the first one alone. A small chunk left on its own (a
window of one batch, the tail of a run) is recompressed once with the rrweb dictionary (always
kept, so a pass never compresses it again: level 19 with the dictionary is at worst a few
header bytes larger than what ingest stored at its fast level).

Safe by construction, in every store, through one primitive (``Store.replace_chunks``):

* each run is replaced in one atomic write, so a crash (kill -9) at any moment leaves every
  event stored exactly once: either the run's chunks or the one chunk that holds them;
* the primitive checks, under the store's write lock, that the run's index range holds exactly
  the chunks that were read, so a late batch, a delete, an erasure or a limit that got there
  first wins and the run is left for the next pass;
* only runs of consecutive indexes are joined. A batch's index is its seq, so a gap is a batch
  that may still arrive; it then lands between two compacted chunks, in seq order. A late
  retry of a batch inside a compacted run is still refused: dedup records are never touched.

The joined chunk keeps the run's first index and seq, so exports of a compacted window
import once; its events are the run's events in order, byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sentiero.periodic import PeriodicJob
from sentiero.stores.base import (
    Chunk,
    ChunkInfo,
    SessionQuery,
    Store,
    WindowRef,
    merged_info,
    utcnow,
)
from sentiero.stores.chunk_codec import encode_compacted, gains_from_dictionary

log = logging.getLogger(__name__)

TARGET_RAW_BYTES = 2 << 20  # JSON per compacted chunk: the ratio gains little beyond it
DEFAULT_IDLE_SECONDS = 30 * 60
_PAGE = 64


@dataclass
class CompactionStats:
    windows: int = 0  # windows that had something to join
    chunks_before: int = 0
    chunks_after: int = 0
    bytes_before: int = 0  # stored bytes of the chunks replaced
    bytes_after: int = 0
    skipped_runs: int = 0  # a write got there first; left for the next pass

    def add(self, other: CompactionStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def consecutive_stretches(infos: Sequence[ChunkInfo]) -> list[list[ChunkInfo]]:
    """Stretches of chunks with consecutive indexes (``infos`` in index order); a chunk with
    no neighbour is a stretch of its own (it may still be recompressed)."""
    out: list[list[ChunkInfo]] = []
    for info in infos:
        if out and info.index == out[-1][-1].index + 1:
            out[-1].append(info)
        else:
            out.append([info])
    return out


def _runs(store: Store, ref: WindowRef, stretch: list[ChunkInfo], target: int
          ) -> Iterator[tuple[list[Chunk], list[bytes]]]:
    """The stretch's chunks with their JSON text, cut into runs of about ``target`` bytes."""
    run: list[Chunk] = []
    texts: list[bytes] = []
    size = 0
    start, last = stretch[0].index, stretch[-1].index
    while start <= last:
        page = [c for c in store.get_chunks(ref, start_index=start, limit=_PAGE)
                if c.info.index <= last]
        if not page:
            break
        for chunk in page:
            text = chunk.events_json().strip()
            adjacent = not run or chunk.info.index == run[-1].info.index + 1
            if run and (not adjacent or size + len(text) > target):
                yield run, texts
                run, texts, size = [], [], 0
            run.append(chunk)
            texts.append(text)
            size += len(text)
        start = page[-1].info.index + 1
    if run:
        yield run, texts


def join_texts(texts: Sequence[bytes]) -> bytes:
    """One JSON array from several, without parsing them."""
    inner = [t[1:-1].strip() for t in texts]
    return b"[" + b",".join(p for p in inner if p) + b"]"


def compact_window(store: Store, ref: WindowRef, target_raw_bytes: int = TARGET_RAW_BYTES
                   ) -> CompactionStats:
    stats = CompactionStats()
    for stretch in consecutive_stretches(store.chunk_index(ref)):
        for run, texts in _runs(store, ref, stretch, target_raw_bytes):
            if len(run) == 1 and not gains_from_dictionary(run[0].data, len(texts[0])):
                continue
            infos = [c.info for c in run]
            joined = Chunk(merged_info(infos), encode_compacted(join_texts(texts)))
            if not store.replace_chunks(ref, infos, joined):
                stats.skipped_runs += 1
                continue
            stats.chunks_before += len(run)
            stats.chunks_after += 1
            stats.bytes_before += sum(len(c.data) for c in run)
            stats.bytes_after += len(joined.data)
    stats.windows = 1 if stats.chunks_after else 0
    return stats


def idle_session_ids(store: Store, idle_seconds: float, now: datetime | None = None,
                     since: datetime | None = None) -> Iterator[str]:
    """Sessions with no write for ``idle_seconds`` (updated before now - idle_seconds, and
    after ``since`` when given), newest first."""
    until = (now or utcnow()) - timedelta(seconds=idle_seconds)
    offset = 0
    while True:
        page = store.list_sessions(SessionQuery(limit=200, offset=offset, sort_by="updated_at",
                                                until=until, since=since))
        for summary in page:
            if summary.updated_at <= until:
                yield summary.session_id
        if len(page) < 200:
            return
        offset += len(page)


def compact_store(store: Store, idle_seconds: float = DEFAULT_IDLE_SECONDS,
                  session_ids: Sequence[str] | None = None, since: datetime | None = None,
                  target_raw_bytes: int = TARGET_RAW_BYTES) -> CompactionStats:
    """Compact every window of the idle sessions (or of ``session_ids``, idle or not)."""
    stats = CompactionStats()
    ids = list(session_ids) if session_ids is not None else list(
        idle_session_ids(store, idle_seconds, since=since))
    for session_id in ids:
        summary = store.get_session(session_id)
        for window in summary.windows if summary else ():
            stats.add(compact_window(store, WindowRef(session_id, window.window_id),
                                     target_raw_bytes))
    return stats


class BackgroundCompactor(PeriodicJob):
    """Compacting idle sessions every ``interval_seconds`` (the ``compact_idle_s`` setting
    says which are idle). Each pass looks at sessions that went idle since a day before the
    previous pass, so a long-idle archive is not re-read every time; run ``sentiero compact``
    once for what was stored before it was turned on."""

    thread_name = "sentiero-compact"

    def __init__(self, store: Store, idle_seconds: float, interval_seconds: float = 300.0):
        super().__init__(interval_seconds)
        self.store = store
        self.idle_seconds = idle_seconds
        self._since: datetime | None = None

    def run_once(self) -> CompactionStats:
        started = utcnow()
        stats = compact_store(self.store, self.idle_seconds, since=self._since)
        self._since = started - timedelta(seconds=self.idle_seconds) - timedelta(days=1)
        if stats.chunks_before:
            log.info("compacted %d chunks into %d (%d -> %d bytes)", stats.chunks_before,
                     stats.chunks_after, stats.bytes_before, stats.bytes_after)
        return stats
