"""From a decoded payload to a :class:`Batch` ready for ``store.save_batch``: validation,
server-side redaction, fact extraction. Pure: no I/O, nothing stored.

Redaction seam: :func:`redact_events` (and :func:`redact_metadata`) are the only places that
rewrite what the browser sent. The redaction engine replaces their bodies; everything
downstream (facts, ``page_url``) is derived from their output, so it sees only redacted data.
"""

from __future__ import annotations

from typing import Any

from sentiero.ingest import facts as facts_mod
from sentiero.ingest.validate import validate_payload
from sentiero.settings import Settings
from sentiero.stores.base import Batch, Fact

URL_METADATA_KEYS = ("url", "referrer", "entry_url", "entry_referrer")
# Custom-event payload fields holding a URL, by tag (inventory §2.9 structural map).
_URL_PAYLOAD_FIELDS = {"navigation": ("url",), "__form_submit": ("url",), "error": ("source",)}


def redact_url(url: str, settings: Settings) -> str:
    """The stored form of a page URL: without ``?query`` and ``#fragment`` (url mode strip)."""
    cut = len(url)
    for mark in ("?", "#"):
        pos = url.find(mark)
        if pos != -1 and pos < cut:
            cut = pos
    return url[:cut]


def _redact_event(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    data = event.get("data")
    if not isinstance(data, dict):
        return event
    kind = event.get("type")
    if kind == facts_mod.EVENT_META and isinstance(data.get("href"), str):
        href = redact_url(data["href"], settings)
        if href != data["href"]:
            return {**event, "data": {**data, "href": href}}
        return event
    if kind == facts_mod.EVENT_CUSTOM:
        fields = _URL_PAYLOAD_FIELDS.get(data.get("tag"))  # type: ignore[arg-type]
        payload = data.get("payload")
        if fields and isinstance(payload, dict):
            changed = {
                k: redact_url(payload[k], settings)
                for k in fields
                if isinstance(payload.get(k), str)
            }
            if any(changed[k] != payload[k] for k in changed):
                return {**event, "data": {**data, "payload": {**payload, **changed}}}
    return event


def redact_events(events: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    """THE server-side redaction seam for events. Returns new event dicts where something
    changed and never mutates its input. Must raise (never return unredacted data) on failure."""
    return [_redact_event(e, settings) for e in events]


def redact_metadata(metadata: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The redaction seam for session metadata: URL keys are stored as redacted URLs."""
    out = dict(metadata)
    for key in URL_METADATA_KEYS:
        if isinstance(out.get(key), str):
            out[key] = redact_url(out[key], settings)
    return out


def _redact_fact(fact: Fact, settings: Settings) -> Fact:
    url = redact_url(fact.url, settings) if fact.url else fact.url
    data = fact.data
    if fact.kind == "error" and isinstance(data.get("source"), str):
        data = {**data, "source": redact_url(data["source"], settings)}
    if url == fact.url and data is fact.data:
        return fact
    return Fact(fact.kind, fact.session_id, fact.window_id, fact.ts_ms, url, data)


def build_batch(payload: dict[str, Any], settings: Settings, user_agent: str | None) -> Batch:
    """Validate and redact a decoded events payload; raises ``IngestError`` on refusal."""
    valid = validate_payload(payload, settings.max_events_per_request)
    events = redact_events(valid.events, settings)
    metadata = redact_metadata(valid.metadata, settings)
    facts = [
        _redact_fact(f, settings)
        for f in facts_mod.derive_facts(valid.session_id, valid.window_id, events)
    ]
    page_url = facts_mod.latest_page_url(events)
    if page_url is not None:
        page_url = redact_url(page_url, settings)
    if not user_agent:
        ua = metadata.get("userAgent")
        user_agent = ua if isinstance(ua, str) and ua else None
    return Batch(
        session_id=valid.session_id,
        window_id=valid.window_id,
        events=events,
        seq=valid.seq,
        metadata=metadata,
        facts=facts,
        user_agent=user_agent[:1024] if user_agent else None,
        page_url=page_url,
        has_errors=bool(settings.capture_errors) and facts_mod.has_errors(events),
    )
