"""The records of server-side error tracking and the rules every store applies to them.

A *problem* groups the occurrences that share a fingerprint (``fingerprint.py``); it keeps
counts, first/last seen and a status. An *occurrence* is one reported exception, optionally
linked to the replay (session, window and the moment of the failing request). A *server
event* is one ``track()`` call. An *ingest key* authorizes a reporter for one project.

Times are epoch milliseconds (``*_ms``), like rrweb event timestamps, so an occurrence's
``replay_ms`` drops straight into a replay link (``?t=<ms>``). The upsert rule
(:func:`apply_occurrence`) and the list filters live here once; stores call them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sentiero.stores.base import ID_PATTERN, STORABLE_INT

STATUSES = ("open", "resolved", "ignored")
LEVELS = ("debug", "info", "warn", "error")
PROBLEM_SORTS = ("last_seen", "first_seen", "count")
TITLE_MAX = 200
MESSAGE_MAX = 4000
NAME_MAX = 200
CONTEXT_MAX_BYTES = 16_384
FRAMES_MAX = 100
DEFAULT_MAX_PROBLEMS = 5_000
DEFAULT_MAX_SERVER_EVENTS = 50_000
DEFAULT_MAX_OCCURRENCES_PER_PROBLEM = 1_000


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Occurrence:
    """One reported exception. ``frames`` are display frames, innermost last: dicts with
    ``function``, ``module``, ``filename``, ``lineno``, ``in_app``, or plain strings for the
    original's string backtraces. ``replay_ms`` is the moment to open the replay at (the
    failing request's start when the reporter knew it, else ``ts_ms``)."""

    problem_id: str
    project: str
    exception_class: str
    message: str
    ts_ms: int
    id: str = field(default_factory=new_id)
    platform: str | None = None
    frames: list[Any] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    window_id: str | None = None
    replay_ms: int | None = None
    path: str | None = None
    environment: str | None = None
    release: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Occurrence:
        return cls(**{k: data.get(k) for k in _OCCURRENCE_FIELDS if k in data})


@dataclass
class Problem:
    id: str  # the fingerprint
    project: str
    exception_class: str
    title: str
    message: str
    count: int
    status: str
    first_seen_ms: int
    last_seen_ms: int
    resolved_at_ms: int | None = None
    platform: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(**{k: data.get(k) for k in _PROBLEM_FIELDS if k in data})


@dataclass
class ServerEvent:
    project: str
    name: str
    level: str
    ts_ms: int
    id: str = field(default_factory=new_id)
    payload: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    window_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerEvent:
        return cls(**{k: data.get(k) for k in _EVENT_FIELDS if k in data})


@dataclass
class IngestKey:
    """A stored ingest key: never the key itself, only its public id and a SHA-256 hash."""

    key_id: str
    project: str
    secret_hash: str
    created_ms: int
    revoked_ms: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_ms is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestKey:
        return cls(**{k: data.get(k) for k in _KEY_FIELDS if k in data})


_OCCURRENCE_FIELDS = tuple(Occurrence.__dataclass_fields__)
_PROBLEM_FIELDS = tuple(Problem.__dataclass_fields__)
_EVENT_FIELDS = tuple(ServerEvent.__dataclass_fields__)
_KEY_FIELDS = tuple(IngestKey.__dataclass_fields__)


@dataclass
class ProblemQuery:
    """Filters of the issues list; since/until are inclusive bounds on last_seen_ms."""

    limit: int = 50
    offset: int = 0
    status: str | None = None
    search: str | None = None  # case-insensitive substring of title or exception class
    sort_by: str = "last_seen"  # always descending, ties by id
    since_ms: int | None = None
    until_ms: int | None = None
    project: str | None = None

    def __post_init__(self) -> None:
        if self.sort_by not in PROBLEM_SORTS:
            raise ValueError(f"sort_by must be one of {', '.join(PROBLEM_SORTS)}")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if self.limit < 1 or self.offset < 0:
            raise ValueError("limit must be >= 1 and offset >= 0")


@dataclass
class ServerEventQuery:
    """Filters of the server events log; newest first."""

    limit: int = 50
    offset: int = 0
    level: str | None = None
    search: str | None = None  # case-insensitive substring of the name
    since_ms: int | None = None
    until_ms: int | None = None
    project: str | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        if self.level is not None and self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        if self.limit < 1 or self.offset < 0:
            raise ValueError("limit must be >= 1 and offset >= 0")


# --- validation (every store calls these before writing) -------------------------------------


def _check_ms(value: object, what: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not -STORABLE_INT < value < (
        STORABLE_INT
    ):
        raise ValueError(f"{what} must be an integer number of milliseconds")


def _check_id(value: object, what: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ValueError(f"{what} must be 1-128 alphanumeric, hyphen, or underscore characters")


def validate_occurrence(occ: Occurrence) -> None:
    _check_id(occ.problem_id, "problem id")
    _check_id(occ.project, "project")
    _check_id(occ.id, "occurrence id")
    _check_id(occ.session_id, "session id", optional=True)
    _check_id(occ.window_id, "window id", optional=True)
    if occ.window_id is not None and occ.session_id is None:
        raise ValueError("an occurrence with a window id needs a session id")
    if not isinstance(occ.exception_class, str) or not occ.exception_class:
        raise ValueError("exception_class is required")
    if not isinstance(occ.message, str):
        raise ValueError("message must be a string")
    _check_ms(occ.ts_ms, "ts_ms")
    _check_ms(occ.replay_ms, "replay_ms", optional=True)
    if not isinstance(occ.frames, list) or not isinstance(occ.context, dict):
        raise ValueError("frames must be a list and context an object")


def validate_server_event(event: ServerEvent) -> None:
    _check_id(event.project, "project")
    _check_id(event.id, "event id")
    _check_id(event.session_id, "session id", optional=True)
    _check_id(event.window_id, "window id", optional=True)
    if not isinstance(event.name, str) or not event.name:
        raise ValueError("name is required")
    if event.level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    _check_ms(event.ts_ms, "ts_ms")
    if not isinstance(event.payload, dict):
        raise ValueError("payload must be an object")


def validate_ingest_key(key: IngestKey) -> None:
    _check_id(key.key_id, "key id")
    _check_id(key.project, "project")
    if not isinstance(key.secret_hash, str) or len(key.secret_hash) != 64:
        raise ValueError("secret_hash must be a SHA-256 hex digest")


def validate_status(status: object) -> str:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    return str(status)


# --- the upsert rule ------------------------------------------------------------------------


def title_for(exception_class: str, message: str) -> str:
    text = f"{exception_class}: {message}" if message else exception_class
    return text[:TITLE_MAX]


def apply_occurrence(problem: Problem | None, occ: Occurrence) -> Problem:
    """The problem after one more occurrence: count + 1, first/last seen widened, message
    refreshed, a resolved problem re-opened (an ignored one stays ignored). The title comes
    from the first occurrence."""
    if problem is None:
        return Problem(
            id=occ.problem_id,
            project=occ.project,
            exception_class=occ.exception_class,
            title=title_for(occ.exception_class, occ.message),
            message=occ.message,
            count=1,
            status="open",
            first_seen_ms=occ.ts_ms,
            last_seen_ms=occ.ts_ms,
            platform=occ.platform,
        )
    reopened = problem.status == "resolved"
    return replace(
        problem,
        count=problem.count + 1,
        first_seen_ms=min(problem.first_seen_ms, occ.ts_ms),
        last_seen_ms=max(problem.last_seen_ms, occ.ts_ms),
        message=occ.message,
        status="open" if reopened else problem.status,
        resolved_at_ms=None if reopened else problem.resolved_at_ms,
    )


def apply_status(problem: Problem, status: str, at_ms: int | None = None) -> Problem:
    """``resolved`` records when; ``open`` and ``ignored`` clear it."""
    validate_status(status)
    resolved_at = (at_ms if at_ms is not None else now_ms()) if status == "resolved" else None
    return replace(problem, status=status, resolved_at_ms=resolved_at)


# --- list filters (the stores without a query language use these) ---------------------------


def problem_matches(problem: Problem, query: ProblemQuery) -> bool:
    if query.status is not None and problem.status != query.status:
        return False
    if query.project is not None and problem.project != query.project:
        return False
    if query.since_ms is not None and problem.last_seen_ms < query.since_ms:
        return False
    if query.until_ms is not None and problem.last_seen_ms > query.until_ms:
        return False
    if query.search:
        needle = query.search.lower()
        if needle not in problem.title.lower() and needle not in problem.exception_class.lower():
            return False
    return True


def problem_sort_key(sort_by: str) -> Any:
    field_name = {"last_seen": "last_seen_ms", "first_seen": "first_seen_ms", "count": "count"}[
        sort_by
    ]
    return lambda p: (-getattr(p, field_name), p.id)


def select_problems(problems: Iterable[Problem], query: ProblemQuery) -> list[Problem]:
    chosen = sorted(
        (p for p in problems if problem_matches(p, query)), key=problem_sort_key(query.sort_by)
    )
    return chosen[query.offset : query.offset + query.limit]


def event_matches(event: ServerEvent, query: ServerEventQuery) -> bool:
    if query.level is not None and event.level != query.level:
        return False
    if query.project is not None and event.project != query.project:
        return False
    if query.session_id is not None and event.session_id != query.session_id:
        return False
    if query.since_ms is not None and event.ts_ms < query.since_ms:
        return False
    if query.until_ms is not None and event.ts_ms > query.until_ms:
        return False
    return not query.search or query.search.lower() in event.name.lower()


def select_events(events: Iterable[ServerEvent], query: ServerEventQuery) -> list[ServerEvent]:
    chosen = sorted(
        (e for e in events if event_matches(e, query)), key=lambda e: (-e.ts_ms, e.id)
    )
    return chosen[query.offset : query.offset + query.limit]


def occurrence_order(occ: Occurrence) -> tuple[int, str]:
    return (occ.ts_ms, occ.id)
