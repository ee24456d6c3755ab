"""Goals and funnel steps in SQL (rules in sentiero.analytics.conversions and .funnel): the
facts that match a step, chained per session in Python, and the conversions page's sessions
grouped by entry page, referrer and UTM values. Mixed into SQLStore after SQLAnalytics, whose
building blocks (``_fact_where``, ``_rows``, ``_read``) it uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from sentiero.analytics.query import Scope, SessionRow
from sentiero.stores.base import Fact, to_ms
from sentiero.stores.sql_analytics import url_like
from sentiero.stores.sql_day_cache import DAY_US

if TYPE_CHECKING:
    from sentiero.analytics.conversions import GoalGroup
    from sentiero.analytics.funnel import Step
    from sentiero.stores.base import Store


class SQLGoals:
    """Funnel steps and conversion goals of the SQL store."""

    tables: Any
    backend: str
    _fact_where: Any
    _session_where: Any
    _rows: Any
    _read: Any

    # --- goals and funnel steps (sentiero.analytics.conversions, .funnel) ----------------

    def _step_where(self, step: Step) -> list[Any] | None:
        """What a fact matching ``step`` is, in SQL; None when SQL cannot say it exactly (a
        glob with a ``[...]`` class, which LIKE does not have)."""
        f = self.tables.facts
        if step.kind == "tag":
            return [f.c.kind == "custom", f.c.key == step.value[:200]]
        if "[" in step.value and ("*" in step.value or "?" in step.value):
            return None
        return [f.c.kind == "page_view",
                sa.func.lower(f.c.url).like(url_like(step.value), escape="\\")]

    def step_events(self, scope: Scope, steps: list[Step], span: str | None = None
                    ) -> dict[str, list[tuple[int, str, frozenset[int]]]]:
        """``span``: as ``_fact_where``'s (the day cache's funnel tallies)."""
        from sentiero.analytics.funnel import step_hits, step_kinds

        f = self.tables.facts
        rows: list[Any] = []
        for kind in step_kinds(steps):  # one query per kind, each on its own index
            if kind == "custom":  # by the (kind, key) index
                where = self._fact_where(scope, (kind,), None, span=span)
                where.append(f.c.key.in_(sorted({s.value for s in steps if s.kind == "tag"})))
            else:  # from facts_reads alone
                where = self._fact_where(scope, (kind,), None, by_page=True, span=span)
                where.append(f.c.url > "")  # a page (as every URL step needs): a url range
                matches = [self._step_where(s) for s in steps if s.kind == "url"]
                if all(m is not None for m in matches):  # a pre-filter: matched below
                    where.append(sa.or_(*(sa.and_(*m[1:]) for m in matches if m is not None)))
            rows += self._read(sa.select(f.c.kind, f.c.ts_ms, f.c.session_id, f.c.window_id,
                                         f.c.url, f.c.key).where(*where))
        found: dict[str, list[tuple[int, str, frozenset[int]]]] = {}
        hits: dict[tuple[str, str | None, str | None], frozenset[int]] = {}  # pages repeat
        for kind, ts, sid, wid, url, key in rows:
            hit = hits.get((kind, url, key))
            if hit is None:
                hit = hits[(kind, url, key)] = step_hits(steps, kind, url, key)
            if hit:
                found.setdefault(sid, []).append((int(ts), wid, hit))
        return found

    def _settled(self, span: str | None) -> list[Any]:
        """``span`` "single": sessions whose events and last activity are on one UTC day (the
        day cache's conversions per day); "multi": the others; None: every session."""
        if span is None:
            return []
        s = self.tables.sessions
        first_us = s.c.first_ms * 1000
        same_day = s.c.updated_us - s.c.updated_us % DAY_US == first_us - first_us % DAY_US
        if span == "single":
            # not multi_day's index: these are most sessions (the range's index finds them)
            return [s.c.first_ms.is_not(None), sa.func.coalesce(s.c.multi_day, False).is_(False),
                    same_day]
        return [sa.or_(s.c.first_ms.is_(None), s.c.multi_day.is_(True), sa.not_(same_day))]

    def goal_groups(self, scope: Scope, goal: Step, span: str | None = None,
                    per_day: bool = False) -> Any:
        """``span``: see ``_settled``; ``per_day``: {day of the sessions' last activity (epoch
        ms): their groups}."""
        from sentiero.analytics.conversions import Example, GoalGroup, generic_goal_groups

        match = self._step_where(goal)
        if match is None:
            return generic_goal_groups(cast("Store", self), scope, goal)
        f, s = self.tables.facts, self.tables.sessions
        hits = [*self._fact_where(scope, (), None, by_page=goal.kind == "url"), *match]
        chosen = [*self._session_where(scope), *self._settled(span), s.c.entry_url.is_not(None),
                  s.c.entry_url != ""]
        reached = s.c.session_id.in_(sa.select(f.c.session_id).where(*hits))
        if span == "multi":  # few sessions: listed, their facts read by session
            ids = [r[0] for r in self._read(sa.select(s.c.session_id).where(*chosen)
                                            .limit(self.MAX_LISTED_SPANNING + 1))]
            if not ids:
                return []
            if len(ids) <= self.MAX_LISTED_SPANNING:
                chosen = [s.c.session_id.in_(ids)]
                reached = s.c.session_id.in_(list(self._first_matches(scope, goal, ids)))
        converted = sa.case((reached, 1), else_=0).label("converted")
        names = ("entry_url", "referrer", "utm_source", "utm_medium", "utm_campaign")
        day = self._session_day() if per_day else sa.literal(0).label("day_us")
        base = sa.select(*(s.c[n] for n in names), converted, s.c.session_id, s.c.updated_us,
                         day).where(*chosen).subquery()
        group = [*(base.c[n] for n in names), base.c.converted, base.c.day_us]
        ranked = sa.select(
            *group, base.c.session_id, base.c.updated_us,
            sa.func.row_number().over(partition_by=group, order_by=(
                base.c.updated_us, base.c.session_id.desc())).label("rank"),
            sa.func.count().over(partition_by=group).label("n"),
        ).subquery()
        rows = self._read(sa.select(ranked).where(ranked.c.rank == 1))
        firsts = [r[7] for r in rows]
        # the example moments of the first sessions: the goal moment (earliest matching fact,
        # ties in fact order) of the converting ones, the start of the others
        moments = {sid: Example(sid, fact.window_id, fact.ts_ms)
                   for sid, fact in self._first_matches(scope, goal, firsts).items()}
        starts = {r.session_id: Example(r.session_id, r.first_window_id, None)
                  for r in self._rows_with_windows(
                      [r[7] for r in rows if not r[5]])}
        days: dict[int, list[GoalGroup]] = {}
        for entry, referrer, source, medium, campaign, conv, d, sid, updated, _, n in rows:
            days.setdefault(int(d or 0) // 1000, []).append(GoalGroup(
                entry, referrer, source, medium, campaign, bool(conv), int(n), int(updated),
                moments[sid] if conv else starts[sid]))
        return days if per_day else days.get(0, [])

    def _first_matches(self, scope: Scope, step: Step, session_ids: list[str]
                       ) -> dict[str, Fact]:
        """The earliest fact in scope matching ``step`` (ties in fact order) of each of a few
        sessions (in scope), matched by the step's own rule: their facts are few."""
        f = self.tables.facts
        lo = to_ms(scope.since, round_up=True) if scope.since is not None else None
        hi = to_ms(scope.until) if scope.until is not None else None
        found: dict[str, Fact] = {}
        for start in range(0, len(session_ids), 500):
            chunk = session_ids[start:start + 500]
            for kind, sid, wid, ts, url, key in self._read(
                    sa.select(f.c.kind, f.c.session_id, f.c.window_id, f.c.ts_ms, f.c.url, f.c.key)
                    .where(f.c.session_id.in_(chunk)).order_by(f.c.ts_ms, f.c.id)):
                if sid in found or kind not in ("custom", "page_view") or \
                        (lo is not None and ts < lo) or (hi is not None and ts > hi):
                    continue
                if step.matches_tag(key) if kind == "custom" else step.matches_url(url):
                    found[sid] = Fact(kind, sid, wid, int(ts), url, {}, key)
        return found

    def _rows_with_windows(self, session_ids: Iterable[str]) -> list[SessionRow]:
        ids = sorted(set(session_ids))
        rows: list[SessionRow] = []
        for start in range(0, len(ids), 500):
            rows.extend(self._rows([self.tables.sessions.c.session_id.in_(ids[start:start + 500])],
                                   None, 0))
        return rows
