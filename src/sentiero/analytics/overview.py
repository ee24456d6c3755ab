"""The overview (inventory §5.1): KPIs with period-over-period deltas, activity per day or ISO
week with error overlays, trait distributions, durations, custom-event tags with sparklines,
entry pages, referrers, navigation and metadata."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sentiero.analytics.periods import (
    Period,
    bucket_labels,
    bucket_of,
    delta_pct,
    pct,
    top_counts,
)
from sentiero.analytics.query import DURATION_LABELS, Facets, Scope, Segment
from sentiero.analytics.traits import same_origin
from sentiero.ingest.facts import is_internal_tag

if TYPE_CHECKING:
    from sentiero.stores.base import Store

TOP_ENTRY_PAGES = 10
TOP_REFERRERS = 10
TOP_TAGS = 20
TOP_NAVIGATION = 10
TOP_METADATA_KEYS = 10
TOP_METADATA_VALUES = 5
MAX_DISTINCT = 200
METADATA_EXCLUDED = frozenset((
    "userAgent", "url", "referrer", "viewport", "has_errors", "entry_url", "entry_referrer",
    "geo_country", "geo_city", "geo_region", "geo_timezone",
))


@dataclass
class Kpis:
    sessions: int
    events: int
    sessions_with_errors: int
    avg_duration_ms: float | None

    @property
    def error_free_pct(self) -> float | None:
        if not self.sessions:
            return None
        return round(100 * (1 - self.sessions_with_errors / self.sessions), 1)


@dataclass
class Bucket:
    label: str
    events: int = 0
    sessions: int = 0
    errors: int = 0
    server_errors: int = 0


OVERLAY_PROBLEMS = 200
OVERLAY_OCCURRENCES = 500


def server_error_days(store: Store, period: Period) -> tuple[dict[int, int], bool]:
    """Server error occurrences per UTC day in the period, and whether the overlay's bounds
    (200 problems seen in the period, 500 occurrences each, as the original) cut it short.
    Empty for a store that keeps no error tracking."""
    from sentiero.tracking.models import ProblemQuery

    lo = int(period.since.timestamp() * 1000) if period.since else None
    hi = int(period.until.timestamp() * 1000) if period.until else None
    try:
        problems = store.list_problems(  # type: ignore[attr-defined]
            ProblemQuery(limit=OVERLAY_PROBLEMS + 1, since_ms=lo))
    except (AttributeError, NotImplementedError):
        return {}, False
    truncated = len(problems) > OVERLAY_PROBLEMS
    days: dict[int, int] = {}
    for problem in problems[:OVERLAY_PROBLEMS]:
        occurrences = store.list_occurrences(  # type: ignore[attr-defined]
            problem_id=problem.id, limit=OVERLAY_OCCURRENCES + 1, since_ms=lo)
        truncated = truncated or len(occurrences) > OVERLAY_OCCURRENCES
        for occ in occurrences[:OVERLAY_OCCURRENCES]:
            if hi is None or occ.ts_ms <= hi:
                day = occ.ts_ms - occ.ts_ms % 86_400_000
                days[day] = days.get(day, 0) + 1
    return days, truncated


def top_open_problems(store: Store, limit: int = 5) -> list[Any]:
    """The open server problems with the most occurrences (none without error tracking)."""
    from sentiero.tracking.models import ProblemQuery

    try:
        return store.list_problems(  # type: ignore[attr-defined,no-any-return]
            ProblemQuery(limit=limit, status="open", sort_by="count"))
    except (AttributeError, NotImplementedError):
        return []


@dataclass
class Overview:
    period: Period
    kpis: Kpis
    prior: Kpis | None
    series: list[Bucket]
    browsers: list[tuple[str, int]]
    devices: list[tuple[str, int]]
    operating_systems: list[tuple[str, int]]
    countries: list[tuple[str, int]]
    durations: list[tuple[str, int]]
    tags: list[dict[str, Any]]
    entry_pages: list[dict[str, Any]]
    referrers: list[tuple[str, int]]
    navigation_internal: list[tuple[str, int]]
    navigation_external: list[tuple[str, int]]
    link_texts: list[tuple[str, int]]
    metadata: list[dict[str, Any]] = field(default_factory=list)
    server_overlay_truncated: bool = False
    top_problems: list[Any] = field(default_factory=list)

    @property
    def deltas(self) -> dict[str, float | None]:
        """Sessions and events in %, error-free rate in percentage points; None when the
        prior value is 0 or there is no prior period."""
        if self.prior is None:
            return {"sessions": None, "events": None, "error_free": None}
        now, before = self.kpis, self.prior
        error_free = None
        if now.error_free_pct is not None and before.error_free_pct is not None:
            error_free = round(now.error_free_pct - before.error_free_pct, 1)
        return {
            "sessions": delta_pct(now.sessions, before.sessions),
            "events": delta_pct(now.events, before.events),
            "error_free": error_free,
        }


def kpis(facets: Facets, days: list[tuple[int, int, int]]) -> Kpis:
    """From the sessions' facets and ``daily_activity`` of the same scope."""
    return Kpis(facets.sessions, sum(e for _, e, _ in days), facets.errored,
                facets.durations.mean_ms)


def _distribution(facets: Facets, trait: str) -> list[tuple[str, int]]:
    counts = {k: v[0] for k, v in facets.counts[trait].items() if k is not None}
    return top_counts(counts, MAX_DISTINCT)


def activity_series(store: Store, scope: Scope, period: Period,
                    days: list[tuple[int, int, int]],
                    server_days: dict[int, int] | None = None) -> list[Bucket]:
    """``days``: the scope's ``daily_activity``."""
    weekly = period.weekly
    errors = store.fact_counts(scope, "error", by_day=True, sessions=False)
    server_days = server_days or {}
    labels = bucket_labels(period, [d for d, _, _ in days] + [e.day or 0 for e in errors]
                           + list(server_days))
    buckets = {label: Bucket(label) for label in labels}
    for day, events, starts in days:
        bucket = buckets.setdefault(bucket_of(day, weekly), Bucket(bucket_of(day, weekly)))
        bucket.events += events
        bucket.sessions += starts
    for count in errors:
        label = bucket_of(count.day or 0, weekly)
        buckets.setdefault(label, Bucket(label)).errors += count.count
    for day, n in server_days.items():
        label = bucket_of(day, weekly)
        buckets.setdefault(label, Bucket(label)).server_errors += n
    return [buckets[k] for k in sorted(buckets)]


def tag_series(store: Store, scope: Scope, period: Period) -> list[dict[str, Any]]:
    counts = [c for c in store.fact_counts(scope, "custom", by_key=True, by_day=True,
                                                  sessions=False)
              if c.key and not is_internal_tag(c.key)]
    totals: Counter[str] = Counter()
    sessions: Counter[str] = Counter()
    for c in counts:
        totals[c.key or ""] += c.count
    # distinct sessions per tag over the whole range (a per-day sum would count repeats)
    for c in store.fact_counts(scope, "custom", by_key=True):
        if c.key in totals:
            sessions[c.key] = c.sessions
    labels = bucket_labels(period, [c.day or 0 for c in counts])
    out = []
    for tag, total in top_counts(totals, TOP_TAGS):
        per_bucket = dict.fromkeys(labels, 0)
        for c in counts:
            if c.key == tag:
                label = bucket_of(c.day or 0, period.weekly)
                per_bucket[label] = per_bucket.get(label, 0) + c.count
        out.append({"tag": tag, "count": total, "sessions": sessions[tag],
                    "series": [per_bucket[k] for k in sorted(per_bucket)]})
    return out


def entry_pages(facets: Facets) -> list[dict[str, Any]]:
    counts = facets.counts["entry_url"]
    rows = [{"url": url, "sessions": n, "errors": e, "error_pct": pct(e, n)}
            for url, (n, e) in counts.items() if url]
    rows.sort(key=lambda r: (-r["sessions"], r["url"]))
    return rows[:TOP_ENTRY_PAGES]


def referrers(facets: Facets) -> list[tuple[str, int]]:
    """Referrers of sessions in scope, without the site's own origins (those of the entry
    pages), so internal navigation does not crowd out real sources."""
    own = {url for url in facets.counts["entry_url"] if url}
    counts: Counter[str] = Counter()
    for referrer, (n, _) in facets.counts["referrer"].items():
        if referrer and not any(same_origin(referrer, entry) for entry in own):
            counts[referrer] += n
    return top_counts(counts, TOP_REFERRERS)


def navigation(store: Store, scope: Scope) -> tuple[list[tuple[str, int]], ...]:
    internal: Counter[str] = Counter()
    external: Counter[str] = Counter()
    texts: Counter[str] = Counter()
    for fact in store.scope_facts(scope, ("navigation",)):
        target = fact.data.get("target")
        if isinstance(target, str):
            (external if fact.key == "external" else internal)[target] += 1
        text = fact.data.get("text")
        if isinstance(text, str) and text:
            texts[text] += 1
    return (top_counts(internal, TOP_NAVIGATION), top_counts(external, TOP_NAVIGATION),
            top_counts(texts, TOP_NAVIGATION))


def metadata_distributions(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Top custom metadata keys by session count, each with its top values."""
    keys: Counter[str] = Counter()
    values: dict[str, Counter[str]] = {}
    for (key, text), n in store.metadata_counts(scope).items():
        if key in METADATA_EXCLUDED:
            continue
        keys[key] += n
        values.setdefault(key, Counter())[text] += n
    return [{"key": key, "sessions": n, "values": top_counts(values[key], TOP_METADATA_VALUES)}
            for key, n in top_counts(keys, TOP_METADATA_KEYS)]


def overview(store: Store, period: Period, segment: Segment | None = None) -> Overview:
    scope = Scope(period.since, period.until, segment or Segment())
    prior_period = period.previous()
    prior = None
    if prior_period:
        before = Scope(prior_period.since, prior_period.until, scope.segment)
        prior = kpis(store.session_facets(before, by_trait=False), store.daily_activity(before))
    facets = store.session_facets(scope)
    days = store.daily_activity(scope)
    durations = facets.durations
    internal, external, texts = navigation(store, scope)
    # the overlay follows the period, not the segment: server errors carry no browser
    server_days, server_truncated = server_error_days(store, period) \
        if scope.segment.empty else ({}, False)
    return Overview(
        period=period,
        kpis=kpis(facets, days),
        prior=prior,
        series=activity_series(store, scope, period, days, server_days),
        browsers=_distribution(facets, "browser"),
        devices=_distribution(facets, "device"),
        operating_systems=_distribution(facets, "os"),
        countries=_distribution(facets, "country"),
        durations=list(zip(DURATION_LABELS, durations.buckets, strict=True)),
        tags=tag_series(store, scope, period),
        entry_pages=entry_pages(facets),
        referrers=referrers(facets),
        navigation_internal=internal,
        navigation_external=external,
        link_texts=texts,
        metadata=metadata_distributions(store, scope),
        server_overlay_truncated=server_truncated,
        top_problems=top_open_problems(store),
    )


def host_of(url: str) -> str:
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url
