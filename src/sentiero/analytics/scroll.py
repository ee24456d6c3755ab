"""Scroll depth (inventory §5.4): per page, one sample per page view (its deepest document
scroll; views that never scrolled are left out, as the original does), the average depth in
pixels and in percent of the page, the p50/p75/p90 fold lines and a four-bin histogram.

A sample's depth in percent is ``min(100, (max_y + viewport height) / page height × 100)``
where the page height is the largest ``max_y + viewport height`` of the page's samples;
a sample without a viewport height uses ``max_y / deepest max_y × 100``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics.periods import Period, percentile
from sentiero.analytics.query import Scope, Segment

if TYPE_CHECKING:
    from sentiero.stores.base import Store

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


@dataclass
class PageScroll:
    url: str
    samples: list[Sample] = field(default_factory=list)
    depths_pct: list[float] = field(default_factory=list)  # sorted
    page_height_px: float = 0.0
    sessions: int = 0

    @property
    def views(self) -> int:
        return len(self.samples)

    @property
    def avg_depth_px(self) -> float | None:
        return sum(s.max_y for s in self.samples) / len(self.samples) if self.samples else None

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

    @property
    def deepest(self) -> Sample | None:
        return max(self.samples, key=lambda s: (s.max_y, -s.ts_ms), default=None)


def _finish(page: PageScroll) -> PageScroll:
    page.page_height_px = max((s.max_y + (s.vh or 0) for s in page.samples), default=0.0)
    deepest_y = max((s.max_y for s in page.samples), default=0.0)
    depths = []
    for s in page.samples:
        if s.vh:
            depths.append(min(100.0, (s.max_y + s.vh) / page.page_height_px * 100))
        else:
            depths.append(min(100.0, s.max_y / deepest_y * 100) if deepest_y else 0.0)
    page.depths_pct = sorted(depths)
    page.sessions = len({s.session_id for s in page.samples})
    return page


def scroll_depth(store: Store, period: Period, segment: Segment | None = None,
                 url: str | None = None) -> list[PageScroll]:
    """Pages with scrolling, most sampled first."""
    scope = Scope(period.since, period.until, segment or Segment())
    deepest: dict[tuple[str, str, str, Any], Sample] = {}
    for f in store.scope_facts(scope, ("scroll",), url=url):
        if f.value is None or f.value <= 0 or not f.url:
            continue
        vh = f.data.get("vh")
        group = (f.url, f.session_id, f.window_id, f.data.get("pv"))
        kept = deepest.get(group)
        if kept is None or f.value > kept.max_y:
            deepest[group] = Sample(f.session_id, f.window_id, f.data.get("pv"), f.ts_ms,
                                    f.value, vh if isinstance(vh, (int, float)) and vh > 0
                                    else None)
    pages: dict[str, PageScroll] = {}
    for (page_url, *_), sample in deepest.items():
        pages.setdefault(page_url, PageScroll(page_url)).samples.append(sample)
    return sorted((_finish(p) for p in pages.values()), key=lambda p: (-p.views, p.url))
