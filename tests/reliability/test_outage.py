"""Outage: the database goes away (kill -9 of a private PostgreSQL or Redis, never the
machine's shared servers) while recorders post. Meanwhile the endpoint answers 503 with
Retry-After, never 500; after the database is back, everything acknowledged is stored once.

CI size: a 3 s outage under 6 recorders. ``--long``: 30 s under 20 recorders.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentiero.stores import open_store
from tests.reliability.conftest import new_database
from tests.reliability.harness import PrivatePostgres, PrivateRedis, SentieroServer
from tests.reliability.recorders import Stats, compare, join_all, run_recorders


@pytest.fixture(params=["postgresql", "redis"])
def database(request: pytest.FixtureRequest, tmp_path: Path
             ) -> Iterator[tuple[PrivatePostgres | PrivateRedis, str]]:
    if request.param == "postgresql":
        pg = PrivatePostgres(tmp_path)
        pg.init()
        pg.start()
        try:
            yield pg, new_database(pg)
        finally:
            pg.remove()
    else:
        server = PrivateRedis(tmp_path)
        server.start()
        try:
            yield server, server.url
        finally:
            server.stop()


def test_an_outage_is_503_and_loses_nothing(database: tuple[Any, str], tmp_path: Path,
                                            long_run: bool, report: Any) -> None:
    db, store_url = database
    outage_s, count = (30.0, 20) if long_run else (3.0, 6)
    server = SentieroServer(tmp_path, store_url, workers=2, threads=4)
    server.start()
    stats = Stats()
    recorders = run_recorders(lambda: [server.port], count, "outage", stats,
                              windows_per_recorder=100_000, seed=3)
    during: dict[str, int] = {}
    try:
        time.sleep(2)
        before = dict(stats.statuses)
        db.kill9()
        time.sleep(outage_s)
        during = {k: v - before.get(k, 0) for k, v in stats.statuses.items()}
        db.start()
        time.sleep(3)
        for recorder in recorders:
            recorder.deadline = 0
        join_all(recorders, timeout_s=300)
    finally:
        for recorder in recorders:
            recorder.deadline = 0
        server.stop()
    store = open_store(store_url)
    result = compare(store, stats.acknowledged)
    store.close()
    batches = sum(len(p) for p in stats.acknowledged.values())
    report(backend=store_url.split(":", 1)[0], recorders=count, outage_s=outage_s,
           windows=result.windows, batches=batches, events=result.events,
           lost=result.lost, duplicated=result.duplicated, reordered=result.reordered,
           statuses_during_outage=during, statuses=dict(stats.statuses))
    assert during.get("503", 0) > 0, f"the outage was not noticed: {during}"
    assert set(stats.statuses) <= {"200", "503"}, stats.statuses  # never 500, always Retry-After
    assert result.differing_windows == []
    assert (result.lost, result.duplicated, result.reordered) == (0, 0, 0)
