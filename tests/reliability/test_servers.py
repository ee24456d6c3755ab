"""Several servers: ``sentiero serve`` processes sharing one PostgreSQL (and one Redis), each
recorder picking a server per batch, so the batches of one window land on different servers.

CI size: 2 servers, 8 recorders. ``--long``: 3 servers, 60 recorders for 2 minutes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sentiero.stores import open_store
from tests.reliability.harness import SentieroServer
from tests.reliability.recorders import Stats, compare, join_all, peak_rss_mib, run_recorders


@pytest.mark.parametrize("backend", ["postgresql", "redis"])
def test_servers_sharing_one_database_store_each_batch_once(
        backend: str, store_url: str, tmp_path: Path, long_run: bool, report: Any) -> None:
    n_servers, count, duration = (3, 60, 120.0) if long_run else (2, 8, None)
    servers = [SentieroServer(tmp_path, store_url, workers=1, threads=8, name=f"server{i}")
               for i in range(n_servers)]
    for server in servers:
        server.start()
    ports = [s.port for s in servers]
    stats = Stats()
    started = time.monotonic()
    try:
        recorders = run_recorders(lambda: ports, count, f"multi-{backend}", stats,
                                  windows_per_recorder=100_000 if long_run else 2,
                                  duration_s=duration)
        join_all(recorders, timeout_s=duration + 300 if duration else 300)
        elapsed = time.monotonic() - started
        rss = peak_rss_mib([s.proc.pid for s in servers])
    finally:
        for server in servers:
            server.stop()
    store = open_store(store_url)
    result = compare(store, stats.acknowledged)
    store.close()
    batches = sum(len(p) for p in stats.acknowledged.values())
    report(backend=backend, servers=n_servers, recorders=count, duration_s=round(elapsed, 1),
           windows=result.windows, batches=batches, events=result.events,
           batches_per_s=round(batches / elapsed, 1), p99_ms=round(stats.p99_ms(), 1),
           lost=result.lost, duplicated=result.duplicated, reordered=result.reordered,
           statuses=dict(stats.statuses), server_peak_rss_mib=round(rss, 1))
    assert result.differing_windows == []
    assert (result.lost, result.duplicated, result.reordered) == (0, 0, 0)
    assert set(stats.statuses) <= {"200", "timeout"}, stats.statuses  # see test_load
