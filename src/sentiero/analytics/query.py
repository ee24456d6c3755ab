"""The facts-query interface every store answers, and its generic implementation.

An analysis asks four questions, always within a :class:`Scope` (a time range plus a
:class:`Segment` of sessions):

- ``analytics_sessions(scope, limit, offset)``: the sessions themselves, newest first, and
  ``count_sessions(scope)``;
- ``session_counts(scope, trait)``: sessions (and errored sessions) per trait value, and
  ``session_facets(scope)``: counts, durations and every trait's distribution in one pass;
- ``fact_counts(scope, kind, by_url, by_key)``: facts and (unless ``sessions=False``)
  distinct sessions per url, key (and kind, of several with ``by_kind``);
- ``latest_facts(scope, kind, per_key)``: the newest few facts of each key (of one page or
  all), and
  ``fact_trait_counts(scope, kind, traits)``: distinct sessions per fact key and session traits;
- ``sessions_with_each(scope, kinds, url)``: the sessions with facts of several kinds on one
  page;
- ``scope_facts(scope, kinds, url)``: the facts themselves, for what needs every value
  (percentiles, occurrences, time on page).

``Store`` implements them with the functions below, over ``iter_session_ids``/``get_session``
and ``iter_facts``; the SQL store overrides them with GROUP BY queries. Both give the same
answers: tests/analytics runs one suite on every backend.

Scope semantics: a session is in scope when its last activity (``updated_at``) falls in
[since, until] and it matches the segment (inventory §5: "session since/until bounds apply to
updated_at"); a fact is in scope when its ``ts_ms`` falls in [since, until] and its session
matches the segment (per-event tallies clamped to the window), and so are a day's events
(by the time their batch began) and session starts (by the first event).
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sentiero.analytics.traits import Traits, session_traits

if TYPE_CHECKING:
    from sentiero.stores.base import Fact, SessionSummary, Store

DAY_MS = 86_400_000
TRAITS = ("browser", "device", "os", "country", "entry_url", "referrer", "utm_source",
          "utm_medium", "utm_campaign")
MAX_FILTER_TEXT = 256


@dataclass(frozen=True)
class Segment:
    """AND-combined session filters (inventory §5.2); None = no filter."""

    browser: str | None = None
    device: str | None = None
    os: str | None = None
    country: str | None = None
    url_pattern: str | None = None  # a page the session saw: substring, or glob with * ?
    event_tag: str | None = None  # a custom event the session sent (exact tag)
    metadata_key: str | None = None
    metadata_value: str | None = None
    metadata_match: str = "exact"  # or "contains"
    has_errors: bool | None = None
    min_duration_s: int | None = None
    max_duration_s: int | None = None

    @property
    def empty(self) -> bool:
        return self == Segment(metadata_match=self.metadata_match)

    def url_matches(self, url: str | None) -> bool:
        return url_pattern_matches(self.url_pattern, url)


def url_pattern_matches(pattern: str | None, url: str | None) -> bool:
    if not pattern:
        return True
    if not url:
        return False
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(url.lower(), pattern.lower())
    return pattern.lower() in url.lower()


@dataclass(frozen=True)
class Scope:
    since: datetime | None = None
    until: datetime | None = None
    segment: Segment = field(default_factory=Segment)

    def with_segment(self, **changes: Any) -> Scope:
        return replace(self, segment=replace(self.segment, **changes))


@dataclass(frozen=True)
class SessionRow:
    """A session as analyses see it."""

    session_id: str
    created_at: datetime
    updated_at: datetime
    first_ms: int | None
    last_ms: int | None
    event_count: int
    has_errors: bool
    metadata: dict[str, Any]
    traits: Traits
    first_window_id: str | None = None

    @property
    def duration_ms(self) -> int | None:
        return span_ms(self.first_ms, self.last_ms)


def span_ms(first_ms: int | None, last_ms: int | None) -> int | None:
    """A session's duration: last event − first event (None without both)."""
    if first_ms is None or last_ms is None:
        return None
    return max(0, last_ms - first_ms)


@dataclass(frozen=True)
class Moment:
    """A replay moment: a window of a session at an event time (funnel drop-offs, form
    drop-offs)."""

    session_id: str
    window_id: str
    ts_ms: int


@dataclass(frozen=True)
class FactCount:
    kind: str
    url: str | None
    key: str | None
    count: int
    sessions: int | None  # distinct sessions; None when not asked for (sessions=False)
    day: int | None = None  # UTC day (epoch ms) when counted by day
    last_ms: int | None = None  # the latest fact's ts_ms
    value_sum: float = 0.0  # the facts' values added up (None counts 0)


# --- the generic implementation (memory, files, Redis, Django; any custom store) ---------


def row_of(summary: SessionSummary, entry_url: str | None = None) -> SessionRow:
    """``entry_url``: the session's first page, when the store keeps no traits of its own."""
    traits = summary.traits if getattr(summary, "traits", None) is not None else \
        session_traits(summary.metadata, summary.user_agent, entry_url)
    first_window = next((w.window_id for w in summary.windows if w.first_ms is not None),
                        summary.windows[0].window_id if summary.windows else None)
    return SessionRow(summary.session_id, summary.created_at, summary.updated_at,
                      summary.first_ms, summary.last_ms, summary.event_count,
                      summary.has_errors, summary.metadata, traits, first_window)


def _metadata_matches(segment: Segment, metadata: dict[str, Any]) -> bool:
    if not segment.metadata_key:
        return True
    if segment.metadata_key not in metadata:
        return False
    if segment.metadata_value is None:
        return True
    value = metadata[segment.metadata_key]
    text = value if isinstance(value, str) else str(value)
    if segment.metadata_match == "contains":
        return segment.metadata_value.lower() in text.lower()
    return text == segment.metadata_value


def row_matches(scope: Scope, row: SessionRow, pages: set[str] | None) -> bool:
    """Whether ``row`` is in ``scope``; ``pages`` are the URLs it saw (needed only with a
    url_pattern)."""
    if scope.since is not None and row.updated_at < scope.since:
        return False
    if scope.until is not None and row.updated_at > scope.until:
        return False
    s = scope.segment
    t = row.traits
    for name in ("browser", "device", "os", "country"):
        wanted = getattr(s, name)
        if wanted is not None and getattr(t, name) != wanted:
            return False
    if s.has_errors is not None and row.has_errors != s.has_errors:
        return False
    if s.min_duration_s is not None or s.max_duration_s is not None:
        duration = row.duration_ms
        if duration is None:
            return False
        if s.min_duration_s is not None and duration < s.min_duration_s * 1000:
            return False
        if s.max_duration_s is not None and duration > s.max_duration_s * 1000:
            return False
    if not _metadata_matches(s, row.metadata):
        return False
    if s.url_pattern:
        return any(s.url_matches(url) for url in pages or ())
    return True


def _ms_bounds(scope: Scope) -> tuple[datetime | None, datetime | None]:
    return scope.since, scope.until


def generic_sessions(store: Store, scope: Scope) -> list[SessionRow]:
    """Every session in scope, newest (updated_at) first, ties by id."""
    tagged: set[str] | None = None
    if scope.segment.event_tag:
        tagged = {f.session_id for f in store.iter_facts(kind="custom")
                  if f.key == scope.segment.event_tag}
    pages: dict[str, set[str]] = {}
    entries: dict[str, str] = {}  # the earliest window entry page of each session
    for fact in store.iter_facts(kind="page_view"):  # in ts_ms order
        if fact.url:
            pages.setdefault(fact.session_id, set()).add(fact.url)
            if fact.key == "entry":
                entries.setdefault(fact.session_id, fact.url)
    rows = []
    for session_id in store.iter_session_ids():
        summary = store.get_session(session_id)
        if summary is None:
            continue
        row = row_of(summary, entries.get(session_id))
        if tagged is not None and session_id not in tagged:
            continue
        if row_matches(scope, row, pages.get(session_id)):
            rows.append(row)
    rows.sort(key=lambda r: r.session_id)
    rows.sort(key=lambda r: r.updated_at, reverse=True)
    return rows


def segment_session_ids(store: Store, scope: Scope) -> set[str] | None:
    """Ids of the sessions matching the segment, whenever they were active; None when the
    segment is empty (every session)."""
    if scope.segment.empty:
        return None
    return {r.session_id for r in generic_sessions(store, Scope(segment=scope.segment))}


def generic_facts(store: Store, scope: Scope, kinds: Iterable[str],
                  url: str | None = None) -> Iterator[Fact]:
    in_scope = segment_session_ids(store, scope)
    since, until = _ms_bounds(scope)
    for kind in kinds:
        for fact in store.iter_facts(kind=kind, since=since, until=until):
            if in_scope is not None and fact.session_id not in in_scope:
                continue
            if url is not None and fact.url != url:
                continue
            yield fact


def generic_session_counts(rows: Iterable[SessionRow], trait: str) -> dict[Any, tuple[int, int]]:
    counts: Counter[Any] = Counter()
    errored: Counter[Any] = Counter()
    for row in rows:
        value = getattr(row.traits, trait)
        counts[value] += 1
        if row.has_errors:
            errored[value] += 1
    return {value: (n, errored[value]) for value, n in counts.items()}


def generic_fact_counts(facts: Iterable[Fact], by_url: bool, by_key: bool, by_day: bool = False,
                        only_url: bool = False, kind_label: str = "",
                        with_sessions: bool = True, by_kind: bool = False) -> list[FactCount]:
    """``only_url``: the facts are of one page (a url filter), which each count names;
    ``kind_label``: the kind (or kinds, comma-joined) the counts name, unless ``by_kind``
    (each kind counted apart)."""
    counts: Counter[tuple[str, str | None, str | None, int | None]] = Counter()
    sessions: dict[tuple[str, str | None, str | None, int | None], set[str]] = {}
    last: dict[tuple[str, str | None, str | None, int | None], int] = {}
    sums: Counter[tuple[str, str | None, str | None, int | None]] = Counter()
    page: str | None = None
    for fact in facts:
        group = (fact.kind if by_kind else kind_label, fact.url if by_url else None,
                 fact.key if by_key else None,
                 fact.ts_ms - fact.ts_ms % DAY_MS if by_day else None)
        counts[group] += 1
        if with_sessions:
            sessions.setdefault(group, set()).add(fact.session_id)
        last[group] = max(last.get(group, fact.ts_ms), fact.ts_ms)
        sums[group] += fact.value or 0
        page = fact.url
    return [FactCount(k, u if by_url else (page if only_url else None), key, n,
                      len(sessions[g]) if with_sessions else None, day, last[g],
                      float(sums[g]))
            for g, n in counts.items() for k, u, key, day in (g,)]


def newest_first(facts: Iterable[Fact]) -> list[Fact]:
    """The order of ``latest_facts``: time, then session and window id, descending (every
    store breaks ties the same way)."""
    return sorted(facts, key=lambda f: (f.ts_ms, f.session_id, f.window_id), reverse=True)


def generic_latest_facts(facts: Iterable[Fact], per_key: int, key: str | None = None
                         ) -> list[Fact]:
    groups: dict[str | None, list[Fact]] = {}
    for fact in facts:
        if key is None or fact.key == key:
            groups.setdefault(fact.key, []).append(fact)
    return newest_first(f for group in groups.values() for f in newest_first(group)[:per_key])


def generic_sessions_with_each(facts: Iterable[Fact], kinds: tuple[str, ...]) -> int:
    sessions: dict[str, set[str]] = {kind: set() for kind in kinds}
    for fact in facts:
        sessions[fact.kind].add(fact.session_id)
    return len(set.intersection(*sessions.values())) if sessions else 0


def generic_fact_maxima(facts: Iterable[Fact]) -> list[float]:
    best: dict[tuple[str, str, str | None], float] = {}
    for fact in facts:
        if fact.value is not None:
            group = (fact.session_id, fact.window_id, fact.key)
            if group not in best or fact.value > best[group]:
                best[group] = fact.value
    return sorted(best.values())


def generic_fact_trait_counts(store: Store, facts: Iterable[Fact], traits: tuple[str, ...]
                              ) -> dict[tuple[Any, ...], int]:
    sessions: dict[str | None, set[str]] = {}
    for fact in facts:
        sessions.setdefault(fact.key, set()).add(fact.session_id)
    involved = set().union(*sessions.values()) if sessions else set()
    values = {r.session_id: tuple(getattr(r.traits, t) for t in traits)
              for r in store.session_rows(involved)}
    counts: Counter[tuple[Any, ...]] = Counter()
    for key, ids in sessions.items():
        for sid in ids:
            if sid in values:
                counts[(key, *values[sid])] += 1
    return dict(counts)


MAX_METADATA_TEXT = 200


def metadata_text(value: Any) -> str:
    """A metadata value as the overview groups it: strings as they are, anything else as
    Python prints it, at most 200 characters."""
    return (value if isinstance(value, str) else str(value))[:MAX_METADATA_TEXT]


def generic_metadata_counts(rows: Iterable[SessionRow]) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        for key, value in row.metadata.items():
            counts[(key, metadata_text(value))] += 1
    return dict(counts)


DURATION_BUCKETS_MS = (30_000, 120_000, 300_000, 900_000)
DURATION_LABELS = ("0-30s", "30s-2m", "2-5m", "5-15m", "15m+")


@dataclass(frozen=True)
class Durations:
    """Sessions in scope by duration bucket (``DURATION_LABELS``), and the mean."""

    buckets: tuple[int, ...]
    total_ms: int
    timed: int  # sessions with a duration

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.timed if self.timed else None


FACET_TRAITS = ("browser", "device", "os", "country", "entry_url", "referrer")


@dataclass(frozen=True)
class Facets:
    """What one pass over the sessions in scope tells: how many (and with errors), their
    durations, and {trait: {value: (sessions, sessions with errors)}} for ``FACET_TRAITS``."""

    sessions: int
    errored: int
    durations: Durations
    counts: dict[str, dict[Any, tuple[int, int]]]


def fold_facets(groups: Iterable[tuple[tuple[Any, ...], bool, int | None, int, int]]) -> Facets:
    """Facets from groups of sessions: (trait values in ``FACET_TRAITS`` order, has errors,
    duration bucket or None, sessions, summed duration ms)."""
    sessions = errored = total = timed = 0
    buckets = [0] * len(DURATION_LABELS)
    counts: dict[str, dict[Any, list[int]]] = {t: {} for t in FACET_TRAITS}
    for values, has_errors, bucket, n, duration_ms in groups:
        sessions += n
        errored += n if has_errors else 0
        if bucket is not None:
            buckets[bucket] += n
            timed += n
            total += duration_ms
        for trait, value in zip(FACET_TRAITS, values, strict=True):
            slot = counts[trait].setdefault(value, [0, 0])
            slot[0] += n
            slot[1] += n if has_errors else 0
    return Facets(sessions, errored, Durations(tuple(buckets), total, timed),
                  {t: {v: (a, b) for v, (a, b) in c.items()} for t, c in counts.items()})


def generic_facets(rows: Iterable[SessionRow]) -> Facets:
    def groups() -> Iterator[tuple[tuple[Any, ...], bool, int | None, int, int]]:
        for row in rows:
            duration = row.duration_ms
            yield (tuple(getattr(row.traits, t) for t in FACET_TRAITS), row.has_errors,
                   None if duration is None else duration_bucket(duration), 1, duration or 0)

    return fold_facets(groups())


def duration_bucket(duration_ms: int) -> int:
    for i, edge in enumerate(DURATION_BUCKETS_MS):
        if duration_ms < edge:
            return i
    return len(DURATION_BUCKETS_MS)


