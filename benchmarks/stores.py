"""Store backends side by side: ingest rate, bytes per event, time to first chunk.

For every backend that is reachable (memory, SQLite file, PostgreSQL, MySQL/MariaDB, and
Redis and the file store when those modules exist):

- ingest: events/s through ``save_batch`` with the real fixture recordings cut into 50-event
  batches (each with its seq, as the recorder sends them), many sessions;
- size: raw JSON bytes per event beside the compressed chunk bytes per event, and the
  database's own size per event where it is easy to ask (SQLite file, PostgreSQL relation
  sizes, InnoDB data+index length, the file store's directory, Redis used_memory);
- time to first chunk: ``chunk_index`` + ``get_chunks(limit=1)`` for a 1-minute and a
  60-minute session (fixture events repeated and shifted in time), median of many reads.
  It must not grow with session length (DESIGN.md decision 6).

    python benchmarks/stores.py            # all reachable backends
    python benchmarks/stores.py --quick    # < 1 minute
    python benchmarks/stores.py --only sqlite,postgres

Server URLs: SENTIERO_BENCH_POSTGRES_URL / SENTIERO_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test), likewise MYSQL and REDIS. Tables and keys get a
throwaway prefix and are removed afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sentiero.stores.base import Batch, Store, WindowRef  # noqa: E402

FIXTURES = (
    Path(
        os.environ.get(
            "SENTIERO_FIXTURES", Path(__file__).resolve().parents[1] / "tests" / "fixtures"
        )
    )
    / "rrweb"
)
BATCH_SIZE = 50


def _env(name: str, default: str) -> str:
    return os.environ.get(f"SENTIERO_BENCH_{name}_URL") or os.environ.get(
        f"SENTIERO_TEST_{name}_URL", default
    )


POSTGRES_URL = _env("POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = _env("MYSQL", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = _env("REDIS", "redis://127.0.0.1:6379/0")


# --- workload -------------------------------------------------------------------------------


def load_recordings() -> list[dict[str, Any]]:
    recordings = []
    for path in sorted(FIXTURES.glob("*.json.gz")):
        if path.name.startswith("dashboard"):
            continue  # 9 MB of canvas mutations: its batches exceed the ingest request limit
        recordings.append(orjson.loads(gzip.decompress(path.read_bytes())))
    return recordings


def ingest_batches(recordings: list[dict[str, Any]], rounds: int) -> list[Batch]:
    """``rounds`` copies of every recording, each copy its own session."""
    now = datetime.now(timezone.utc)
    batches = []
    for r in range(rounds):
        for rec in recordings:
            sid = f"bench-{r}-{rec['session_id'][:8]}"
            for window in rec["windows"]:
                events = window["events"]
                for seq, start in enumerate(range(0, len(events), BATCH_SIZE)):
                    batches.append(
                        Batch(
                            sid,
                            window["window_id"],
                            events[start : start + BATCH_SIZE],
                            seq=seq,
                            user_agent=rec["meta"].get("user_agent"),
                            page_url=window["url"],
                            received_at=now,
                        )
                    )
    return batches


def long_session(recording: dict[str, Any], minutes: float, session_id: str) -> list[Batch]:
    """A session of about ``minutes``: the recording's snapshot, then its incremental events
    repeated, shifted forward in time, until the duration is reached."""
    window = recording["windows"][0]
    events = window["events"]
    head = [e for e in events if e["type"] in (2, 4)][:2]
    loop = [e for e in events if e["type"] not in (2, 4)]
    span = loop[-1]["timestamp"] - loop[0]["timestamp"] + 500
    end = head[0]["timestamp"] + int(minutes * 60_000)
    out = list(head)
    shift = 0
    while True:
        for e in loop:
            ts = e["timestamp"] + shift
            if ts > end:
                break
            out.append({**e, "timestamp": ts})
        else:
            shift += span
            continue
        break
    now = datetime.now(timezone.utc)
    return [
        Batch(session_id, "w", out[i : i + BATCH_SIZE], seq=n, received_at=now)
        for n, i in enumerate(range(0, len(out), BATCH_SIZE))
    ]


# --- backends -------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    make: Callable[[], Store]
    size: Callable[[Store], int | None] = lambda store: None
    cleanup: Callable[[Store], None] = lambda store: None
    notes: list[str] = field(default_factory=list)


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or {"postgresql": 5432, "mysql": 3306, "redis": 6379}.get(
        parts.scheme.split("+")[0], 0
    )
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def backends(tmp: Path) -> list[Backend]:
    from sentiero.stores.memory import MemoryStore
    from sentiero.stores.sql import SQLStore

    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    out = [Backend("memory", MemoryStore)]

    def sqlite_size(store: Store) -> int:
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db = tmp / "bench.db"
        return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())

    out.append(
        Backend(
            "sqlite", lambda: _ready(SQLStore(f"sqlite:///{tmp / 'bench.db'}")), size=sqlite_size
        )
    )

    def drop(store: Store) -> None:
        store.drop_tables()  # type: ignore[attr-defined]

    if reachable(POSTGRES_URL):

        def pg_size(store: Store) -> int:
            t = store.tables  # type: ignore[attr-defined]
            names = [t.sessions.name, t.windows.name, t.chunks.name, t.batches.name, t.facts.name]
            with store.engine.connect() as conn:  # type: ignore[attr-defined]
                return int(
                    sum(
                        conn.exec_driver_sql(
                            "SELECT pg_total_relation_size(%(n)s)", {"n": n}
                        ).scalar()
                        for n in names
                    )
                )

        out.append(
            Backend(
                "postgres",
                lambda: _ready(SQLStore(POSTGRES_URL, prefix=prefix, auto_migrate=True)),
                size=pg_size,
                cleanup=drop,
            )
        )
    if reachable(MYSQL_URL):

        def my_size(store: Store) -> int:
            t = store.tables  # type: ignore[attr-defined]
            with store.engine.connect() as conn:  # type: ignore[attr-defined]
                for name in (t.sessions.name, t.windows.name, t.chunks.name, t.batches.name):
                    conn.exec_driver_sql(f"ANALYZE TABLE {name}").all()
                return int(
                    conn.exec_driver_sql(
                        "SELECT SUM(data_length + index_length) FROM information_schema.tables "
                        "WHERE table_schema = DATABASE() AND table_name LIKE %(p)s",
                        {"p": t.prefix.replace("_", "\\_") + "%"},
                    ).scalar()
                    or 0
                )

        out.append(
            Backend(
                "mysql",
                lambda: _ready(SQLStore(MYSQL_URL, prefix=prefix, auto_migrate=True)),
                size=my_size,
                cleanup=drop,
            )
        )
    if importlib.util.find_spec("sentiero.stores.redis") and reachable(REDIS_URL):
        import redis

        from sentiero.stores.redis import RedisStore

        server = redis.Redis.from_url(REDIS_URL)
        baseline: dict[str, int] = {}

        def redis_make() -> Store:
            store = RedisStore(REDIS_URL, prefix=f"sentiero-{prefix}:")
            store.setup()
            baseline["used"] = int(server.info("memory")["used_memory"])
            return store

        def redis_size(store: Store) -> int:
            return int(server.info("memory")["used_memory"]) - baseline["used"]

        out.append(
            Backend(
                "redis",
                redis_make,
                size=redis_size,
                cleanup=lambda store: store.clear(),  # type: ignore[attr-defined]
                notes=["size = growth of used_memory"],
            )
        )
    if importlib.util.find_spec("sentiero.stores.files"):
        from sentiero.stores.files import FileStore

        root = tmp / "files"

        def files_size(store: Store) -> int:
            return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

        out.append(Backend("files", lambda: _ready(FileStore(root)), size=files_size))
    return out


def _ready(store: Store) -> Store:
    store.setup()
    return store


# --- measurements ---------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    events_per_s: float = 0
    batches_per_s: float = 0
    raw_per_event: float = 0
    chunk_per_event: float = 0
    disk_per_event: float | None = None
    first_chunk_ms: dict[str, float] = field(default_factory=dict)  # chunk_index + get_chunks
    get_first_ms: dict[str, float] = field(default_factory=dict)  # get_chunks(limit=1) alone
    chunks: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def run(
    backend: Backend, ingest: list[Batch], sessions: dict[str, list[Batch]], reads: int
) -> Result:
    result = Result(backend.name)
    store = backend.make()
    try:
        events = sum(len(b.events) for b in ingest)
        started = time.perf_counter()
        for b in ingest:
            if not store.save_batch(b):
                raise RuntimeError(f"batch {b.session_id}/{b.window_id}/{b.seq} not stored")
        elapsed = time.perf_counter() - started
        result.events_per_s = events / elapsed
        result.batches_per_s = len(ingest) / elapsed
        result.raw_per_event = sum(len(orjson.dumps(b.events)) for b in ingest) / events
        chunk_bytes = 0
        for sid in {b.session_id for b in ingest}:
            summary = store.get_session(sid)
            for w in summary.windows:  # type: ignore[union-attr]
                chunk_bytes += sum(
                    len(c.data) for c in store.get_chunks(WindowRef(sid, w.window_id))
                )
        result.chunk_per_event = chunk_bytes / events
        size = backend.size(store)
        result.disk_per_event = None if size is None else size / events

        for label, batches in sessions.items():
            for b in batches:
                store.save_batch(b)
            ref = WindowRef(batches[0].session_id, "w")
            timings, alone = [], []
            for _ in range(reads):
                t0 = time.perf_counter()
                index = store.chunk_index(ref)
                t1 = time.perf_counter()
                first = store.get_chunks(ref, limit=1)
                first[0].events_json()
                t2 = time.perf_counter()
                timings.append((t2 - t0) * 1000)
                alone.append((t2 - t1) * 1000)
            result.first_chunk_ms[label] = statistics.median(timings)
            result.get_first_ms[label] = statistics.median(alone)
            result.chunks[label] = len(index)
    except Exception as exc:  # noqa: BLE001 - one broken backend must not hide the others
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            backend.cleanup(store)
        finally:
            store.close()
    return result


def print_table(results: list[Result], labels: list[str]) -> None:
    head = ["backend", "events/s", "batches/s", "raw B/ev", "chunk B/ev", "disk B/ev"]
    head += [f"index+1st {label}" for label in labels]
    head += [f"1st only {label}" for label in labels]
    rows = []
    for r in results:
        if r.error:
            rows.append([r.backend, f"error: {r.error}"] + [""] * (len(head) - 2))
            continue
        row = [
            r.backend,
            f"{r.events_per_s:,.0f}",
            f"{r.batches_per_s:,.0f}",
            f"{r.raw_per_event:,.0f}",
            f"{r.chunk_per_event:,.0f}",
            "-" if r.disk_per_event is None else f"{r.disk_per_event:,.0f}",
        ]
        row += [f"{r.first_chunk_ms[label]:.2f} ms" for label in labels]
        row += [f"{r.get_first_ms[label]:.2f} ms" for label in labels]
        rows.append(row)
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    for i, row in enumerate([head, *rows]):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (< 1 minute)")
    parser.add_argument("--only", help="comma-separated backends (memory,sqlite,postgres,...)")
    args = parser.parse_args()
    rounds, reads = (40, 30) if args.quick else (250, 200)

    recordings = load_recordings()
    ingest = ingest_batches(recordings, rounds)
    todo = (
        next(r for r in recordings if "todo" in r["meta"].get("page", ""))
        if any("todo" in r["meta"].get("page", "") for r in recordings)
        else recordings[0]
    )
    sessions = {
        "1-min": long_session(todo, 1, "bench-1min"),
        "60-min": long_session(todo, 60, "bench-60min"),
    }
    events = sum(len(b.events) for b in ingest)
    print(
        f"ingest: {len(ingest)} batches, {events} events in {rounds * len(recordings)} sessions;"
        f" long sessions: "
        + ", ".join(
            f"{k} {sum(len(b.events) for b in v)} events / {len(v)} batches"
            for k, v in sessions.items()
        )
    )
    tmp = Path(tempfile.mkdtemp(prefix="sentiero-bench-"))
    try:
        chosen = backends(tmp)
        if args.only:
            wanted = set(args.only.split(","))
            chosen = [b for b in chosen if b.name in wanted]
        results = []
        for backend in chosen:
            started = time.perf_counter()
            results.append(run(backend, ingest, sessions, reads))
            print(f"  {backend.name}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
        print()
        print_table(results, list(sessions))
        chunks = {k: r.chunks[k] for r in results if not r.error for k in r.chunks}
        print("\nchunks per long session: " + ", ".join(f"{k} {v}" for k, v in chunks.items()))
        notes = [f"{b.name}: {n}" for b in chosen for n in b.notes]
        if notes:
            print("\n" + "; ".join(notes))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
