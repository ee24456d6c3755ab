"""Click heatmaps (inventory §5.3, past the original): the clicks of one page in page
positions (the click's viewport y plus the document scroll at that moment), split by the
viewport width bucket they were made at, each bucket drawn over its own representative
snapshot of the page.

A click's x is scaled from its own viewport width to the representative page view's (so
a 1280 and a 1440 px desktop land on the same layout, as the original's normalized x); y stays
in CSS pixels from the top of the document. Clicks are binned into ``CELL_PX`` squares of the
representative layout: a hot spot is one such cell, with its clicks for the replay. The
representative page view is the bucket's one with the most clicks (ties: earliest), so its
snapshot shows the layout most clicks were made on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics.periods import Period, top_counts
from sentiero.analytics.query import Scope, Segment

if TYPE_CHECKING:
    from sentiero.stores.base import Store

BUCKETS = (("phone", "Phone", 0, 768), ("tablet", "Tablet", 768, 1024),
           ("desktop", "Desktop", 1024, 1_000_000))
BUCKET_KEYS = tuple(key for key, *_ in BUCKETS)
CELL_PX = 24
TOP_ELEMENTS = 20
SPOT_CLICKS = 50  # clicks listed behind one hot spot
MAX_SPOTS = 2_000


def bucket_of(width: float | None) -> str | None:
    if not width or width <= 0:
        return None
    return next(key for key, _, lo, hi in BUCKETS if lo <= width < hi)


@dataclass(frozen=True)
class Click:
    session_id: str
    window_id: str
    ts_ms: int
    x: float  # in the representative layout
    y: float  # page position
    selector: str | None


@dataclass
class Spot:
    gx: int
    gy: int
    clicks: list[Click] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.gx}-{self.gy}"

    @property
    def count(self) -> int:
        return len(self.clicks)

    @property
    def sessions(self) -> int:
        return len({c.session_id for c in self.clicks})

    @property
    def centre(self) -> tuple[float, float]:
        """Where its clicks were on average (the dot is drawn there)."""
        return (sum(c.x for c in self.clicks) / len(self.clicks),
                sum(c.y for c in self.clicks) / len(self.clicks))


@dataclass(frozen=True)
class PageView:
    session_id: str
    window_id: str
    pv: int
    width: float
    height: float | None


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
            segment: Segment | None = None) -> Heatmap:
    """``bucket`` None: the bucket with the most clicks (ties: desktop first)."""
    scope = Scope(period.since, period.until, segment or Segment())
    by_bucket: dict[str, list[Any]] = {key: [] for key, *_ in BUCKETS}
    for f in store.scope_facts(scope, ("click",), url=url):
        x, y, vw = f.data.get("x"), f.data.get("page_y", f.data.get("y")), f.data.get("vw")
        if not all(isinstance(v, (int, float)) for v in (x, y, vw)):
            continue
        key = bucket_of(vw)
        if key is not None:
            by_bucket[key].append(f)
    counts = {key: len(facts) for key, facts in by_bucket.items()}
    if bucket not in counts:
        order = ("desktop", "tablet", "phone")
        bucket = max(order, key=lambda k: (counts[k], -order.index(k)))
    result = Heatmap(url, bucket, counts)
    facts = by_bucket[bucket]
    if not facts:
        return result
    views: Counter[tuple[str, str, int]] = Counter()
    sizes: dict[tuple[str, str, int], tuple[float, float | None]] = {}
    for f in facts:
        pv = f.data.get("pv")
        if isinstance(pv, int):
            views[(f.session_id, f.window_id, pv)] += 1
            sizes[(f.session_id, f.window_id, pv)] = (f.data["vw"], f.data.get("vh"))
    if views:
        (sid, wid, pv), _ = min(views.items(), key=lambda kv: (-kv[1], kv[0][2], kv[0]))
        width, height = sizes[(sid, wid, pv)]
        result.representative = PageView(sid, wid, pv, width, height)
    width = result.representative.width if result.representative else facts[0].data["vw"]
    spots: dict[tuple[int, int], Spot] = {}
    elements: Counter[str] = Counter()
    for f in facts:
        x = f.data["x"] * width / f.data["vw"]
        y = float(f.data.get("page_y", f.data.get("y")))
        click = Click(f.session_id, f.window_id, f.ts_ms, x, y, f.key)
        cell = (int(x // CELL_PX), int(y // CELL_PX))
        spots.setdefault(cell, Spot(*cell)).clicks.append(click)
        if f.key:
            elements[f.key] += 1
        result.page_height = max(result.page_height, y + CELL_PX)
    result.total = len(facts)
    result.spots = sorted(spots.values(), key=lambda s: (-s.count, s.gy, s.gx))[:MAX_SPOTS]
    for s in result.spots:
        s.clicks.sort(key=lambda c: (c.ts_ms, c.session_id))
    result.top_elements = top_counts(elements, TOP_ELEMENTS)
    return result
