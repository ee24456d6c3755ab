"""Client JS errors grouped (inventory §5.12): the group key is the message's first line with
digit runs as ``#`` (computed at ingest, the fact's ``key``); the group id is its SHA-1."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics.periods import Period
from sentiero.analytics.query import Scope, Segment
from sentiero.stores.base import Fact

if TYPE_CHECKING:
    from sentiero.stores.base import Store

MAX_FACET = 50
MAX_OCCURRENCES = 50
SORTS = ("count", "recency")


def group_id(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()


@dataclass
class ErrorGroup:
    key: str
    message: str
    source: str | None = None
    line: int | None = None
    kind: str | None = None
    stack: str | None = None
    count: int = 0
    last_ms: int = 0
    sessions: set[str] = field(default_factory=set)
    browsers: Counter[str] = field(default_factory=Counter)
    devices: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    occurrences: list[Fact] = field(default_factory=list)

    @property
    def id(self) -> str:
        return group_id(self.key)


def error_groups(store: Store, period: Period, segment: Segment | None = None,
                 search: str | None = None, sort: str = "count") -> list[ErrorGroup]:
    scope = Scope(period.since, period.until, segment or Segment())
    facts = sorted(store.scope_facts(scope, ("error",)), key=lambda f: f.ts_ms, reverse=True)
    groups: dict[str, ErrorGroup] = {}
    for fact in facts:  # newest first: a group's message is its latest occurrence's
        key = fact.key or "Unknown error"
        group = groups.get(key)
        data: dict[str, Any] = fact.data
        if group is None:
            if search and search.lower() not in str(data.get("message", key)).lower():
                continue
            group = groups[key] = ErrorGroup(
                key, str(data.get("message") or key), data.get("source"), data.get("line"),
                data.get("kind"), data.get("stack"), last_ms=fact.ts_ms)
        group.count += 1
        group.sessions.add(fact.session_id)
        if fact.url and (fact.url in group.pages or len(group.pages) < MAX_FACET):
            group.pages[fact.url] += 1
        if len(group.occurrences) < MAX_OCCURRENCES:
            group.occurrences.append(fact)
    if groups:
        involved = set().union(*(g.sessions for g in groups.values()))
        traits = {r.session_id: r.traits for r in store.session_rows(involved)}
        for group in groups.values():
            for sid in group.sessions:
                t = traits.get(sid)
                if t is None:
                    continue
                if t.browser and (t.browser in group.browsers or len(group.browsers) < MAX_FACET):
                    group.browsers[t.browser] += 1
                if t.device and (t.device in group.devices or len(group.devices) < MAX_FACET):
                    group.devices[t.device] += 1
    ordered = list(groups.values())
    if sort == "recency":
        ordered.sort(key=lambda g: (-g.last_ms, g.key))
    else:
        ordered.sort(key=lambda g: (-g.count, -g.last_ms, g.key))
    return ordered


def find_group(store: Store, period: Period, gid: str) -> ErrorGroup | None:
    return next((g for g in error_groups(store, period) if g.id == gid), None)
