"""Warming the day cache (sentiero.analytics.warm): after a pass, the analytics pages' default
views, the busiest pages' report, heatmap and forms pages and the saved funnels compute no
missing day on their next request, and answer what they answer uncached; a pass with nothing
new to cache (no closed day changed, no funnel saved) does nothing; one process warms at a
time; the background thread starts and stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from werkzeug.test import Client

from sentiero.analytics import heatmap, pages, warm
from sentiero.analytics.periods import DEFAULT_PRESET, resolve_period
from sentiero.app import Sentiero
from sentiero.stores import sql_day_warmth
from sentiero.stores.memory import MemoryStore
from sentiero.stores.saved_funnels import SavedFunnel
from sentiero.stores.sql import SQLStore
from sentiero.web.analytics_more import funnel_query
from tests.analytics.conftest import make_store
from tests.analytics.dataset import CHROME, FIREFOX
from tests.analytics.support import load_recording
from tests.analytics.test_day_cache import PAGES_FUNNEL, cached_rows, fill, place

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


def pages_of(store: SQLStore, paths: tuple[str, ...] = DEFAULT_VIEWS) -> dict[str, bytes]:
    """Each page of ``paths`` (the default views), as the browser gets it."""
    app = Sentiero(store=store, allow_open_dashboard=True, warm_cache_interval_s=None)
    client = Client(app.wsgi_app)
    out = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        out[path] = _CSRF.sub(b"", response.get_data())
    return out


def spy_on_writes(store: SQLStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The day-cache writes (missing days computed) made from now on, by query."""
    writes: list[str] = []
    real_write = store._cache_write

    def spy(rows: list[dict[str, Any]]) -> None:
        writes.append(rows[0]["query"])
        real_write(rows)

    monkeypatch.setattr(store, "_cache_write", spy)
    return writes


def test_after_warming_the_default_views_compute_no_day(store: SQLStore,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    report = warm.warm_cache(store)
    assert report.skipped is None and not report.failed
    assert {label for label, _ in report.timings} >= {
        "overview 14d", "overview 30d", "overview 90d", "pages", "scroll", "frustration",
        "engagement", "heatmap", "forms", "web vitals", "client errors"}
    assert cached_rows(store) > 0
    writes = spy_on_writes(store, monkeypatch)
    warmed = pages_of(store)
    assert writes == []  # every closed day these pages read was in the cache
    with store.engine.begin() as conn:
        conn.execute(sa.delete(store.tables.day_cache))
    uncached = pages_of(store)
    assert writes  # the same requests without the warmer compute their days
    assert warmed == uncached


SIGNUP = "http://127.0.0.1:39711/signup.html"  # a busy page with a form
SAVED = SavedFunnel("a" * 32, "Landing to signup", tuple(PAGES_FUNNEL), 30 * 60_000,
                    datetime(2026, 1, 1, tzinfo=timezone.utc))


def add_wide_visit(store: Any) -> None:
    """signup-b on a desktop-sized window: its pages get a second viewport bucket."""
    recording = load_recording("signup-b")
    for window in recording["windows"]:
        for event in window["events"]:
            if event["type"] == 4:
                event["data"].update(width=1280, height=800)
    place(store, "signup-b", 3, 30_000, CHROME, "team", sid="dc-wide", recording=recording)


def asked_paths(reference: MemoryStore, funnels: list[SavedFunnel]) -> tuple[str, ...]:
    """The busiest pages' report, forms and heatmap (the page and its JSON, as it opens and
    on each viewport bucket with clicks), and each saved funnel as its link opens it; read
    from a store with the same sessions that caches nothing."""
    period = resolve_period(None, None, DEFAULT_PRESET, default_preset=None)
    paths = []
    for row in pages.page_rows(reference, period)[:warm.BUSIEST_PAGES]:
        url = {"url": row.url}
        paths += [f"/analytics/page?{urlencode(url)}", f"/analytics/forms?{urlencode(url)}",
                  f"/analytics/heatmap?{urlencode(url)}",
                  f"/analytics/heatmap.json?{urlencode(url)}"]
        for bucket, clicks in heatmap.heatmap(reference, period, row.url).counts.items():
            if clicks:
                asked = urlencode({**url, "viewport": bucket})
                paths += [f"/analytics/heatmap?{asked}", f"/analytics/heatmap.json?{asked}"]
    for saved in funnels:
        paths.append(f"/analytics/funnel?{urlencode(funnel_query(saved.steps, saved.within_ms))}")
    return tuple(paths)


def test_after_warming_the_busiest_pages_and_the_saved_funnels_compute_no_day(
        store: SQLStore, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = MemoryStore()
    fill(reference)
    for s in (store, reference):
        add_wide_visit(s)
    store.save_funnel(SAVED)
    paths = asked_paths(reference, [SAVED])
    assert f"/analytics/heatmap?{urlencode({'url': SIGNUP, 'viewport': 'desktop'})}" in paths
    assert f"/analytics/forms?{urlencode({'url': SIGNUP})}" in paths
    report = warm.warm_cache(store)
    assert report.skipped is None and not report.failed
    assert {label for label, _ in report.timings} >= {
        f"page report {SIGNUP}", f"forms {SIGNUP}", f"heatmap {SIGNUP}",
        f"heatmap {SIGNUP} desktop", "funnel Landing to signup"}
    writes = spy_on_writes(store, monkeypatch)
    warmed = pages_of(store, paths)
    assert writes == []  # every closed day these pages read was in the cache
    assert b"Landing to signup" in warmed[paths[-1]]  # the funnel page, with its result
    assert b"funnel-step" in warmed[paths[-1]]
    with store.engine.begin() as conn:
        conn.execute(sa.delete(store.tables.day_cache))
    uncached = pages_of(store, paths)
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
    store.save_funnel(SAVED)  # a funnel saved since: the next pass warms it
    report = warm.warm_cache(store)
    assert report.skipped is None and "funnel Landing to signup" in dict(report.timings)
    assert warm.warm_cache(store).skipped == "every closed day is cached already"
    # a funnel its page cannot compute (the page says why): nothing to warm, and no failure
    # (a failed pass is not recorded, so the next one would run every view again)
    store.save_funnel(SavedFunnel("b" * 32, "One step", (("url", "/landing"),), None,
                                  datetime(2026, 1, 2, tzinfo=timezone.utc)))
    report = warm.warm_cache(store)
    assert report.skipped is None and not report.failed
    assert "funnel One step" not in dict(report.timings)
    assert warm.warm_cache(store).skipped == "every closed day is cached already"


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
