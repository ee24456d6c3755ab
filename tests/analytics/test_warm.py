"""Warming the day cache (sentiero.analytics.warm): after a pass, the analytics pages' default
views compute no missing day on their next request, and answer what they answer uncached; a
pass with nothing new to cache does nothing; one process warms at a time; the background
thread starts and stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.test import Client

from sentiero.analytics import warm
from sentiero.app import Sentiero
from sentiero.stores import sql_day_warmth
from sentiero.stores.memory import MemoryStore
from sentiero.stores.sql import SQLStore
from tests.analytics.conftest import make_store
from tests.analytics.dataset import FIREFOX
from tests.analytics.test_day_cache import cached_rows, fill, place

# every analytics page as it opens, with no URL and no filter (and the overview's presets)
DEFAULT_VIEWS = ("/analytics", "/analytics?range=14", "/analytics?range=90",
                 "/analytics/pages", "/analytics/page", "/analytics/vitals",
                 "/issues?source=client", "/analytics/segments", "/analytics/heatmap",
                 "/analytics/heatmap.json", "/analytics/scroll", "/analytics/forms",
                 "/analytics/frustration", "/analytics/engagement", "/analytics/funnel",
                 "/analytics/conversions", "/analytics/export")
_CSRF = re.compile(rb'name="csrf_token" value="[^"]*"')


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param != "sqlite":
        request.applymarker(pytest.mark.backend)
    store, drop = make_store(request.param, tmp_path)
    fill(store)
    yield store
    drop()
    store.close()


def pages_of(store: SQLStore) -> dict[str, bytes]:
    """Each default view's page, and how many day-cache writes (missing days) it made."""
    app = Sentiero(store=store, allow_open_dashboard=True, warm_cache_interval_s=None)
    client = Client(app.wsgi_app)
    out = {}
    for path in DEFAULT_VIEWS:
        response = client.get(path)
        assert response.status_code == 200, path
        out[path] = _CSRF.sub(b"", response.get_data())
    return out


def test_after_warming_the_default_views_compute_no_day(store: SQLStore,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    report = warm.warm_cache(store)
    assert report.skipped is None and not report.failed
    assert {label for label, _ in report.timings} >= {
        "overview 14d", "overview 30d", "overview 90d", "pages", "scroll", "frustration",
        "engagement", "heatmap", "forms", "web vitals", "client errors"}
    assert cached_rows(store) > 0
    writes: list[str] = []
    real_write = store._cache_write

    def spy(rows: list[dict[str, Any]]) -> None:
        writes.append(rows[0]["query"])
        real_write(rows)

    monkeypatch.setattr(store, "_cache_write", spy)
    warmed = pages_of(store)
    assert writes == []  # every closed day these pages read was in the cache
    with store.engine.begin() as conn:
        conn.execute(sa.delete(store.tables.day_cache))
    uncached = pages_of(store)
    assert writes  # the same requests without the warmer compute their days
    assert warmed == uncached


def test_a_pass_with_nothing_new_does_nothing_until_a_closed_day_changes(
        store: SQLStore) -> None:
    assert warm.warm_cache(store).skipped is None
    again = warm.warm_cache(store)
    assert again.skipped == "every closed day is cached already" and again.timings == []
    place(store, "landing-a", 2, 60_000, FIREFOX, "free", sid="late-one")  # a closed day
    assert warm.warm_cache(store).skipped is None
    assert warm.warm_cache(store, force=True).skipped is None


HOLDER = """
import sys
from sentiero.stores.sql import SQLStore
from sentiero.stores.sql_day_warmth import warm_lock
store = SQLStore(sys.argv[1], prefix=sys.argv[2])
with warm_lock(store) as mine:
    print("held" if mine else "refused", flush=True)
    sys.stdin.read()  # until the test closes it
"""


def test_one_process_warms_at_a_time(store: SQLStore) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url, store.tables.prefix],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        other = warm.warm_cache(store)  # another process holds the lock
        assert other.skipped == "another process is warming the cache"
        assert cached_rows(store) == 0
    finally:
        holder.communicate("", timeout=30)
    assert warm.warm_cache(store).skipped is None  # released with the holder
    with sql_day_warmth.warm_lock(store) as mine:  # and one thread of a process at a time
        assert mine
        assert warm.warm_cache(store).skipped == "another process is warming the cache"


def test_stores_without_a_day_cache_are_left_alone() -> None:
    report = warm.warm_cache(MemoryStore())
    assert report.skipped == "MemoryStore keeps no day cache"
    assert Sentiero(store=MemoryStore(), allow_open_dashboard=True).warmer is None


def test_the_background_warmer_starts_and_stops(tmp_path: Path) -> None:
    store, drop = make_store("sqlite", tmp_path)
    fill(store)
    app = Sentiero(store=store, allow_open_dashboard=True)  # on by default for SQL stores
    assert app.warmer is not None and app.warmer.running
    app.warmer.stop(timeout=5)
    assert not app.warmer.running
    warmer = warm.BackgroundWarmer(store, interval_seconds=3600, delay_seconds=0)
    warmer.start()
    deadline = time.monotonic() + 30
    while warmer.last is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert warmer.last is not None and warmer.last.skipped is None
    assert cached_rows(store) > 0
    warmer.stop(timeout=30)
    assert not warmer.running
    assert Sentiero(store=store, allow_open_dashboard=True,
                    warm_cache_interval_s=None).warmer is None
    drop()
    store.close()
