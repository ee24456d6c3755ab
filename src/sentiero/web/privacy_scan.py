"""The PII scan in the dashboard (``/maintenance/scan``): ``sentiero scan`` over the newest
sessions, on demand, with the same masked excerpts and a link to each place. The whole store
is the CLI's job; a request scans at most MAX_SESSIONS sessions so it stays bounded."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from sentiero.privacy.scan import KINDS, Finding, Scanner, scan_store
from sentiero.stores.base import SessionQuery
from sentiero.web.application import Route, Web
from sentiero.web.dashboard import parse_int

DEFAULT_SESSIONS = 100
MAX_SESSIONS = 1000
SHOWN_FINDINGS = 200


def page(web: Web, request: Request) -> Response:
    limit = min(max(parse_int(request.args.get("sessions"), DEFAULT_SESSIONS), 1), MAX_SESSIONS)
    report = None
    root = web.root(request)

    def link(finding: Finding) -> str:
        base = f"{root}/sessions/{finding.session_id}"
        if finding.window_id and finding.ts_ms is not None:
            return f"{base}/windows/{finding.window_id}?t={finding.ts_ms}"
        return base

    if request.args.get("run") == "1":
        newest = web.store.list_sessions(SessionQuery(limit=limit))
        report = scan_store(web.store, Scanner(web.settings.redaction.custom_patterns),
                            session_ids=[s.session_id for s in newest])
        web.audit(request, "scan", [], dataset="sessions",
                  detail={"sessions": report.sessions, "findings": len(report.findings)})
    context: dict[str, Any] = {}
    if report is not None:
        context = {
            "counts": report.counts(),
            "per_session": sorted(report.per_session().items(),
                                  key=lambda kv: -sum(kv[1].values())),
            "findings": [(f, link(f)) for f in report.findings[:SHOWN_FINDINGS]],
        }
    return web.render(request, "privacy_scan.html", title="PII scan", nav="scan",
                      report=report, limit=limit, max_sessions=MAX_SESSIONS, kinds=KINDS,
                      shown=SHOWN_FINDINGS, **context)


ROUTES = [Route("/maintenance/scan", "privacy_scan", page)]
