"""From a decoded payload to a :class:`Batch` ready for ``store.save_batch``: validation,
password scrubbing, server-side redaction, geo enrichment, fact extraction. No I/O of its
own: the window's scrubber state comes through a loader the caller passes.

Order (inventory §1.3 steps 4-11):

1. validate the payload (ids, events, timestamps, seq, metadata);
2. scrub form values (:class:`~sentiero.privacy.scrub.PasswordScrubber`): passwords always,
   every input with ``mask_all_inputs``, using the window's :class:`ScrubState` from earlier
   batches, so typed text in a later batch is masked even when the snapshot that showed the
   field as a password came before;
   and, in the same walk, redact page text and URL-bearing attributes (``scan_dom``);
3. redact every other part of every event (:class:`~sentiero.privacy.redaction.Redactor`,
   then the fail-closed ``server_hook``); events it cannot redact are dropped;
4. add server geo keys to the metadata and redact it;
5. derive facts, the page URL and the error flag from the redacted events only.

A batch without ``seq`` gets a content key (a digest of its events as sent), so the store
refuses its retries as it refuses a repeated seq.

Anything unexpected raises: the caller refuses the batch, it is never stored unredacted.
Scrubbing rewrites DOM events of ``payload`` in place (ingest owns the freshly parsed body;
copying a 4 MiB snapshot to change a few values would be waste).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from sentiero.ingest import facts as facts_mod
from sentiero.ingest.validate import validate_payload
from sentiero.privacy import geo
from sentiero.privacy.redaction import RedactionConfig, Redactor
from sentiero.privacy.scrub import PasswordScrubber, ScrubState
from sentiero.settings import Settings
from sentiero.stores.base import Batch, WindowRef, content_key

FACTS_STATE = "facts"
"""The key of the fact walk's state (:class:`~sentiero.ingest.facts.FactState`) inside the
window's ingest state, beside the password scrubber's fields."""

StateLoader = Callable[[WindowRef], "dict[str, Any] | None"]

_cache_lock = threading.Lock()
_redactors: dict[int, tuple[RedactionConfig, Redactor]] = {}


def redactor_for(settings: Settings) -> Redactor:
    """The :class:`Redactor` of ``settings.redaction`` (built once per config object)."""
    config = settings.redaction
    with _cache_lock:
        cached = _redactors.get(id(config))
        if cached is not None and cached[0] is config:
            return cached[1]
        redactor = Redactor(config)
        if len(_redactors) >= 32:
            _redactors.clear()
        _redactors[id(config)] = (config, redactor)
        return redactor


def redact_url(url: str, settings: Settings) -> str:
    """The stored form of a page URL under ``settings.redaction.url_mode`` (default strip:
    no ``?query`` and no ``#fragment``)."""
    return redactor_for(settings).redact_url(url)


def redact_events(events: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    """THE server-side redaction seam for events: every event through the redactor and the
    server hook; events that cannot be redacted, or that the hook refuses, are left out.
    Returns new event dicts where something changed and never mutates its input."""
    return redactor_for(settings).redact_events(events)


def redact_metadata(metadata: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The redaction seam for session metadata: URL keys as URLs, other values as text."""
    return redactor_for(settings).redact_metadata(metadata)


def scrub_events(
    events: list[dict[str, Any]], settings: Settings, state: dict[str, Any] | None
) -> dict[str, Any]:
    """Mask form values and redact page content (``redaction.scan_dom``) in place, in one walk;
    returns the window's updated scrubber state (as a dict)."""
    scrubber = PasswordScrubber(
        mask_all_inputs=settings.mask_all_inputs,
        preserve_length=settings.mask_preserve_length,
        mask_all_text=settings.mask_all_text,
        dom=redactor_for(settings).dom,
    )
    _, updated = scrubber.scrub_events(events, ScrubState.from_dict(state))
    return updated.to_dict()


RRWEB_EVENT_KEYS = frozenset(("type", "data", "timestamp", "delay"))


def drop_unknown_keys(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep only the keys an rrweb event has: redaction knows where text lives inside
    ``data``; anything a client adds beside it would be stored unexamined."""
    return [
        event if event.keys() <= RRWEB_EVENT_KEYS
        else {k: v for k, v in event.items() if k in RRWEB_EVENT_KEYS}
        for event in events
    ]


def build_batch(
    payload: dict[str, Any],
    settings: Settings,
    user_agent: str | None,
    *,
    load_window_state: StateLoader | None = None,
    environ: Mapping[str, Any] | None = None,
) -> Batch:
    """Validate, scrub, redact and enrich a decoded events payload.

    ``load_window_state`` returns the window's stored state (``store.get_window_state``);
    without it the window is taken as new. ``environ`` (the WSGI environ) feeds the geo
    source. Raises ``IngestError`` on refusal; any other exception means the batch must not
    be stored.
    """
    valid = validate_payload(payload, settings.max_events_per_request)
    state = None
    if load_window_state is not None:
        state = load_window_state(WindowRef(valid.session_id, valid.window_id))
    # before scrubbing rewrites them: a retry is recognised by what the client sent
    key = content_key(valid.events) if valid.seq is None else None
    window_state = scrub_events(valid.events, settings, state)
    # the DOM was redacted in the scrubber's walk: the redactor does the rest
    events = redactor_for(settings).redact_events(drop_unknown_keys(valid.events), dom_done=True)
    metadata = geo.enrich(valid.metadata, settings.geo_source, environ)
    metadata = redact_metadata(metadata, settings)
    fact_state = facts_mod.FactState.from_dict((state or {}).get(FACTS_STATE))
    referrer = metadata.get("entry_referrer") or metadata.get("referrer")
    facts = facts_mod.derive_facts(
        valid.session_id, valid.window_id, events, state=fact_state,
        rules=settings.frustration_rules(),
        referrer=referrer if isinstance(referrer, str) else None,
    )
    window_state[FACTS_STATE] = fact_state.to_dict()
    if not user_agent:
        ua = metadata.get("userAgent")
        user_agent = ua if isinstance(ua, str) and ua else None
    return Batch(
        session_id=valid.session_id,
        window_id=valid.window_id,
        events=events,
        seq=valid.seq,
        content_key=key,
        metadata=metadata,
        facts=facts,
        user_agent=user_agent[:1024] if user_agent else None,
        # from the facts, not another two walks over the events: a page view is a Meta event
        # with an href, an error fact a custom error event (facts.latest_page_url/has_errors)
        page_url=next((f.url for f in reversed(facts) if f.kind == "page_view"), None),
        has_errors=bool(settings.capture_errors) and any(f.kind == "error" for f in facts),
        window_state=window_state,
    )
