"""What an error report may keep: values under secret-looking keys are replaced, every
string goes through the redaction engine (emails, tokens, card numbers, custom patterns),
client IPs are anonymized, and context is bounded. Shared by the envelope endpoint, the
original's ``/errors`` and ``/track``, and the reporter's ``before_send`` (the same rules on
both sides of the wire).

Redaction failures propagate: the endpoints then refuse the report and store nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from sentiero.privacy.ip import anonymize_ip
from sentiero.privacy.redaction import MAX_DEPTH, Redactor
from sentiero.privacy.urls import DEFAULT_PARAM_DENYLIST

FILTERED = "[FILTERED]"
CONTEXT_MAX_BYTES = 16_384
TRUNCATED = {"_truncated": True}

# a key containing any of these is secret (case-insensitive, - and _ alike)
SECRET_KEY_PARTS = (
    "password", "passwd", "secret", "token", "api_key", "apikey", "authorization",
    "access_token", "refresh_token", "secret_key", "private_key", "credit_card",
    "card_number", "cardnumber", "cvv", "cvc", "ssn", "cookie", "csrf",
)
# a key equal to one of these is secret (the URL parameter denylist: short names like
# "key" or "code" would match too much as substrings)
SECRET_KEY_NAMES = frozenset(DEFAULT_PARAM_DENYLIST)


def is_secret_key(key: str) -> bool:
    name = key.lower().replace("-", "_")
    return name in SECRET_KEY_NAMES or any(part in name for part in SECRET_KEY_PARTS)


def scrub_keys(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with the values of secret keys replaced by ``[FILTERED]``."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply to scrub")
    if isinstance(value, dict):
        return {
            k: FILTERED if isinstance(k, str) and is_secret_key(k) else scrub_keys(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub_keys(v, depth + 1) for v in value]
    return value


def clean(value: Any, redactor: Redactor) -> Any:
    """Secret keys filtered, then every string redacted."""
    return redactor.redact_value(scrub_keys(value))


def bounded(value: dict[str, Any]) -> dict[str, Any]:
    """The context as stored: ``{"_truncated": true}`` when its JSON is over 16 KiB."""
    try:
        size = len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:
        return dict(TRUNCATED)
    return dict(TRUNCATED) if size > CONTEXT_MAX_BYTES else value


def clean_context(context: Any, redactor: Redactor, anonymize: bool) -> dict[str, Any]:
    """A report's context: an object (anything else is dropped), cleaned, with
    ``request.ip`` anonymized (or removed when anonymization is off: raw IPs are never
    stored), bounded."""
    if not isinstance(context, dict):
        return {}
    cleaned = clean(context, redactor)
    request = cleaned.get("request")
    if isinstance(request, dict) and "ip" in request:
        request["ip"] = anonymize_ip(request["ip"]) if anonymize else None
        if request["ip"] is None:
            del request["ip"]
    return bounded(cleaned)
