"""The app's background jobs (sentiero.periodic): compaction in the background compacts an
idle window without anyone running ``sentiero compact``, a failing pass does not end the
thread, and stop() ends it."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sentiero.compaction import BackgroundCompactor
from sentiero.periodic import PeriodicJob
from sentiero.stores.base import Batch, WindowRef
from sentiero.stores.memory import MemoryStore

T0 = int(datetime(2026, 11, 2, 12, tzinfo=timezone.utc).timestamp() * 1000)


def _wait(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_background_compaction_joins_an_idle_windows_chunks() -> None:
    store = MemoryStore()
    ref = WindowRef("periodic-s1", "w1")
    for seq in range(3):
        events = [{"type": 3, "timestamp": T0 + seq * 1000 + i,
                   "data": {"source": 1, "positions": [{"x": i, "y": seq, "id": 1,
                                                        "timeOffset": 0}]}}
                  for i in range(5)]
        store.save_batch(Batch(ref.session_id, ref.window_id, events, seq=seq))
    assert len(store.get_chunks(ref)) == 3
    job = BackgroundCompactor(store, idle_seconds=0, interval_seconds=0.05)
    job.start()
    try:
        assert _wait(lambda: len(store.get_chunks(ref)) == 1)
    finally:
        job.stop(timeout=5)
    assert not job.running
    assert [e["timestamp"] for c in store.get_chunks(ref) for e in c.events()] == \
        [T0 + seq * 1000 + i for seq in range(3) for i in range(5)]


class _Flaky(PeriodicJob):
    thread_name = "sentiero-test"

    def __init__(self) -> None:
        super().__init__(interval_seconds=0.01, delay_seconds=0)
        self.passes = 0

    def run_once(self) -> None:
        self.passes += 1
        raise RuntimeError("this pass fails")


def test_a_failing_pass_does_not_end_the_job_and_stop_ends_it() -> None:
    job = _Flaky()
    job.start()
    assert _wait(lambda: job.passes >= 3)  # each pass failed, the thread went on
    job.stop(timeout=5)
    assert not job.running
    passes = job.passes
    time.sleep(0.1)
    assert job.passes == passes
