"""How the demo's ``/boom`` error reaches the Errors page, linked to the visitor's replay.

With sentry-sdk installed (``pip install 'sentiero[errors]'``) the demo does what an app
would: a fresh ingest key for project ``demo`` (older demo keys are revoked), then
``sentiero.reporter.init`` with a DSN pointing at the demo's own server, and sentry-sdk's
WSGI middleware around the site so the recorder cookies link the error to the replay.
Without it, the demo stores the error itself through the same decoding the original's
``/errors`` endpoint uses, linked from the same cookies.
"""

from __future__ import annotations

import logging
from typing import Any

from sentiero.app import Sentiero
from sentiero.privacy.redaction import Redactor
from sentiero.reporter import link_from_cookies
from sentiero.tracking import keys, reports

log = logging.getLogger("sentiero.demo")
PROJECT = "demo"


def sentry_available() -> bool:
    try:
        import sentry_sdk  # noqa: F401
    except ImportError:
        return False
    return True


def start(sentiero: Sentiero, base_url: str) -> bool:
    """Set up sentry-sdk reporting to ``base_url`` (the demo's Sentiero, e.g.
    ``http://127.0.0.1:8000/sentiero``). Returns False when sentry-sdk is missing."""
    if not sentry_available():
        return False
    from sentiero import reporter

    store = sentiero.store
    for old in store.list_ingest_keys():
        if old.project == PROJECT and old.active:
            store.revoke_ingest_key(old.key_id)
    key, _record = keys.create_key(store, PROJECT)
    scheme, _, rest = base_url.partition("://")
    return reporter.init(dsn=f"{scheme}://{key}@{rest}/1", environment="demo")


def wrap(site: Any, reporting: bool) -> Any:
    """The site inside sentry-sdk's WSGI middleware when reporting through it."""
    if not reporting:
        return site
    from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware

    return SentryWsgiMiddleware(site)


def report(sentiero: Sentiero, error: BaseException, environ: dict[str, Any],
           reporting: bool) -> None:
    """Report the demo's failure; never raises."""
    try:
        if reporting:
            import sentry_sdk

            sentry_sdk.capture_exception(error)
            return
        import traceback

        link = link_from_cookies(environ.get("HTTP_COOKIE")) or {}
        payload = {
            "exception_class": type(error).__name__,
            "message": str(error),
            "backtrace": [line.strip() for line in traceback.format_tb(error.__traceback__)],
            "platform": "python",
            "context": {"request": {"path": environ.get("PATH_INFO", "/")},
                        "environment": "demo"},
            **{k: v for k, v in (("session_id", link.get("session_id")),
                                 ("window_id", link.get("window_id"))) if v},
        }
        occurrence = reports.error_report(payload, PROJECT, Redactor())
        if link.get("request_ms") and occurrence.session_id:
            occurrence.replay_ms = link["request_ms"]
        sentiero.store.save_occurrence(occurrence)
    except Exception:
        log.warning("sentiero demo: could not report the /boom error", exc_info=True)
