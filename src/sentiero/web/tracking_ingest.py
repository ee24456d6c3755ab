"""The server-side ingest endpoints: sentry-sdk envelopes
(``POST {prefix}/api/<project_id>/envelope/``) and the original's ``POST {prefix}/errors`` and
``POST {prefix}/track`` (inventory §3.6, §6.3).

Each request is checked in this order: POST only (405), ingest key (401: the DSN's public
key for envelopes, ``Authorization: Bearer`` for the others; the same keys serve both),
body size before reading (413), bounded read and gzip (413 / 400; other encodings 415),
JSON (400), the report's own rules (400), then redaction. A report whose redaction fails is
refused with 500 and nothing is stored (fail closed). Storage outages answer 503 with
Retry-After. Every refusal is ``{"error": "..."}``. No CORS: these are server-to-server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from sentiero.errors import describe_exception
from sentiero.ingest.decode import (
    IngestError,
    gunzip_limited,
    is_gzip,
    parse_json_object,
    read_limited,
)
from sentiero.ingest.pipeline import redactor_for
from sentiero.stores.base import StoreError
from sentiero.tracking import envelope as envelopes
from sentiero.tracking import keys, reports
from sentiero.tracking.models import IngestKey
from sentiero.web.application import Route, Web, json_response

logger = logging.getLogger("sentiero.tracking")

INVALID_KEY = "invalid or missing ingest key"
NOT_KEPT = ("this store does not keep error-tracking data: use SQLStore, DjangoStore, "
            "RedisStore, FileStore or MemoryStore")
REDACTION_FAILED = "the report could not be processed (redaction failed); nothing was stored"
STORAGE_UNAVAILABLE = "storage unavailable, retry later"


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _body(request: Request, web: Web) -> bytes:
    """The request body, inflated when gzip; raises IngestError."""
    settings = web.settings
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise IngestError(413, "request body too large")
    encoding = (request.headers.get("Content-Encoding") or "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "br"):
        raise IngestError(415, f"unsupported content encoding {encoding[:20]!r}: send gzip, "
                               "br or an uncompressed body")
    body = read_limited(request.stream, settings.max_body_bytes)
    if encoding == "br":
        return unbrotli_limited(body, settings.max_decompressed_bytes)
    if is_gzip(body, encoding):
        body = gunzip_limited(body, settings.max_decompressed_bytes)
    return body


def unbrotli_limited(body: bytes, limit: int) -> bytes:
    """Inflate a brotli body (sentry-sdk's default when the ``brotli`` package is installed)
    without ever producing more than ``limit + 1`` bytes."""
    try:
        import brotli
    except ImportError:
        raise IngestError(415, "brotli bodies need the brotli package on the Sentiero server "
                               "(pip install brotli); sentiero.reporter.init() sends gzip"
                          ) from None
    inflater = brotli.Decompressor()
    try:
        out = inflater.process(body, output_buffer_limit=limit + 1)
    except brotli.error:
        raise IngestError(400, "invalid brotli encoding") from None
    if len(out) > limit or (not inflater.is_finished() and not inflater.can_accept_more_data()):
        raise IngestError(413, "request body too large")
    if not inflater.is_finished():
        raise IngestError(400, "invalid brotli encoding")
    return out


def _handle(web: Web, request: Request, key: str | None,
            accept: Callable[[IngestKey, bytes], Response]) -> Response:
    if request.method != "POST":
        response = _error(405, "method not allowed")
        response.headers["Allow"] = "POST"
        return response
    try:
        record = keys.resolve_key(web.store, key)
    except NotImplementedError:
        return _error(501, NOT_KEPT)
    except StoreError as exc:
        return _unavailable(exc)
    if record is None:
        return _error(401, INVALID_KEY)
    try:
        return accept(record, _body(request, web))
    except IngestError as exc:
        return _error(exc.status, exc.message)
    except (reports.ReportError, envelopes.EnvelopeError) as exc:
        return _error(400, str(exc))
    except StoreError as exc:
        return _unavailable(exc)
    except ValueError as exc:  # the store's validation
        return _error(400, str(exc))
    except Exception as exc:
        # fail closed: whatever broke while redacting, nothing was stored
        logger.error("sentiero: report refused, processing failed (%s)",
                     describe_exception(exc))
        return _error(500, REDACTION_FAILED)


def _unavailable(exc: StoreError) -> Response:
    logger.warning("store unavailable; report refused with 503: %s", exc)
    response = _error(503, STORAGE_UNAVAILABLE)
    response.headers["Retry-After"] = "5"
    return response


def errors_endpoint(web: Web, request: Request) -> Response:
    def accept(key: IngestKey, body: bytes) -> Response:
        occurrence = reports.error_report(parse_json_object(body), key.project,
                                          redactor_for(web.settings), web.settings.anonymize_ip)
        web.store.save_occurrence(occurrence)
        return json_response({"status": "ok", "fingerprint": occurrence.problem_id})

    return _handle(web, request, _bearer(request), accept)


def track_endpoint(web: Web, request: Request) -> Response:
    def accept(key: IngestKey, body: bytes) -> Response:
        event = reports.track_report(parse_json_object(body), key.project,
                                     redactor_for(web.settings))
        web.store.save_server_event(event)
        return json_response({"status": "ok"})

    return _handle(web, request, _bearer(request), accept)


def envelope_endpoint(web: Web, request: Request, project_id: int) -> Response:
    def accept(key: IngestKey, body: bytes) -> Response:
        parsed = envelopes.parse(body)
        redactor = redactor_for(web.settings)
        # decode every event before storing any, so a bad one stores nothing
        occurrences = [reports.sentry_event(e, key.project, redactor, web.settings.anonymize_ip)
                       for e in parsed.events]
        tracked = [reports.track_report(t, key.project, redactor) for t in parsed.tracks]
        for occurrence in occurrences:
            web.store.save_occurrence(occurrence)
        for event in tracked:
            web.store.save_server_event(event)
        answer: dict[str, Any] = {"status": "ok", "stored": len(occurrences) + len(tracked)}
        event_id = parsed.header.get("event_id")
        if isinstance(event_id, str):
            answer["id"] = event_id[:64]
        if parsed.dropped:
            answer["dropped"] = sorted(set(parsed.dropped))
        return json_response(answer)

    key = envelopes.sentry_key(request.headers.get("X-Sentry-Auth"),
                               request.args.get("sentry_key"))
    return _handle(web, request, key, accept)


_ANY = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

ROUTES = [
    Route("/api/<int:project_id>/envelope/", "sentry_envelope", envelope_endpoint, _ANY,
          public=True, json=True),
    Route("/errors", "errors_ingest", errors_endpoint, _ANY, public=True, json=True),
    Route("/track", "track_ingest", track_endpoint, _ANY, public=True, json=True),
]
