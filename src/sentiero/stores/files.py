"""A store in plain files: one directory per session, no server needed.

Layout under the root directory::

    <root>/<session_id>/lock            flock target: writers of the session hold it exclusively
    <root>/<session_id>/meta.json       created/updated times, metadata, user agent, last URL,
                                        error flag, and per window how many chunks are applied
                                        and its ingest state (``Batch.window_state``)
    <root>/<session_id>/w-<window>.rec  the window's chunks, append-only records
    <root>/<session_id>/facts.jsonl     the session's facts, one JSON object a line
    <root>/.trash/                      sessions being deleted (renamed here, then removed)

A record is a fixed header (magic, type, chunk index, seq, first_ms, last_ms, event count,
data length, extra length, crc32) followed by the zstandard-compressed events and a small
JSON "extra" holding the rest of the batch (received time, metadata, user agent, page URL,
error flag, facts, window state). The record is the commit point of a batch: once it is
complete on disk the batch is stored, and ``meta.json`` and ``facts.jsonl`` are brought up to
date from the extra, by the same writer or, after a crash, by the next writer of the session.
The chunk index is rebuilt by reading the record headers (cached per process, extended
incrementally as the file grows), so there is no separate index file to get out of step.

Crash safety: a record is written with one ``write`` and fsynced before the batch is
acknowledged; only the last record of a window file can be torn (short, or the right length
but with a bad crc32). Readers ignore a torn tail; the next writer truncates it before
appending, and removes the facts the torn batch may have left. ``meta.json`` is replaced
atomically (temporary file, fsync, ``os.replace``). Chunks dropped by
``max_events_per_session`` get a tombstone record; the file is compacted (rewritten, with
header-only records keeping the dropped chunks' index and seq for deduplication) once the
dropped data outweighs the live data.

Concurrency: writers of a session serialize on ``fcntl.flock``, which works between threads
and processes of one machine. It is not safe for several machines sharing the directory over
a network file system (flock there is unreliable or absent): use Redis or PostgreSQL then.
Readers take no lock: files only grow or are atomically replaced.

Ids are validated (``validate_id``) before any path is built, and every path is checked to
resolve inside the root.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from sentiero.stores.base import (
    ID_PATTERN,
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
    fact_from_stored,
    fact_stored_data,
    same_run,
    to_ms,
    utcnow,
    validate_batch,
    validate_id,
    validate_metadata,
)
from sentiero.stores.saved_funnels import MAX_SAVED, SavedFunnel, sorted_funnels
from sentiero.stores.tracking import FileTracking

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_MAGIC = b"SR"
_CHUNK, _DROP, _HUSK = 1, 2, 3
# magic, type, pad, index, seq (-1 = none), first_ms, last_ms, event count, data length,
# extra length, crc32 of everything before the crc plus data and extra
_HEADER = struct.Struct("<2sBxQqqqIIII")
_HEAD_NO_CRC = _HEADER.size - 4
_COMPACT_MIN_BYTES = 256 * 1024

_META = "meta.json"
_FACTS = "facts.jsonl"
_LOCK = "lock"
_EVICTION_LOCK = ".eviction.lock"  # store-wide: one max_sessions eviction at a time
_TRASH = ".trash"
_FUNNELS = "funnels.json"  # saved funnels: {id: SavedFunnel document}, not a session
_FUNNELS_LOCK = "funnels.lock"


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def _record(
    kind: int,
    index: int,
    seq: int | None,
    first_ms: int,
    last_ms: int,
    count: int,
    data: bytes = b"",
    extra: bytes = b"",
) -> bytes:
    head = _HEADER.pack(
        _MAGIC, kind, index, -1 if seq is None else seq, first_ms, last_ms, count,
        len(data), len(extra), 0,
    )[:_HEAD_NO_CRC]
    crc = zlib.crc32(extra, zlib.crc32(data, zlib.crc32(head)))
    return head + struct.pack("<I", crc) + data + extra


@dataclass(frozen=True)
class _Rec:
    info: ChunkInfo
    offset: int  # of the header
    data_len: int
    extra_len: int
    crc: int
    dedupe_key: int | None = None  # the header's seq field: the seq, or a content key (<= -2)

    @property
    def size(self) -> int:
        return _HEADER.size + self.data_len + self.extra_len


@dataclass
class _Scan:
    """What the headers of one window file say (a cached value: never mutated once built)."""

    key: tuple[int, int] = (0, 0)  # st_dev, st_ino
    end: int = 0  # where the valid records stop (a torn tail starts here)
    size: int = 0  # the file size seen
    live: dict[int, _Rec] = field(default_factory=dict)  # index -> record, in index order
    dropped: dict[int, int | None] = field(default_factory=dict)  # index -> dedupe key
    seqs: set[int] = field(default_factory=set)
    next_index: int = 0
    dead_bytes: int = 0  # data of dropped chunks still in the file
    # chunk and husk indexes in file order: a batch's chunk index is its seq, so a late batch
    # appends an index below others; "applied" in meta.json counts these records
    order: list[int] = field(default_factory=list)

    def extend(self) -> _Scan:
        return _Scan(self.key, self.end, self.size, dict(self.live), dict(self.dropped),
                     set(self.seqs), self.next_index, self.dead_bytes, list(self.order))

    @property
    def records(self) -> int:
        return len(self.order)

    def holds(self, index: int) -> bool:
        """Whether a chunk record (stored or dropped) has this index."""
        return index in self.live or index in self.dropped

    @property
    def event_count(self) -> int:
        return sum(r.info.event_count for r in self.live.values())

    @property
    def live_bytes(self) -> int:
        return sum(r.data_len for r in self.live.values())


def _scan_fd(fd: int, prev: _Scan | None) -> _Scan:
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    size = st.st_size
    if prev is not None and prev.key == key and prev.end <= size:
        if prev.size == size:
            return prev
        state = prev.extend()
    else:
        state = _Scan(key=key)
    pos = state.end
    while pos + _HEADER.size <= size:
        head = os.pread(fd, _HEADER.size, pos)
        if len(head) < _HEADER.size:
            break
        magic, kind, index, seq, first, last, count, dlen, elen, crc = _HEADER.unpack(head)
        if magic != _MAGIC or kind not in (_CHUNK, _DROP, _HUSK):
            break
        end = pos + _HEADER.size + dlen + elen
        if end > size:
            break
        if end == size:
            # only the last record can be torn by a crash: check its checksum
            body = os.pread(fd, dlen + elen, pos + _HEADER.size)
            if zlib.crc32(body, zlib.crc32(head[:_HEAD_NO_CRC])) != crc:
                break
        seq_value = None if seq < 0 else seq  # -1: no seq; <= -2: a seq-less batch's key
        if kind == _CHUNK:
            info = ChunkInfo(index, first, last, count, seq_value)
            state.live[index] = _Rec(info, pos, dlen, elen, crc, None if seq == -1 else seq)
        elif kind == _HUSK:
            state.dropped[index] = None if seq == -1 else seq
        else:  # tombstone
            rec = state.live.pop(index, None)
            if rec is not None:
                state.dropped[index] = rec.dedupe_key
                state.dead_bytes += rec.data_len
        if kind != _DROP:
            if seq != -1:
                state.seqs.add(seq)
            state.next_index = max(state.next_index, index + 1)
            state.order.append(index)
        pos = end
    state.end = pos
    state.size = size
    indexes = list(state.live)
    if indexes != sorted(indexes):  # a batch that arrived after a later one
        state.live = dict(sorted(state.live.items()))
    return state


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _append(path: Path, payload: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_lines(path: Path, payload: bytes) -> None:
    """Append JSON lines, first cutting a torn last line a crash may have left."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        _append(path, payload)
        return
    try:
        size = os.fstat(fd).st_size
        end = size
        while end > 0:
            start = max(0, end - 65536)
            tail = os.pread(fd, end - start, start)
            cut = tail.rfind(b"\n")
            if cut >= 0:
                end = start + cut + 1
                break
            end = start
        if end != size:
            os.ftruncate(fd, end)
    finally:
        os.close(fd)
    _append(path, payload)


def _matches(session_id: str, metadata: dict[str, Any], needle: str) -> bool:
    if needle in session_id.lower():
        return True
    for value in metadata.values():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if needle in text.lower():
            return True
    return False


def _root_from(url_or_path: str | os.PathLike[str]) -> Path:
    text = os.fspath(url_or_path)
    if text.startswith("file:"):
        parts = urlsplit(text)
        host = "" if parts.netloc in ("", "localhost") else parts.netloc
        text = unquote(host + parts.path)
        if not text:
            raise ValueError("file:// store URL needs a path, e.g. file:///var/lib/sentiero")
    return Path(text).expanduser()


class FileStore(FileTracking, Store):
    """Sessions as directories of append-only files; see the module docstring.

    Safe for threads and processes of one machine (``fcntl.flock``); not for several
    machines sharing a network file system.
    """

    def __init__(self, url_or_path: str | os.PathLike[str], limits: StoreLimits | None = None):
        super().__init__(limits)
        self.root = _root_from(url_or_path)
        self.root.mkdir(parents=True, exist_ok=True)
        self._real_root = os.path.realpath(self.root)
        self._cache: dict[str, _Scan] = {}
        self._cache_lock = threading.Lock()

    # --- paths ----------------------------------------------------------------------------

    def _inside(self, path: Path) -> Path:
        real = os.path.realpath(path)
        if os.path.commonpath([real, self._real_root]) != self._real_root or real == (
            self._real_root
        ):
            raise ValueError("path escapes the store root")
        return path

    def _session_dir(self, session_id: str) -> Path:
        validate_id(session_id, "session id")
        return self._inside(self.root / session_id)

    def _window_path(self, session_dir: Path, window_id: str) -> Path:
        validate_id(window_id, "window id")
        return self._inside(session_dir / f"w-{window_id}.rec")

    def _window_ids(self, session_dir: Path) -> list[str]:
        try:
            names = os.listdir(session_dir)
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for name in names:
            if name.startswith("w-") and name.endswith(".rec"):
                wid = name[2:-4]
                if ID_PATTERN.match(wid):
                    out.append(wid)
        return sorted(out)

    def _session_ids(self) -> list[str]:
        """Session directories (symlinks and foreign entries are not sessions)."""
        try:
            with os.scandir(self.root) as entries:
                names = [
                    e.name
                    for e in entries
                    if ID_PATTERN.match(e.name) and e.is_dir(follow_symlinks=False)
                ]
        except FileNotFoundError:
            return []
        return sorted(names)

    # --- scanning -------------------------------------------------------------------------

    def _scan(self, path: Path) -> _Scan | None:
        """The window file's records (None when it does not exist)."""
        key = str(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            with self._cache_lock:
                self._cache.pop(key, None)
            return None
        try:
            with self._cache_lock:
                prev = self._cache.get(key)
            scan = _scan_fd(fd, prev)
        finally:
            os.close(fd)
        if scan is not prev:
            with self._cache_lock:
                self._cache[key] = scan
        return scan

    def _forget(self, path: Path) -> None:
        with self._cache_lock:
            self._cache.pop(str(path), None)

    # --- saved funnels ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _funnels(self) -> Iterator[dict[str, Any]]:
        """The saved funnels under the store's funnel lock; written back on exit."""
        fd = os.open(self.root / _FUNNELS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                docs = orjson.loads((self.root / _FUNNELS).read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                docs = {}
            before = dict(docs)
            yield docs
            if docs != before:
                _write_atomic(self.root / _FUNNELS, orjson.dumps(docs))
        finally:
            os.close(fd)

    def save_funnel(self, funnel: SavedFunnel) -> None:
        with self._funnels() as docs:
            if funnel.funnel_id not in docs and len(docs) >= MAX_SAVED:
                raise StoreError(f"at most {MAX_SAVED} saved funnels")
            docs[funnel.funnel_id] = orjson.loads(funnel.to_json())

    def list_funnels(self) -> list[SavedFunnel]:
        with self._funnels() as docs:
            return sorted_funnels([SavedFunnel.from_json(orjson.dumps(d))
                                   for d in docs.values()])

    def delete_funnel(self, funnel_id: str) -> bool:
        with self._funnels() as docs:
            return docs.pop(funnel_id, None) is not None

    # --- meta -----------------------------------------------------------------------------

    @staticmethod
    def _read_meta(session_dir: Path) -> dict[str, Any] | None:
        try:
            return orjson.loads((session_dir / _META).read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except orjson.JSONDecodeError:
            return None

    @staticmethod
    def _write_meta(session_dir: Path, meta: dict[str, Any]) -> None:
        _write_atomic(session_dir / _META, orjson.dumps(meta))

    # --- locking --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, session_id: str, create: bool) -> Iterator[Path | None]:
        """Hold the session's write lock; yields its directory, or None when the session
        does not exist and ``create`` is false."""
        session_dir = self._session_dir(session_id)
        lock_path = session_dir / _LOCK
        while True:
            if create and not session_dir.is_dir():
                session_dir.mkdir(mode=0o700, exist_ok=True)
                _fsync_dir(self.root)
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except (FileNotFoundError, NotADirectoryError):
                if create:
                    continue
                yield None
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = os.stat(lock_path)
                except FileNotFoundError:
                    current = None
                mine = os.fstat(fd)
                if current is None or (current.st_dev, current.st_ino) != (
                    mine.st_dev, mine.st_ino
                ):
                    continue  # the session was deleted while we waited: start over
                yield session_dir
                return
            finally:
                os.close(fd)

    # --- recovery -------------------------------------------------------------------------

    def _recover(self, session_dir: Path, meta: dict[str, Any] | None) -> tuple[
        dict[str, Any] | None, dict[str, _Scan], bool
    ]:
        """Under the session lock: cut torn tails, and bring meta and facts up to date with
        the records. Returns (meta, scans by window, whether meta changed)."""
        scans: dict[str, _Scan] = {}
        changed = False
        for name in os.listdir(session_dir):
            if name.startswith(".") and name.endswith(".tmp"):
                # a temporary file of a writer that crashed (every writer holds this lock)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(session_dir / name)
        replay: list[tuple[str, _Rec, dict[str, Any]]] = []
        rollback: dict[str, _Scan] = {}
        applied_all = (meta or {}).get("windows", {})
        for wid in self._window_ids(session_dir):
            path = self._window_path(session_dir, wid)
            scan = self._scan(path)
            if scan is None:
                continue
            if scan.size > scan.end:
                with open(path, "r+b") as f:
                    f.truncate(scan.end)
                    os.fsync(f.fileno())
                self._forget(path)
                scan = self._scan(path)
                if scan is None:
                    continue
            scans[wid] = scan
            applied = int(applied_all.get(wid, {}).get("applied", 0))
            if scan.records < applied:
                rollback[wid] = scan
            elif scan.records > applied:
                with open(path, "rb") as f:
                    for index in scan.order[applied:]:
                        rec = scan.live.get(index)
                        if rec is not None:
                            f.seek(rec.offset + _HEADER.size + rec.data_len)
                            replay.append((wid, rec, orjson.loads(f.read(rec.extra_len))))
        if not rollback and not replay and meta is not None:
            return meta, scans, False
        if meta is None and not replay:
            return None, scans, False
        # facts of batches being replayed (or rolled back) may be half written: drop them
        redo = {(wid, rec.info.index) for wid, rec, _ in replay}
        self._rewrite_facts(
            session_dir,
            lambda line: (line["w"], line["c"]) not in redo
            and not (line["w"] in rollback and not rollback[line["w"]].holds(line["c"])),
        )
        if meta is None:
            meta = {"windows": {}}
        replay.sort(key=lambda item: item[2].get("r", 0))
        lines = []
        for wid, rec, extra in replay:
            lines.extend(self._apply(meta, wid, rec.info, extra))
        if lines:
            _append_lines(session_dir / _FACTS, b"".join(lines))
        for wid, scan in scans.items():
            meta["windows"].setdefault(wid, {})["applied"] = scan.records
        changed = True
        return meta, scans, changed

    def _rewrite_facts(self, session_dir: Path, keep: Any) -> None:
        path = session_dir / _FACTS
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        out = []
        for line in raw.splitlines():
            try:
                if keep(orjson.loads(line)):
                    out.append(line + b"\n")
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # a line torn by a crash
        _write_atomic(path, b"".join(out))

    @staticmethod
    def _apply(
        meta: dict[str, Any], wid: str, info: ChunkInfo, extra: dict[str, Any]
    ) -> list[bytes]:
        """Fold one stored batch into the session meta; returns its fact lines."""
        received = int(extra["r"])
        if "created" not in meta:
            meta["created"] = received
            meta["updated"] = received
        else:
            meta["created"] = min(meta["created"], received)
            meta["updated"] = max(meta["updated"], received)
        meta.setdefault("metadata", {}).update(extra.get("m") or {})
        if not meta.get("ua") and extra.get("ua"):
            meta["ua"] = extra["ua"]
        if extra.get("u") and (meta.get("url_ms") is None or info.last_ms >= meta["url_ms"]):
            meta["url"] = extra["u"]
            meta["url_ms"] = info.last_ms
        meta["err"] = bool(meta.get("err") or extra.get("e"))
        window = meta.setdefault("windows", {}).setdefault(wid, {})
        window["applied"] = int(window.get("applied", 0)) + 1
        if isinstance(extra.get("ws"), dict):
            window["state"] = extra["ws"]
        return [
            orjson.dumps(
                {"w": wid, "c": info.index, "a": received, "k": k, "t": t, "u": u, "d": d}
            )
            + b"\n"
            for k, t, u, d in extra.get("f") or []
        ]

    # --- lifecycle ------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the root directory and finish deletions a crash interrupted."""
        self.root.mkdir(parents=True, exist_ok=True)
        trash = self.root / _TRASH
        if trash.is_dir():
            for entry in os.listdir(trash):
                shutil.rmtree(trash / entry, ignore_errors=True)

    # --- writes ---------------------------------------------------------------------------

    def save_batch(self, batch: Batch) -> bool:
        data = validate_batch(batch)
        for fact in batch.facts:
            fact_data_json(fact)
        if not batch.events:
            return False
        extra = orjson.dumps(
            {
                "r": _us(batch.received_at),
                "m": batch.metadata,
                "ua": batch.user_agent or None,
                "u": batch.page_url or None,
                "e": batch_has_errors(batch),
                "f": [[f.kind, int(f.ts_ms), f.url, fact_stored_data(f)] for f in batch.facts],
                **({} if batch.window_state is None else {"ws": batch.window_state}),
            }
        )
        try:
            with self._locked(batch.session_id, create=True) as session_dir:
                assert session_dir is not None
                stored = self._save_locked(session_dir, batch, data, extra)
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc
        if stored and self.limits.max_sessions is not None:
            self._evict_sessions(batch.session_id)
        return stored

    def _save_locked(self, session_dir: Path, batch: Batch, data: bytes, extra: bytes) -> bool:
        meta, scans, changed = self._recover(session_dir, self._read_meta(session_dir))
        path = self._window_path(session_dir, batch.window_id)
        scan = scans.get(batch.window_id) or _Scan()
        dedupe_key = batch.dedupe_key
        if dedupe_key in scan.seqs:
            if changed and meta is not None:
                self._write_meta(session_dir, meta)
            return False
        index, _next = allocate_chunk_index(batch.seq, scan.next_index, scan.holds)
        info = ChunkInfo(index, batch.first_ms, batch.last_ms, len(batch.events), batch.seq)
        _append(path, _record(_CHUNK, index, dedupe_key, info.first_ms, info.last_ms,
                              info.event_count, data, extra))
        # the batch is stored; now the derived files
        meta = meta if meta is not None else {"windows": {}}
        lines = self._apply(meta, batch.window_id, info, orjson.loads(extra))
        if lines:
            _append_lines(session_dir / _FACTS, b"".join(lines))
        self._write_meta(session_dir, meta)
        if self.limits.max_events_per_session is not None:
            self._drop_oldest_chunks(session_dir, batch.window_id, index)
        return True

    def _drop_oldest_chunks(self, session_dir: Path, window_id: str, keep_index: int) -> None:
        limit = self.limits.max_events_per_session
        assert limit is not None
        scans: dict[str, _Scan] = {}
        for wid in self._window_ids(session_dir):
            scan = self._scan(self._window_path(session_dir, wid))
            if scan is not None:
                scans[wid] = scan
        total = sum(s.event_count for s in scans.values())
        if total <= limit:
            return
        candidates = sorted(
            (rec.info.first_ms, rec.info.index, wid, rec)
            for wid, scan in scans.items()
            for rec in scan.live.values()
            if (wid, rec.info.index) != (window_id, keep_index)
        )
        drops: dict[str, list[int]] = {}
        for _first, index, wid, rec in candidates:
            if total <= limit:
                break
            drops.setdefault(wid, []).append(index)
            total -= rec.info.event_count
        for wid, indexes in drops.items():
            path = self._window_path(session_dir, wid)
            _append(path, b"".join(_record(_DROP, i, None, 0, 0, 0) for i in indexes))
            scan = self._scan(path)
            if (
                scan is not None
                and scan.dead_bytes > _COMPACT_MIN_BYTES
                and scan.dead_bytes > scan.live_bytes
            ):
                self._compact(path, scan)

    def _compact(self, path: Path, scan: _Scan) -> None:
        """Rewrite a window file without the data of dropped chunks (under the lock)."""
        parts = []
        with open(path, "rb") as f:
            for index in sorted({*scan.live, *scan.dropped}):
                rec = scan.live.get(index)
                if rec is not None:
                    f.seek(rec.offset)
                    parts.append(f.read(rec.size))
                elif index in scan.dropped:
                    parts.append(_record(_HUSK, index, scan.dropped[index], 0, 0, 0))
        _write_atomic(path, b"".join(parts))
        self._forget(path)

    def replace_chunks(self, ref: WindowRef, replaced: Sequence[ChunkInfo], chunk: Chunk) -> bool:
        """Compaction's primitive: under the session lock, the window file is rewritten with
        the run's first record holding the joined chunk and husks (index and dedup key, no
        data) for the rest, then renamed over the old one: a crash leaves either file whole.
        The file keeps its number of records, so meta.json's count of applied ones holds."""
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")
        try:
            with self._locked(ref.session_id, create=False) as session_dir:
                if session_dir is None:
                    return False
                meta, scans, changed = self._recover(session_dir, self._read_meta(session_dir))
                if changed and meta is not None:
                    self._write_meta(session_dir, meta)
                scan = scans.get(ref.window_id)
                if scan is None or not same_run((r.info for r in scan.live.values()), replaced):
                    return False
                self._rewrite_run(self._window_path(session_dir, ref.window_id), scan,
                                  replaced, chunk)
                return True
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    def _rewrite_run(self, path: Path, scan: _Scan, replaced: Sequence[ChunkInfo],
                     chunk: Chunk) -> None:
        lo, doomed = replaced[0].index, {i.index for i in replaced}
        info = chunk.info
        parts = []
        with open(path, "rb") as f:
            for index in sorted({*scan.live, *scan.dropped}):
                rec = scan.live.get(index)
                if rec is None:
                    parts.append(_record(_HUSK, index, scan.dropped[index], 0, 0, 0))
                elif index == lo:  # keeps its batch's extra, without facts (already applied)
                    f.seek(rec.offset + _HEADER.size + rec.data_len)
                    extra = {**orjson.loads(f.read(rec.extra_len)), "f": []}
                    parts.append(_record(_CHUNK, lo, rec.dedupe_key, info.first_ms,
                                         info.last_ms, info.event_count, chunk.data,
                                         orjson.dumps(extra)))
                elif index in doomed:
                    parts.append(_record(_HUSK, index, rec.dedupe_key, 0, 0, 0))
                else:
                    f.seek(rec.offset)
                    parts.append(f.read(rec.size))
        _write_atomic(path, b"".join(parts))
        self._forget(path)

    def save_metadata(self, session_id: str, metadata: dict[str, Any]) -> None:
        validate_id(session_id, "session id")
        clean = validate_metadata(metadata)
        try:
            with self._locked(session_id, create=False) as session_dir:
                if session_dir is None:
                    return
                meta, _scans, _changed = self._recover(session_dir, self._read_meta(session_dir))
                if meta is None:
                    return
                meta.setdefault("metadata", {}).update(clean)
                self._write_meta(session_dir, meta)
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    # --- reads ----------------------------------------------------------------------------

    def _summary(
        self, session_id: str, meta: dict[str, Any] | None = None
    ) -> SessionSummary | None:
        session_dir = self._session_dir(session_id)
        if meta is None:
            meta = self._read_meta(session_dir)
        if meta is None or "created" not in meta:
            return None
        windows = []
        for wid in self._window_ids(session_dir):
            scan = self._scan(self._window_path(session_dir, wid))
            if scan is None or scan.records == 0:
                continue  # no committed record yet
            infos = [r.info for r in scan.live.values()]
            windows.append(
                WindowSummary(
                    wid,
                    sum(i.event_count for i in infos),
                    min((i.first_ms for i in infos), default=None),
                    max((i.last_ms for i in infos), default=None),
                )
            )
        windows.sort(key=lambda w: (w.first_ms is None, w.first_ms or 0, w.window_id))
        firsts = [w.first_ms for w in windows if w.first_ms is not None]
        lasts = [w.last_ms for w in windows if w.last_ms is not None]
        return SessionSummary(
            session_id=session_id,
            created_at=_from_us(meta["created"]),
            updated_at=_from_us(meta["updated"]),
            first_ms=min(firsts, default=None),
            last_ms=max(lasts, default=None),
            event_count=sum(w.event_count for w in windows),
            windows=windows,
            metadata=dict(meta.get("metadata") or {}),
            user_agent=meta.get("ua") or None,
            last_url=meta.get("url"),
            has_errors=bool(meta.get("err")),
        )

    def _metas(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for sid in self._session_ids():
            meta = self._read_meta(self.root / sid)
            if meta is not None and "created" in meta:
                yield sid, meta

    def get_session(self, session_id: str) -> SessionSummary | None:
        validate_id(session_id, "session id")
        try:
            return self._summary(session_id)
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    def list_sessions(self, query: SessionQuery) -> list[SessionSummary]:
        needle = query.search.lower() if query.search else None
        since = None if query.since is None else _us(query.since)
        until = None if query.until is None else _us(query.until)
        try:
            rows = []
            for sid, meta in self._metas():
                if since is not None and meta["updated"] < since:
                    continue
                if until is not None and meta["updated"] > until:
                    continue
                if query.has_errors is not None and bool(meta.get("err")) != query.has_errors:
                    continue
                if needle is not None and not _matches(sid, meta.get("metadata") or {}, needle):
                    continue
                rows.append((sid, meta))
            if query.sort_by == "event_count":
                summaries = [s for s in (self._summary(sid, m) for sid, m in rows) if s]
                summaries.sort(key=lambda s: s.session_id)
                summaries.sort(key=lambda s: s.event_count, reverse=True)
                return summaries[query.offset : query.offset + query.limit]
            field_name = "updated" if query.sort_by == "updated_at" else "created"
            rows.sort(key=lambda r: (-r[1][field_name], r[0]))
            page = rows[query.offset : query.offset + query.limit]
            return [s for s in (self._summary(sid, m) for sid, m in page) if s]
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    def iter_session_ids(self) -> Iterator[str]:
        rows = sorted((meta["created"], sid) for sid, meta in self._metas())
        return iter([sid for _, sid in rows])

    def chunk_index(self, ref: WindowRef) -> list[ChunkInfo]:
        path = self._window_path(self._session_dir(ref.session_id), ref.window_id)
        try:
            scan = self._scan(path)
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc
        return [] if scan is None else [r.info for r in scan.live.values()]

    def get_chunks(
        self,
        ref: WindowRef,
        from_ms: int | None = None,
        to_ms: int | None = None,
        start_index: int = 0,
        limit: int | None = None,
    ) -> list[Chunk]:
        path = self._window_path(self._session_dir(ref.session_id), ref.window_id)
        try:
            for _attempt in range(5):
                result = self._read_chunks(path, from_ms, to_ms, start_index, limit)
                if result is not None:
                    return result
                self._forget(path)  # the file was compacted or replaced meanwhile
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc
        raise StoreError(f"file store: {path} keeps changing while it is read")

    def _read_chunks(
        self,
        path: Path,
        from_ms: int | None,
        to_ms: int | None,
        start_index: int,
        limit: int | None,
    ) -> list[Chunk] | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return []
        try:
            with self._cache_lock:
                prev = self._cache.get(str(path))
            scan = _scan_fd(fd, prev)
            with self._cache_lock:
                self._cache[str(path)] = scan
            out: list[Chunk] = []
            for rec in scan.live.values():
                info = rec.info
                if not info.selected(from_ms, to_ms, start_index):
                    continue
                if limit is not None and len(out) >= limit:
                    break
                raw = os.pread(fd, rec.size, rec.offset)
                if len(raw) != rec.size:
                    return None
                head, body = raw[:_HEAD_NO_CRC], raw[_HEADER.size :]
                if zlib.crc32(body, zlib.crc32(head)) != rec.crc:
                    raise StoreError(f"file store: chunk {info.index} of {path} is corrupt")
                out.append(Chunk(info, body[: rec.data_len]))
            return out
        finally:
            os.close(fd)

    def _session_facts(self, session_id: str) -> list[tuple[int, int, int, Fact]]:
        session_dir = self._session_dir(session_id)
        try:
            raw = (session_dir / _FACTS).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return []
        scans: dict[str, _Scan | None] = {}
        out = []
        for n, line in enumerate(raw.splitlines()):
            try:
                item = orjson.loads(line)
                wid, index = str(item["w"]), int(item["c"])
                fact = fact_from_stored(item["k"], session_id, wid, item["t"], item["u"], item["d"])
                row = (int(item["t"]), int(item["a"]), n, fact)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a line torn by a crash
            if wid not in scans:
                scans[wid] = None
                if ID_PATTERN.match(wid):
                    scans[wid] = self._scan(self._window_path(session_dir, wid))
            scan = scans[wid]
            if scan is None or not scan.holds(index):
                continue  # its chunk never committed (torn record)
            out.append(row)
        return out

    def get_window_state(self, ref: WindowRef) -> dict[str, Any] | None:
        session_dir = self._session_dir(ref.session_id)
        path = self._window_path(session_dir, ref.window_id)
        try:
            scan = self._scan(path)
            if scan is None or scan.records == 0:
                return None
            meta = self._read_meta(session_dir)
            window = ((meta or {}).get("windows") or {}).get(ref.window_id) or {}
            if int(window.get("applied", 0)) < scan.records:
                # a writer crashed between its record and meta.json: finish its work first,
                # so the state of the last stored batch is what we answer
                with self._locked(ref.session_id, create=False) as locked_dir:
                    if locked_dir is None:
                        return None
                    meta, _scans, changed = self._recover(locked_dir, self._read_meta(locked_dir))
                    if meta is None:
                        return None
                    if changed:
                        self._write_meta(locked_dir, meta)
                window = (meta.get("windows") or {}).get(ref.window_id) or {}
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc
        state = window.get("state")
        return state if isinstance(state, dict) else None

    def iter_facts(
        self,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
    ) -> Iterator[Fact]:
        since_ms = None if since is None else to_ms(since, round_up=True)
        until_ms = None if until is None else to_ms(until)
        if session_id is not None:
            sids = [validate_id(session_id, "session id")]
        else:
            sids = self._session_ids()
        try:
            rows = [
                row
                for sid in sids
                for row in self._session_facts(sid)
                if (kind is None or row[3].kind == kind)
                and (since_ms is None or row[0] >= since_ms)
                and (until_ms is None or row[0] <= until_ms)
            ]
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc
        rows.sort(key=lambda r: (r[0], r[1], r[3].session_id, r[2]))
        return iter([r[3] for r in rows])

    # --- deletes --------------------------------------------------------------------------

    def delete_window(self, ref: WindowRef) -> bool:
        validate_id(ref.window_id, "window id")
        try:
            with self._locked(ref.session_id, create=False) as session_dir:
                if session_dir is None:
                    return False
                path = self._window_path(session_dir, ref.window_id)
                if not path.exists():
                    return False
                others = [w for w in self._window_ids(session_dir) if w != ref.window_id]
                if not others:
                    self._remove_dir(session_dir)
                    return True
                meta = self._read_meta(session_dir)
                self._rewrite_facts(session_dir, lambda line: line["w"] != ref.window_id)
                path.unlink()
                self._forget(path)
                _fsync_dir(session_dir)
                if meta is not None:
                    meta.get("windows", {}).pop(ref.window_id, None)
                    self._write_meta(session_dir, meta)
                return True
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    def _remove_dir(self, session_dir: Path) -> None:
        """Under the session lock: move the directory out of sight, then delete it."""
        trash = self.root / _TRASH
        trash.mkdir(exist_ok=True)
        target = trash / uuid.uuid4().hex
        os.rename(session_dir, target)
        _fsync_dir(self.root)
        with self._cache_lock:
            prefix = str(session_dir) + os.sep
            for key in [k for k in self._cache if k.startswith(prefix)]:
                del self._cache[key]
        shutil.rmtree(target, ignore_errors=True)
        self._forget_tracked_sessions({session_dir.name})

    def _mark_session_errors(self, session_id: str) -> None:
        try:
            with self._locked(session_id, create=False) as session_dir:
                if session_dir is None:
                    return
                meta, _scans, _changed = self._recover(session_dir, self._read_meta(session_dir))
                if meta is not None and not meta.get("err"):
                    meta["err"] = True
                    self._write_meta(session_dir, meta)
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    def _delete(self, session_id: str, older_than_us: int | None = None) -> bool:
        with self._locked(session_id, create=False) as session_dir:
            if session_dir is None:
                return False
            meta = self._read_meta(session_dir)
            if older_than_us is not None and meta is not None and meta.get(
                "updated", 0
            ) >= older_than_us:
                return False
            existed = meta is not None or bool(self._window_ids(session_dir))
            self._remove_dir(session_dir)
            return existed

    def delete_session(self, session_id: str) -> bool:
        validate_id(session_id, "session id")
        try:
            return self._delete(session_id)
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    def purge_older_than(self, seconds: float) -> int:
        cutoff = _us(utcnow() - timedelta(seconds=seconds))
        try:
            old = [sid for sid, meta in self._metas() if meta["updated"] < cutoff]
            count = sum(1 for sid in old if self._delete(sid, older_than_us=cutoff))
            self._purge_tracking(cutoff // 1000)
            return count
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    def _evict_sessions(self, keep: str) -> None:
        """Delete the oldest sessions beyond ``max_sessions`` (never ``keep``).

        Evictions take one store-wide lock, and one whose session was evicted meanwhile does
        nothing, so two writers never evict each other's new session (the original code
        could lose both). A session is deleted only if no batch reached it since it was read.
        """
        limit = self.limits.max_sessions
        assert limit is not None
        try:
            with self._eviction_lock():
                metas = list(self._metas())
                if len(metas) <= limit or not any(sid == keep for sid, _ in metas):
                    return
                others = sorted((m["updated"], sid) for sid, m in metas if sid != keep)
                for updated, sid in others[: len(metas) - limit]:
                    self._delete(sid, older_than_us=updated + 1)
        except OSError as exc:
            raise StoreError(f"file store: {exc}") from exc

    @contextlib.contextmanager
    def _eviction_lock(self) -> Iterator[None]:
        fd = os.open(self.root / _EVICTION_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def clear(self) -> None:
        for sid in self._session_ids():
            self._delete(sid)
        self._clear_tracking()
