"""The browser endpoints: events (``POST {prefix}/events``) and opt-out reports
(``POST {prefix}/opt-out``).

Events follow the wire protocol's exact order (inventory §1.3): opt-out/GPC drop before
reading the body, bounded body read and gzip, JSON, validation, then the window's scrubber
state is loaded, the batch scrubbed, redacted and enriched (``build_batch``), and stored in one
atomic write together with the window's new state. A batch that fails while being redacted is
refused with 500: it is never stored unredacted.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

from sentiero.errors import describe_exception
from sentiero.ingest.decode import IngestError, decode_body
from sentiero.ingest.pipeline import build_batch
from sentiero.privacy import audit
from sentiero.settings import Settings
from sentiero.stores.base import ID_PATTERN, Store, StoreError
from sentiero.web.routing import Route, Web

logger = logging.getLogger("sentiero.ingest")

PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}
STORAGE_UNAVAILABLE = "storage unavailable, retry later"
PROCESSING_FAILED = "the batch could not be processed (redaction failed); nothing was stored"
OPT_OUT_MAX_BYTES = 4096
DRAIN_MAX_BYTES = 8 * 1024 * 1024
"""How much of a refused body is still read (and thrown away) before answering: a client
whose upload is cut off mid-send sees a connection reset, not our 413."""
RETRY_AFTER_S = "5"


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status=status, content_type="application/json")


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _finish(response: Response, request: Request, settings: Settings) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    origin = request.headers.get("Origin")
    if origin and origin in settings.cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
    if settings.cors_origins:
        response.vary.add("Origin")
    return response


def opted_out(request: Request, settings: Settings) -> bool:
    """True when this browser asked not to be recorded (opt-out cookie or GPC)."""
    if settings.user_opt_out:
        value = request.cookies.get(settings.opt_out_cookie_name)
        if value and value not in ("0", "false"):
            return True
    return bool(settings.respect_gpc and request.headers.get("Sec-GPC") == "1")


def ingest(request: Request, settings: Settings, store: Store) -> Response:
    """Handle one request to the events endpoint."""
    return _finish(_handle(request, settings, store), request, settings)


def _preflight_or_refusal(request: Request) -> Response | None:
    """The answer to a CORS preflight or a method other than POST; None for a POST."""
    if request.method == "OPTIONS":
        response = Response(b"", status=204, content_type="text/plain")
        response.headers.update(PREFLIGHT_HEADERS)
        return response
    if request.method != "POST":
        response = error_response(405, "method not allowed")
        response.headers["Allow"] = "POST, OPTIONS"
        return response
    return None


def _handle(request: Request, settings: Settings, store: Store) -> Response:
    not_a_post = _preflight_or_refusal(request)
    if not_a_post is not None:
        return not_a_post
    if opted_out(request, settings):
        return drained(request, Response(b"", status=204, content_type="application/json"))
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        return drained(request, error_response(413, "request body too large"))
    try:
        payload = decode_body(
            request.stream,
            request.headers.get("Content-Encoding"),
            settings.max_body_bytes,
            settings.max_decompressed_bytes,
        )
        batch = build_batch(
            payload,
            settings,
            request.headers.get("User-Agent"),
            load_window_state=store.get_window_state,
            environ=request.environ,
        )
    except IngestError as exc:
        return drained(request, error_response(exc.status, exc.message))
    except StoreError as exc:
        return _unavailable(exc)
    except Exception as exc:
        # fail closed: whatever went wrong while scrubbing or redacting, store nothing
        logger.error("sentiero: batch refused, processing failed (%s)",
                     describe_exception(exc))
        return error_response(500, PROCESSING_FAILED)
    if not batch.events:  # every event was dropped by redaction: nothing to store
        return json_response({"status": "ok"})
    try:
        stored = store.save_batch(batch)
    except StoreError as exc:
        return _unavailable(exc)
    except ValueError as exc:
        return error_response(400, str(exc))
    if not stored:
        return json_response({"status": "ok", "duplicate": True})
    return json_response({"status": "ok"})


def drained(request: Request, response: Response) -> Response:
    """``response`` to a request whose body may be partly unread: up to ``DRAIN_MAX_BYTES``
    more are read and discarded so the client, still sending, reliably receives the answer;
    beyond that the connection is closed after the answer (``Connection: close``)."""
    remaining = DRAIN_MAX_BYTES
    stream = request.stream
    while remaining > 0:
        try:
            block = stream.read(min(remaining, 65_536))
        except Exception:  # noqa: BLE001 - a body that cannot be read: just close after
            break
        if not block:
            return response
        remaining -= len(block)
    response.headers["Connection"] = "close"
    return response


def _unavailable(exc: StoreError) -> Response:
    # the StoreError's own message (the backend's error, passwords hidden); not exc_info,
    # whose chained driver exception may list the statement's parameters: the batch
    logger.warning("store unavailable; batch refused with 503: %s", exc)
    response = error_response(503, STORAGE_UNAVAILABLE)
    response.headers["Retry-After"] = RETRY_AFTER_S
    return response


# --- opt-out reports ----------------------------------------------------------------------------


def opt_out(request: Request, settings: Settings) -> Response:
    """Handle ``POST {prefix}/opt-out``: ``{"sessionId": id}`` from a recorder whose user just
    opted out. Audited (action ``opt_out``) and answered 204 whatever the body holds; nothing
    about the session is stored. The request carries the opt-out cookie by design, so it is
    not dropped the way events are."""
    return _finish(_handle_opt_out(request, settings), request, settings)


def _handle_opt_out(request: Request, settings: Settings) -> Response:
    not_a_post = _preflight_or_refusal(request)
    if not_a_post is not None:
        return not_a_post
    session_id = None
    oversized = request.content_length is not None and request.content_length > OPT_OUT_MAX_BYTES
    try:
        if not oversized:
            payload = decode_body(
                request.stream, request.headers.get("Content-Encoding"), OPT_OUT_MAX_BYTES
            )
            value = payload.get("sessionId")
            if isinstance(value, str) and ID_PATTERN.match(value):
                session_id = value
    except IngestError:
        pass  # a malformed report is still an opt-out: audit it without an id
    audit.emit(
        settings.audit,
        audit.AuditRecord(
            action="opt_out",
            session_ids=(session_id,) if session_id else (),
            ip=audit.request_ip(
                request.environ, settings.anonymize_ip, settings.trust_forwarded_for
            ),
            path=request.script_root + request.path,
        ),
    )
    response = Response(b"", status=204, content_type="application/json")
    return drained(request, response) if oversized else response


def _opt_out_route(web: Web, request: Request) -> Response:
    return opt_out(request, web.settings)


ROUTES = [
    Route(
        "/opt-out",
        "opt_out",
        _opt_out_route,
        ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"),
        public=True,
        json=True,
    ),
]
