"""Turn reports into records: the original's ``/errors`` and ``/track`` payloads (inventory
§6.3, kept exactly so its Ruby reporter and any HTTP client work unchanged) and sentry-sdk
events (from envelopes, ``envelope.py``) into :class:`Occurrence` / :class:`ServerEvent`.

Redaction happens here, before fingerprinting, so grouping is the same whether or not the
client redacted. A refused payload raises :class:`ReportError` with the message the endpoint
answers (400); a failing redactor propagates (the endpoint refuses, fail closed).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from sentiero.privacy.ip import anonymize_ip
from sentiero.privacy.redaction import Redactor
from sentiero.stores.base import ID_PATTERN, STORABLE_INT
from sentiero.tracking import privacy
from sentiero.tracking.fingerprint import fingerprint
from sentiero.tracking.models import (
    FRAMES_MAX,
    LEVELS,
    MESSAGE_MAX,
    NAME_MAX,
    Occurrence,
    ServerEvent,
    now_ms,
)

_PLATFORM = re.compile(r"^[a-z0-9_-]{1,32}\Z", re.IGNORECASE)
CLASS_MAX = 200
_LEVEL_ALIASES = {"warning": "warn", "fatal": "error", "critical": "error"}


class ReportError(ValueError):
    """A refused report; ``str()`` is the answer's ``error``."""


def timestamp_ms(value: Any) -> int:
    """Epoch seconds (number or numeric string, as the original sends) or an RFC 3339
    string (sentry-sdk) as epoch ms; anything else, or out of range, is now."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return now_ms()
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return int(moment.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return now_ms()
    if not math.isfinite(value) or not abs(value * 1000) < STORABLE_INT:
        return now_ms()
    return int(value * 1000)


def _optional_id(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ReportError(f"invalid {name}")
    return value


def _platform(value: Any) -> str | None:
    if isinstance(value, str) and _PLATFORM.match(value):
        return value.lower()
    return None


def level_of(value: Any) -> str:
    text = value.lower() if isinstance(value, str) else ""
    text = _LEVEL_ALIASES.get(text, text)
    return text if text in LEVELS else "info"


def _request_path(context: dict[str, Any]) -> str | None:
    request = context.get("request")
    if isinstance(request, dict):
        path = request.get("path") or request.get("url")
        if isinstance(path, str) and path:
            return (urlsplit(path).path or path)[:2000]
    return None


def _text_of(context: dict[str, Any], name: str) -> str | None:
    value = context.get(name)
    return value[:200] if isinstance(value, str) and value else None


# --- the original's wire format ---------------------------------------------------------------


def error_report(payload: dict[str, Any], project: str, redactor: Redactor,
                 anonymize: bool = True) -> Occurrence:
    """``POST {prefix}/errors``: ``exception_class``, ``message`` (required), ``backtrace``,
    ``context``, ``timestamp``, ``platform``, ``session_id``, ``window_id``."""
    exception_class = payload.get("exception_class")
    if not isinstance(exception_class, str) or not exception_class.strip():
        raise ReportError("exception_class is required")
    message = payload.get("message")
    if not isinstance(message, str) or not message:
        raise ReportError("message is required")
    session_id = _optional_id(payload, "session_id")
    window_id = _optional_id(payload, "window_id")
    if window_id is not None and session_id is None:
        raise ReportError("window_id needs a session_id")
    backtrace = payload.get("backtrace")
    frames = [str(f) for f in backtrace[:FRAMES_MAX]] if isinstance(backtrace, list) else []
    frames = [redactor.redact_text(f) for f in frames]
    exception_class = redactor.redact_text(exception_class.strip())[:CLASS_MAX]
    message = redactor.redact_text(message)[:MESSAGE_MAX]
    platform = _platform(payload.get("platform"))
    context = privacy.clean_context(payload.get("context"), redactor, anonymize)
    ts = timestamp_ms(payload.get("timestamp"))
    return Occurrence(
        problem_id=fingerprint(project, exception_class, frames, platform or "ruby"),
        project=project,
        exception_class=exception_class,
        message=message,
        ts_ms=ts,
        platform=platform,
        frames=frames,
        context=context,
        session_id=session_id,
        window_id=window_id,
        replay_ms=ts if session_id else None,
        path=_request_path(context),
        environment=_text_of(context, "environment"),
        release=_text_of(context, "release"),
    )


def track_report(payload: dict[str, Any], project: str, redactor: Redactor) -> ServerEvent:
    """``POST {prefix}/track``: ``name`` (required), ``level``, ``payload``, ``timestamp``,
    ``session_id`` (and our ``window_id``)."""
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ReportError("name is required")
    session_id = _optional_id(payload, "session_id")
    window_id = _optional_id(payload, "window_id")
    body = payload.get("payload")
    body = privacy.bounded(privacy.clean(body, redactor)) if isinstance(body, dict) else {}
    return ServerEvent(
        project=project,
        name=redactor.redact_text(name.strip())[:NAME_MAX],
        level=level_of(payload.get("level")),
        ts_ms=timestamp_ms(payload.get("timestamp")),
        payload=body,
        session_id=session_id,
        window_id=window_id if session_id else None,
    )


# --- sentry-sdk events --------------------------------------------------------------------------

_FRAME_FIELDS = ("function", "module", "filename", "lineno", "colno", "in_app", "context_line")


def _frame(frame: Any, redactor: Redactor) -> dict[str, Any] | None:
    """A display frame: location and the line of code, never the frame's local variables."""
    if not isinstance(frame, dict):
        return None
    out: dict[str, Any] = {}
    for name in _FRAME_FIELDS:
        value = frame.get(name)
        if isinstance(value, str):
            out[name] = redactor.redact_text(value[:1000])
        elif isinstance(value, bool) and name == "in_app":
            out[name] = value
        elif isinstance(value, int) and not isinstance(value, bool) and name in (
            "lineno", "colno"
        ):
            out[name] = value
    if "filename" not in out and isinstance(frame.get("abs_path"), str):
        out["filename"] = redactor.redact_text(frame["abs_path"][:1000])
    return out


def _linkage(event: dict[str, Any]) -> tuple[str | None, str | None, int | None]:
    """(session, window, request moment) from ``contexts.sentiero``, set by
    ``SentieroIntegration``; malformed values are ignored, not refused."""
    contexts = event.get("contexts")
    link = contexts.get("sentiero") if isinstance(contexts, dict) else None
    if not isinstance(link, dict):
        return None, None, None
    sid, wid, at = link.get("session_id"), link.get("window_id"), link.get("request_ms")
    sid = sid if isinstance(sid, str) and ID_PATTERN.match(sid) else None
    wid = wid if sid and isinstance(wid, str) and ID_PATTERN.match(wid) else None
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at) or not (
        abs(at) < STORABLE_INT
    ):
        at = None
    return sid, wid, int(at) if at is not None and sid else None


def _request_context(event: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """Method, redacted URL and user agent of the failing request; no body, cookies,
    query string or other headers are kept."""
    request = event.get("request")
    if not isinstance(request, dict):
        return {}
    out: dict[str, Any] = {}
    if isinstance(request.get("method"), str):
        out["method"] = request["method"][:16]
    url = request.get("url")
    if isinstance(url, str) and url:
        out["url"] = redactor.redact_url(url[:4000])
        out["path"] = urlsplit(out["url"]).path[:2000]
    headers = request.get("headers")
    if isinstance(headers, dict):
        agent = next((v for k, v in headers.items()
                      if isinstance(k, str) and k.lower() == "user-agent"), None)
        if isinstance(agent, str):
            out["user_agent"] = redactor.redact_text(agent[:500])
    return out


def sentry_event(event: dict[str, Any], project: str, redactor: Redactor,
                 anonymize: bool = True) -> Occurrence:
    """One sentry-sdk error event (``exception`` values, or a captured message)."""
    exception_class, message, frames, key_frames = _exception(event, redactor)
    platform = _platform(event.get("platform")) or "python"
    context: dict[str, Any] = {}
    request = _request_context(event, redactor)
    if request:
        context["request"] = request
    for name in ("tags", "extra"):
        if isinstance(event.get(name), dict) and event[name]:
            context[name] = privacy.clean(event[name], redactor)
    for name in ("environment", "release", "server_name", "transaction", "level", "logger"):
        if isinstance(event.get(name), str):
            context[name] = redactor.redact_text(event[name][:200])
    user = event.get("user")
    if anonymize and isinstance(user, dict) and anonymize_ip(user.get("ip_address")):
        context["user_ip"] = anonymize_ip(user.get("ip_address"))
    context = privacy.bounded(context)
    session_id, window_id, request_ms = _linkage(event)
    ts = timestamp_ms(event.get("timestamp"))
    return Occurrence(
        problem_id=fingerprint(project, exception_class, key_frames, platform),
        project=project,
        exception_class=exception_class,
        message=message,
        ts_ms=ts,
        platform=platform,
        frames=frames,
        context=context,
        session_id=session_id,
        window_id=window_id,
        replay_ms=(request_ms if request_ms is not None else ts) if session_id else None,
        path=request.get("path"),
        environment=_text_of(event, "environment"),
        release=_text_of(event, "release"),
    )


def _exception(event: dict[str, Any], redactor: Redactor
               ) -> tuple[str, str, list[Any], list[Any]]:
    """(class, message, display frames, frames that fingerprint) of an event."""
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else exception
    if isinstance(values, list) and values and isinstance(values[-1], dict):
        raised = values[-1]  # Sentry orders the chain oldest first: the last one was raised
        kind = raised.get("type")
        exception_class = redactor.redact_text(
            kind[:CLASS_MAX] if isinstance(kind, str) and kind else "Error")
        value = raised.get("value")
        message = redactor.redact_text(value)[:MESSAGE_MAX] if isinstance(value, str) else ""
        stack = raised.get("stacktrace")
        raw = stack.get("frames") if isinstance(stack, dict) else None
        frames = [f for f in (_frame(x, redactor) for x in (raw or [])[-FRAMES_MAX:]) if f]
        return exception_class, message, frames, frames
    # a captured message: grouped by its template (logentry.message), shown formatted
    entry = event.get("logentry")
    template = formatted = None
    if isinstance(entry, dict):
        template = entry.get("message")
        formatted = entry.get("formatted") or template
    elif isinstance(event.get("message"), str):
        template = formatted = event["message"]
    if not isinstance(template, str) or not template:
        raise ReportError("event has neither an exception nor a message")
    message = redactor.redact_text(str(formatted))[:MESSAGE_MAX]
    return "Message", message, [], [redactor.redact_text(template)[:1000]]
