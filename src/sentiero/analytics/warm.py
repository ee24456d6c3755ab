"""Warming the day cache: run the analyses of the analytics pages' default views (no URL, no
filter), of the page report, heatmap and forms pages of the busiest pages, and of every saved
funnel, ahead of the visitor, so that their closed days are cached before anyone asks.

A SQL store answers an analytics page per closed UTC day from its day cache
(``sentiero.stores.sql_day_cache``); a day missing from it is computed by the first request
that covers it: every day of a range on a page's first visit, and each new day once it is
cacheable (10 minutes after it ended). ``warm_cache`` makes those first requests itself, in
the same calls the pages make, for the ranges the pages open with (and the overview's
presets), so the visitor's request finds the days cached and computes only today.

Cheap when nothing is missing: a pass first compares the day versions with those the last
complete pass recorded (``sentiero.stores.sql_day_warmth``), and stops there when they are
unchanged (the saved funnels are part of that record: a new one is warmed at the next
pass). One process at a time: several workers (or a cron job beside them) find the lock
taken and skip. Stores without a day cache: nothing to do.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sentiero.analytics import (
    client_errors,
    engagement,
    forms,
    frustration,
    funnel,
    heatmap,
    overview,
    pages,
    scroll,
    vitals,
)
from sentiero.analytics.periods import DEFAULT_PRESET, PRESETS, Period, resolve_period
from sentiero.analytics.query import Scope
from sentiero.periodic import PeriodicJob
from sentiero.stores import sql_day_warmth
from sentiero.stores.base import Store
from sentiero.stores.saved_funnels import SavedFunnel

log = logging.getLogger(__name__)

START_DELAY_S = 60.0  # after start (and after each fork): let the server come up first
MARK = "views-2"  # the pass's record; a new name when the list of views changes
BUSIEST_PAGES = 5  # the pages (most views over the default range) whose own pages are warmed


def _heatmap(store: Store, period: Period, url: str | None = None,
             viewport: str | None = None) -> heatmap.Heatmap | None:
    """As the heatmap page and its JSON: the URL asked or the picker's first one, if it is
    in the picker; ``viewport`` None: the bucket with the most clicks."""
    urls = pages.page_urls(store, period)
    url = url or (urls[0] if urls else "")
    return heatmap.heatmap(store, period, url, viewport) if url in urls else None


def _forms(store: Store, period: Period, url: str | None = None) -> Any:
    """As the forms page: the list, then the fields of the URL asked (or of the busiest
    form page) when people typed on it."""
    found = [p.url for p in forms.form_pages(store, period)]
    url = url or (found[0] if found else "")
    return forms.form_pages(store, period, url=url) if url in found else None


def _segments(store: Store, period: Period) -> Any:
    return (store.count_sessions(Scope(period.since, period.until)),
            store.session_counts(Scope(), "country"))


@dataclass(frozen=True)
class View:
    """A view of an analytics page: what its handler asks the analyses (``VIEWS``: with no
    parameter; ``asked_views``: with a URL or a saved funnel's steps)."""

    label: str
    run: Callable[[Store, Period], Any]
    presets: tuple[int | None, ...] = (DEFAULT_PRESET,)  # None: every day (no default range)


VIEWS = (
    View("overview", overview.overview, PRESETS),
    View("pages", pages.page_rows),
    View("page picker", pages.page_urls),
    View("web vitals", vitals.web_vitals),
    View("client errors", lambda s, p: client_errors.error_groups(s, p, sort="count"),
         (None,)),
    View("segments", _segments, (None,)),
    View("heatmap", _heatmap),
    View("scroll", scroll.scroll_depth),
    View("forms", _forms),
    View("frustration", lambda s, p: frustration.frustration(
        s, p, shown=frustration.INCIDENTS_SHOWN)),
    View("engagement", lambda s, p: engagement.engagement(s, p, sort="score")),
    View("funnel and conversions", funnel.tag_vocabulary),  # their step and goal pickers
    View("export", funnel.tag_vocabulary, (None,)),  # its goal picker, over every day
)


def _page_views(url: str) -> Iterator[View]:
    """One busy page's report, forms and heatmap: the bucket it opens on, then every other
    viewport bucket with clicks (the bucket picker's links)."""
    yield View(f"page report {url}", lambda s, p: pages.page_report(s, p, url))
    yield View(f"forms {url}", lambda s, p: _forms(s, p, url))
    opened: list[heatmap.Heatmap | None] = []
    yield View(f"heatmap {url}", lambda s, p: opened.append(_heatmap(s, p, url)))
    first = opened[0] if opened else None  # run by now: the pass runs each view it is given
    if first is not None:
        for bucket in (b for b, clicks in first.counts.items() if clicks and b != first.bucket):
            yield _bucket_view(url, bucket)


def _bucket_view(url: str, bucket: str) -> View:
    return View(f"heatmap {url} {bucket}", lambda s, p: _heatmap(s, p, url, bucket))


def _funnel_view(saved: SavedFunnel) -> View | None:
    """The funnel page as a saved funnel's link opens it; None for one it cannot compute
    (the page shows the message, nothing is cached)."""
    try:
        steps = funnel.make_steps(list(saved.steps))
    except funnel.FunnelError:
        return None
    return View(f"funnel {saved.name}",
                lambda s, p: funnel.funnel(s, p, steps, saved.within_ms))


def asked_views(store: Store, funnels: list[SavedFunnel]) -> Iterator[View]:
    """The views with parameters worth warming, over the default range: the busiest pages'
    own pages, then the saved funnels. A generator the pass runs as it goes: the busiest
    pages come from the pages view (cached by then), a heatmap's other buckets from its
    first answer."""
    period = resolve_period(None, None, DEFAULT_PRESET, default_preset=None)
    for row in pages.page_rows(store, period)[:BUSIEST_PAGES]:
        yield from _page_views(row.url)
    for saved in funnels:
        view = _funnel_view(saved)
        if view is not None:
            yield view


def _funnels_state(funnels: list[SavedFunnel]) -> str:
    """What of the saved funnels the pass depends on, for its record (a digest: up to
    ``MAX_SAVED`` funnels of ten steps)."""
    text = ";".join(f"{f.funnel_id}:{f.steps!r}:{f.within_ms}" for f in
                    sorted(funnels, key=lambda f: f.funnel_id))
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class WarmReport:
    """What a pass did: ``skipped`` says why it did nothing, else the seconds per view."""

    skipped: str | None = None
    timings: list[tuple[str, float]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(t for _, t in self.timings)

    def describe(self) -> str:
        if self.skipped:
            return f"Nothing warmed: {self.skipped}."
        lines = [f"  {label}: {seconds:.2f} s" for label, seconds in self.timings]
        lines += [f"  {label}: failed ({error})" for label, error in self.failed]
        return (f"Warmed the day cache for {len(self.timings)} views in "
                f"{self.seconds:.1f} s:\n" + "\n".join(lines))


def _label(view: View, preset: int | None) -> str:
    if len(view.presets) == 1:
        return view.label
    return f"{view.label} {preset}d" if preset else f"{view.label} all"


def warm_cache(store: Store, force: bool = False, views: tuple[View, ...] = VIEWS
               ) -> WarmReport:
    """Run the analyses of ``views`` (the default views), then of ``asked_views``, so that
    their closed days are in the day cache. ``force``: even when the last pass recorded
    the same day versions and saved funnels."""
    if not sql_day_warmth.has_day_cache(store):
        return WarmReport(skipped=f"{type(store).__name__} keeps no day cache")
    with sql_day_warmth.warm_lock(store) as mine:
        if not mine:
            return WarmReport(skipped="another process is warming the cache")
        funnels = store.list_funnels()  # every store with a day cache keeps them
        # read first: a write meanwhile changes it
        before = f"{sql_day_warmth.state(store)}|{_funnels_state(funnels)}"
        if not force and sql_day_warmth.warmed_state(store, MARK) == before:
            return WarmReport(skipped="every closed day is cached already")
        report = WarmReport()
        for view in _then(views, asked_views(store, funnels), report):
            for preset in view.presets:
                period = resolve_period(None, None, preset, default_preset=None)
                began = time.perf_counter()
                try:
                    view.run(store, period)
                except Exception as exc:  # noqa: BLE001 - one view must not stop the rest
                    log.exception("warming %s failed", _label(view, preset))
                    report.failed.append((_label(view, preset), type(exc).__name__))
                    continue
                report.timings.append((_label(view, preset), time.perf_counter() - began))
        if not report.failed:
            sql_day_warmth.mark_warmed(store, MARK, before)
        return report


def _then(views: tuple[View, ...], planned: Iterator[View], report: WarmReport
          ) -> Iterator[View]:
    """``views``, then the planned ones; a plan that fails is a failure of the report."""
    yield from views
    try:
        yield from planned
    except Exception as exc:  # noqa: BLE001 - the views run so far stay warmed
        log.exception("planning the views with parameters failed")
        report.failed.append(("busiest pages and saved funnels", type(exc).__name__))


class BackgroundWarmer(PeriodicJob):
    """Warming the day cache every ``interval_seconds`` (the ``warm_cache_interval_s``
    setting), the first pass ``delay_seconds`` after start. Every worker process runs one:
    the first to get the lock does the work, the others skip, and a pass that finds the day
    versions and saved funnels as the last one left them costs three small queries."""

    thread_name = "sentiero-warm"

    def __init__(self, store: Store, interval_seconds: float,
                 delay_seconds: float | None = None) -> None:
        super().__init__(interval_seconds,
                         START_DELAY_S if delay_seconds is None else delay_seconds)
        self.store = store
        self.last: WarmReport | None = None

    def run_once(self) -> WarmReport:
        self.last = report = warm_cache(self.store)
        if not report.skipped:
            log.info("warmed the day cache for %d views in %.1f s", len(report.timings),
                     report.seconds)
        return report
