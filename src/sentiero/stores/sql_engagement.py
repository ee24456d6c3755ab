"""Engagement scores kept current at ingest in the SQL store, so the engagement page sorts and
bins a column instead of reading every session's facts.

Each session row carries its signals (``eng_*`` columns, schema step 8) and its score. They
are computed by the one definition in :mod:`sentiero.analytics.engagement` (``signals_of``,
``scored``): after a batch, its own facts are added to the stored counts, and the score is
taken again against the session's new span. Revisits and refills count *distinct* pages and
form fields; the ones a session has seen are kept as 64-bit digests in ``engagement_seen``
(schema step 12), so a batch looks up only its own pages and fields there (one indexed read,
one insert of the new ones) instead of reading back every page view and field of the session:

- pages = distinct page URLs; revisits (churn) = page views with a URL − pages, so a batch
  adds its new URLs to pages and the rest of its page views to churn;
- refills = Σ inputs per field − 1 = all inputs − distinct fields, so a batch adds its inputs
  less its new fields.

The page then asks SQL for the top rows, the score distribution and the total.

Mixed into :class:`~sentiero.stores.sql.SQLStore`.
"""

from __future__ import annotations

import hashlib
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


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "big", signed=True)


def page_item(url: str) -> int:
    """The ``engagement_seen`` item of a page URL."""
    return _digest("p\0" + url)


def field_item(window_id: str, key: str | None) -> int:
    """The ``engagement_seen`` item of a form field (a node of one window, as ``signals_of``
    tells fields apart; the key as the facts table stores it)."""
    return _digest(f"f\0{window_id}:{key[:200] if key is not None else None}")


def seen_items(facts: Iterable[Fact]) -> set[int]:
    """The distinct pages and form fields among ``facts``."""
    items = set()
    for f in facts:
        if f.kind == "page_view" and f.url:
            items.add(page_item(f.url))
        elif f.kind == "form_field":
            items.add(field_item(f.window_id, f.key))
    return items


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


class Seen:
    """The ``engagement_seen`` statements of one store, built once (SQLStore._statement)."""

    def __init__(self, tables: Any, statement: Any, insert_ignore: Any,
                 returning: bool, direct: Any = None) -> None:
        """``direct``: the store's runner on the driver's cursor (SQLite, sql_direct.py), or
        None to run the statements through SQLAlchemy."""
        seen = tables.seen
        self._direct = direct
        self._select = statement("seen_select", lambda: sa.select(seen.c.item).where(
            seen.c.session_id == sa.bindparam("k_sid"),
            seen.c.item.in_(sa.bindparam("k_items", expanding=True))))
        self._insert = statement("seen_insert", lambda: sa.insert(seen))
        # PostgreSQL and SQLite insert the new items and return them in one statement
        self._add = statement("seen_add", lambda: insert_ignore(
            seen, {"session_id": sa.bindparam("session_id"), "item": sa.bindparam("item")}
        ).returning(seen.c.item)) if returning else None
        self._delete = statement("seen_delete", lambda: sa.delete(seen).where(
            seen.c.session_id == sa.bindparam("k_sid")))

    def add_new(self, conn: Connection, session_id: str, items: set[int]) -> set[int]:
        """Record ``items`` for the session; returns those it had not seen. Runs under the
        session lock, so the read and the insert cannot interleave with another writer."""
        if not items:
            return set()
        rows = [{"session_id": session_id, "item": i} for i in sorted(items)]
        if self._add is not None and self._direct is not None:
            # one row a statement: the driver's executemany returns no RETURNING rows
            add = self._add
            return {row["item"] for row in rows
                    if self._direct(conn, "seen_add", lambda: add, row).first() is not None}
        if self._add is not None:
            return set(conn.execute(self._add, rows).scalars())
        known = set(conn.execute(self._select, {"k_sid": session_id,
                                                "k_items": sorted(items)}).scalars())
        new = items - known
        self.insert(conn, session_id, new)
        return new

    def insert(self, conn: Connection, session_id: str, items: set[int]) -> None:
        """Record the items of a session that had none."""
        if not items:
            return
        rows = [{"session_id": session_id, "item": i} for i in sorted(items)]
        if self._direct is not None:
            insert = self._insert
            self._direct(conn, "seen_insert", lambda: insert, rows)
        else:
            conn.execute(self._insert, rows)

    def replace(self, conn: Connection, session_id: str, items: set[int]) -> None:
        conn.execute(self._delete, {"k_sid": session_id})
        self.insert(conn, session_id, items)


def new_session_engagement(batch_facts: Sequence[Fact], first_ms: int | None,
                           last_ms: int | None) -> dict[str, Any]:
    """The ``eng_*`` columns of a session whose first batch this is (its seen items are
    ``seen_items(batch_facts)``)."""
    signals = eng.signals_of(f for f in batch_facts if f.kind in KINDS)
    return _columns_of(signals, eng.scored(signals, first_ms, last_ms))


def engagement_changes(conn: Connection, facts: sa.Table, seen: Seen, session: Any,
                       batch_facts: Sequence[Fact], first_ms: int | None, last_ms: int | None
                       ) -> dict[str, Any]:
    """The session's ``eng_*`` columns after a batch (its facts already inserted). Counts
    and sums add the batch's own facts to the stored signals; distinct pages and fields are
    told apart by ``seen`` (module docstring). The session's stored facts are read only for a
    session stored before the columns were kept."""
    mine = [f for f in batch_facts if f.kind in KINDS]
    sid = session.session_id
    if session.event_count == 0:  # a new session: this batch is all there is
        signals = eng.signals_of(mine)
        seen.add_new(conn, sid, seen_items(mine))
    elif session.eng_score is None:  # stored before the columns were kept
        stored = _facts_of(conn, facts, [sid], KINDS).get(sid, [])
        signals = eng.signals_of(stored)
        seen.replace(conn, sid, seen_items(stored))
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
        distinct = [f for f in mine if f.kind in DISTINCT_KINDS]
        if distinct:
            _add_distinct(signals, distinct, seen.add_new(conn, sid, seen_items(distinct)))
    columns = _columns_of(signals, eng.scored(signals, first_ms, last_ms))
    return {k: v for k, v in columns.items() if getattr(session, k) != v}


def _add_distinct(signals: eng.Signals, facts: Sequence[Fact], new: set[int]) -> None:
    """Add a batch's page views and form fields to a session's signals; ``new`` holds the
    pages and fields the session had not seen before this batch."""
    pages = {page_item(f.url) for f in facts if f.kind == "page_view" and f.url}
    fields = {field_item(f.window_id, f.key) for f in facts if f.kind == "form_field"}
    views = sum(1 for f in facts if f.kind == "page_view" and f.url)
    inputs = sum(f.value or 1 for f in facts if f.kind == "form_field")
    new_pages, new_fields = len(pages & new), len(fields & new)
    signals.pages += new_pages
    signals.churn += views - new_pages
    signals.refills += int(inputs) - new_fields


def rescore(conn: Connection, tables: Any, seen: Seen, session_id: str) -> None:
    """Every ``eng_*`` column and seen item of one session again from its stored facts
    (after some of them were deleted with a window)."""
    s = tables.sessions
    row = conn.execute(sa.select(s.c.first_ms, s.c.last_ms)
                       .where(s.c.session_id == session_id)).first()
    if row is None:
        return
    stored = _facts_of(conn, tables.facts, [session_id]).get(session_id, [])
    signals = eng.signals_of(stored)
    conn.execute(sa.update(s).where(s.c.session_id == session_id).values(
        _columns_of(signals, eng.scored(signals, row.first_ms, row.last_ms))))
    seen.replace(conn, session_id, seen_items(stored))


def backfill_seen(conn: Connection, tables: Any, page: int = 1000) -> None:
    """Record the pages and fields of every session already stored (schema step 12)."""
    s, seen = tables.sessions, tables.seen
    after = ""
    while True:
        ids = list(conn.execute(sa.select(s.c.session_id).where(s.c.session_id > after)
                                .order_by(s.c.session_id).limit(page)).scalars())
        if not ids:
            return
        by_session = _facts_of(conn, tables.facts, ids, DISTINCT_KINDS)
        rows = [{"session_id": sid, "item": item} for sid in ids
                for item in sorted(seen_items(by_session.get(sid, ())))]
        if rows:
            conn.execute(sa.delete(seen).where(seen.c.session_id.in_(ids)))  # a re-run
            conn.execute(sa.insert(seen), rows)
        after = ids[-1]


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
    """The engagement page's query (sentiero.analytics.engagement) in SQL. Its two groupings,
    the score distribution and the first sessions by score or duration, are answered per
    UTC day of last activity (``per_day``), so the day cache (sql_day_cache.py) keeps closed
    days' answers: each session lies on one day, and the first ``limit`` of the range are
    among the first ``limit`` of each day."""

    tables: Any
    _read: Any
    _rows: Any
    _session_where: Any
    _session_day: Any

    def _score(self) -> Any:
        return sa.func.coalesce(self.tables.sessions.c.eng_score, 0)

    def engagement_bins(self, scope: Scope, per_day: bool = False) -> Any:
        """[sessions per score bin..., scores summed] of the sessions in scope."""
        score = self._score()
        bin_ = sa.case(*((score >= 20 * i, i) for i in range(len(eng.BINS) - 1, 0, -1)),
                       else_=0).label("bin")
        day = self._session_day() if per_day else sa.null()
        days: dict[int, list[int]] = {}
        for d, b, n, points in self._read(
                sa.select(day, bin_, sa.func.count(), sa.func.sum(score))
                .where(*self._session_where(scope)).group_by(bin_, *((day,) if per_day else ()))):
            slot = days.setdefault(int(d or 0) // 1000, [0] * (len(eng.BINS) + 1))
            slot[int(b)] += int(n)
            slot[-1] += int(points or 0)
        return days if per_day else days.get(0, [0] * (len(eng.BINS) + 1))

    def engagement_top(self, scope: Scope, sort: str, limit: int, per_day: bool = False
                       ) -> Any:
        """The first ``limit`` sessions in scope by score (or duration) descending, ties by
        id: [(score or duration, session id)]."""
        s = self.tables.sessions
        value = self._score() if sort == "score" else \
            sa.func.coalesce(s.c.last_ms - s.c.first_ms, 0)
        order = (value.desc(), s.c.session_id)
        where = self._session_where(scope)
        if not per_day:
            return [(int(v), sid) for v, sid in self._read(
                sa.select(value, s.c.session_id).where(*where).order_by(*order).limit(limit))]
        day = self._session_day()
        ranked = sa.select(day, value.label("value"), s.c.session_id, sa.func.row_number().over(
            partition_by=day, order_by=order).label("rank")).where(*where).subquery()
        days: dict[int, list[tuple[int, str]]] = {}
        for d, v, sid in self._read(sa.select(ranked.c.day_us, ranked.c.value,
                                              ranked.c.session_id)
                                    .where(ranked.c.rank <= limit)):
            days.setdefault(int(d) // 1000, []).append((int(v), sid))
        return days

    def engagement_scores(self, scope: Scope, sort: str, limit: int) -> eng.Engagement:
        s = self.tables.sessions
        *counts, score_sum = self.engagement_bins(scope)
        total = sum(counts)
        first = self.engagement_top(scope, sort, limit) if total else []
        rank = {sid: i for i, (_, sid) in enumerate(first)}
        rows = sorted(self._rows([s.c.session_id.in_(list(rank))], None, 0),
                      key=lambda r: rank[r.session_id]) if rank else []
        stored = {r.session_id: r for r in self._read(
            sa.select(s.c.session_id, *(s.c[n] for n, _ in SIGNAL_COLUMNS))
            .where(s.c.session_id.in_(list(rank))))} if rows else {}
        items = []
        for row in rows:
            signals = _stored_signals(stored[row.session_id])
            items.append(eng.SessionScore(row, signals,
                                          eng.scored(signals, row.first_ms, row.last_ms)))
        return eng.Engagement(items, total, list(zip(eng.BINS, counts, strict=True)),
                              eng.average_of(score_sum, total))
