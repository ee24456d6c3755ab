"""The heatmap's query (``Store.click_cells`` and ``Store.click_spot``): one page's clicks
counted per viewport-width bucket, per cell of the representative layout and per element,
and the clicks of one cell on demand. The rules live here once; the SQL store answers the
same questions with GROUP BY over the click geometry columns (schema step 11) that
:func:`geometry` fills at ingest, every other store with the generic functions below.

A click counts when its fact carries numbers for x, page y (else viewport y) and viewport
width (> 0). Its x is scaled from its own viewport width to the representative page view's
(``x * width / vw``) and binned with its page y into ``cell_px`` squares. The representative
page view of a bucket is the one with the most clicks (ties: earliest page view, then session
and window id); its size is that of its latest click."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiero.stores.base import Fact

BUCKETS = (("phone", "Phone", 0, 768), ("tablet", "Tablet", 768, 1024),
           ("desktop", "Desktop", 1024, 1_000_000))
BUCKET_KEYS = tuple(key for key, *_ in BUCKETS)
DEFAULT_ORDER = ("desktop", "tablet", "phone")  # the busiest bucket wins; ties in this order


def bucket_of(width: float | None) -> str | None:
    if not width or width <= 0:
        return None
    return next((key for key, _, lo, hi in BUCKETS if lo <= width < hi), None)


def pick_bucket(counts: dict[str, int], asked: str | None) -> str:
    """``asked`` when it is a bucket, else the one with the most clicks."""
    if asked in counts:
        return asked
    return max(DEFAULT_ORDER, key=lambda k: (counts[k], -DEFAULT_ORDER.index(k)))


@dataclass(frozen=True)
class Geometry:
    """A click where the heatmap draws it: x and page y in CSS pixels of its own viewport,
    the viewport's size, and its page view (``pv``, the page view's start time)."""

    x: float
    y: float
    vw: float
    vh: float | None
    pv: int | None


def _num(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def geometry(kind: str, data: dict[str, Any]) -> Geometry | None:
    """A click fact's geometry, None when it is not a click the heatmap can place."""
    if kind != "click":
        return None
    x, vw = _num(data.get("x")), _num(data.get("vw"))
    y = _num(data.get("page_y", data.get("y")))
    if x is None or y is None or vw is None or bucket_of(vw) is None:
        return None
    pv = data.get("pv")
    return Geometry(x, y, vw, _num(data.get("vh")),
                    pv if isinstance(pv, int) and not isinstance(pv, bool) else None)


def cell_of(g: Geometry, width: float, cell_px: int) -> tuple[int, int, float]:
    """(column, row, scaled x) of a click in a layout ``width`` px wide."""
    x = g.x * width / g.vw
    return math.floor(x / cell_px), math.floor(g.y / cell_px), x


@dataclass(frozen=True)
class PageView:
    session_id: str
    window_id: str
    pv: int
    width: float
    height: float | None


@dataclass(frozen=True)
class Cell:
    gx: int
    gy: int
    count: int
    sessions: int  # distinct
    sum_x: float  # scaled x of its clicks added up (the dot is drawn at the mean)
    sum_y: float


@dataclass(frozen=True)
class ClickCells:
    counts: dict[str, int]  # clicks per bucket, every bucket
    bucket: str  # the bucket counted below
    representative: PageView | None
    width: float | None  # the layout the cells are in (the representative's, else a click's)
    cells: list[Cell]  # in no particular order
    elements: dict[str, int]  # clicks per selector (clicks without one left out)
    max_y: float | None  # the deepest click's page y


@dataclass(frozen=True)
class Click:
    session_id: str
    window_id: str
    ts_ms: int
    x: float  # in the representative layout
    y: float  # page position
    selector: str | None


# --- the generic implementation (memory, files, Redis, Django; any custom store) ---------


def _placed(facts: Iterable[Fact]) -> list[tuple[Fact, Geometry]]:
    out = []
    for f in facts:
        g = geometry(f.kind, f.data)
        if g is not None:
            out.append((f, g))
    return out


def generic_click_cells(facts: Iterable[Fact], bucket: str | None, cell_px: int) -> ClickCells:
    """``facts``: the page's clicks in scope, in ts_ms order."""
    by_bucket: dict[str, list[tuple[Fact, Geometry]]] = {key: [] for key in BUCKET_KEYS}
    for f, g in _placed(facts):
        by_bucket[bucket_of(g.vw) or ""].append((f, g))
    counts = {key: len(found) for key, found in by_bucket.items()}
    bucket = pick_bucket(counts, bucket)
    placed = by_bucket[bucket]
    if not placed:
        return ClickCells(counts, bucket, None, None, [], {}, None)
    views: Counter[tuple[str, str, int]] = Counter()
    sizes: dict[tuple[str, str, int], tuple[float, float | None]] = {}
    for f, g in placed:
        if g.pv is not None:
            views[(f.session_id, f.window_id, g.pv)] += 1
            sizes[(f.session_id, f.window_id, g.pv)] = (g.vw, g.vh)
    representative = None
    if views:
        (sid, wid, pv), _ = min(views.items(), key=lambda kv: (-kv[1], kv[0][2], kv[0]))
        representative = PageView(sid, wid, pv, *sizes[(sid, wid, pv)])
    width = representative.width if representative else placed[0][1].vw
    counted: dict[tuple[int, int], list[Any]] = {}
    elements: Counter[str] = Counter()
    for f, g in placed:
        gx, gy, x = cell_of(g, width, cell_px)
        slot = counted.setdefault((gx, gy), [0, set(), 0.0, 0.0])
        slot[0] += 1
        slot[1].add(f.session_id)
        slot[2] += x
        slot[3] += g.y
        if f.key:
            elements[f.key] += 1
    cells = [Cell(gx, gy, n, len(who), sx, sy) for (gx, gy), (n, who, sx, sy) in counted.items()]
    return ClickCells(counts, bucket, representative, width, cells, dict(elements),
                      max(g.y for _, g in placed))


def generic_click_spot(facts: Iterable[Fact], bucket: str, width: float, cell: tuple[int, int],
                       cell_px: int, limit: int) -> list[Click]:
    """The clicks of one cell, earliest first (ties by session id)."""
    found = []
    for f, g in _placed(facts):
        if bucket_of(g.vw) != bucket:
            continue
        gx, gy, x = cell_of(g, width, cell_px)
        if (gx, gy) == cell:
            found.append(Click(f.session_id, f.window_id, f.ts_ms, x, float(g.y), f.key))
    found.sort(key=lambda c: (c.ts_ms, c.session_id))
    return found[:limit]
