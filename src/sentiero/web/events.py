"""The browser events endpoint (``POST {prefix}/events``), in the wire protocol's exact order
(inventory §1.3): opt-out/GPC drop before reading the body, bounded body read and gzip,
JSON, validation, redaction and facts (``build_batch``), then one atomic store write.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

from sentiero.ingest.decode import IngestError, decode_body
from sentiero.ingest.pipeline import build_batch
from sentiero.settings import Settings
from sentiero.stores.base import Store, StoreError

logger = logging.getLogger("sentiero.ingest")

PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}
STORAGE_UNAVAILABLE = "storage unavailable, retry later"
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


def _handle(request: Request, settings: Settings, store: Store) -> Response:
    if request.method == "OPTIONS":
        response = Response(b"", status=204, content_type="text/plain")
        response.headers.update(PREFLIGHT_HEADERS)
        return response
    if request.method != "POST":
        response = error_response(405, "method not allowed")
        response.headers["Allow"] = "POST, OPTIONS"
        return response
    if opted_out(request, settings):
        return Response(b"", status=204, content_type="application/json")
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        return error_response(413, "request body too large")  # refused without reading it
    try:
        payload = decode_body(
            request.stream, request.headers.get("Content-Encoding"), settings.max_body_bytes
        )
        batch = build_batch(payload, settings, request.headers.get("User-Agent"))
    except IngestError as exc:
        return error_response(exc.status, exc.message)
    try:
        stored = store.save_batch(batch)
    except StoreError:
        logger.warning("store unavailable; batch refused with 503", exc_info=True)
        response = error_response(503, STORAGE_UNAVAILABLE)
        response.headers["Retry-After"] = RETRY_AFTER_S
        return response
    except ValueError as exc:
        return error_response(400, str(exc))
    if not stored:
        return json_response({"status": "ok", "duplicate": True})
    return json_response({"status": "ok"})
