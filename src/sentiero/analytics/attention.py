"""Pointer-move attention map (past the original's click heatmap): where the pointer spent
time on one page, from the ``move`` facts (sentiero.ingest.facts: each page view's mouse- and
touch-move samples counted into a coarse grid per batch, never one fact per sample).

Split by viewport width bucket as the click heatmap (sentiero.analytics.heatmap) and drawn
over the same kind of representative snapshot: the bucket's page view with the most samples.
A cell's x is a share of its own viewport's width, so it lands on the representative layout
at that share; y is page pixels (scroll included)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentiero.analytics.heatmap import BUCKETS, PageView, bucket_of
from sentiero.analytics.periods import Period
from sentiero.analytics.query import Scope, Segment
from sentiero.ingest.facts import MOVE_COLUMNS, MOVE_ROW_PX

if TYPE_CHECKING:
    from sentiero.stores.base import Store

MAX_CELLS = 4_000


@dataclass
class MoveCell:
    gx: int
    gy: int
    count: int = 0
    session_ids: set[str] = field(default_factory=set)

    @property
    def sessions(self) -> int:
        return len(self.session_ids)


@dataclass
class MoveMap:
    url: str
    bucket: str
    counts: dict[str, int]  # samples per bucket (the bucket picker)
    total: int = 0
    cells: list[MoveCell] = field(default_factory=list)  # busiest first
    representative: PageView | None = None
    page_height: float = 0.0
    views: int = 0  # page views with samples in the bucket

    @property
    def peak(self) -> int:
        return self.cells[0].count if self.cells else 0

    def centre(self, cell: MoveCell) -> tuple[float, float]:
        """The cell's centre on the representative layout, in page pixels."""
        width = self.representative.width if self.representative else 0.0
        return (cell.gx + 0.5) * width / MOVE_COLUMNS, (cell.gy + 0.5) * MOVE_ROW_PX


def move_map(store: Store, period: Period, url: str, bucket: str | None = None,
             segment: Segment | None = None) -> MoveMap:
    """``bucket`` None: the bucket with the most samples (ties: desktop first)."""
    scope = Scope(period.since, period.until, segment or Segment())
    by_bucket: dict[str, list] = {key: [] for key, *_ in BUCKETS}
    for f in store.scope_facts(scope, ("move",), url=url):
        key = bucket_of(f.data.get("vw") if isinstance(f.data.get("vw"), (int, float)) else None)
        if key is not None and isinstance(f.data.get("cells"), list):
            by_bucket[key].append(f)
    counts = {key: int(sum(f.value or 0 for f in facts)) for key, facts in by_bucket.items()}
    if bucket not in counts:
        order = ("desktop", "tablet", "phone")
        bucket = max(order, key=lambda k: (counts[k], -order.index(k)))
    result = MoveMap(url, bucket, counts)
    facts = by_bucket[bucket]
    samples: Counter[tuple[str, str, int]] = Counter()
    sizes: dict[tuple[str, str, int], tuple[float, float | None]] = {}
    cells: dict[tuple[int, int], MoveCell] = {}
    for f in facts:
        pv = f.data.get("pv")
        view = (f.session_id, f.window_id, pv if isinstance(pv, int) else f.ts_ms)
        samples[view] += int(f.value or 0)
        vh = f.data.get("vh")
        sizes[view] = (float(f.data["vw"]), float(vh) if isinstance(vh, (int, float)) else None)
        for item in f.data["cells"]:
            if not (isinstance(item, list) and len(item) == 3
                    and all(isinstance(v, int) for v in item)):
                continue
            gx, gy, n = item
            cell = cells.setdefault((gx, gy), MoveCell(gx, gy))
            cell.count += n
            cell.session_ids.add(f.session_id)
            result.total += n
    if not samples:
        return result
    (sid, wid, pv), _ = min(samples.items(), key=lambda kv: (-kv[1], kv[0][2], kv[0]))
    width, height = sizes[(sid, wid, pv)]
    result.representative = PageView(sid, wid, pv, width, height)
    result.views = len(samples)
    result.cells = sorted(cells.values(), key=lambda c: (-c.count, c.gy, c.gx))[:MAX_CELLS]
    result.page_height = max(((c.gy + 1) * MOVE_ROW_PX for c in result.cells), default=0)
    return result
