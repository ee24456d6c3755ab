"""Crash: ``kill -9`` of the whole server (master and workers) at random moments while
recorders post; they retry until the restarted server acknowledges; afterwards every window
equals what was acknowledged.

CI size: 8 recorders, 2 kills, SQLite. ``--long``: 40 recorders, 20 kills, on SQLite and
on PostgreSQL (the kill path is the server's; one backend is enough for every commit).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sentiero.stores import open_store
from tests.reliability.conftest import new_database
from tests.reliability.harness import SentieroServer
from tests.reliability.recorders import Stats, compare, join_all, run_recorders


def test_kill_9_loses_and_duplicates_nothing(crash_backend: str, tmp_path: Path,
                                             request: pytest.FixtureRequest,
                                             long_run: bool, report: Any) -> None:
    backend = crash_backend
    store_url = (f"sqlite:///{tmp_path}/sentiero.db" if backend == "sqlite"
                 else new_database(request.getfixturevalue("private_postgres")))
    kills, count = (20, 40) if long_run else (2, 8)
    server = SentieroServer(tmp_path, store_url, workers=2, threads=4)
    server.start()
    stats = Stats()
    done = threading.Event()
    killed = 0
    rng = random.Random(13)
    started = time.monotonic()
    recorders = run_recorders(lambda: [server.port], count, f"crash-{backend}", stats,
                              windows_per_recorder=100_000, seed=7)

    def stop_recorders_after_kills() -> None:
        done.wait()
        for recorder in recorders:
            recorder.deadline = 0  # finish the window in hand, start no other

    stopper = threading.Thread(target=stop_recorders_after_kills, daemon=True)
    stopper.start()
    try:
        while killed < kills:
            time.sleep(rng.uniform(0.5, 2.5))
            server.kill9()
            killed += 1
            time.sleep(rng.uniform(0.0, 0.5))
            server.start()
        time.sleep(1)
        done.set()
        join_all(recorders, timeout_s=300)
        elapsed = time.monotonic() - started
    finally:
        done.set()
        server.stop()
    store = open_store(store_url)
    result = compare(store, stats.acknowledged)
    store.close()
    batches = sum(len(p) for p in stats.acknowledged.values())
    report(backend=backend, recorders=count, kills=killed, duration_s=round(elapsed, 1),
           windows=result.windows, batches=batches, events=result.events,
           lost=result.lost, duplicated=result.duplicated, reordered=result.reordered,
           statuses=dict(stats.statuses))
    assert result.differing_windows == []
    assert (result.lost, result.duplicated, result.reordered) == (0, 0, 0)
    assert not {s for s in stats.statuses if s.startswith("5") and s != "503"}, stats.statuses
    assert "500" not in stats.statuses
