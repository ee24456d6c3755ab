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
    session_count: int = 0
    browsers: Counter[str] = field(default_factory=Counter)
    devices: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    occurrences: list[Fact] = field(default_factory=list)  # newest first

    @property
    def id(self) -> str:
        return group_id(self.key)


def error_groups(store: Store, period: Period, segment: Segment | None = None,
                 search: str | None = None, sort: str = "count", key: str | None = None,
                 occurrences: int = 1) -> list[ErrorGroup]:
    """The groups (or the one of ``key``), counted in the store: each group's message, source
    and stack are its latest occurrence's, its ``occurrences`` the newest few (the list shows
    one, a group's page ``MAX_OCCURRENCES``); pages, browsers and devices the top
    ``MAX_FACET`` of each."""
    scope = Scope(period.since, period.until, segment or Segment())
    groups: dict[str, ErrorGroup] = {}
    for fact in store.latest_facts(scope, "error", occurrences, key=key):  # newest first
        name = fact.key or "Unknown error"
        group = groups.get(name)
        if group is None:
            data: dict[str, Any] = fact.data
            if search and search.lower() not in str(data.get("message", name)).lower():
                continue
            group = groups[name] = ErrorGroup(
                name, str(data.get("message") or name), data.get("source"), data.get("line"),
                data.get("kind"), data.get("stack"))
        group.occurrences.append(fact)
    if not groups:
        return []
    for c in store.fact_counts(scope, "error", by_key=True):
        group = groups.get(c.key or "Unknown error")
        if group is not None:
            group.count += c.count
            group.session_count += c.sessions or 0
            group.last_ms = max(group.last_ms, c.last_ms or 0)
    for c in store.fact_counts(scope, "error", by_url=True, by_key=True, sessions=False):
        group = groups.get(c.key or "Unknown error")
        if group is not None and c.url:
            group.pages[c.url] += c.count
    # a session has one browser and one device: its sessions per (browser, device) add up
    for (name, browser, device), n in store.fact_trait_counts(
            scope, "error", ("browser", "device")).items():
        group = groups.get(name or "Unknown error")
        if group is not None:
            if browser:
                group.browsers[browser] += n
            if device:
                group.devices[device] += n
    for group in groups.values():
        for attr in ("pages", "browsers", "devices"):
            counter = getattr(group, attr)
            if len(counter) > MAX_FACET:
                setattr(group, attr, Counter(dict(counter.most_common(MAX_FACET))))
    ordered = list(groups.values())
    if sort == "recency":
        ordered.sort(key=lambda g: (-g.last_ms, g.key))
    else:
        ordered.sort(key=lambda g: (-g.count, -g.last_ms, g.key))
    return ordered


def find_group(store: Store, period: Period, gid: str) -> ErrorGroup | None:
    scope = Scope(period.since, period.until)
    key = next((c.key for c in store.fact_counts(scope, "error", by_key=True, sessions=False)
                if group_id(c.key or "Unknown error") == gid), None)
    if key is None:
        return None
    found = error_groups(store, period, key=key, occurrences=MAX_OCCURRENCES)
    return found[0] if found else None
