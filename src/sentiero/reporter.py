"""Report server errors to Sentiero with sentry-sdk, linked to the replay of the visit.

sentry-sdk is the client (its framework integrations, background transport,
``before_send``, ``ignore_errors`` and scrubbing); this module only sets it up for Sentiero::

    import sentiero.reporter
    sentiero.reporter.init(dsn="https://snt_...@rec.example/sentiero/1", environment="prod")

- :func:`init` calls ``sentry_sdk.init`` with privacy defaults: no personal data
  (``send_default_pii=False``: no cookies, no user, no IP), no request bodies, no local
  variables of stack frames, no breadcrumbs, and Sentiero's redaction patterns plus secret-key
  filtering applied in ``before_send`` (after yours). If that scrubbing fails, the event is
  dropped, never sent unscrubbed.
- :class:`SentieroIntegration` (added by :func:`init`) links every event of a web request to
  the replay: the recorder's ``sentiero_sid`` / ``sentiero_wid`` cookies and the moment the
  request started go in ``contexts.sentiero``. It hooks sentry-sdk's WSGI and ASGI middleware,
  which Django, Flask, FastAPI, Starlette, Litestar, Bottle, Falcon and Pyramid all run through.
- :func:`track` records a server custom event, sent through sentry-sdk's transport.
- ``sentiero.testing`` has the pytest fixture ``sentiero_reports``.

Nothing here raises into the host application: failures are logged and swallowed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sentiero.privacy.ip import anonymize_ip
from sentiero.privacy.redaction import RedactionConfig, Redactor
from sentiero.stores.base import ID_PATTERN
from sentiero.tracking import privacy
from sentiero.tracking.reports import level_of

log = logging.getLogger("sentiero.reporter")

SESSION_COOKIE = "sentiero_sid"
WINDOW_COOKIE = "sentiero_wid"
TRACK_ITEM = "sentiero_track"
"""Envelope item type carrying a :func:`track` event (the server stores it as a server
event, like ``POST {prefix}/track``)."""

_redactor = Redactor()

PRIVACY_DEFAULTS: dict[str, Any] = {
    "send_default_pii": False,
    "max_request_body_size": "never",
    "include_local_variables": False,
    "max_breadcrumbs": 0,
    # gzip: every Sentiero server reads it (brotli needs the brotli package there)
    "_experiments": {"transport_compression_algo": "gzip"},
}


def _missing_sdk() -> ImportError:
    return ImportError("sentiero.reporter needs sentry-sdk: pip install 'sentiero[errors]'")


# --- linkage --------------------------------------------------------------------------------------


def link_from_cookies(cookie_header: str | None, at_ms: int | None = None
                      ) -> dict[str, Any] | None:
    """The replay linkage of a request from its Cookie header: ``{"session_id",
    "window_id"?, "request_ms"}``, or None without a valid session cookie."""
    if not cookie_header:
        return None
    from werkzeug.http import parse_cookie

    cookies = parse_cookie(cookie_header)
    sid = cookies.get(SESSION_COOKIE)
    if not sid or not ID_PATTERN.match(sid):
        return None
    link: dict[str, Any] = {"session_id": sid,
                            "request_ms": at_ms if at_ms is not None else int(time.time() * 1000)}
    wid = cookies.get(WINDOW_COOKIE)
    if wid and ID_PATTERN.match(wid):
        link["window_id"] = wid
    return link


def _asgi_cookie_header(scope: Any) -> str | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"cookie":
            return value.decode("latin-1")
    return None


def _active() -> bool:
    import sentry_sdk

    return sentry_sdk.get_client().get_integration(SentieroIntegration) is not None


def _patch_wsgi() -> None:
    from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware

    original = SentryWsgiMiddleware.__call__
    if getattr(original, "_sentiero", False):
        return

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            link = link_from_cookies(environ.get("HTTP_COOKIE")) if _active() else None
        except Exception:  # never break the request over linkage
            log.debug("sentiero: replay linkage failed", exc_info=True)
            link = None
        if link is None:
            return original(self, environ, start_response)
        import sentry_sdk

        with sentry_sdk.isolation_scope() as scope:
            scope.set_context("sentiero", link)
            return original(self, environ, start_response)

    __call__._sentiero = True  # type: ignore[attr-defined]
    SentryWsgiMiddleware.__call__ = __call__  # type: ignore[method-assign]


def _patch_asgi() -> None:
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

    original = SentryAsgiMiddleware._run_app
    if getattr(original, "_sentiero", False):
        return

    async def _run_app(self: Any, scope: Any, receive: Any, send: Any, asgi_version: int
                       ) -> Any:
        try:
            link = None
            if scope.get("type") in ("http", "websocket") and _active():
                link = link_from_cookies(_asgi_cookie_header(scope))
        except Exception:
            log.debug("sentiero: replay linkage failed", exc_info=True)
            link = None
        if link is None:
            return await original(self, scope, receive, send, asgi_version)
        import sentry_sdk

        with sentry_sdk.isolation_scope() as iso:
            iso.set_context("sentiero", link)
            return await original(self, scope, receive, send, asgi_version)

    _run_app._sentiero = True  # type: ignore[attr-defined]
    SentryAsgiMiddleware._run_app = _run_app  # type: ignore[method-assign]


try:
    from sentry_sdk.integrations import Integration as _Integration
except ImportError:  # sentry-sdk not installed: the class still exists, init() says why
    _Integration = object  # type: ignore[assignment,misc]


class SentieroIntegration(_Integration):  # type: ignore[misc,valid-type]
    """Adds ``contexts.sentiero`` (session, window, request moment) to the events of web
    requests whose browser runs the Sentiero recorder."""

    identifier = "sentiero"

    @staticmethod
    def setup_once() -> None:
        for patch in (_patch_wsgi, _patch_asgi):
            try:
                patch()
            except Exception:  # an SDK without that middleware: no linkage there
                log.debug("sentiero: could not hook %s", patch.__name__, exc_info=True)


# --- privacy ------------------------------------------------------------------------------------


def scrub_event(event: dict[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """The event as Sentiero lets it leave the process (see the module docstring)."""
    r = redactor or _redactor
    request = event.get("request")
    if isinstance(request, dict):
        kept: dict[str, Any] = {}
        if isinstance(request.get("method"), str):
            kept["method"] = request["method"]
        if isinstance(request.get("url"), str):
            kept["url"] = r.redact_url(request["url"])
        headers = request.get("headers")
        if isinstance(headers, dict):
            agent = {k: v for k, v in headers.items()
                     if isinstance(k, str) and k.lower() == "user-agent" and isinstance(v, str)}
            if agent:
                kept["headers"] = agent
        event["request"] = kept
    user = event.get("user")
    if user is not None:
        ip = anonymize_ip(user.get("ip_address")) if isinstance(user, dict) else None
        event["user"] = {"ip_address": ip} if ip else {}
    event.pop("breadcrumbs", None)
    for name in ("extra", "tags"):
        if isinstance(event.get(name), dict):
            event[name] = privacy.clean(event[name], r)
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        event["contexts"] = {k: v if k == "sentiero" else privacy.clean(v, r)
                             for k, v in contexts.items()}
    for value in _exception_values(event):
        if isinstance(value.get("value"), str):
            value["value"] = r.redact_text(value["value"])
        stack = value.get("stacktrace")
        for frame in (stack.get("frames") or []) if isinstance(stack, dict) else []:
            if isinstance(frame, dict):
                frame.pop("vars", None)
                for key in ("context_line", "pre_context", "post_context"):
                    if key in frame:
                        frame[key] = r.redact_value(frame[key])
    if isinstance(event.get("message"), str):
        event["message"] = r.redact_text(event["message"])
    entry = event.get("logentry")
    if isinstance(entry, dict):
        for key in ("message", "formatted"):
            if isinstance(entry.get(key), str):
                entry[key] = r.redact_text(entry[key])
        entry.pop("params", None)
    return event


def _exception_values(event: dict[str, Any]) -> list[dict[str, Any]]:
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else None
    return [v for v in values or [] if isinstance(v, dict)]


def _before_send(user_hook: Callable[..., Any] | None, redactor: Redactor
                 ) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> Any:
        if user_hook is not None:
            event = user_hook(event, hint)  # the SDK already shields the app from it
            if event is None:
                return None
        try:
            return scrub_event(event, redactor)
        except Exception:
            log.warning("sentiero: an event was dropped because it could not be scrubbed",
                        exc_info=True)
            return None  # fail closed

    return before_send


# --- public API ---------------------------------------------------------------------------------


def init(dsn: str | None = None, *, redaction: RedactionConfig | dict[str, Any] | None = None,
         **sentry_options: Any) -> bool:
    """Start sentry-sdk reporting to Sentiero. ``dsn`` is
    ``https://<ingest key>@<host>/<prefix>/<any number>`` (``sentiero keys create`` prints
    it); ``redaction`` is the server's :class:`RedactionConfig` (or its arguments), so custom
    patterns apply before events leave the process. Other keyword arguments go to
    ``sentry_sdk.init`` and override the privacy defaults except the scrubbing in
    ``before_send``. Returns False (and logs why) instead of raising."""
    global _redactor
    try:
        import sentry_sdk
    except ImportError:
        log.error("%s", _missing_sdk())
        return False
    try:
        if isinstance(redaction, dict):
            redaction = RedactionConfig(**redaction)
        redactor = Redactor(redaction) if redaction is not None else Redactor()
        _redactor = redactor
        options = {**PRIVACY_DEFAULTS, **sentry_options}
        options["before_send"] = _before_send(sentry_options.get("before_send"), redactor)
        integrations = list(options.pop("integrations", []) or [])
        if not any(isinstance(i, SentieroIntegration) for i in integrations):
            integrations.append(SentieroIntegration())
        sentry_sdk.init(dsn=dsn, integrations=integrations, **options)
        return True
    except Exception:
        log.exception("sentiero: reporter init failed; errors will not be reported")
        return False


def track(name: str, level: str = "info", session_id: str | None = None,
          **payload: Any) -> bool:
    """Record a server custom event (shown under Custom events), linked to the current
    request's replay when the recorder's cookies came with it. ``level`` is debug, info,
    warn or error. Returns whether it was queued; never raises."""
    try:
        import sentry_sdk
        from sentry_sdk.envelope import Envelope, Item, PayloadRef

        client = sentry_sdk.get_client()
        if not client.is_active() or client.transport is None:
            return False
        body: dict[str, Any] = {
            "name": str(name)[:200],
            "level": level_of(level),
            "timestamp": time.time(),
            "payload": privacy.clean(payload, _redactor),
        }
        link = _current_link()
        sid = session_id or (link or {}).get("session_id")
        if sid:
            body["session_id"] = sid
            if not session_id and link and link.get("window_id"):
                body["window_id"] = link["window_id"]
        envelope = Envelope(headers={"sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                             time.gmtime())})
        envelope.add_item(Item(payload=PayloadRef(json=body), type=TRACK_ITEM))
        client.transport.capture_envelope(envelope)
        return True
    except Exception:
        log.warning("sentiero: track(%r) failed", name, exc_info=True)
        return False


def _current_link() -> dict[str, Any] | None:
    import sentry_sdk

    for scope in (sentry_sdk.get_current_scope(), sentry_sdk.get_isolation_scope()):
        contexts = getattr(scope, "_contexts", None) or {}
        if isinstance(contexts.get("sentiero"), dict):
            return contexts["sentiero"]
    return None
