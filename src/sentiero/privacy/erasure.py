"""Retention and the right to erasure, over any store.

``purge_expired`` deletes the sessions not updated for the retention period. ``erase``
deletes the sessions matching every given criterion (ids, an inclusive ``updated_at`` range, a
metadata filter). Either way a session goes with everything it left: chunks, facts, dedup
records, window state and metadata (``Store.delete_session``).

Criteria are checked before anything is deleted: one bad session id, a reversed range or no
criterion at all raise ``ValueError`` and delete nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import orjson

from sentiero.stores.base import SessionQuery, Store, validate_id

__all__ = ["Criteria", "erase", "matches_metadata", "purge_expired", "select_sessions"]

_PAGE = 500

MetadataMatcher = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


def _utc(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(moment).__name__}")
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


class Criteria:
    """Validated erasure criteria (all given ones must hold for a session to go)."""

    def __init__(
        self,
        session_ids: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(session_ids, str):
            raise ValueError("session_ids must be a list of ids, not one string")
        # every id is checked before anything is deleted
        self.session_ids = (
            None
            if session_ids is None
            else list(dict.fromkeys(validate_id(s, "session id") for s in session_ids))
        )
        self.since = _utc(since, "since")
        self.until = _utc(until, "until")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since must not be later than until")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValueError("metadata must be a mapping of key -> value")
        self.metadata = dict(metadata) if metadata else None
        if (
            self.session_ids is None
            and self.since is None
            and self.until is None
            and self.metadata is None
        ):
            raise ValueError(
                "say what to erase: session ids, a time range (since/until) or a metadata filter"
            )

    @property
    def by_ids_only(self) -> bool:
        return self.since is None and self.until is None and self.metadata is None

    def describe(self) -> dict[str, Any]:
        """The criteria as plain JSON values (for the audit record)."""
        out: dict[str, Any] = {}
        if self.session_ids is not None:
            out["session_ids"] = len(self.session_ids)
        if self.since is not None:
            out["since"] = self.since.isoformat()
        if self.until is not None:
            out["until"] = self.until.isoformat()
        if self.metadata is not None:
            out["metadata_keys"] = sorted(self.metadata)
        return out


def matches_metadata(metadata: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Every wanted key is present with an equal value."""
    return all(k in metadata and metadata[k] == v for k, v in wanted.items())


def matches_metadata_text(metadata: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """For values typed on a command line: a stored string equals the text, and a stored
    number, boolean or null equals it when its JSON form does (``42``, ``true``, ``null``)."""
    for key, text in wanted.items():
        if key not in metadata:
            return False
        value = metadata[key]
        if isinstance(value, str):
            if value != text:
                return False
        elif orjson.dumps(value).decode() != text:
            return False
    return True


def select_sessions(
    store: Store, criteria: Criteria, match: MetadataMatcher = matches_metadata
) -> list[str]:
    """The ids of the stored sessions that meet every criterion."""
    if criteria.by_ids_only:
        assert criteria.session_ids is not None
        return [s for s in criteria.session_ids if store.get_session(s) is not None]
    wanted = None if criteria.session_ids is None else set(criteria.session_ids)
    found: dict[str, None] = {}
    offset = 0
    while True:
        # created_at never changes, so new activity does not move sessions between pages
        page = store.list_sessions(
            SessionQuery(
                limit=_PAGE,
                offset=offset,
                since=criteria.since,
                until=criteria.until,
                sort_by="created_at",
            )
        )
        for summary in page:
            if wanted is not None and summary.session_id not in wanted:
                continue
            if criteria.metadata is not None and not match(summary.metadata, criteria.metadata):
                continue
            found[summary.session_id] = None
        if len(page) < _PAGE:
            return list(found)
        offset += len(page)


def erase(store: Store, criteria: Criteria, match: MetadataMatcher = matches_metadata
          ) -> list[str]:
    """Delete the matching sessions; returns the ids actually deleted."""
    if criteria.by_ids_only:
        assert criteria.session_ids is not None
        candidates = criteria.session_ids
    else:
        candidates = select_sessions(store, criteria, match)
    return [s for s in candidates if store.delete_session(s)]


def purge_expired(store: Store, retention_period_s: float) -> int:
    """Delete the sessions not updated for ``retention_period_s``; returns how many."""
    if (
        isinstance(retention_period_s, bool)
        or not isinstance(retention_period_s, (int, float))
        or not retention_period_s > 0
        or retention_period_s == float("inf")
    ):
        raise ValueError("the retention period must be a positive number of seconds")
    return store.purge_older_than(float(retention_period_s))
