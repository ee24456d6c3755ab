"""The audit hook: who did what to which recordings, handed to the host's own logging.

Sentiero keeps no audit log itself; ``Settings.audit`` (a callable) receives one
:class:`AuditRecord` per auditable action. A hook that raises is logged and ignored: auditing
never breaks the request or the maintenance job that triggered it.

Actions:

- ``opt_out``: a browser reported an end-user opt-out (``POST {prefix}/opt-out``).
- ``list_sessions``: the dashboard's sessions list was viewed.
- ``view_session``: a replay page or the events API of a window was read.
- ``delete_session``: a session, a window (``window_id`` set) or a bulk selection was deleted
  from the dashboard.
- ``erase``: :meth:`Sentiero.erase` (right to erasure); ``detail`` holds the criteria.
- ``purge``: :meth:`Sentiero.purge_expired` (retention); ``detail`` holds the period.

Only authorized dashboard requests are audited (a refused login or CSRF check never reaches
a handler). ``ip`` is the client address anonymized per ``Settings.anonymize_ip`` (IPv4 /24,
IPv6 /48), None outside a request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sentiero.privacy.ip import anonymize_ip, client_ip
from sentiero.stores.base import utcnow

__all__ = ["ACTIONS", "AuditRecord", "emit", "request_ip", "request_user"]

log = logging.getLogger("sentiero.audit")

ACTIONS = frozenset(
    {"opt_out", "list_sessions", "view_session", "delete_session", "erase", "purge", "export",
     "share", "scan",
     # error tracking (web/issues.py)
     "list_problems", "view_problem", "update_problem_status", "list_events", "view_event"}
)
USER_ENVIRON_KEY = "sentiero.user"
"""A host integration may put the signed-in user's name here; it wins over REMOTE_USER."""


@dataclass(frozen=True)
class AuditRecord:
    """One auditable action. ``at`` is timezone-aware UTC."""

    action: str
    session_ids: tuple[str, ...] = ()
    window_id: str | None = None
    dataset: str | None = None
    """What was read or changed when it is not a session (e.g. ``"sessions"`` for the list)."""
    user: str | None = None
    """The HTTP Basic user, else ``environ["sentiero.user"]``, else ``REMOTE_USER``."""
    ip: str | None = None
    at: datetime = field(default_factory=utcnow)
    path: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def emit(hook: Any, record: AuditRecord) -> None:
    """Call the audit hook (if any) with ``record``; its exceptions are logged, not raised."""
    if hook is None:
        return
    try:
        hook(record)
    except Exception:
        log.exception("sentiero: the audit hook raised on %r; the action went ahead", record.action)


def request_ip(environ: Mapping[str, Any], anonymize: bool = True,
               trust_forwarded_for: bool = False) -> str | None:
    """The client's address as the audit hook receives it."""
    ip = client_ip(environ, trust_forwarded_for)
    return anonymize_ip(ip) if anonymize else ip


def request_user(environ: Mapping[str, Any], basic_user: str | None = None) -> str | None:
    """Who made the request, as far as the dashboard knows."""
    if basic_user:
        return basic_user
    for key in (USER_ENVIRON_KEY, "REMOTE_USER"):
        value = environ.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def ids(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
