"""Scroll depth (inventory §5.4): per page, one sample per page view (its deepest document
scroll; views that never scrolled are left out, as the original does), the average depth in
pixels and in percent of the page, the p50/p75/p90 fold lines and a four-bin histogram.

A sample's depth in percent is ``min(100, (max_y + viewport height) / page height × 100)``
where the page height is the largest ``max_y + viewport height`` of the page's samples;
a sample without a viewport height uses ``max_y / deepest max_y × 100``."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics.periods import Period, percentile
from sentiero.analytics.query import Scope, Segment

if TYPE_CHECKING:
    from sentiero.stores.base import Fact, Store

MAX_PAGES = 200
BINS = ("0-25%", "25-50%", "50-75%", "75-100%")


@dataclass(frozen=True)
class Sample:
    session_id: str
    window_id: str
    pv: Any
    ts_ms: int  # when the deepest scroll happened
    max_y: float
    vh: float | None


@dataclass(frozen=True)
class ScrollGroup:
    """One page's samples as the store groups them (``Store.scroll_groups``): each page
    view's deepest point and viewport height, the distinct sessions, and the deepest sample
    (greatest y, then earliest, then smallest session and window id)."""

    url: str
    depths: list[tuple[float, float | None]]  # (max_y, vh) per page view, in no order
    sessions: int
    deepest: Sample


def deeper(a: Sample, b: Sample) -> Sample:
    return min(a, b, key=lambda x: (-x.max_y, x.ts_ms, x.session_id, x.window_id))


@dataclass
class PageScroll:
    url: str
    depths: list[tuple[float, float | None]] = field(default_factory=list)
    depths_pct: list[float] = field(default_factory=list)  # sorted
    page_height_px: float = 0.0
    sessions: int = 0
    deepest: Sample | None = None

    @property
    def views(self) -> int:
        return len(self.depths)

    @property
    def avg_depth_px(self) -> float | None:
        return sum(y for y, _ in self.depths) / len(self.depths) if self.depths else None

    @property
    def avg_depth_pct(self) -> float | None:
        if not self.depths_pct:
            return None
        return round(sum(self.depths_pct) / len(self.depths_pct), 1)

    def fold(self, p: float) -> float | None:
        value = percentile(self.depths_pct, p)
        return round(value, 1) if value is not None else None

    @property
    def histogram(self) -> list[tuple[str, int]]:
        counts = [0] * len(BINS)
        for depth in self.depths_pct:
            counts[min(len(BINS), max(1, math.ceil(depth / 25))) - 1] += 1
        return list(zip(BINS, counts, strict=True))


def _page(group: ScrollGroup) -> PageScroll:
    page = PageScroll(group.url, sorted(group.depths, key=lambda d: (d[0], d[1] or 0)),
                      sessions=group.sessions, deepest=group.deepest)
    page.page_height_px = max((y + (vh or 0) for y, vh in page.depths), default=0.0)
    deepest_y = max((y for y, _ in page.depths), default=0.0)
    depths = []
    for y, vh in page.depths:
        if vh:
            depths.append(min(100.0, (y + vh) / page.page_height_px * 100))
        else:
            depths.append(min(100.0, y / deepest_y * 100) if deepest_y else 0.0)
    page.depths_pct = sorted(depths)
    return page


def scroll_depth(store: Store, period: Period, segment: Segment | None = None,
                 url: str | None = None) -> list[PageScroll]:
    """Pages with scrolling, most sampled first."""
    scope = Scope(period.since, period.until, segment or Segment())
    return sorted((_page(g) for g in store.scroll_groups(scope, url)),
                  key=lambda p: (-p.views, p.url))


def generic_scroll_groups(facts: Iterable[Fact]) -> list[ScrollGroup]:
    """``facts``: scroll facts in ts_ms order. A page view's sample is its deepest scroll
    (the first fact reaching it); facts without a page or a positive depth are no sample."""
    deepest: dict[tuple[str, str, str, Any], Sample] = {}
    for f in facts:
        if f.value is None or f.value <= 0 or not f.url:
            continue
        vh = f.data.get("vh")
        group = (f.url, f.session_id, f.window_id, f.data.get("pv"))
        kept = deepest.get(group)
        if kept is None or f.value > kept.max_y:
            deepest[group] = Sample(f.session_id, f.window_id, f.data.get("pv"), f.ts_ms,
                                    f.value, vh if isinstance(vh, (int, float)) and vh > 0
                                    else None)
    pages: dict[str, list[Sample]] = {}
    for (page_url, *_), sample in deepest.items():
        pages.setdefault(page_url, []).append(sample)
    return [ScrollGroup(page_url, [(x.max_y, x.vh) for x in samples],
                        len({x.session_id for x in samples}),
                        functools.reduce(deeper, samples))
            for page_url, samples in pages.items()]
