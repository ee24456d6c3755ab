"""Frustration (inventory §5.9): rage and dead clicks per page, the selectors they hit, and
every incident with its replay moment and why it counted.

The detection and its de-noising happen once, at ingest (sentiero.ingest.facts, the rules of
inventory §4.2 and §5.9): a rage click is a cluster of at least ``rage_min_clicks`` clicks
within ``rage_radius_px`` of the first, each at most ``rage_window_ms`` after the previous and
the first; a dead click got no page change, DOM mutation or input within
``dead_click_timeout_ms``; an app-level custom event in that window is a response, a JS error
is not (the click stays, flagged "with JS error"); the clicks of a rage cluster are not also
dead clicks; a page's last click that led to another page is withdrawn. This module only reads
those facts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentiero.analytics.periods import Period, top_counts
from sentiero.analytics.query import Scope, Segment
from sentiero.ingest.rules import FrustrationRules
from sentiero.stores.base import Fact

if TYPE_CHECKING:
    from sentiero.stores.base import Store

MAX_PAGES = 200
TOP_SELECTORS = 10
INCIDENTS_SHOWN = 20  # per page on the overview of every page
INCIDENTS_ON_PAGE = 500  # on one page's own view; the export has every one
KINDS = ("rage_click", "dead_click")


@dataclass(frozen=True)
class Incident:
    fact: Fact

    @property
    def subtype(self) -> str:
        return "rage" if self.fact.kind == "rage_click" else "dead"

    @property
    def clicks(self) -> int:
        return int(self.fact.value or 0) if self.subtype == "rage" else 1

    @property
    def with_error(self) -> bool:
        return self.subtype == "dead" and bool(self.fact.data.get("error"))

    def reason(self, rules: FrustrationRules) -> str:
        """Why the detector counted it, in the words of its rule."""
        if self.subtype == "rage":
            return (f"{self.clicks} clicks within {rules.rage_radius_px} px of the first, each "
                    f"at most {rules.rage_window_ms} ms after the previous")
        text = (f"no page change, DOM change or input within {rules.dead_click_timeout_ms} ms "
                "of the click")
        return text + "; a JS error followed" if self.with_error else text


@dataclass
class PageFrustration:
    url: str
    rage: int = 0
    dead: int = 0
    dead_with_error: int = 0
    sessions_affected: int = 0
    selectors: Counter[str] = field(default_factory=Counter)
    incidents: list[Incident] = field(default_factory=list)  # the first ones, in time order

    @property
    def total(self) -> int:
        return self.rage + self.dead

    @property
    def top_selectors(self) -> list[tuple[str, int]]:
        return top_counts(self.selectors, TOP_SELECTORS)


def incidents(store: Store, period: Period, segment: Segment | None = None,
              url: str | None = None, limit: int | None = None) -> Iterator[Fact]:
    yield from store.scope_facts(Scope(period.since, period.until, segment or Segment()),
                                 KINDS, url=url, limit=limit)


def frustration(store: Store, period: Period, segment: Segment | None = None,
                url: str | None = None, shown: int = INCIDENTS_SHOWN) -> list[PageFrustration]:
    """Pages with a rage or dead click, most incidents first. The counts come grouped from the
    store; each of the first ``MAX_PAGES`` pages lists its first ``shown`` incidents."""
    scope = Scope(period.since, period.until, segment or Segment())
    pages: dict[str, PageFrustration] = {}
    for kind in KINDS:
        for c in store.fact_counts(scope, kind, by_url=True, by_key=True, url=url,
                                     sessions=False):
            page = pages.setdefault(c.url or "", PageFrustration(c.url or ""))
            if kind == "rage_click":
                page.rage += c.count
            else:
                page.dead += c.count
                page.dead_with_error += round(c.value_sum)
            if c.key:
                page.selectors[c.key] += c.count
    for c in store.fact_counts(scope, KINDS, by_url=True, url=url):
        if (c.url or "") in pages:
            pages[c.url or ""].sessions_affected = c.sessions
    ordered = sorted(pages.values(), key=lambda p: (-p.total, p.url))
    for page in ordered[:MAX_PAGES]:
        if page.url:  # (a fact without a page URL is counted, not listed)
            page.incidents = [Incident(f) for f in incidents(store, period, segment, page.url,
                                                             shown)]
    return ordered
