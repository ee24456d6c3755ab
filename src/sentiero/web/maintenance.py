"""The maintenance page (``/maintenance``): purge recordings before a date, run the retention
purge. Both are POSTs behind the CSRF check, audited, and answer with a redirect whose
``?purged=N`` or ``?error=<code>`` the page shows as a flash message."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from sentiero.analytics.periods import end_of_day
from sentiero.privacy import erasure
from sentiero.web import security
from sentiero.web.routing import Route, Web

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
ERRORS = {
    "confirm": "Tick the confirmation checkbox to purge.",
    "date": "Enter a valid date.",
    "retention": "retention_period_s is not set; nothing to purge.",
}


def _flash(web: Web, request: Request) -> tuple[str | None, str | None]:
    purged = request.args.get("purged", "")
    error = ERRORS.get(request.args.get("error", ""))
    if purged.isdigit() and len(purged) < 10:
        n = int(purged)
        return (f"Purged {n} session{'s' if n != 1 else ''}.", None)
    return (None, error)


def maintenance_page(web: Web, request: Request) -> Response:
    ok, error = _flash(web, request)
    period = web.settings.retention_period_s
    root = web.root(request)
    return web.render(
        request, "maintenance.html", title="Maintenance", nav="maintenance",
        flash_ok=ok, flash_error=error,
        retention_s=period,
        retention_days=None if period is None else round(period / 86400, 2),
        purge_before_url=f"{root}/maintenance/purge-before",
        purge_expired_url=f"{root}/maintenance/purge-expired",
        today=datetime.now(timezone.utc).date().isoformat(),
    )


def _back(web: Web, request: Request, **params: object) -> Response:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return redirect(f"{web.root(request)}/maintenance?{query}", 302)


def purge_before(web: Web, request: Request) -> Response:
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    raw = (request.form.get("date") or "").strip()
    if not _DATE.match(raw):
        return _back(web, request, error="date")
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        return _back(web, request, error="date")
    if request.form.get("confirm") != "1":
        return _back(web, request, error="confirm")
    until = end_of_day(day)
    deleted = erasure.erase(web.store, erasure.Criteria(until=until))
    web.audit(request, "erase", deleted, dataset=raw,
              detail={"until": until.isoformat(), "count": len(deleted), "via": "maintenance"})
    return _back(web, request, purged=len(deleted))


def purge_expired(web: Web, request: Request) -> Response:
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    period = web.settings.retention_period_s
    if period is None:
        return _back(web, request, error="retention")
    count = erasure.purge_expired(web.store, period)
    web.audit(request, "purge", detail={"retention_period_s": period, "count": count,
                                        "via": "maintenance"})
    return _back(web, request, purged=count)


ROUTES = [
    Route("/maintenance", "maintenance", maintenance_page),
    Route("/maintenance/purge-before", "maintenance_purge_before", purge_before, ("POST",)),
    Route("/maintenance/purge-expired", "maintenance_purge_expired", purge_expired, ("POST",)),
]
