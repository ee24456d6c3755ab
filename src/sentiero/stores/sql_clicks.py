"""Clicks (the heatmap; rules in sentiero.analytics.clicks) and scroll depth (rules in
sentiero.analytics.scroll) in SQL: click geometry grouped per bucket, cell and element, and the
scroll facts' few columns grouped by the scroll rule, each answerable per UTC day for the day
cache. Mixed into SQLStore after SQLAnalytics, whose ``_fact_where`` and ``_read`` it uses.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from sentiero.analytics import clicks
from sentiero.analytics.query import Scope
from sentiero.stores.base import DAY_MS, Fact
from sentiero.stores.sql_schema import CLICK_COLUMNS


def _plain(number: float) -> float:
    """A stored double as ingest had it: whole numbers as ints (so pages print 1280, not
    1280.0, on every store)."""
    return int(number) if float(number).is_integer() else float(number)


def _view(row: Any) -> tuple[int, int, str, str]:
    n, pv, sid, wid = row
    return int(n), int(pv), sid, wid


def click_values(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A fact's click geometry columns (schema step 11): all None unless it is a click the
    heatmap can place."""
    g = clicks.geometry(kind, data)
    if g is None:
        return dict.fromkeys(CLICK_COLUMNS)
    return {"click_x": float(g.x), "click_y": float(g.y), "click_vw": float(g.vw),
            "click_vh": None if g.vh is None else float(g.vh), "click_pv": g.pv}


class SQLClicks:
    """The heatmap's and the scroll depth page's queries of the SQL store."""

    tables: Any
    backend: str
    _fact_where: Any
    _read: Any

    # --- clicks (the heatmap; rules in sentiero.analytics.clicks) ------------------------

    _sqlite_floor: bool | None = None

    def _floor(self, value: Any) -> Any:
        if self.backend == "sqlite":  # floor() only when SQLite was built with math functions
            if self._sqlite_floor is None:
                try:
                    self._read(sa.select(sa.func.floor(1.5)))
                    self._sqlite_floor = True
                except sa.exc.OperationalError:
                    self._sqlite_floor = False
            if not self._sqlite_floor:
                whole = sa.cast(value, sa.Integer)  # truncates towards zero
                return sa.case((value < whole, whole - 1), else_=whole)
        return sa.func.floor(value)

    def _click_where(self, scope: Scope, url: str, bucket: str | None,
                     span: str | None = None) -> list[Any]:
        f = self.tables.facts
        # only clicks have a viewport width (no kind condition: it would lead the planner to
        # the kind index, which does not hold the geometry)
        where = [*self._fact_where(scope, (), url, span=span), f.c.click_vw.is_not(None)]
        if bucket is not None:
            _, _, lo, hi = next(b for b in clicks.BUCKETS if b[0] == bucket)
            where += [f.c.click_vw >= lo, f.c.click_vw < hi]
        return where

    def _click_cell(self, width: float, cell_px: int) -> tuple[Any, Any, Any]:
        f = self.tables.facts
        x = f.c.click_x * float(width) / f.c.click_vw
        return (self._floor(x / float(cell_px)), self._floor(f.c.click_y / float(cell_px)), x)

    # click_cells in three groupable parts, each answerable per UTC day (``per_day``; the
    # day cache, sql_day_cache.py, keeps closed days' answers): clicks and the deepest click
    # per bucket and selector, the busiest page view, the cells of the layout

    def _click_day(self) -> Any:
        f = self.tables.facts
        return (f.c.ts_ms - f.c.ts_ms % DAY_MS).label("day")

    def click_groups(self, scope: Scope, url: str, span: str | None = None,
                     per_day: bool = False) -> Any:
        """{(bucket, selector): (clicks, deepest page y)} of one page's clicks in scope."""
        f = self.tables.facts
        vw = f.c.click_vw
        # every stored click_vw is in some bucket (clicks.geometry): the upper bounds suffice
        which = sa.case(*((vw < hi, key) for key, _, _, hi in clicks.BUCKETS[:-1]),
                        else_=clicks.BUCKETS[-1][0]).label("bucket")
        day = self._click_day() if per_day else sa.null()
        days: dict[int, dict[tuple[str, str | None], tuple[int, float]]] = {}
        for d, key, selector, n, y in self._read(
                sa.select(day, which, f.c.key, sa.func.count(), sa.func.max(f.c.click_y))
                .where(*self._click_where(scope, url, None, span))
                .group_by(which, f.c.key, *((day,) if per_day else ()))):
            days.setdefault(int(d or 0), {})[(key, selector)] = (int(n), _plain(y))
        return days if per_day else days.get(0, {})

    def click_view(self, scope: Scope, url: str, bucket: str, span: str | None = None,
                   per_day: bool = False) -> Any:
        """The page view with the most clicks of ``bucket`` (ties: earliest page view, then
        session and window id) as (clicks, pv, session id, window id), None when no click
        knows its page view. A page view lies on one day unless its session spans days."""
        f = self.tables.facts
        n = sa.func.count()
        where = [*self._click_where(scope, url, bucket, span), f.c.click_pv.is_not(None)]
        views = [f.c.session_id, f.c.window_id, f.c.click_pv]
        order = (n.desc(), f.c.click_pv, f.c.session_id, f.c.window_id)
        if not per_day:
            found = self._read(sa.select(n, f.c.click_pv, f.c.session_id, f.c.window_id)
                               .where(*where).group_by(*views).order_by(*order).limit(1))
            return _view(found[0]) if found else None
        day = self._click_day()
        ranked = sa.select(day, n.label("n"), *views, sa.func.row_number().over(
            partition_by=day, order_by=order).label("rank")
        ).where(*where).group_by(day, *views).subquery()
        return {int(r[0]): _view(r[1:]) for r in self._read(
            sa.select(ranked.c.day, ranked.c.n, ranked.c.click_pv, ranked.c.session_id,
                      ranked.c.window_id).where(ranked.c.rank == 1))}

    def click_grid(self, scope: Scope, url: str, bucket: str, width: float, cell_px: int,
                   span: str | None = None, per_day: bool = False) -> Any:
        """{(column, row): (clicks, distinct sessions, scaled x summed, page y summed)} of
        ``bucket``'s clicks in a layout ``width`` px wide."""
        f = self.tables.facts
        gx, gy, x = self._click_cell(width, cell_px)
        gx, gy = gx.label("gx"), gy.label("gy")
        day = self._click_day() if per_day else sa.null()
        days: dict[int, dict[tuple[int, int], tuple[int, int, float, float]]] = {}
        for d, cx, cy, count, who, sx, sy in self._read(
                sa.select(day, gx, gy, sa.func.count(), sa.func.count(sa.distinct(f.c.session_id)),
                          sa.func.sum(x), sa.func.sum(f.c.click_y))
                .where(*self._click_where(scope, url, bucket, span))
                .group_by(gx, gy, *((day,) if per_day else ()))):
            days.setdefault(int(d or 0), {})[(int(cx), int(cy))] = (
                int(count), int(who), float(sx), float(sy))
        return days if per_day else days.get(0, {})

    def click_cells(self, scope: Scope, url: str, bucket: str | None, cell_px: int
                    ) -> clicks.ClickCells:
        f = self.tables.facts
        groups = self.click_groups(scope, url)
        counts = dict.fromkeys(clicks.BUCKET_KEYS, 0)
        for (key, _), (n, _) in groups.items():
            counts[key] += n
        bucket = clicks.pick_bucket(counts, bucket)
        if not counts[bucket]:
            return clicks.ClickCells(counts, bucket, None, None, [], {}, None)
        elements = {selector: n for (key, selector), (n, _) in groups.items()
                    if key == bucket and selector}
        max_y = max(y for (key, _), (_, y) in groups.items() if key == bucket)
        where = self._click_where(scope, url, bucket)
        view = self.click_view(scope, url, bucket)
        representative = None
        if view is not None:
            _, pv, sid, wid = view
            # its size: that of its latest click (by the session's index)
            width, height = self._read(
                sa.select(f.c.click_vw, f.c.click_vh)
                .where(f.c.session_id == sid, f.c.window_id == wid, f.c.click_pv == pv,
                       *where)
                .order_by(f.c.ts_ms.desc(), f.c.id.desc()).limit(1))[0]
            representative = clicks.PageView(sid, wid, pv, _plain(width),
                                             None if height is None else _plain(height))
            width = representative.width
        else:  # no click knows its page view: the earliest click's layout
            width = _plain(self._read(sa.select(f.c.click_vw).where(*where)
                                      .order_by(f.c.ts_ms, f.c.id).limit(1))[0][0])
        cells = [clicks.Cell(cx, cy, count, who, sx, sy) for (cx, cy), (count, who, sx, sy)
                 in self.click_grid(scope, url, bucket, width, cell_px).items()]
        return clicks.ClickCells(counts, bucket, representative, width, cells, elements,
                                 max_y)

    def click_spot(self, scope: Scope, url: str, bucket: str, width: float,
                   cell: tuple[int, int], cell_px: int, limit: int) -> list[clicks.Click]:
        f = self.tables.facts
        gx, gy, x = self._click_cell(width, cell_px)
        rows = self._read(
            sa.select(f.c.session_id, f.c.window_id, f.c.ts_ms, x, f.c.click_y, f.c.key)
            .where(*self._click_where(scope, url, bucket), gx == cell[0], gy == cell[1])
            .order_by(f.c.ts_ms, f.c.session_id, f.c.id).limit(limit))
        return [clicks.Click(sid, wid, int(ts), float(cx), float(cy), key)
                for sid, wid, ts, cx, cy, key in rows]

    # --- scroll depth (rules in sentiero.analytics.scroll) --------------------------------

    def scroll_groups(self, scope: Scope, url: str | None = None, span: str | None = None,
                      per_day: bool = False) -> Any:
        """The scroll facts' few columns, grouped by the one rule of
        ``scroll.generic_scroll_groups`` (per UTC day with ``per_day``: the day cache keeps
        closed days' groups, so a request reads only the open part of its range)."""
        from sentiero.analytics.scroll import generic_scroll_groups

        f = self.tables.facts
        where = self._fact_where(scope, ("scroll",), url, by_page=url is not None, span=span)
        loads = orjson.loads
        days: dict[int, list[Fact]] = {}
        # sorted here: ORDER BY leads the planners to walk the time index over every kind
        rows = sorted(tuple(r) for r in self._read(
            sa.select(f.c.ts_ms, f.c.id, f.c.session_id, f.c.window_id, f.c.url, f.c.data_json,
                      f.c.value).where(*where, f.c.value > 0, f.c.url > "")))
        for ts, _, sid, wid, page, data, value in rows:
            day = int(ts) - int(ts) % DAY_MS if per_day else 0
            days.setdefault(day, []).append(Fact("scroll", sid, wid, int(ts), page, loads(data),
                                                 None, value))
        groups = {d: generic_scroll_groups(facts) for d, facts in days.items()}
        return groups if per_day else groups.get(0, [])
