"""Compaction under kill -9: whatever moment the process dies, every event is stored once.

A child process compacts a store full of small chunks and is killed at random moments (after
a few runs, somewhere in the next one: compressing, or inside the store's write), again and
again; after each kill a fresh store (the file store recovers on open) must hold every
window's events exactly as they were written, in order, and the runs it finished must be
compacted. The last child runs to the end.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sentiero.stores import open_store
from sentiero.stores.base import Batch, Store, WindowRef

WINDOWS = 6
BATCHES = 60
KILLS = 6

CHILD = """
import sys
from sentiero.compaction import compact_store
from sentiero.stores import open_store
store = open_store(sys.argv[1])
replace = store.replace_chunks
def reporting(*args):
    done = replace(*args)
    print("replaced", flush=True)
    return done
store.replace_chunks = reporting
print("started", flush=True)
compact_store(store, 0, session_ids=[f"s{i}" for i in range(int(sys.argv[2]))],
              target_raw_bytes=int(sys.argv[3]))
print("done", flush=True)
"""


def events(window: int, seq: int) -> list[dict]:
    # different every time, so compressing them costs the child real time
    rng = random.Random(window * 1000 + seq)
    return [{"type": 3, "timestamp": 1_700_000_000_000 + seq * 1000 + i,
             "data": {"source": 0, "texts": [], "adds": [
                 {"parentId": rng.randrange(9999), "node": {"type": 3, "id": rng.randrange(99999),
                  "textContent": f"{rng.getrandbits(256):x}"}} for _ in range(40)]}}
            for i in range(20)]


def texts(store: Store) -> dict[str, bytes]:
    out = {}
    for w in range(WINDOWS):
        chunks = store.get_chunks(WindowRef(f"s{w}", "w"))
        out[f"s{w}"] = b",".join(c.events_json().strip()[1:-1] for c in chunks)
    return out


def chunk_count(store: Store) -> int:
    return sum(len(store.chunk_index(WindowRef(f"s{w}", "w"))) for w in range(WINDOWS))


@pytest.mark.parametrize("backend", ["sqlite", "files"])
def test_kill_9_mid_compaction_loses_and_duplicates_nothing(backend: str, tmp_path: Path
                                                            ) -> None:
    url = f"sqlite:///{tmp_path}/c.db" if backend == "sqlite" else f"file://{tmp_path}/files"
    store = open_store(url)
    store.setup()
    for w in range(WINDOWS):
        for seq in range(BATCHES):
            assert store.save_batch(Batch(f"s{w}", "w", events(w, seq), seq=seq))
    expected = texts(store)
    before = chunk_count(store)
    store.close()
    counts = []
    rng = random.Random(7)
    env_path = str(Path(__file__).resolve().parents[2] / "src")
    for attempt in range(KILLS + 1):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(WINDOWS), str(512 * 1024)],
            stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin"})
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        if attempt < KILLS:  # after a few runs, at a random moment of the next one
            for _ in range(rng.randint(1, 4)):
                assert child.stdout.readline().strip() == "replaced"
            time.sleep(rng.uniform(0, 0.3))
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=600)
        fresh = open_store(url)
        fresh.setup()
        assert texts(fresh) == expected, f"after kill {attempt}"
        counts.append(chunk_count(fresh))
        fresh.close()
    assert child.returncode == 0
    # the kills landed mid-way (some runs done, not all), and the last child finished the job
    assert counts[-1] < before
    assert any(before > c > counts[-1] for c in counts[:-1]), (before, counts)
