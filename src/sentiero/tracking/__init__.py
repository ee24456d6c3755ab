"""Server-side error tracking: fingerprinting, problems, occurrences, server events, ingest
keys, and the decoding of sentry-sdk envelopes and the original's ``/errors`` + ``/track``.

Pure functions over plain data; the web layer (``sentiero.web.tracking_ingest``,
``sentiero.web.issues``) translates HTTP to these calls and the stores keep the records
(``sentiero.stores.tracking``).
"""

from __future__ import annotations

from typing import Any

from sentiero.tracking.fingerprint import register
from sentiero.tracking.models import (
    IngestKey,
    Occurrence,
    Problem,
    ProblemQuery,
    ServerEvent,
    ServerEventQuery,
)

__all__ = [
    "IngestKey",
    "Occurrence",
    "Problem",
    "ProblemQuery",
    "ServerEvent",
    "ServerEventQuery",
    "register",
    "window_server_errors",
]

WINDOW_ERRORS_LIMIT = 500


def window_server_errors(store: Any, session_id: str, window_id: str) -> list[dict[str, Any]]:
    """The server errors linked to one replay window, oldest first, for the timeline:
    ``ts_ms`` (epoch ms of the failing request, where the marker goes), ``problem_id``,
    ``title``, ``exception_class``, ``path`` and ``url`` (the problem page, relative to the
    mount prefix). Empty for a store without tracking data."""
    try:
        occurrences = store.list_occurrences(session_id=session_id, limit=WINDOW_ERRORS_LIMIT)
    except NotImplementedError:
        return []
    titles: dict[str, str] = {}
    out = []
    for occ in sorted(occurrences, key=lambda o: (o.replay_ms or o.ts_ms, o.id)):
        if occ.window_id != window_id:
            continue
        if occ.problem_id not in titles:
            problem = store.get_problem(occ.problem_id)
            titles[occ.problem_id] = problem.title if problem else occ.exception_class
        out.append({
            "ts_ms": occ.replay_ms if occ.replay_ms is not None else occ.ts_ms,
            "problem_id": occ.problem_id,
            "title": titles[occ.problem_id],
            "exception_class": occ.exception_class,
            "path": occ.path,
            "url": f"/issues/{occ.problem_id}",
        })
    return out
