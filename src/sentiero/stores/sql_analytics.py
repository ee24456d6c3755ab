"""The facts-query interface (sentiero.analytics.query) answered in SQL: filters, grouping and
counting run in the database, so an analysis reads a few rows per group instead of every
session and fact. Same answers as the generic implementation (tests/analytics checks both).

Mixed into :class:`~sentiero.stores.sql.SQLStore`; it uses the store's tables, connection
runner and dialect name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from sentiero.analytics.query import (
    DURATION_BUCKETS_MS,
    FACET_TRAITS,
    TRAITS,
    FactCount,
    Scope,
    Segment,
    SessionRow,
    fold_facets,
    metadata_text,
    newest_first,
    url_pattern_matches,
)
from sentiero.analytics.traits import Traits
from sentiero.stores.base import DAY_MS, Fact, to_ms
from sentiero.stores.sql_day_cache import DAY_US, exact_us

if TYPE_CHECKING:
    pass


MAX_PAGE_URLS = 5_000
"""Distinct page URLs matched against a segment's URL pattern one by one (more: in SQL)."""
COMMON_PAGE_VIEWS = 2_000
"""Page views of the matched URLs from which a short list probes each session instead."""


def unindexed(text: Any) -> Any:
    """A text column as no index holds it (``col || ''``, the same value), so the planner
    finds rows by the other conditions."""
    return text.concat("")


def _us(moment: datetime) -> int:
    return exact_us(moment)


def _from_us(value: int) -> datetime:
    """Exact (a float division can be a microsecond off: a range ending at a row's moment
    would miss it)."""
    return _EPOCH + timedelta(microseconds=int(value))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def url_like(pattern: str) -> str:
    """A LIKE pattern (escape ``\\``) for a URL filter: a glob when it has ``*``/``?``, else
    a substring."""
    if "*" in pattern or "?" in pattern:
        return "".join("%" if c == "*" else "_" if c == "?" else like_escape(c)
                       for c in pattern.lower())
    return f"%{like_escape(pattern.lower())}%"


SHORT_RANGE = timedelta(days=2)


def long_range(scope: Scope) -> bool:
    """Whether the scope's range has no start or is longer than ``SHORT_RANGE`` (up to now
    when it has no end): short ones (the day cache's live edges: today, a range's partial
    first day) are read by time."""
    return scope.since is None or \
        (scope.until or datetime.now(timezone.utc)) - scope.since > SHORT_RANGE


MAX_PAGE_KEYS = 300  # a page's first facts read per key up to this many keys (selectors)


class SQLAnalytics:
    """Analytics queries of the SQL store."""

    # provided by SQLStore
    tables: Any
    backend: str
    _run: Any
    _ensure_ready: Any
    _fact_pages: Any

    # --- building blocks --------------------------------------------------------------

    def _metadata_value(self, key: str) -> Any:
        col = self.tables.sessions.c.metadata_json
        if self.backend == "postgresql":
            return sa.cast(col, postgresql.JSONB).op("->>")(key)
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if self.backend == "mysql":
            return sa.func.json_unquote(sa.func.json_extract(col, path))
        return sa.cast(sa.func.json_extract(col, path), sa.Text)

    def _segment_where(self, segment: Segment, walk: bool = False) -> list[Any]:
        """``walk``: for a query that reads few sessions (``_saw_page``)."""
        s, f = self.tables.sessions, self.tables.facts
        where: list[Any] = []
        for name in ("browser", "device", "os", "country"):
            wanted = getattr(segment, name)
            if wanted is not None:
                where.append(s.c[name] == wanted)
        if segment.has_errors is not None:
            where.append(s.c.has_errors == segment.has_errors)
        if segment.min_duration_s is not None or segment.max_duration_s is not None:
            duration = s.c.last_ms - s.c.first_ms
            where.append(s.c.first_ms.is_not(None))
            if segment.min_duration_s is not None:
                where.append(duration >= segment.min_duration_s * 1000)
            if segment.max_duration_s is not None:
                where.append(duration <= segment.max_duration_s * 1000)
        if segment.metadata_key:
            value = self._metadata_value(segment.metadata_key)
            where.append(value.is_not(None))
            if segment.metadata_value is not None:
                if segment.metadata_match == "contains":
                    needle = f"%{like_escape(segment.metadata_value.lower())}%"
                    where.append(sa.func.lower(value).like(needle, escape="\\"))
                else:
                    where.append(value == segment.metadata_value)
        if segment.event_tag:
            where.append(s.c.session_id.in_(
                sa.select(f.c.session_id).where(f.c.kind == "custom",
                                                f.c.key == segment.event_tag)))
        if segment.url_pattern:
            where.append(self._saw_page(segment.url_pattern, walk))
        return where

    def _saw_page(self, pattern: str, walk: bool) -> Any:
        """The sessions that saw a page matching ``pattern``. The pattern is matched (by
        ``url_pattern_matches``, as every store does) against the distinct page-view URLs,
        read from facts_reads one seek each; the page views of those URLs are then an index
        range, and when they are many and ``walk`` (a list stopping after a page of rows, or
        a short range) each session is probed by its own facts instead of collecting every
        session that saw them. With too many distinct URLs, the URLs are matched in SQL."""
        f, s = self.tables.facts, self.tables.sessions
        urls = self._page_urls()
        if urls is None:  # LIKE has no ``[...]`` classes: a glob with one matches literally
            matched: Any = sa.func.lower(f.c.url).like(url_like(pattern), escape="\\")
        else:
            found = [u for u in urls if url_pattern_matches(pattern, u)]
            if not found:
                return sa.false()
            matched = f.c.url.in_(found)
        if walk and urls is not None:
            views = sa.select(sa.literal(1)).where(f.c.kind == "page_view", matched)
            common = self._read(sa.select(sa.func.count()).select_from(
                views.limit(COMMON_PAGE_VIEWS).subquery()))[0][0] >= COMMON_PAGE_VIEWS
            if common:  # a scalar subquery, not flattened into a join: probed per session,
                # by its facts (SQLite would seek the page's in facts_reads and scan them)
                lite = self.backend == "sqlite"
                probe = (sa.select(sa.literal(1)).where(
                    f.c.session_id == s.c.session_id,
                    (unindexed(f.c.kind) if lite else f.c.kind) == "page_view",
                    (unindexed(f.c.url) if lite else f.c.url).in_(found))
                    .limit(1).scalar_subquery())
                return probe.is_not(None)
        return s.c.session_id.in_(sa.select(f.c.session_id).where(f.c.kind == "page_view",
                                                                   matched))

    def _page_urls(self) -> list[str] | None:
        """Every distinct page-view URL, None when there are more than ``MAX_PAGE_URLS``:
        a recursive query seeking the next URL in facts_reads (MySQL's, a URL prefix, keeps
        no order: a DISTINCT there)."""
        f = self.tables.facts
        if self.backend == "mysql":
            stmt: Any = sa.select(f.c.url).where(f.c.kind == "page_view",
                                                 f.c.url.is_not(None)).distinct()
        else:
            def after(previous: Any) -> Any:
                cond = [f.c.kind == "page_view", f.c.url.is_not(None)]
                if previous is not None:
                    cond.append(f.c.url > previous)
                return sa.select(f.c.url).where(*cond).order_by(f.c.url).limit(1)

            first = sa.select(after(None).scalar_subquery().label("url")).cte(
                "page_urls", recursive=True)
            stmt = first.union_all(sa.select(after(first.c.url).scalar_subquery())
                                   .where(first.c.url.is_not(None)))
            stmt = sa.select(stmt.c.url).where(stmt.c.url.is_not(None))
        urls = [u for (u,) in self._read(stmt.limit(MAX_PAGE_URLS + 1))]
        return urls if len(urls) <= MAX_PAGE_URLS else None

    def _session_where(self, scope: Scope, walk: bool = False) -> list[Any]:
        """``walk``: a list stopping after a page of rows (``_saw_page``); so is a range of
        at most two days (the day cache's live edges)."""
        s = self.tables.sessions
        where = self._segment_where(scope.segment, walk or not long_range(scope))
        if scope.since is not None:
            where.append(s.c.updated_us >= _us(scope.since))
        if scope.until is not None:
            where.append(s.c.updated_us <= _us(scope.until))
        return where

    def _fact_where(self, scope: Scope, kinds: Iterable[str], url: str | None,
                    by_page: bool = False, span: str | None = None) -> list[Any]:
        """``kinds`` empty: facts of any kind (the caller's other conditions choose them).
        ``by_page``: read through facts_reads (kind, url, key, ts_ms, session_id, value,
        window_id). SQLite's planner, with or without ANALYZE, prefers a range of the
        (kind, ts_ms) index, which holds no url, and reads every row of the kind in the range
        to test its page (4-8x slower at 100,000 sessions); written as ``ts_ms + 0`` the range
        is no index's, so it seeks the kind (and page) in facts_reads. (SQLAlchemy renders no
        ``INDEXED BY`` for SQLite: ``with_hint`` is dropped.) ``span``: "single" / "multi"
        keeps the facts of sessions within one UTC day / spanning several (sql_day_cache).
        A range of at most ``SHORT_RANGE`` is read by time whatever ``by_page`` says."""
        f, s = self.tables.facts, self.tables.sessions
        kinds = list(kinds)
        spanning = self._spanning_ids(scope) if span == "multi" else None
        # the facts of the few sessions spanning days, listed: read by session (facts_session;
        # written as ``kind || ''``, ``url || ''`` and on SQLite ``ts_ms + 0`` so that no other
        # index applies), not by testing every fact of the kind in the range against the list
        # (30 days at 100,000 sessions: 0.3 s)
        by_session = isinstance(spanning, list)
        kind = unindexed(f.c.kind) if by_session else f.c.kind
        where: list[Any] = [] if not kinds else \
            [kind == kinds[0] if len(kinds) == 1 else kind.in_(kinds)]
        # a day or two (the day cache's live edges): the time index finds the few rows
        ts = f.c.ts_ms + 0 if self.backend == "sqlite" and (
            by_session or (by_page and long_range(scope))) else f.c.ts_ms
        if scope.since is not None:
            where.append(ts >= to_ms(scope.since, round_up=True))
        if scope.until is not None:
            where.append(ts <= to_ms(scope.until))
        if url is not None:
            where.append((unindexed(f.c.url) if by_session else f.c.url) == url)
        if not scope.segment.empty:
            where.append(f.c.session_id.in_(
                sa.select(s.c.session_id).where(*self._segment_where(scope.segment))))
        if spanning is not None:
            where.append(f.c.session_id.in_(spanning))
        elif span is not None:
            where.append(f.c.session_id.not_in(
                sa.select(s.c.session_id).where(s.c.multi_day.is_(True))))
        return where

    MAX_LISTED_SPANNING = 2000

    def _spanning_ids(self, scope: Scope) -> Any:
        """The sessions spanning several days whose events overlap the scope's range: their
        ids listed (few: those active across midnight), so their facts are read by session
        (facts_session), not by testing every fact of the range; a subquery when many."""
        s = self.tables.sessions
        where = [s.c.multi_day.is_(True)]
        if scope.since is not None:
            where.append(s.c.last_ms >= to_ms(scope.since, round_up=True))
        if scope.until is not None:
            where.append(s.c.first_ms <= to_ms(scope.until))
        stmt = sa.select(s.c.session_id).where(*where)
        ids = [r[0] for r in self._read(stmt.limit(self.MAX_LISTED_SPANNING + 1))]
        return stmt if len(ids) > self.MAX_LISTED_SPANNING else ids

    def _read(self, stmt: Any) -> list[Any]:
        self._ensure_ready()
        return self._run(lambda conn: list(conn.execute(stmt)), write=False)

    # --- the interface ----------------------------------------------------------------

    def analytics_sessions(self, scope: Scope, limit: int | None = None, offset: int = 0
                           ) -> list[SessionRow]:
        return self._rows(self._session_where(scope, walk=limit is not None), limit, offset)

    def session_rows(self, session_ids: Iterable[str]) -> list[SessionRow]:
        ids = sorted(set(session_ids))
        rows: list[SessionRow] = []
        for start in range(0, len(ids), 1000):
            rows.extend(self._rows([self.tables.sessions.c.session_id.in_(ids[start:start + 1000])],
                                   None, 0, first_window=False))
        return rows

    def _rows(self, where: list[Any], limit: int | None, offset: int,
              order_by: list[Any] | None = None, first_window: bool = True
              ) -> list[SessionRow]:
        """``first_window`` False: leave ``first_window_id`` None (a lookup per row)."""
        s, w = self.tables.sessions, self.tables.windows
        window = (
            sa.select(w.c.window_id).where(w.c.session_id == s.c.session_id)
            .order_by(w.c.first_ms.is_(None), w.c.first_ms, w.c.window_id).limit(1)
            .scalar_subquery() if first_window else sa.null()
        )
        stmt = (
            sa.select(s.c.session_id, s.c.created_us, s.c.updated_us, s.c.first_ms, s.c.last_ms,
                      s.c.event_count, s.c.has_errors, s.c.metadata_json,
                      *(s.c[name] for name in TRAITS), window.label("first_window"))
            .where(*where)
            .order_by(*(order_by or (s.c.updated_us.desc(), s.c.session_id)))
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        traits = len(TRAITS)
        out = []
        for r in self._read(stmt):  # positions, not Row attributes: several times cheaper
            sid, created, updated, first, last, events, errors, metadata, *rest = tuple(r)
            out.append(SessionRow(sid, _from_us(created), _from_us(updated), first, last,
                                  int(events), bool(errors), orjson.loads(metadata),
                                  Traits(*rest[:traits]), rest[traits]))
        return out

    # ``per_day`` (the day cache, sql_day_cache.py): the same answer for each UTC day of the
    # scope, {day epoch ms: answer} (sessions by last activity, facts by their time), in one
    # query; days without rows are absent

    def _session_day(self) -> Any:
        us = self.tables.sessions.c.updated_us
        return (us - us % DAY_US).label("day_us")

    def count_sessions(self, scope: Scope, per_day: bool = False) -> Any:
        s = self.tables.sessions
        if per_day:
            day = self._session_day()
            stmt = sa.select(day, sa.func.count()).where(*self._session_where(scope)).group_by(day)
            return {int(d) // 1000: int(n) for d, n in self._read(stmt)}
        stmt = sa.select(sa.func.count()).select_from(s).where(*self._session_where(scope))
        return int(self._read(stmt)[0][0])

    def session_counts(self, scope: Scope, trait: str, per_day: bool = False) -> Any:
        if trait not in TRAITS:
            raise ValueError(f"unknown trait {trait!r}")
        s = self.tables.sessions
        col = s.c[trait]
        day = self._session_day() if per_day else sa.null()
        errored = sa.func.sum(sa.case((s.c.has_errors.is_(True), 1), else_=0))
        stmt = (sa.select(day, col, sa.func.count(), errored)
                .where(*self._session_where(scope)).group_by(col, *((day,) if per_day else ())))
        days: dict[int, dict[Any, tuple[int, int]]] = {}
        for r in self._read(stmt):
            days.setdefault(int(r[0] or 0) // 1000, {})[r[1]] = (int(r[2]), int(r[3] or 0))
        return days if per_day else days.get(0, {})

    def fact_counts(self, scope: Scope, kind: str | tuple[str, ...], by_url: bool = False,
                    by_key: bool = False, by_day: bool = False, url: str | None = None,
                    sessions: bool = True, by_kind: bool = False, span: str | None = None,
                    per_day: bool = False) -> Any:
        if per_day:
            days: dict[int, list[FactCount]] = {}
            for c in SQLAnalytics.fact_counts(self, scope, kind, by_url, by_key, True, url,
                                              sessions, by_kind, span):
                days.setdefault(cast(int, c.day), []).append(
                    c if by_day else replace(c, day=None))
            return days
        kinds = (kind,) if isinstance(kind, str) else tuple(kind)
        f = self.tables.facts
        day = (f.c.ts_ms - f.c.ts_ms % DAY_MS).label("day")
        groups = [c for c, on in ((f.c.kind, by_kind), (f.c.url, by_url), (f.c.key, by_key),
                                  (day, by_day)) if on]
        # count(DISTINCT) sorts every row of the group: only when asked for
        distinct = sa.func.count(sa.distinct(f.c.session_id)) if sessions else sa.null()
        # a page's facts over a day or two: through the time index, the page written as no
        # index's (facts_reads holds the time after the key: PostgreSQL would read the page's
        # facts of every day, 0.85 s for eight kinds at 1,000,000 sessions, 0.3 s by time)
        by_time = url is not None and not long_range(scope)
        where = self._fact_where(scope, kinds, None if by_time else url, span=span)
        if by_time:
            where.append(unindexed(f.c.url) == url)
        stmt = (sa.select(*groups, sa.func.count(), distinct, sa.func.max(f.c.ts_ms),
                          sa.func.sum(sa.func.coalesce(f.c.value, 0)))
                .where(*where))
        if groups:
            stmt = stmt.group_by(*groups)
        out = []
        for r in self._read(stmt):
            values = list(r)
            label = values.pop(0) if by_kind else ",".join(kinds)
            page = values.pop(0) if by_url else url
            key = values.pop(0) if by_key else None
            bucket = int(values.pop(0)) if by_day else None
            if int(values[0]):
                out.append(FactCount(label, page, key, int(values[0]),
                                     int(values[1]) if sessions else None, bucket,
                                     int(values[2]), float(values[3] or 0)))
        return out

    def session_facets(self, scope: Scope, by_trait: bool = True, per_day: bool = False
                       ) -> Any:
        s = self.tables.sessions
        duration = s.c.last_ms - s.c.first_ms
        bucket = sa.case(
            (sa.or_(s.c.first_ms.is_(None), s.c.last_ms.is_(None)), None),
            *((duration < edge, i) for i, edge in enumerate(DURATION_BUCKETS_MS)),
            else_=len(DURATION_BUCKETS_MS),
        ).label("bucket")
        traits = [s.c[name] if by_trait else sa.null().label(name) for name in FACET_TRAITS]
        day = self._session_day() if per_day else sa.null()
        stmt = (sa.select(*traits, s.c.has_errors, bucket, sa.func.count(),
                          sa.func.sum(sa.func.coalesce(duration, 0)), day)
                .where(*self._session_where(scope))
                .group_by(*(traits if by_trait else ()), s.c.has_errors, bucket,
                          *((day,) if per_day else ())))
        n = len(traits)
        groups: dict[int, list[Any]] = {}
        for r in self._read(stmt):
            groups.setdefault(int(r[n + 4] or 0) // 1000, []).append(
                (tuple(r[:n]), bool(r[n]), None if r[n + 1] is None else int(r[n + 1]),
                 int(r[n + 2]), int(r[n + 3] or 0)))
        if per_day:
            return {d: fold_facets(g) for d, g in groups.items()}
        return fold_facets(groups.get(0, []))

    def metadata_counts(self, scope: Scope, per_day: bool = False) -> Any:
        # sessions mostly share a few metadata objects (plan, locale, ...): group the stored
        # JSON text in SQL, then count each distinct object's pairs once, times its sessions
        s = self.tables.sessions
        day = self._session_day() if per_day else sa.null()
        stmt = (sa.select(s.c.metadata_json, sa.func.count(), day)
                .where(*self._session_where(scope))
                .group_by(s.c.metadata_json, *((day,) if per_day else ())))
        days: dict[int, dict[tuple[str, str], int]] = {}
        for text, n, d in self._read(stmt):
            counts = days.setdefault(int(d or 0) // 1000, {})
            for key, value in orjson.loads(text).items():
                group = (key, metadata_text(value))
                counts[group] = counts.get(group, 0) + int(n)
        return days if per_day else days.get(0, {})

    def latest_facts(self, scope: Scope, kind: str, per_key: int, key: str | None = None,
                     url: str | None = None) -> list[Fact]:
        f = self.tables.facts
        where = self._fact_where(scope, (kind,), url)
        if key is not None:
            where.append(f.c.key == key[:200])
        columns = (f.c.kind, f.c.session_id, f.c.window_id, f.c.ts_ms, f.c.url, f.c.data_json,
                   f.c.key, f.c.value)

        def facts_of(rows: Iterable[Any]) -> list[Fact]:
            return [Fact(kind_, sid, wid, int(ts), url, orjson.loads(data), k, value)
                    for kind_, sid, wid, ts, url, data, k, value in rows]

        if per_key == 1:  # each key's latest time (counted, so cached by day), those rows
            last = {c.key: c.last_ms for c in self.fact_counts(
                scope, kind, by_key=True, url=url, sessions=False)
                if key is None or c.key == key[:200]}
            stamps = sorted({int(ts) for ts in last.values()})
            found: list[Fact] = []
            for start in range(0, len(stamps), 500):
                found.extend(facts_of(self._read(sa.select(*columns).where(
                    *where, f.c.ts_ms.in_(stamps[start:start + 500])))))
            kept: dict[str | None, Fact] = {}
            for fact in newest_first(found):
                if fact.ts_ms == last.get(fact.key) and fact.key not in kept:
                    kept[fact.key] = fact
            return newest_first(kept.values())
        newest = (f.c.ts_ms.desc(), f.c.session_id.desc(), f.c.window_id.desc())
        if key is not None:  # one key: its newest rows
            return newest_first(facts_of(self._read(
                sa.select(*columns).where(*where).order_by(*newest).limit(per_key))))
        # rank by the index's columns first, then read only the rows kept
        ranked = sa.select(f.c.id, sa.func.row_number().over(
            partition_by=f.c.key, order_by=newest).label("rank")).where(*where).subquery()
        stmt = (sa.select(*columns).join(ranked, ranked.c.id == f.c.id)
                .where(ranked.c.rank <= per_key))
        return newest_first(facts_of(self._read(stmt)))

    def fact_maxima(self, scope: Scope, kind: str, url: str | None = None,
                    span: str | None = None, per_day: bool = False) -> Any:
        f = self.tables.facts
        where = self._fact_where(scope, (kind,), url, by_page=url is not None, span=span)
        day = (f.c.ts_ms - f.c.ts_ms % DAY_MS) if per_day else sa.null()
        stmt = (sa.select(sa.func.max(f.c.value), day).where(*where, f.c.value.is_not(None))
                .group_by(f.c.session_id, f.c.window_id, f.c.key,
                          *((day,) if per_day else ())))
        days: dict[int, list[float]] = {}
        for value, d in self._read(stmt):
            days.setdefault(int(d or 0), []).append(float(value))
        if per_day:
            return {d: sorted(v) for d, v in days.items()}
        return sorted(days.get(0, []))

    def sessions_with_each(self, scope: Scope, kinds: tuple[str, ...], url: str,
                           span: str | None = None, per_day: bool = False) -> Any:
        f = self.tables.facts
        day = (f.c.ts_ms - f.c.ts_ms % DAY_MS) if per_day else sa.null()
        days_of = (day,) if per_day else ()
        # per session (and day): how many of the kinds it has facts of
        per_session = (sa.select(f.c.session_id, day.label("day"),
                                 sa.func.count(sa.distinct(f.c.kind)).label("kinds"))
                       .where(*self._fact_where(scope, kinds, url, by_page=True, span=span))
                       .group_by(f.c.session_id, *days_of).subquery())
        stmt = (sa.select(per_session.c.day if per_day else sa.null(), sa.func.count())
                .where(per_session.c.kinds == len(set(kinds))))
        if per_day:
            stmt = stmt.group_by(per_session.c.day)
        days = {int(d or 0): int(n) for d, n in self._read(stmt)}
        return days if per_day else days.get(0, 0)

    def fact_trait_counts(self, scope: Scope, kind: str, traits: tuple[str, ...],
                          span: str | None = None, per_day: bool = False) -> Any:
        if not set(traits) <= set(FACET_TRAITS):
            raise ValueError(f"unknown traits {traits!r}")
        f, s = self.tables.facts, self.tables.sessions
        columns = [s.c[t] for t in traits]
        day = (f.c.ts_ms - f.c.ts_ms % DAY_MS) if per_day else sa.null()
        stmt = (sa.select(day, f.c.key, *columns, sa.func.count(sa.distinct(f.c.session_id)))
                .select_from(f.join(s, s.c.session_id == f.c.session_id))
                .where(*self._fact_where(scope, (kind,), None, span=span))
                .group_by(f.c.key, *columns, *((day,) if per_day else ())))
        days: dict[int, dict[tuple[Any, ...], int]] = {}
        for r in self._read(stmt):
            days.setdefault(int(r[0] or 0), {})[tuple(r[1:-1])] = int(r[-1])
        return days if per_day else days.get(0, {})

    def scope_facts(self, scope: Scope, kinds: Iterable[str], url: str | None = None,
                    limit: int | None = None) -> Iterator[Fact]:
        kinds = tuple(kinds)
        if not kinds or limit == 0:
            return iter(())
        self._ensure_ready()
        if url is not None and limit is not None:
            first = self._first_page_facts(scope, kinds, url, limit)
            if first is not None:
                return iter(first)
        f = self.tables.facts
        by_page = url is not None
        stmt = sa.select(f).where(*self._fact_where(scope, kinds, url, by_page=by_page))
        facts = self._fact_pages(stmt, limit, by_page=by_page)
        if limit is None:
            return facts
        return iter(sorted(facts, key=lambda x: (x.ts_ms, x.session_id)))

    def _first_page_facts(self, scope: Scope, kinds: tuple[str, ...], url: str, limit: int
                          ) -> list[Fact] | None:
        """The first ``limit`` facts of one page (the frustration page's incidents). Sorting
        all of a page's facts in the range for the first few read every one (at 1,000,000
        sessions, a page's rage and dead clicks over 30 days: seconds). facts_reads is in
        time order within each (kind, url, key), so each key the page has (found by skipping
        from key to key in that index: one seek each) gives its first ``limit`` in the range
        by an ordered index range that stops there; the earliest of those are the page's
        first. The cost follows the page's keys (selectors), not its facts; None when the
        page has more than ``MAX_PAGE_KEYS`` (selectors with generated ids): read them all."""
        f = self.tables.facts
        ranges = []
        for kind in kinds:
            keys = self._page_keys(kind, url)
            if keys is None:
                return None
            for key in keys:
                where = self._fact_where(scope, (kind,), url, by_page=True)
                where.append(f.c.key.is_(None) if key is None else f.c.key == key)
                ranges.append(
                    sa.select(f.c.kind, f.c.session_id, f.c.window_id, f.c.ts_ms, f.c.url,
                              f.c.data_json, f.c.key, f.c.value, f.c.id).where(*where)
                    .order_by(f.c.ts_ms, f.c.session_id, f.c.id).limit(limit))
        rows: list[Any] = []
        for start in range(0, len(ranges), 100):  # (SQLite: at most 500 in a compound)
            part = ranges[start:start + 100]
            union = part[0] if len(part) == 1 else sa.union_all(
                *(sa.select(r.subquery()) for r in part))
            rows.extend(self._read(union))
        rows.sort(key=lambda r: (r[3], r[1], r[8]))
        return [Fact(kind, sid, wid, int(ts), page, orjson.loads(data), key, value)
                for kind, sid, wid, ts, page, data, key, value, _ in rows[:limit]]

    def _page_keys(self, kind: str, url: str) -> list[str | None] | None:
        """Every key the facts of ``kind`` on ``url`` have (at any time), None included;
        None when there are more than ``MAX_PAGE_KEYS``."""
        f = self.tables.facts
        where = [f.c.kind == kind, f.c.url == url]
        keys: list[str | None] = []
        if self._read(sa.select(f.c.kind).where(*where, f.c.key.is_(None)).limit(1)):
            keys.append(None)
        after = f.c.key.is_not(None)
        while True:
            found = self._read(sa.select(f.c.key).where(*where, after)
                               .order_by(f.c.key).limit(1))
            if not found:
                return keys
            if len(keys) >= MAX_PAGE_KEYS:
                return None
            keys.append(found[0][0])
            after = f.c.key > found[0][0]

    def daily_activity(self, scope: Scope) -> list[tuple[int, int, int]]:
        s, c = self.tables.sessions, self.tables.chunks
        segment = self._segment_where(scope.segment)
        lo = to_ms(scope.since, round_up=True) if scope.since else None
        hi = to_ms(scope.until) if scope.until else None

        def bounded(col: Any) -> list[Any]:
            return [w for w in ((col >= lo) if lo is not None else None,
                                (col <= hi) if hi is not None else None) if w is not None]

        chunk_day = (c.c.first_ms - c.c.first_ms % DAY_MS).label("day")
        events = sa.select(chunk_day, sa.func.sum(c.c.event_count)).where(*bounded(c.c.first_ms))
        if segment:
            events = events.where(c.c.session_id.in_(sa.select(s.c.session_id).where(*segment)))
        events = events.group_by(chunk_day)
        start_day = (s.c.first_ms - s.c.first_ms % DAY_MS).label("day")
        starts = (sa.select(start_day, sa.func.count())
                  .where(s.c.first_ms.is_not(None), *bounded(s.c.first_ms), *segment)
                  .group_by(start_day))
        by_day: dict[int, list[int]] = {}
        for day, n in self._read(events):
            by_day.setdefault(int(day), [0, 0])[0] = int(n or 0)
        for day, n in self._read(starts):
            by_day.setdefault(int(day), [0, 0])[1] = int(n)
        return [(d, v[0], v[1]) for d, v in sorted(by_day.items())]

