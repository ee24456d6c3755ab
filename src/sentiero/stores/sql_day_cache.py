"""The day cache: the SQL store's analytics answers for closed UTC days, kept until a write
changes that day.

A million sessions over 90 days are ~11,000 a day; an overview or a pages report over 30
days groups all of them on every request. Most of those days are over: their answers change
only when a late batch, an erasure, a purge, a compaction or an import touches them. So the
grouped queries of the facts-query interface (``count_sessions``, ``session_counts``,
``session_facets``, ``metadata_counts``, ``daily_activity``, ``fact_counts``,
``fact_maxima``, ``fact_trait_counts``, ``sessions_with_each``; the part-2 pages'
``click_groups``, ``click_view``, ``click_grid``, ``scroll_groups``, ``engagement_bins``,
``engagement_top``) are answered per UTC day, each closed day's answer stored in
``day_cache`` under a digest of the call, and only the open edges of the range (today, a
range that starts or ends mid-day) are queried live. The analyses themselves do not change:
they call the same methods and get the same answers (tests/analytics runs every analysis on
every store, the SQL stores through this cache).

Validity. Every UTC day has a version in ``day_versions``; a cached answer records the
version (and the store-wide epoch) it was computed under and is used only while both are
unchanged. Every write that can change what a query answers for a closed day bumps that
day's version in the same transaction (``touch_days``): a batch for a session whose span or
last activity lies on a closed day, a late batch whose events fall on one, metadata, deleted
windows, chunks and sessions, compaction, imports. Writes that touch only today's data (the
usual case) write nothing more. A day is cached only once it has been closed for
``GRACE_MS``, longer than any write transaction lives, so a writer that found the day still
open has committed before anyone caches it. Readers read the versions before computing, so
a write that commits meanwhile leaves an answer marked with the older version: recomputed
next time, never served stale.

Distinct sessions. Counts add up across days, distinct sessions do not when a session's facts
fall on two days. Sessions whose events span several days are marked at ingest
(``sessions.multi_day``, few: those active across midnight); cached days count only the
other sessions, and the multi-day ones are counted live over the whole range, so the sum is
exact.

Per session. The funnel (``funnel_tally``) and the forms (``form_groups``,
``form_completion``) sum up sessions, so each day holds its single-day sessions' summary
(merging is the analysis' own: ``funnel.merge_tallies``, ``form_groups.merge_form_groups``),
multi-day sessions live. Conversions (``goal_groups``) put a session in range by its last
activity and count its goal events, so a day holds the sessions whose events and last activity
are both on it; the rest ("multi" in ``SQLAnalytics._settled``) are grouped live.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sentiero.analytics.engagement import BINS as ENGAGEMENT_BINS
from sentiero.analytics.query import (
    Facets,
    FactCount,
    Scope,
)
from sentiero.analytics.scroll import ScrollGroup
from sentiero.stores.day_cache_answers import (
    CLICK_GRID,
    CLICK_GROUPS,
    CLICK_VIEW,
    COMPLETION,
    DAYS,
    FACETS,
    FACT_COUNTS,
    FORM_GROUPS,
    GOAL_GROUPS,
    INT,
    PAIRS,
    SCROLL_GROUPS,
    SORTED_VALUES,
    TUPLE_COUNTS,
    Cached,
    add_lists,
    first_sessions,
    funnel_tallies,
)

if TYPE_CHECKING:
    from sentiero.analytics.conversions import GoalGroup
    from sentiero.analytics.form_groups import FormGroups
    from sentiero.analytics.funnel import FunnelTally, Step

T = TypeVar("T")

DAY_MS = 86_400_000
DAY_US = DAY_MS * 1000
GRACE_MS = 10 * 60_000  # a closed day is cached once it has been closed this long
EPOCH_DAY = -1  # the day_versions row of the store-wide epoch (bumped to forget every day)
MAX_TOUCHED_DAYS = 400  # a write spanning more days than this bumps the epoch instead
MAX_CACHED_DAYS = 400  # a range over more days than this has its older days answered live
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def day_of(ms: int) -> int:
    return ms - ms % DAY_MS


def exact_us(moment: datetime) -> int:
    """Epoch microseconds without float rounding (a day's last microsecond stays in it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def now_ms() -> int:
    return int(time.time() * 1000)


def spans_days(first_ms: int | None, last_ms: int | None) -> bool | None:
    """``sessions.multi_day``: whether a session's events fall on more than one UTC day."""
    if first_ms is None or last_ms is None:
        return None
    return day_of(first_ms) != day_of(last_ms)


# --- writers --------------------------------------------------------------------------------


def closed_days(lo_ms: int | None, hi_ms: int | None, now: int | None = None
                ) -> tuple[int, int] | None:
    """The closed days (ended before ``now``) among those from ``lo_ms`` to ``hi_ms``."""
    if lo_ms is None or hi_ms is None:
        return None
    first = day_of(min(lo_ms, hi_ms))
    last = min(day_of(max(lo_ms, hi_ms)), day_of(now if now is not None else now_ms()) - DAY_MS)
    return (first, last) if last >= first else None


class DayVersions:
    """The ``day_versions`` statements of one store (built once, SQLStore._statement)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def _bump(self) -> Any:
        store = self.store
        table = store.tables.day_versions

        def build() -> Any:
            values = {"day": sa.bindparam("d"), "version": 1}
            # a literal, not a bound 1: PyMySQL's executemany cannot format parameters in
            # the ON DUPLICATE KEY UPDATE part
            bumped = table.c.version + sa.literal_column("1")
            if store.backend == "mysql":
                from sqlalchemy.dialects.mysql import insert as my_insert

                stmt = my_insert(table).values(values)
                return stmt.on_duplicate_key_update(version=bumped)
            if store.backend == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert
            else:
                from sqlalchemy.dialects.sqlite import insert as pg_insert  # same API
            stmt = pg_insert(table).values(values)
            return stmt.on_conflict_do_update(index_elements=[table.c.day],
                                              set_={"version": bumped})

        return store._statement("bump_day", build)

    def touch(self, conn: Connection, lo_ms: int | None, hi_ms: int | None) -> None:
        """Bump the closed days from ``lo_ms`` to ``hi_ms`` (event times, ms): the write in
        ``conn``'s transaction changes what they answer."""
        days = closed_days(lo_ms, hi_ms)
        if days is None:
            return
        first, last = days
        if (last - first) // DAY_MS + 1 > MAX_TOUCHED_DAYS:
            self.forget_all(conn)
            return
        # both on the driver's cursor where the store runs its write path so (sql_direct.py):
        # a late batch pays them in its transaction
        bump = self._bump()
        self.store._exec(conn, "bump_day", lambda: bump,
                         [{"d": d} for d in range(first, last + DAY_MS, DAY_MS)])
        # the answers go too, not only their validity: an erased session's metadata values
        # must not stay behind in a stale answer
        c = self.store.tables.day_cache
        self.store._exec(conn, "drop_cached_days", lambda: sa.delete(c).where(
            c.c.day.between(sa.bindparam("lo"), sa.bindparam("hi"))), {"lo": first, "hi": last})

    def touch_session(self, conn: Connection, row: Any, *more_ms: int | None) -> None:
        """Bump every closed day a session row (first_ms, last_ms, updated_us) lies on, and
        ``more_ms`` (a batch's event times)."""
        points = [row.first_ms, row.last_ms, row.updated_us // 1000, *more_ms]
        known = [p for p in points if p is not None]
        if known:
            self.touch(conn, min(known), max(known))

    def touch_sessions(self, conn: Connection, ids: Sequence[str]) -> None:
        """Before deleting sessions: bump the days they lie on."""
        s = self.store.tables.sessions
        for start in range(0, len(ids), 500):
            lo, hi, lo_us, hi_us = conn.execute(
                sa.select(sa.func.min(s.c.first_ms), sa.func.max(s.c.last_ms),
                          sa.func.min(s.c.updated_us), sa.func.max(s.c.updated_us))
                .where(s.c.session_id.in_(ids[start:start + 500]))).one()
            known = [p for p in (lo, hi, lo_us and lo_us // 1000, hi_us and hi_us // 1000)
                     if p is not None]
            if known:
                self.touch(conn, min(known), max(known))

    def forget_all(self, conn: Connection) -> None:
        conn.execute(self._bump(), {"d": EPOCH_DAY})
        conn.execute(sa.delete(self.store.tables.day_cache))


# --- readers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayPlan:
    """A scope split into cacheable closed days and the live rest."""

    days: list[int]  # epoch ms of each whole, cacheable UTC day
    live: list[Scope]  # the rest of the range, queried every time

    @staticmethod
    def of(scope: Scope, now: int | None = None, earliest_ms: int | None = None
           ) -> DayPlan | None:
        """``earliest_ms``: the earliest time of the rows the query reads (None: unknown);
        a scope open at the start (no ``since``) is cached from that day on, one open at the
        end (no ``until``) up to the newest closed day, the rest live. At most
        ``MAX_CACHED_DAYS`` days are cached, the newest; older ones are live."""
        if scope.since is None and earliest_ms is None:
            return None
        newest = day_of((now if now is not None else now_ms()) - GRACE_MS) - DAY_MS
        since = exact_us(scope.since) if scope.since is not None else None
        until = exact_us(scope.until) if scope.until is not None else None
        # the first day starting at or after since, the last day ending by until
        first = -(-since // DAY_US) * DAY_US if since is not None else \
            day_of(cast(int, earliest_ms)) * 1000
        last = min((until + 1) // DAY_US * DAY_US - DAY_US if until is not None else newest * 1000,
                   newest * 1000)
        earliest = first  # no row of the query's lies before it
        first = max(first, last - (MAX_CACHED_DAYS - 1) * DAY_US)
        if last < first:
            return None
        live = []
        if since < first if since is not None else earliest < first:
            live.append(Scope(None if since is None else _moment(since), _moment(first - 1),
                              scope.segment))
        if until is None or last + DAY_US <= until:
            live.append(Scope(_moment(last + DAY_US), None if until is None else _moment(until),
                              scope.segment))
        return DayPlan(list(range(first // 1000, last // 1000 + DAY_MS, DAY_MS)), live)


def day_scope(day: int, scope: Scope) -> Scope:
    return Scope(_moment(day * 1000), _moment((day + DAY_MS) * 1000 - 1), scope.segment)


def _digest(name: str, params: Iterable[Any], scope: Scope) -> str:
    text = repr((name, tuple(params), astuple(scope.segment)))
    return hashlib.sha1(text.encode()).hexdigest()


class SQLDayCache:
    """The cached interface methods, in front of SQLAnalytics (SQLStore's MRO)."""

    tables: Any
    backend: str
    _run: Any
    _read: Any
    _ensure_ready: Any
    _statement: Any
    _step_where: Any
    step_events: Any
    _day_versions: DayVersions | None = None

    @property
    def day_versions(self) -> DayVersions:
        if self._day_versions is None:
            self._day_versions = DayVersions(self)
        return self._day_versions

    def _by_day(self, name: str, params: tuple[Any, ...], scope: Scope, how: Cached,
                compute: Callable[[Scope, str | None, bool], Any], split: bool = False,
                rows: str | None = None) -> Any:
        """``compute(scope, span, per_day)``: the live answer, or with ``per_day`` {day:
        answer} for the scope's days, in one query; ``span`` "single" / "multi" restricts
        facts to sessions within one day / spanning several (``split``: distinct sessions).
        ``rows`` "facts" / "sessions": what the query reads by time (facts by ``ts_ms``,
        sessions by last activity), so a range without a start is cached from the earliest."""
        earliest = self._earliest(rows) if scope.since is None and rows else None
        plan = DayPlan.of(scope, earliest_ms=earliest)
        if plan is None:
            return compute(scope, None, False)
        key = _digest(name, params, scope)
        lo, hi = plan.days[0], plan.days[-1]
        versions, entries = self._cache_read(key, lo, hi)
        epoch = versions.get(EPOCH_DAY, 0)
        parts: list[Any] = []
        single = "single" if split else None
        missing = []
        for day in plan.days:
            entry = entries.get(day)
            if entry is not None and entry[0] == versions.get(day, 0) and entry[1] == epoch:
                parts.append(how.decode(orjson.loads(entry[2])))
            else:
                missing.append(day)
        if missing:  # the days from the first missing to the last, in one grouped query
            span = Scope(day_scope(missing[0], scope).since,
                         day_scope(missing[-1], scope).until, scope.segment)
            answers = compute(span, single, True)
            fresh = []
            for day in missing:
                answer = answers.get(day, None)
                answer = how.empty() if answer is None else answer
                parts.append(answer)
                fresh.append({"query": key, "day": day, "version": versions.get(day, 0),
                              "epoch": epoch,
                              "payload": orjson.dumps(how.encode(answer)).decode()})
            self._cache_write(fresh)
        parts.extend(compute(live, single, False) for live in plan.live)
        if split:
            parts.append(compute(scope, "multi", False))
        return how.merge(parts)

    def _earliest(self, rows: str) -> int | None:
        """The earliest fact time or session last activity (ms), from the time index."""
        if rows == "facts":
            col = self.tables.facts.c.ts_ms
            return self._read(sa.select(sa.func.min(col)))[0][0]
        us = self._read(sa.select(sa.func.min(self.tables.sessions.c.updated_us)))[0][0]
        return None if us is None else int(us) // 1000

    def _cache_read(self, key: str, lo: int, hi: int
                    ) -> tuple[dict[int, int], dict[int, tuple[int, int, str]]]:
        v, c = self.tables.day_versions, self.tables.day_cache
        self._ensure_ready()

        def read(conn: Connection) -> tuple[dict[int, int], dict[int, tuple[int, int, str]]]:
            versions = {int(d): int(n) for d, n in conn.execute(
                sa.select(v.c.day, v.c.version).where(
                    sa.or_(v.c.day.between(lo, hi), v.c.day == EPOCH_DAY)))}
            entries = {int(d): (int(n), int(e), p) for d, n, e, p in conn.execute(
                sa.select(c.c.day, c.c.version, c.c.epoch, c.c.payload)
                .where(c.c.query == key, c.c.day.between(lo, hi)))}
            return versions, entries

        return self._run(read, write=False)

    def _cache_write(self, rows: list[dict[str, Any]]) -> None:
        c = self.tables.day_cache

        def build() -> Any:
            values = {k: sa.bindparam(k) for k in ("query", "day", "version", "epoch",
                                                    "payload")}
            changed = ("version", "epoch", "payload")
            if self.backend == "mysql":
                from sqlalchemy.dialects.mysql import insert as my_insert

                stmt = my_insert(c).values(values)
                return stmt.on_duplicate_key_update({k: stmt.inserted[k] for k in changed})
            if self.backend == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as up_insert
            else:
                from sqlalchemy.dialects.sqlite import insert as up_insert  # same API
            stmt = up_insert(c).values(values)
            return stmt.on_conflict_do_update(index_elements=[c.c.query, c.c.day],
                                              set_={k: stmt.excluded[k] for k in changed})

        statement = self._statement("day_cache_write", build)
        self._run(lambda conn: conn.execute(statement, rows))
        # a write that committed while these were computed bumped their day and deleted its
        # answers before this wrote them: delete them again (they may hold erased data)
        days = [r["day"] for r in rows]
        versions, _ = self._cache_read(rows[0]["query"], min(days), max(days))
        stale = [r["day"] for r in rows if versions.get(r["day"], 0) != r["version"]
                 or versions.get(EPOCH_DAY, 0) != r["epoch"]]
        if stale:
            c = self.tables.day_cache
            self._run(lambda conn: conn.execute(sa.delete(c).where(
                c.c.query == rows[0]["query"], c.c.day.in_(stale))))

    # --- the cached interface -----------------------------------------------------------

    def count_sessions(self, scope: Scope) -> int:
        return self._by_day("count_sessions", (), scope, INT, lambda s, _, d: super(
            SQLDayCache, self).count_sessions(s, per_day=d), rows="sessions")

    def session_counts(self, scope: Scope, trait: str) -> dict[Any, tuple[int, int]]:
        return self._by_day("session_counts", (trait,), scope, PAIRS, lambda s, _, d: super(
            SQLDayCache, self).session_counts(s, trait, per_day=d), rows="sessions")

    def session_facets(self, scope: Scope, by_trait: bool = True) -> Facets:
        return self._by_day("session_facets", (by_trait,), scope, FACETS, lambda s, _, d: super(
            SQLDayCache, self).session_facets(s, by_trait, per_day=d), rows="sessions")

    def metadata_counts(self, scope: Scope) -> dict[tuple[str, str], int]:
        return self._by_day("metadata_counts", (), scope, TUPLE_COUNTS, lambda s, _, d: super(
            SQLDayCache, self).metadata_counts(s, per_day=d), rows="sessions")

    def daily_activity(self, scope: Scope) -> list[tuple[int, int, int]]:
        def compute(s: Scope, _: str | None, per_day: bool) -> Any:
            rows = super(SQLDayCache, self).daily_activity(s)
            return {row[0]: [row] for row in rows} if per_day else rows

        return self._by_day("daily_activity", (), scope, DAYS, compute)

    def fact_counts(self, scope: Scope, kind: str | tuple[str, ...], by_url: bool = False,
                    by_key: bool = False, by_day: bool = False, url: str | None = None,
                    sessions: bool = True, by_kind: bool = False) -> list[FactCount]:
        def compute(s: Scope, span: str | None, per_day: bool) -> Any:
            return super(SQLDayCache, self).fact_counts(
                s, kind, by_url=by_url, by_key=by_key, by_day=by_day, url=url,
                sessions=sessions, by_kind=by_kind, span=span, per_day=per_day)

        # (by_kind only when set: the digests of the other calls stay those already cached)
        params = (kind, by_url, by_key, by_day, url, sessions) + ((True,) if by_kind else ())
        return self._by_day("fact_counts", params, scope,
                            FACT_COUNTS, compute, split=sessions, rows="facts")

    def fact_maxima(self, scope: Scope, kind: str, url: str | None = None) -> list[float]:
        # a page view's facts (one window) can fall on two days: sessions across days live
        def compute(s: Scope, span: str | None, per_day: bool) -> Any:
            return super(SQLDayCache, self).fact_maxima(s, kind, url, span=span,
                                                         per_day=per_day)

        return self._by_day("fact_maxima", (kind, url), scope, SORTED_VALUES, compute,
                            split=True, rows="facts")

    def fact_trait_counts(self, scope: Scope, kind: str, traits: tuple[str, ...]
                          ) -> dict[tuple[Any, ...], int]:
        def compute(s: Scope, span: str | None, per_day: bool) -> Any:
            return super(SQLDayCache, self).fact_trait_counts(s, kind, traits, span=span,
                                                               per_day=per_day)

        return self._by_day("fact_trait_counts", (kind, traits), scope, TUPLE_COUNTS, compute,
                            split=True, rows="facts")

    # --- the funnel, conversions and forms (sentiero.analytics.funnel, .conversions,
    # .form_groups): each closed day's sessions summed up in a form that merges

    def funnel_tally(self, scope: Scope, steps: list[Step], within_ms: int | None = None
                     ) -> FunnelTally:
        from sentiero.analytics.funnel import tally_sessions

        count = len(steps)

        def compute(s: Scope, span: str | None, per_day: bool) -> Any:
            events = self.step_events(s, steps, span=span)
            if not per_day:
                return tally_sessions(events, count, within_ms)
            # a session within one day has its events on that day
            days: dict[int, dict[str, Any]] = {}
            for sid, found in events.items():
                days.setdefault(day_of(min(e[0] for e in found)), {})[sid] = found
            return {d: tally_sessions(e, count, within_ms) for d, e in days.items()}

        return self._by_day("funnel_tally", (tuple(steps), within_ms), scope,
                            funnel_tallies(count), compute, split=True)

    def goal_groups(self, scope: Scope, goal: Step) -> list[GoalGroup]:
        # a session whose events and last activity are on one closed day has its goal facts
        # on that day: cached with it; the others ("multi") live over the whole range
        if self._step_where(goal) is None:  # matched in Python only
            return super().goal_groups(scope, goal)  # type: ignore[misc, no-any-return]

        def compute(s: Scope, span: str | None, per_day: bool) -> Any:
            return super(SQLDayCache, self).goal_groups(  # type: ignore[misc]
                s, goal, span=span, per_day=per_day)

        return self._by_day("goal_groups", (goal,), scope, GOAL_GROUPS, compute, split=True)

    def form_groups(self, scope: Scope, url: str | None = None) -> FormGroups:
        # a page view's form facts are its session's: on one day unless it spans several
        def compute(s: Scope, span: str | None, per_day: bool) -> Any:
            return super(SQLDayCache, self).form_groups(  # type: ignore[misc]
                s, url, span=span, per_day=per_day)

        return self._by_day("form_groups", (url,), scope, FORM_GROUPS, compute, split=True)

    def form_completion(self, scope: Scope, url: str, forms: Mapping[str, str]
                        ) -> dict[str, tuple[int, int]]:
        def compute(s: Scope, span: str | None, per_day: bool) -> Any:
            return super(SQLDayCache, self).form_completion(  # type: ignore[misc]
                s, url, forms, span=span, per_day=per_day)

        return self._by_day("form_completion", (url, tuple(sorted(forms.items()))), scope,
                            COMPLETION, compute, split=True)

    def sessions_with_each(self, scope: Scope, kinds: tuple[str, ...], url: str) -> int:
        def compute(s: Scope, span: str | None, per_day: bool) -> Any:
            return super(SQLDayCache, self).sessions_with_each(s, kinds, url, span=span,
                                                                per_day=per_day)

        return self._by_day("sessions_with_each", (kinds, url), scope, INT, compute, split=True,
                            rows="facts")

    # the heatmap's parts (sentiero.stores.sql_clicks.click_cells): a page view's clicks
    # (one window) can fall on two days, and distinct sessions do not add up: sessions
    # across days live

    def click_groups(self, scope: Scope, url: str) -> dict[tuple[str, str | None],
                                                          tuple[int, Any]]:
        return self._by_day("click_groups", (url,), scope, CLICK_GROUPS, lambda s, span, d: super(
            SQLDayCache, self).click_groups(s, url, span=span, per_day=d))

    def click_view(self, scope: Scope, url: str, bucket: str) -> tuple[int, int, str, str] | None:
        return self._by_day("click_view", (url, bucket), scope, CLICK_VIEW,
                            lambda s, span, d: super(SQLDayCache, self).click_view(
                                s, url, bucket, span=span, per_day=d), split=True)

    def click_grid(self, scope: Scope, url: str, bucket: str, width: float, cell_px: int
                   ) -> dict[tuple[int, int], tuple[int, int, float, float]]:
        return self._by_day("click_grid", (url, bucket, width, cell_px), scope, CLICK_GRID,
                            lambda s, span, d: super(SQLDayCache, self).click_grid(
                                s, url, bucket, width, cell_px, span=span, per_day=d),
                            split=True)

    def scroll_groups(self, scope: Scope, url: str | None = None) -> list[ScrollGroup]:
        # a page view (one window) can fall on two days: sessions across days live
        return self._by_day("scroll_groups", (url,), scope, SCROLL_GROUPS,
                            lambda s, span, d: super(SQLDayCache, self).scroll_groups(
                                s, url, span=span, per_day=d), split=True, rows="facts")

    # the engagement page (sql_engagement.py): each session lies on the day of its last
    # activity, as in count_sessions

    def engagement_bins(self, scope: Scope) -> list[int]:
        bins = Cached(list, list, add_lists, lambda: [0] * (len(ENGAGEMENT_BINS) + 1))
        return self._by_day("engagement_bins", (), scope, bins, lambda s, _, d: super(
            SQLDayCache, self).engagement_bins(s, per_day=d))

    def engagement_top(self, scope: Scope, sort: str, limit: int) -> list[tuple[int, str]]:
        return self._by_day("engagement_top", (sort, limit), scope, first_sessions(limit),
                            lambda s, _, d: super(SQLDayCache, self).engagement_top(
                                s, sort, limit, per_day=d))
