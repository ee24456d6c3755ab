"""Engagement scores kept current at ingest in the SQL store, so the engagement page sorts and
bins a column instead of reading every session's facts.

Each session row carries its signals (``eng_*`` columns, schema step 8) and its score. They
are computed by the one definition in :mod:`sentiero.analytics.engagement` (``signals_of``,
``scored``): after a batch, its own facts are added to the stored counts; the session's page
views and form fields are read back only when the batch brought one (revisits and refills count
distinct pages and fields); the score is taken again against the session's new span. The page
then asks SQL for the top rows, the score distribution and the total.

Mixed into :class:`~sentiero.stores.sql.SQLStore`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sentiero.analytics import engagement as eng
from sentiero.analytics.query import Scope
from sentiero.stores.base import Fact
from sentiero.stores.sql_schema import ENGAGEMENT_COLUMNS

# (column, Signals attribute); the last column is the score
SIGNAL_COLUMNS = tuple((name, name.removeprefix("eng_")) for name in ENGAGEMENT_COLUMNS[:-1])
KINDS = frozenset(eng.KINDS)
DISTINCT_KINDS = frozenset(("page_view", "form_field"))  # signals that count distinct things


def _stored_signals(row: Any) -> eng.Signals:
    signals = eng.Signals()
    for name, attr in SIGNAL_COLUMNS:
        value = getattr(row, name, None)
        if value is not None:
            setattr(signals, attr, value if attr in ("idle_ms", "last_error_ms") else int(value))
    return signals


def _columns_of(signals: eng.Signals, score: int) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(signals, attr) for name, attr in SIGNAL_COLUMNS}
    out["eng_score"] = score
    return out


def _facts_of(conn: Connection, facts: sa.Table, session_ids: Iterable[str],
              kinds: frozenset[str] = KINDS) -> dict[str, list[Fact]]:
    f = facts
    stmt = sa.select(f.c.kind, f.c.session_id, f.c.window_id, f.c.ts_ms, f.c.url, f.c.key,
                     f.c.value).where(f.c.session_id.in_(list(session_ids)),
                                      f.c.kind.in_(sorted(kinds)))
    out: dict[str, list[Fact]] = defaultdict(list)
    for kind, sid, wid, ts, url, key, value in conn.execute(stmt):
        out[sid].append(Fact(kind, sid, wid, int(ts), url, {}, key, value))
    return out


def engagement_changes(conn: Connection, facts: sa.Table, session: Any,
                       batch_facts: Sequence[Fact], first_ms: int | None, last_ms: int | None
                       ) -> dict[str, Any]:
    """The session's ``eng_*`` columns after a batch (its facts already inserted). Counts
    and sums add the batch's own facts to the stored signals; only revisits and refills,
    which need every page view and field of the session, read them back, and only when the
    batch brought one."""
    mine = [f for f in batch_facts if f.kind in KINDS]
    if session.event_count == 0:  # a new session: this batch is all there is
        signals = eng.signals_of(mine)
    elif session.eng_score is None:  # stored before the columns were kept
        signals = eng.signals_of(_facts_of(conn, facts, [session.session_id], KINDS)
                                 .get(session.session_id, ()))
    else:
        signals = _stored_signals(session)
        added = eng.signals_of(f for f in mine if f.kind not in DISTINCT_KINDS)
        signals.rage += added.rage
        signals.dead += added.dead
        signals.idle_ms += added.idle_ms
        signals.thrash += added.thrash
        if added.last_error_ms is not None:
            signals.last_error_ms = max(signals.last_error_ms or added.last_error_ms,
                                        added.last_error_ms)
        if any(f.kind in DISTINCT_KINDS for f in mine):
            again = eng.signals_of(_facts_of(conn, facts, [session.session_id], DISTINCT_KINDS)
                                   .get(session.session_id, ()))
            signals.churn, signals.pages, signals.refills = again.churn, again.pages, \
                again.refills
    columns = _columns_of(signals, eng.scored(signals, first_ms, last_ms))
    return {k: v for k, v in columns.items() if getattr(session, k) != v}


def backfill(conn: Connection, tables: Any, page: int = 1000) -> None:
    """Score every session already stored (schema step 8)."""
    s = tables.sessions
    after = ""
    while True:
        rows = conn.execute(
            sa.select(s.c.session_id, s.c.first_ms, s.c.last_ms)
            .where(s.c.session_id > after).order_by(s.c.session_id).limit(page)).all()
        if not rows:
            return
        by_session = _facts_of(conn, tables.facts, [r.session_id for r in rows])
        updates = []
        for r in rows:
            signals = eng.signals_of(by_session.get(r.session_id, ()))
            values = _columns_of(signals, eng.scored(signals, r.first_ms, r.last_ms))
            updates.append({"sid": r.session_id, **values})
        conn.execute(
            sa.update(s).where(s.c.session_id == sa.bindparam("sid"))
            .values({name: sa.bindparam(name) for name in updates[0] if name != "sid"}),
            updates)
        after = rows[-1].session_id


class SQLEngagement:
    """The engagement page's query (sentiero.analytics.engagement) in SQL."""

    tables: Any
    _read: Any
    _rows: Any
    _session_where: Any

    def engagement_scores(self, scope: Scope, sort: str, limit: int) -> eng.Engagement:
        s = self.tables.sessions
        where = self._session_where(scope)
        score = sa.func.coalesce(s.c.eng_score, 0)
        bin_ = sa.case(*((score >= 20 * i, i) for i in range(len(eng.BINS) - 1, 0, -1)),
                       else_=0).label("bin")
        counts = [0] * len(eng.BINS)
        total = score_sum = 0
        for b, n, points in self._read(sa.select(bin_, sa.func.count(), sa.func.sum(score))
                                       .where(*where).group_by(bin_)):
            counts[int(b)] = int(n)
            total += int(n)
            score_sum += int(points or 0)
        if sort == "duration":
            order = [sa.func.coalesce(s.c.last_ms - s.c.first_ms, 0).desc(), s.c.session_id]
        else:
            order = [score.desc(), s.c.session_id]
        rows = self._rows(where, limit, 0, order) if total else []
        stored = {r.session_id: r for r in self._read(
            sa.select(s.c.session_id, *(s.c[n] for n, _ in SIGNAL_COLUMNS))
            .where(s.c.session_id.in_([r.session_id for r in rows])))} if rows else {}
        items = []
        for row in rows:
            signals = _stored_signals(stored[row.session_id])
            items.append(eng.SessionScore(row, signals,
                                          eng.scored(signals, row.first_ms, row.last_ms)))
        return eng.Engagement(items, total, list(zip(eng.BINS, counts, strict=True)),
                              eng.average_of(score_sum, total))
