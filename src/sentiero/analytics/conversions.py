"""Conversions (inventory §5.7): how often sessions reach a goal (a custom event tag or a page
URL pattern), by entry page, referrer host and UTM source/medium/campaign.

A session converts once, at its earliest goal event (the example link's moment; ties in the
store's fact order). Entry pages are normalized to scheme://host[:port]/path; a referrer from
the session's own origin is dropped, no referrer is "(direct / none)"; UTM values come from
the entry URL's query.
Sessions without an entry URL are left out. Rows with fewer than ``LOW_VOLUME`` sessions are
flagged: their rate says little. Each row has a converting and a non-converting example: the
first such session oldest first (updated_at ascending, ties by id descending). The store
counts the sessions per raw traits and goal reached (``Store.goal_groups``: GROUP BY on SQL
stores, which keep each closed UTC day's groups in their day cache and merge them with
:func:`merge_goal_groups`); the URL rules above apply per group."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sentiero.analytics.funnel import Step
from sentiero.analytics.periods import Period, pct
from sentiero.analytics.query import Scope, Segment
from sentiero.analytics.traits import same_origin

if TYPE_CHECKING:
    from sentiero.stores.base import Store

LOW_VOLUME = 5
TOP_ROWS = 15
DIRECT = "(direct / none)"
NOT_SET = "(not set)"


@dataclass(frozen=True)
class Example:
    session_id: str
    window_id: str | None
    ts_ms: int | None  # the goal moment of a converting example; None = the session's start


@dataclass
class FacetRow:
    value: str
    sessions: int = 0
    conversions: int = 0
    converting: Example | None = None
    not_converting: Example | None = None

    @property
    def rate_pct(self) -> float | None:
        return pct(self.conversions, self.sessions)

    @property
    def low_volume(self) -> bool:
        return self.sessions < LOW_VOLUME


@dataclass
class Conversions:
    goal: Step
    sessions: int
    conversions: int
    facets: dict[str, list[FacetRow]]  # facet label -> top rows
    facet_totals: dict[str, int]  # facet label -> distinct values

    @property
    def rate_pct(self) -> float | None:
        return pct(self.conversions, self.sessions)


def normalize_entry(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path or '/'}"


def referrer_host(referrer: str | None, entry: str) -> str:
    if not referrer or same_origin(referrer, entry):
        return DIRECT
    try:
        return urlsplit(referrer).hostname or DIRECT
    except ValueError:
        return DIRECT


@dataclass(frozen=True)
class GoalGroup:
    """Sessions in scope with an entry URL and the same raw traits the facets read, that did
    (or did not) reach the goal, as ``Store.goal_groups`` counts them: how many, and the first
    of them oldest first (``updated_at`` ascending, ties by id descending) with its example
    moment (the goal moment; None = the session's start)."""

    entry_url: str
    referrer: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    converted: bool
    sessions: int
    first_updated_us: int
    first: Example


FACETS: dict[str, Callable[[GoalGroup, str], str]] = {
    "Entry page": lambda group, entry: entry,
    "Referrer": lambda group, entry: referrer_host(group.referrer, entry),
    "UTM source": lambda group, entry: group.utm_source or NOT_SET,
    "UTM medium": lambda group, entry: group.utm_medium or NOT_SET,
    "UTM campaign": lambda group, entry: group.utm_campaign or NOT_SET,
}


def generic_goal_groups(store: Store, scope: Scope, goal: Step) -> list[GoalGroup]:
    converted = goal_moments(store, scope, goal)
    groups: dict[tuple[Any, ...], GoalGroup] = {}
    for row in reversed(store.analytics_sessions(scope)):  # oldest first
        t = row.traits
        if not t.entry_url:
            continue
        example = converted.get(row.session_id)
        key = (t.entry_url, t.referrer, t.utm_source, t.utm_medium, t.utm_campaign,
               example is not None)
        kept = groups.get(key)
        groups[key] = replace(kept, sessions=kept.sessions + 1) if kept else GoalGroup(
            *key, 1, int(row.updated_at.timestamp() * 1_000_000),
            example or Example(row.session_id, row.first_window_id, None))
    return list(groups.values())


def merge_goal_groups(parts: list[list[GoalGroup]]) -> list[GoalGroup]:
    """The groups of the sessions of every part (no session in two parts): equal raw traits
    and outcome add up, the first session being the oldest of theirs."""
    out: dict[tuple[Any, ...], GoalGroup] = {}
    for part in parts:
        for g in part:
            key = (g.entry_url, g.referrer, g.utm_source, g.utm_medium, g.utm_campaign,
                   g.converted)
            kept = out.get(key)
            if kept is None:
                out[key] = g
                continue
            older = g if (g.first_updated_us, kept.first.session_id) < \
                (kept.first_updated_us, g.first.session_id) else kept
            out[key] = replace(older, sessions=kept.sessions + g.sessions)
    return list(out.values())


def goal_moments(store: Store, scope: Scope, goal: Step) -> dict[str, Example]:
    """Each converting session's earliest goal event."""
    kind = "custom" if goal.kind == "tag" else "page_view"
    found: dict[str, Example] = {}
    for f in store.scope_facts(scope, (kind,)):
        if goal.matches_tag(f.key) if kind == "custom" else goal.matches_url(f.url):
            kept = found.get(f.session_id)
            if kept is None or (kept.ts_ms or 0) > f.ts_ms:
                found[f.session_id] = Example(f.session_id, f.window_id, f.ts_ms)
    return found


def conversions(store: Store, period: Period, goal: Step,
                segment: Segment | None = None, top: int | None = TOP_ROWS) -> Conversions:
    """``top`` rows per facet (None: every row, as the export has them)."""
    scope = Scope(period.since, period.until, segment or Segment())
    groups = store.goal_groups(scope, goal)
    # oldest first (updated_at ascending, ties by id descending): stable examples
    groups.sort(key=lambda g: g.first.session_id, reverse=True)
    groups.sort(key=lambda g: g.first_updated_us)
    facets: dict[str, dict[str, FacetRow]] = {name: {} for name in FACETS}
    total = wins = 0
    for group in groups:
        entry = normalize_entry(group.entry_url)
        if entry is None:
            continue
        total += group.sessions
        wins += group.sessions if group.converted else 0
        for name, value_of in FACETS.items():
            value = value_of(group, entry)
            facet = facets[name].setdefault(value, FacetRow(value))
            facet.sessions += group.sessions
            if group.converted:
                facet.conversions += group.sessions
                facet.converting = facet.converting or group.first
            elif facet.not_converting is None:
                facet.not_converting = group.first
    return Conversions(
        goal, total, wins,
        {name: sorted(rows.values(), key=lambda r: (-r.sessions, r.value))[:top]
         for name, rows in facets.items()},
        {name: len(rows) for name, rows in facets.items()})
