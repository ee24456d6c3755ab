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

    def _form_facts(self, scope: Scope, kind: str, url: str | None, units: bool = True
                    ) -> list[Any]:
        """``units``: only the facts of a page view, read through facts_forms (by_page: the
        time range as ``ts_ms + 0``, so SQLite does not prefer the (kind, ts_ms) index)."""
        f = self.tables.facts
        where = [*self._fact_where(scope, (kind,), url, by_page=True), f.c.url > ""]
        return [*where, f.c.form_pv.is_not(None)] if units else where

    def _unit_fields(self, scope: Scope, url: str | None) -> Any:
        """Per unit and field: first and last input, inputs."""
        f = self.tables.facts
        pv = f.c.form_pv
        first = sa.func.coalesce(f.c.form_first_ms, f.c.ts_ms)
        last = sa.func.coalesce(f.c.form_last_ms, f.c.ts_ms)
        inputs = sa.case((sa.or_(f.c.value.is_(None), f.c.value == 0), 1.0), else_=f.c.value)
        node = sa.func.coalesce(f.c.key, "")
        return (sa.select(f.c.url, f.c.session_id.label("sid"), f.c.window_id.label("wid"),
                          pv.label("pv"), node.label("node"), sa.func.min(first).label("first"),
                          sa.func.max(last).label("last"), sa.func.sum(inputs).label("n"))
                .where(*self._form_facts(scope, "form_field", url))
                # in facts_forms' order (a NULL key, which ingest never writes, groups alone)
                .group_by(f.c.url, f.c.session_id, f.c.window_id, pv, f.c.key)
                .cte("unit_fields"))

    def _submits(self, scope: Scope, url: str | None, by_form: bool) -> Any:
        """Per unit (and form): the last submit."""
        f = self.tables.facts
        pv = f.c.form_pv
        keys = [f.c.key.label("form")] if by_form else []
        return (sa.select(f.c.url, f.c.session_id.label("sid"), f.c.window_id.label("wid"),
                          pv.label("pv"), *keys, sa.func.max(f.c.ts_ms).label("last_submit"))
                .where(*self._form_facts(scope, "form_submit", url))
                .group_by(f.c.url, f.c.session_id, f.c.window_id, pv, *keys)
                .cte("submits_by_form" if by_form else "submits"))

    @staticmethod
    def _same_unit(a: Any, b: Any) -> Any:
        return sa.and_(a.c.url == b.c.url, a.c.sid == b.c.sid, a.c.wid == b.c.wid,
                       a.c.pv == b.c.pv)

    def form_groups(self, scope: Scope, url: str | None = None) -> FormGroups:
        f = self.tables.facts
        uf = self._unit_fields(scope, url)
        sub = self._submits(scope, url, by_form=False)
        per_unit = (sa.select(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv,
                              sa.func.min(uf.c.first).label("first_input"),
                              sa.func.count().label("fields"))
                    .group_by(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv).subquery())
        units = (sa.select(per_unit, sa.case((sub.c.last_submit >= per_unit.c.first_input, 1),
                                             else_=0).label("submitted"))
                 .select_from(per_unit.outerjoin(sub, self._same_unit(per_unit, sub)))
                 .cte("units"))
        sessions = (sa.select(units.c.url, sa.func.min(units.c.submitted).label("done"))
                    .group_by(units.c.url, units.c.sid).subquery())
        submits = {u: int(n) for u, n in self._read(
            sa.select(f.c.url, sa.func.count())
            .where(*self._form_facts(scope, "form_submit", url, units=False)).group_by(f.c.url))}
        pages = [PageGroup(u, int(started), int(done or 0), submits.get(u, 0))
                 for u, started, done in self._read(
                     sa.select(sessions.c.url, sa.func.count(), sa.func.sum(sessions.c.done))
                     .group_by(sessions.c.url))]
        if url is not None and pages:
            best = self._read(sa.select(units.c.sid, units.c.wid, units.c.pv).order_by(
                units.c.fields.desc(), self._bytewise(units.c.sid), self._bytewise(units.c.wid),
                units.c.pv).limit(1))
            if best:
                pages[0].best = Moment(best[0][0], best[0][1], int(best[0][2]))
        fields = {(u, node): FieldGroup(u, node, int(who), int(n), float(fill or 0),
                                        int(inputs) - int(n))
                  for u, node, who, n, fill, inputs in self._read(
                      sa.select(uf.c.url, uf.c.node, sa.func.count(sa.distinct(uf.c.sid)),
                                sa.func.count(), sa.func.sum(uf.c.last - uf.c.first),
                                sa.func.sum(uf.c.n))
                      .group_by(uf.c.url, uf.c.node))}
        # each unit not submitted left at its last typed field
        last = (sa.select(uf, sa.func.row_number().over(
            partition_by=(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv),
            order_by=(uf.c.last.desc(), self._bytewise(uf.c.node).desc())).label("rank"))
            .select_from(uf.join(units, self._same_unit(uf, units)))
            .where(units.c.submitted == 0).subquery())
        left = (sa.select(last.c.url, last.c.node, last.c.sid, last.c.wid, last.c.last,
                          sa.func.row_number().over(
                              partition_by=(last.c.url, last.c.node),
                              order_by=(self._bytewise(last.c.sid), self._bytewise(last.c.wid),
                                        last.c.pv)).label("nth"),
                          sa.func.count().over(partition_by=(last.c.url, last.c.node))
                          .label("drops"))
                .where(last.c.rank == 1).subquery())
        for u, node, sid, wid, moment, _, drops in self._read(
                sa.select(left).where(left.c.nth <= EXAMPLES)
                .order_by(left.c.url, left.c.node, left.c.nth)):
            group = fields[(u, node)]
            group.drop_offs = int(drops)
            group.examples.append(Moment(sid, wid, int(moment)))
        return FormGroups(pages, list(fields.values()))

    def form_completion(self, scope: Scope, url: str, forms: Mapping[str, str]
                        ) -> dict[str, tuple[int, int]]:
        if not forms:
            return {}
        uf = self._unit_fields(scope, url)
        sub = self._submits(scope, url, by_form=True)
        nodes = sorted(forms)
        form = sa.case(*((uf.c.node == n, forms[n]) for n in nodes)).label("form")
        typed = (sa.select(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv, form)
                 .where(uf.c.node.in_(nodes))
                 .group_by(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv, form).subquery())
        # a unit's first input is over all its fields, not only the form's
        first = (sa.select(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv,
                           sa.func.min(uf.c.first).label("first_input"))
                 .group_by(uf.c.url, uf.c.sid, uf.c.wid, uf.c.pv).subquery())
        done = sa.case((sub.c.last_submit >= first.c.first_input, typed.c.sid))
        rows = self._read(
            sa.select(typed.c.form, sa.func.count(sa.distinct(typed.c.sid)),
                      sa.func.count(sa.distinct(done)))
            .select_from(typed.join(first, self._same_unit(typed, first))
                         .outerjoin(sub, sa.and_(self._same_unit(typed, sub),
                                                 sub.c.form == typed.c.form)))
            .group_by(typed.c.form))
        return {name: (int(who), int(submitted)) for name, who, submitted in rows}
