"""Conversions (inventory §5.7): how often sessions reach a goal (a custom event tag or a page
URL pattern), by entry page, referrer host and UTM source/medium/campaign.

A session converts once, at its earliest goal event (the example link's moment). Entry pages
are normalized to scheme://host[:port]/path; a referrer from the session's own origin is
dropped, no referrer is "(direct / none)"; UTM values come from the entry URL's query.
Sessions without an entry URL are left out. Rows with fewer than ``LOW_VOLUME`` sessions are
flagged: their rate says little. Each row has a converting and a non-converting example."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sentiero.analytics.funnel import Step
from sentiero.analytics.periods import Period, pct
from sentiero.analytics.query import Scope, Segment, SessionRow
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


FACETS: dict[str, Callable[[SessionRow, str], str]] = {
    "Entry page": lambda row, entry: entry,
    "Referrer": lambda row, entry: referrer_host(row.traits.referrer, entry),
    "UTM source": lambda row, entry: row.traits.utm_source or NOT_SET,
    "UTM medium": lambda row, entry: row.traits.utm_medium or NOT_SET,
    "UTM campaign": lambda row, entry: row.traits.utm_campaign or NOT_SET,
}


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
                segment: Segment | None = None) -> Conversions:
    scope = Scope(period.since, period.until, segment or Segment())
    converted = goal_moments(store, scope, goal)
    facets: dict[str, dict[str, FacetRow]] = {name: {} for name in FACETS}
    total = wins = 0
    for row in reversed(store.analytics_sessions(scope)):  # oldest first: stable examples
        entry = normalize_entry(row.traits.entry_url or "")
        if entry is None:
            continue
        total += 1
        example = converted.get(row.session_id)
        wins += example is not None
        for name, value_of in FACETS.items():
            value = value_of(row, entry)
            facet = facets[name].setdefault(value, FacetRow(value))
            facet.sessions += 1
            if example is not None:
                facet.conversions += 1
                facet.converting = facet.converting or example
            elif facet.not_converting is None:
                facet.not_converting = Example(row.session_id, row.first_window_id, None)
    return Conversions(
        goal, total, wins,
        {name: sorted(rows.values(), key=lambda r: (-r.sessions, r.value))[:TOP_ROWS]
         for name, rows in facets.items()},
        {name: len(rows) for name, rows in facets.items()})
