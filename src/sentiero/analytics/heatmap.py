"""Click heatmaps (inventory §5.3, past the original): the clicks of one page in page
positions (the click's viewport y plus the document scroll at that moment), split by the
viewport width bucket they were made at, each bucket drawn over its own representative
snapshot of the page.

A click's x is scaled from its own viewport width to the representative page view's (so
a 1280 and a 1440 px desktop land on the same layout, as the original's normalized x); y stays
in CSS pixels from the top of the document. Clicks are binned into ``CELL_PX`` squares of the
representative layout: a hot spot is one such cell, and the clicks behind it are read only
when it is asked for. The representative page view is the bucket's one with the most clicks
(ties: earliest), so its snapshot shows the layout most clicks were made on. The counting is
the store's (``Store.click_cells``, rules in sentiero.analytics.clicks): in SQL on SQL stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentiero.analytics.clicks import BUCKET_KEYS, BUCKETS, Click, PageView, bucket_of
from sentiero.analytics.periods import Period, top_counts
from sentiero.analytics.query import Scope, Segment

if TYPE_CHECKING:
    from sentiero.stores.base import Store

__all__ = ["BUCKETS", "BUCKET_KEYS", "CELL_PX", "Click", "Heatmap", "PageView", "Spot",
           "bucket_of", "heatmap"]

CELL_PX = 24
TOP_ELEMENTS = 20
SPOT_CLICKS = 50  # clicks listed behind one hot spot
MAX_SPOTS = 2_000


@dataclass
class Spot:
    gx: int
    gy: int
    count: int
    sessions: int
    centre: tuple[float, float]  # where its clicks were on average (the dot is drawn there)
    clicks: list[Click] = field(default_factory=list)  # only for the spot asked for

    @property
    def key(self) -> str:
        return f"{self.gx}-{self.gy}"


@dataclass
class Heatmap:
    url: str
    bucket: str
    counts: dict[str, int]  # clicks per bucket (the bucket picker)
    total: int = 0
    spots: list[Spot] = field(default_factory=list)  # hottest first
    top_elements: list[tuple[str, int]] = field(default_factory=list)
    representative: PageView | None = None
    page_height: float = 0.0

    @property
    def peak(self) -> int:
        return self.spots[0].count if self.spots else 0

    def spot(self, key: str) -> Spot | None:
        return next((s for s in self.spots if s.key == key), None)


def heatmap(store: Store, period: Period, url: str, bucket: str | None = None,
            segment: Segment | None = None, spot: str | None = None) -> Heatmap:
    """``bucket`` None: the bucket with the most clicks (ties: desktop first); ``spot``: the
    key of the hot spot whose clicks to list (earliest first, at most ``SPOT_CLICKS``)."""
    scope = Scope(period.since, period.until, segment or Segment())
    found = store.click_cells(scope, url, bucket, CELL_PX)
    result = Heatmap(url, found.bucket, found.counts, representative=found.representative)
    if not found.cells or found.width is None:
        return result
    result.total = sum(c.count for c in found.cells)
    result.page_height = float(found.max_y or 0) + CELL_PX
    spots = [Spot(c.gx, c.gy, c.count, c.sessions, (c.sum_x / c.count, c.sum_y / c.count))
             for c in found.cells]
    result.spots = sorted(spots, key=lambda s: (-s.count, s.gy, s.gx))[:MAX_SPOTS]
    result.top_elements = top_counts(found.elements, TOP_ELEMENTS)
    asked = result.spot(spot) if spot else None
    if asked is not None:
        asked.clicks = store.click_spot(scope, url, found.bucket, found.width,
                                        (asked.gx, asked.gy), CELL_PX, SPOT_CLICKS)
    return result
