"""The forms analysis' store queries (``form_groups``, ``form_completion``; the rules are in
sentiero.analytics.form_groups) in SQL: the form facts are grouped per unit and field, per
unit, per page and per field in the database, from the columns of schema step 14, so the
forms page reads one row per page and per field instead of every form fact's JSON.

Mixed into :class:`~sentiero.stores.sql.SQLStore` after ``SQLAnalytics`` (whose fact filters
it uses). Ties are broken by ids and node ids compared byte by byte (``C`` collation on
PostgreSQL; ids are ASCII-binary on MySQL; SQLite compares bytes), as Python compares them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from sentiero.analytics.form_groups import (
    EXAMPLES,
    FieldGroup,
    FormGroups,
    Moment,
    PageGroup,
    whole,
)
from sentiero.analytics.query import Scope
from sentiero.stores.base import DAY_MS
from sentiero.stores.sql_analytics import long_range


def form_values(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A fact's form columns (schema step 14): what ``form_groups.unit_key`` and the input
    moments read from its data, None for other facts (or when the data has no such value)."""
    if kind not in ("form_field", "form_submit"):
        return {"form_pv": None, "form_first_ms": None, "form_last_ms": None}
    field_fact = kind == "form_field"
    return {"form_pv": whole(data, "pv"),
            "form_first_ms": whole(data, "first_ms") if field_fact else None,
            "form_last_ms": whole(data, "last_ms") if field_fact else None}


class SQLForms:
    """Form queries of the SQL store."""

    # provided by SQLStore and SQLAnalytics
    tables: Any
    backend: str
    _fact_where: Any
    _read: Any

    def _bytewise(self, column: Any) -> Any:
        return sa.collate(column, "C") if self.backend == "postgresql" else column

    def _form_facts(self, scope: Scope, kind: str, url: str | None, units: bool = True,
                    span: str | None = None) -> list[Any]:
        """``units``: only the facts of a page view, read through facts_forms (by_page: the
        time range as ``ts_ms + 0``, so SQLite does not prefer the (kind, ts_ms) index).
        ``span``: as ``_fact_where``'s (the day cache)."""
        f = self.tables.facts
        if long_range(scope):
            where = [*self._fact_where(scope, (kind,), url, by_page=True, span=span),
                     f.c.url > ""]
            return [*where, f.c.form_pv.is_not(None)] if units else where
        # a short range (a live edge of the day cache) by the (kind, ts_ms) index: facts_forms
        # and facts_reads hold the page's facts of every day, and PostgreSQL would scan them
        # all for the day's few; the url and page view written so no index serves them
        return [*self._fact_where(scope, (kind,), url, span=span), f.c.url > "",
                *(((f.c.form_pv + 0).is_not(None),) if units else ())]

    def _day(self, per_day: bool) -> Any:
        """A fact's UTC day (epoch ms) with ``per_day``, else 0: the facts of a unit of a
        session within one day are all on its day, so units carry it as an aggregate."""
        ts = self.tables.facts.c.ts_ms
        return sa.func.min(ts - ts % DAY_MS) if per_day else sa.literal(0)

    def _unit_fields(self, scope: Scope, url: str | None, span: str | None,
                     per_day: bool = False) -> Any:
        """Per unit and field: first and last input, inputs (and the day)."""
        f = self.tables.facts
        pv = f.c.form_pv
        first = sa.func.coalesce(f.c.form_first_ms, f.c.ts_ms)
        last = sa.func.coalesce(f.c.form_last_ms, f.c.ts_ms)
        inputs = sa.case((sa.or_(f.c.value.is_(None), f.c.value == 0), 1.0), else_=f.c.value)
        node = sa.func.coalesce(f.c.key, "")
        return (sa.select(f.c.url, f.c.session_id.label("sid"), f.c.window_id.label("wid"),
                          pv.label("pv"), node.label("node"), sa.func.min(first).label("first"),
                          sa.func.max(last).label("last"), sa.func.sum(inputs).label("n"),
                          self._day(per_day).label("day"))
                .where(*self._form_facts(scope, "form_field", url, span=span))
                # in facts_forms' order (a NULL key, which ingest never writes, groups alone)
                .group_by(f.c.url, f.c.session_id, f.c.window_id, pv, f.c.key)
                .cte("unit_fields"))

    def _submits(self, scope: Scope, url: str | None, by_form: bool, span: str | None
                 ) -> Any:
        """Per unit (and form): the last submit."""
        f = self.tables.facts
        pv = f.c.form_pv
        keys = [f.c.key.label("form")] if by_form else []
        return (sa.select(f.c.url, f.c.session_id.label("sid"), f.c.window_id.label("wid"),
                          pv.label("pv"), *keys, sa.func.max(f.c.ts_ms).label("last_submit"))
                .where(*self._form_facts(scope, "form_submit", url, span=span))
                .group_by(f.c.url, f.c.session_id, f.c.window_id, pv, *keys)
                .cte("submits_by_form" if by_form else "submits"))

    @staticmethod
    def _same_unit(a: Any, b: Any) -> Any:
        return sa.and_(a.c.url == b.c.url, a.c.sid == b.c.sid, a.c.wid == b.c.wid,
                       a.c.pv == b.c.pv)

    def form_groups(self, scope: Scope, url: str | None = None, span: str | None = None,
                    per_day: bool = False) -> Any:
        """``span``: as ``_fact_where``'s; ``per_day``: {UTC day: its groups} (for sessions
        within one day, ``span="single"``)."""
        f = self.tables.facts
        uf = self._unit_fields(scope, url, span, per_day)
        sub = self._submits(scope, url, by_form=False, span=span)
        per_unit = (sa.select(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv,
                              sa.func.min(uf.c.first).label("first_input"),
                              sa.func.count().label("fields"), sa.func.min(uf.c.day).label("day"))
                    .group_by(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv).subquery())
        units = (sa.select(per_unit, sa.case((sub.c.last_submit >= per_unit.c.first_input, 1),
                                             else_=0).label("submitted"))
                 .select_from(per_unit.outerjoin(sub, self._same_unit(per_unit, sub)))
                 .cte("units"))
        sessions = (sa.select(units.c.url, sa.func.min(units.c.submitted).label("done"),
                              sa.func.min(units.c.day).label("day"))
                    .group_by(units.c.url, units.c.sid).subquery())
        days: dict[int, FormGroups] = {}

        def of(day: Any) -> FormGroups:
            return days.setdefault(int(day or 0), FormGroups([], []))

        day = self._day(per_day).label("day")
        for u, d, n in self._read(
                sa.select(f.c.url, day, sa.func.count())
                .where(*self._form_facts(scope, "form_submit", url, units=False, span=span))
                .group_by(f.c.url, *((f.c.ts_ms - f.c.ts_ms % DAY_MS,) if per_day else ()))):
            of(d).submits[u] = int(n)
        for u, d, started, done in self._read(
                sa.select(sessions.c.url, sessions.c.day, sa.func.count(),
                          sa.func.sum(sessions.c.done))
                .group_by(sessions.c.url, sessions.c.day)):
            groups = of(d)
            groups.pages.append(PageGroup(u, int(started), int(done or 0),
                                          groups.submits.get(u, 0)))
        if url is not None and days:
            best = (sa.select(units.c.sid, units.c.wid, units.c.pv, units.c.fields, units.c.day,
                              sa.func.row_number().over(partition_by=units.c.day, order_by=(
                                  units.c.fields.desc(), self._bytewise(units.c.sid),
                                  self._bytewise(units.c.wid), units.c.pv)).label("rank"))
                    .subquery())
            for sid, wid, pv, fields_, d, _ in self._read(
                    sa.select(best).where(best.c.rank == 1)):
                page = of(d).pages[0]
                page.best, page.best_fields = Moment(sid, wid, int(pv)), int(fields_)
        fields: dict[tuple[int, str, str], FieldGroup] = {}
        for u, node, d, who, n, fill, inputs in self._read(
                sa.select(uf.c.url, uf.c.node, uf.c.day, sa.func.count(sa.distinct(uf.c.sid)),
                          sa.func.count(), sa.func.sum(uf.c.last - uf.c.first),
                          sa.func.sum(uf.c.n))
                .group_by(uf.c.url, uf.c.node, uf.c.day)):
            group = fields[(int(d or 0), u, node)] = FieldGroup(
                u, node, int(who), int(n), float(fill or 0), int(inputs) - int(n))
            of(d).fields.append(group)
        # each unit not submitted left at its last typed field
        last = (sa.select(uf, sa.func.row_number().over(
            partition_by=(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv),
            order_by=(uf.c.last.desc(), self._bytewise(uf.c.node).desc())).label("rank"))
            .select_from(uf.join(units, self._same_unit(uf, units)))
            .where(units.c.submitted == 0).subquery())
        left = (sa.select(last.c.url, last.c.node, last.c.day, last.c.sid, last.c.wid,
                          last.c.last,
                          sa.func.row_number().over(
                              partition_by=(last.c.url, last.c.node, last.c.day),
                              order_by=(self._bytewise(last.c.sid), self._bytewise(last.c.wid),
                                        last.c.pv)).label("nth"),
                          sa.func.count().over(partition_by=(last.c.url, last.c.node,
                                                             last.c.day)).label("drops"))
                .where(last.c.rank == 1).subquery())
        for u, node, d, sid, wid, moment, _, drops in self._read(
                sa.select(left).where(left.c.nth <= EXAMPLES)
                .order_by(left.c.url, left.c.node, left.c.day, left.c.nth)):
            group = fields[(int(d or 0), u, node)]
            group.drop_offs = int(drops)
            group.examples.append(Moment(sid, wid, int(moment)))
        if per_day:
            return days
        return days.get(0, FormGroups([], []))

    def form_completion(self, scope: Scope, url: str, forms: Mapping[str, str],
                        span: str | None = None, per_day: bool = False) -> Any:
        """``span``, ``per_day``: as ``form_groups``'."""
        if not forms:
            return {}
        uf = self._unit_fields(scope, url, span, per_day)
        sub = self._submits(scope, url, by_form=True, span=span)
        nodes = sorted(forms)
        form = sa.case(*((uf.c.node == n, forms[n]) for n in nodes)).label("form")
        typed = (sa.select(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv, form)
                 .where(uf.c.node.in_(nodes))
                 .group_by(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv, form).subquery())
        # a unit's first input is over all its fields, not only the form's
        first = (sa.select(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv,
                           sa.func.min(uf.c.first).label("first_input"),
                           sa.func.min(uf.c.day).label("day"))
                 .group_by(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv).subquery())
        done = sa.case((sub.c.last_submit >= first.c.first_input, typed.c.sid))
        rows = self._read(
            sa.select(first.c.day, typed.c.form, sa.func.count(sa.distinct(typed.c.sid)),
                      sa.func.count(sa.distinct(done)))
            .select_from(typed.join(first, self._same_unit(typed, first))
                         .outerjoin(sub, sa.and_(self._same_unit(typed, sub),
                                                 sub.c.form == typed.c.form)))
            .group_by(first.c.day, typed.c.form))
        days: dict[int, dict[str, tuple[int, int]]] = {}
        for d, name, who, submitted in rows:
            days.setdefault(int(d or 0), {})[name] = (int(who), int(submitted))
        return days if per_day else days.get(0, {})
