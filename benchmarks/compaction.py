"""Compaction: stored bytes / raw JSON per backend, before and after, against whole-session brotli.

Each fixture recording is saved in the batches the recorder cuts (at most 50 events and 480 KB
of JSON each, with their seq), into every reachable backend (benchmarks/stores.py's list).
Then ``compact_store`` runs on it. Printed per fixture and backend: raw JSON, chunks and stored
chunk bytes / raw JSON before and after, compaction time, and the whole session compressed as
one brotli -11 stream (the target: compacted <= brotli). The time to the first chunk after
compaction is ``chunk_index`` + ``get_chunks(limit=1)``.

    python benchmarks/compaction.py                 # every fixture, every reachable backend
    python benchmarks/compaction.py --quick         # todo-a and dashboard-a, memory + sqlite
    python benchmarks/compaction.py --only sqlite,postgres
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from replay_transfer import recorder_batches  # noqa: E402

from sentiero.compaction import compact_store  # noqa: E402
from sentiero.stores.base import Batch, Store, WindowRef  # noqa: E402
from stores import FIXTURES, backends  # noqa: E402


def load(name: str) -> dict[str, Any]:
    return orjson.loads(gzip.decompress((FIXTURES / f"{name}.json.gz").read_bytes()))


def brotli_ratio(recording: dict[str, Any]) -> float | None:
    try:
        import brotli
    except ImportError:
        return None
    whole = b"".join(orjson.dumps(w["events"]) for w in recording["windows"])
    return len(brotli.compress(whole, quality=11)) / len(whole)


def save(store: Store, recording: dict[str, Any]) -> int:
    raw = 0
    sid = "bc" + recording["session_id"].replace("-", "")[:20]
    for window in recording["windows"]:
        for seq, events in enumerate(recorder_batches(window["events"])):
            raw += len(orjson.dumps(events))
            store.save_batch(Batch(sid, window["window_id"], events, seq=seq))
    return raw


def chunk_bytes(store: Store) -> tuple[int, int]:
    count = size = 0
    for sid in store.iter_session_ids():
        summary = store.get_session(sid)
        for w in summary.windows if summary else ():
            for chunk in store.get_chunks(WindowRef(sid, w.window_id)):
                count += 1
                size += len(chunk.data)
    return count, size


def first_chunk_ms(store: Store) -> float:
    sid = next(iter(store.iter_session_ids()))
    summary = store.get_session(sid)
    assert summary is not None
    ref = WindowRef(sid, summary.windows[0].window_id)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        store.chunk_index(ref)
        store.get_chunks(ref, limit=1)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=None, help="backends, comma separated")
    parser.add_argument("--fixtures", default=None, help="fixture names, comma separated")
    args = parser.parse_args()
    names = (args.fixtures.split(",") if args.fixtures else
             ["todo-a", "dashboard-a"] if args.quick else
             sorted(p.name[:-8] for p in FIXTURES.glob("*.json.gz")))
    only = set(args.only.split(",")) if args.only else ({"memory", "sqlite"} if args.quick
                                                         else None)
    print(f"{'fixture':13} {'backend':9} {'raw JSON':>10} {'chunks':>13} {'before':>7} "
          f"{'after':>7} {'brotli-11':>9} {'compact s':>9} {'1st chunk ms':>12}")
    for name in names:
        recording = load(name)
        target = brotli_ratio(recording)
        with tempfile.TemporaryDirectory(prefix="sentiero-compaction-") as tmp:
            for backend in backends(Path(tmp)):
                if only is not None and backend.name not in only:
                    continue
                store = backend.make()
                try:
                    raw = save(store, recording)
                    n_before, before = chunk_bytes(store)
                    t0 = time.perf_counter()
                    compact_store(store, 0, session_ids=list(store.iter_session_ids()))
                    seconds = time.perf_counter() - t0
                    n_after, after = chunk_bytes(store)
                    first = first_chunk_ms(store)
                finally:
                    backend.cleanup(store)
                    store.close()
                brotli_text = "-" if target is None else f"{100 * target:.1f}%"
                print(f"{name:13} {backend.name:9} {raw:>10,} {n_before:>6,}->{n_after:<6,} "
                      f"{100 * before / raw:>6.1f}% {100 * after / raw:>6.1f}% {brotli_text:>9} "
                      f"{seconds:>9.2f} {first:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
