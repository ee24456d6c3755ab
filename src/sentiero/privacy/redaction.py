"""The server half of the redaction engine: configuration, and what gets redacted where.

The recorder runs the same rules before events leave the browser
(frontend/src/recorder/redaction.js, configured by :meth:`RedactionConfig.to_client`); the
server runs them again on ingest because a client can be old, misconfigured or hostile.
tests/fixtures/redaction_cases.json is the one case table both implementations must pass.

What :meth:`Redactor.redact_event` does, by rrweb event type:

- Meta (4): ``data.href`` is URL-redacted, any other string in ``data`` text-redacted.
- Custom (5): ``data.payload`` by the structural map below; fields not in the map, and every field
  of other tags, are deep-redacted (strings in nested lists and objects, object keys included).
- FullSnapshot (2) and IncrementalSnapshot (3), the DOM: with ``scan_dom`` (the default), text
  nodes by the text patterns and URL-bearing attributes by ``url_mode``, as
  :mod:`sentiero.privacy.dom` describes. The ingest pipeline does this inside the scrubber's walk
  (in place) and tells :meth:`Redactor.redact_events` so; used alone, the Redactor copies.
- Any other type (plugins, e.g. console records): ``data`` deep-redacted.
- Then ``server_hook(event)``: a dict return replaces the event, ``True`` keeps it, anything
  else (``None``, ``False``, an exception) drops it. Any failure while redacting also drops the
  event: nothing leaves this module unredacted. Drops are logged without the event's content.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentiero.errors import ConfigurationError
from sentiero.limits import MAX_NESTING
from sentiero.privacy import patterns, urls
from sentiero.privacy.dom import DomRules
from sentiero.privacy.patterns import BUILTIN_PATTERNS, REDACTED

__all__ = [
    "BUILTIN_PATTERNS",
    "REDACTED",
    "URL_MODES",
    "RedactionConfig",
    "Redactor",
]

log = logging.getLogger("sentiero.privacy")

URL_MODES = urls.URL_MODES
_CLIENT_URL_MODES = {"strip": "strip", "keep_filtered": "keepFiltered", "keep_all": "keepAll"}

# Custom-event payload fields that are a URL or plain text, by tag (§2.9 of the inventory).
STRUCTURAL_MAP: dict[str, dict[str, str]] = {
    "navigation": {"url": "url", "text": "text"},
    "__form_submit": {"url": "url"},
    "error": {"message": "text", "stack": "text", "source": "url"},
    "__click": {"selector": "text"},
}
METADATA_URL_KEYS = frozenset({"url", "referrer", "entry_url", "entry_referrer"})
MAX_DEPTH = MAX_NESTING  # deeper payloads are refused (the event is dropped), never half-redacted


def _names(value: Any, option: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigurationError(f"redaction {option} must be a list of strings, got {value!r}")
    out = []
    for item in value:
        if not isinstance(item, str):
            raise ConfigurationError(f"redaction {option} must hold strings, got {item!r}")
        out.append(item)
    return tuple(out)


def _builtin_names(value: Any, option: str) -> tuple[str, ...]:
    names = _names(value, option)
    unknown = [n for n in names if n not in BUILTIN_PATTERNS]
    if unknown:
        raise ConfigurationError(
            f"redaction {option} has unknown pattern(s) {unknown}; "
            f"choose from {list(BUILTIN_PATTERNS)}"
        )
    return patterns.ordered(names)


def _compile(source: Any) -> re.Pattern[str]:
    if isinstance(source, re.Pattern):
        source = source.pattern
    if not isinstance(source, str):
        raise ConfigurationError(f"redaction custom_patterns must be regex strings, got {source!r}")
    try:
        compiled = re.compile(source)
    except re.error as exc:
        raise ConfigurationError(f"redaction custom pattern {source!r} is invalid: {exc}") from exc
    if compiled.search("") is not None:
        raise ConfigurationError(
            f"redaction custom pattern {source!r} matches the empty string; "
            "it would insert [redacted] everywhere"
        )
    return compiled


@dataclass(frozen=True)
class RedactionConfig:
    """What to redact. Validated on creation: a mistake fails at startup, not at ingest."""

    url_mode: str = "strip"
    """``strip`` (drop query and fragment), ``keep_filtered`` or ``keep_all``."""
    url_param_allowlist: Sequence[str] = ()
    """Query parameters kept verbatim in ``keep_filtered`` (case-insensitive)."""
    url_param_denylist: Sequence[str] = ()
    """Query parameters always dropped in ``keep_filtered``, on top of the builtin list."""
    disabled_patterns: Sequence[str] = ()
    """Builtin text patterns to turn off: url, jwt, email, long_hex, card, bearer."""
    custom_patterns: Sequence[str | re.Pattern[str]] = ()
    """Extra regexes (sources are sent to the recorder too, so keep them JS-compatible); they
    also apply to DOM event data. They must not match the empty string."""
    scan_dom: bool = True
    """Redact recorded page content too: text nodes by the text patterns, URL-bearing
    attributes (href, src, srcset, action, poster, data-* URLs, style url()) by ``url_mode``.
    Off, the DOM is stored as the recorder sent it (form values are still masked)."""
    server_hook: Callable[[dict[str, Any]], Any] | None = None
    """Called with each redacted event; return the event (or a replacement dict, or True) to
    keep it. ``None``, ``False`` or an exception drops it."""

    _compiled: tuple[re.Pattern[str], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        if self.url_mode not in URL_MODES:
            raise ConfigurationError(
                f"redaction url_mode must be one of {list(URL_MODES)}, got {self.url_mode!r}"
            )
        put = object.__setattr__
        put(
            self,
            "url_param_allowlist",
            tuple(n.lower() for n in _names(self.url_param_allowlist, "url_param_allowlist")),
        )
        put(
            self,
            "url_param_denylist",
            tuple(n.lower() for n in _names(self.url_param_denylist, "url_param_denylist")),
        )
        put(self, "disabled_patterns", _builtin_names(self.disabled_patterns, "disabled_patterns"))
        if not isinstance(self.scan_dom, bool):
            raise ConfigurationError("redaction scan_dom must be True or False")
        if self.custom_patterns is None or isinstance(self.custom_patterns, (str, re.Pattern)):
            raise ConfigurationError("redaction custom_patterns must be a list of regex strings")
        compiled = tuple(_compile(p) for p in self.custom_patterns)
        put(self, "custom_patterns", tuple(p.pattern for p in compiled))
        put(self, "_compiled", compiled)
        if self.server_hook is not None and not callable(self.server_hook):
            raise ConfigurationError("redaction server_hook must be callable or None")

    def to_client(self) -> dict[str, Any]:
        """The declarative subset the recorder receives (its ``redaction`` config key)."""
        return {
            "urlMode": _CLIENT_URL_MODES[self.url_mode],
            "urlParamAllowlist": list(self.url_param_allowlist),
            "urlParamDenylist": list(self.url_param_denylist),
            "disabledPatterns": list(self.disabled_patterns),
            "customPatterns": list(self.custom_patterns),
            "scanDom": self.scan_dom,
        }


class Redactor:
    """Applies a :class:`RedactionConfig`. Never mutates its input; safe to share across threads."""

    def __init__(self, config: RedactionConfig | None = None) -> None:
        self.config = config or RedactionConfig()
        disabled = set(self.config.disabled_patterns)
        self._text_patterns = tuple(p for p in BUILTIN_PATTERNS if p not in disabled)
        self._custom = self.config._compiled
        self._needs = patterns.prefilter(self._text_patterns)
        self._denylist = urls.DEFAULT_PARAM_DENYLIST | frozenset(self.config.url_param_denylist)
        self._allowlist = frozenset(self.config.url_param_allowlist)
        self.dom: DomRules | None = (
            DomRules(self.redact_text, self.redact_url) if self.config.scan_dom else None
        )
        """The DOM rules (None with ``scan_dom=False``); the pipeline hands them to the
        scrubber so masking and DOM redaction share one walk."""

    # ---- values ------------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """Enabled builtin patterns in order, then the custom patterns."""
        if not self._custom and (self._needs is None or self._needs.search(text) is None):
            return text  # no pattern could match (most page text): the patterns' own pre-check
        return patterns.redact_with(text, self._text_patterns, self._custom)

    def redact_url(self, url: str) -> str:
        """A URL under the configured ``url_mode`` (non-strings are deep-redacted instead)."""
        if not isinstance(url, str):
            return self.redact_value(url)
        return urls.redact_url(
            url,
            mode=self.config.url_mode,
            redact=self.redact_text,
            allowlist=self._allowlist,
            denylist=self._denylist,
        )

    def redact_value(self, value: Any) -> Any:
        """Every string in ``value`` text-redacted, dict keys included, at any depth."""
        return self._deep(value, 0)

    def _deep(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.redact_text(value)
        if depth >= MAX_DEPTH and isinstance(value, (dict, list, tuple)):
            raise ValueError("value nested too deeply to redact")
        if isinstance(value, dict):
            return {
                (self.redact_text(k) if isinstance(k, str) else k): self._deep(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self._deep(v, depth + 1) for v in value]
        return value

    def redact_metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """Session metadata: URL keys (url, referrer, entry_url, entry_referrer) URL-redacted,
        every other value deep-redacted; keys kept."""
        if not isinstance(metadata, dict):
            return self.redact_value(metadata)
        return {
            k: self.redact_url(v) if k in METADATA_URL_KEYS else self._deep(v, 1)
            for k, v in metadata.items()
        }

    # ---- events ------------------------------------------------------------------------------

    def redact_event(self, event: Any, *, dom_done: bool = False) -> dict[str, Any] | None:
        """One rrweb event redacted, or None when it must be dropped (hook or failure).
        ``dom_done``: its DOM content was already redacted in place with :attr:`dom`."""
        try:
            redacted = self._redact_event(event, dom_done)
        except Exception as exc:  # fail closed: an event we cannot redact is not stored
            log.warning(
                "sentiero: event dropped, redaction failed (%s, type=%r)",
                type(exc).__name__,
                event.get("type") if isinstance(event, dict) else None,
            )
            return None
        if redacted is None:
            return None
        hook = self.config.server_hook
        if hook is None:
            return redacted
        event_type = redacted.get("type")
        try:
            result = hook(redacted)
        except Exception as exc:
            log.warning(
                "sentiero: event dropped, server_hook raised %s (type=%r)",
                type(exc).__name__,
                event_type,
            )
            return None
        if result is True:
            return redacted
        if isinstance(result, dict):
            return result
        if result not in (None, False):
            log.warning(
                "sentiero: event dropped, server_hook returned %s (want the event, True, "
                "None or False; type=%r)",
                type(result).__name__,
                event_type,
            )
        return None

    def redact_events(
        self, events: Iterable[Any], *, dom_done: bool = False
    ) -> list[dict[str, Any]]:
        """Every event through :meth:`redact_event`; dropped ones are left out."""
        out = []
        for event in events:
            redacted = self.redact_event(event, dom_done=dom_done)
            if redacted is not None:
                out.append(redacted)
        return out

    def _redact_event(self, event: Any, dom_done: bool = False) -> dict[str, Any] | None:
        if not isinstance(event, dict):
            raise TypeError("event is not an object")
        event_type, payload = event.get("type"), event.get("data")
        if event_type in (2, 3):
            if dom_done or self.dom is None or not isinstance(payload, dict):
                return event
            return self.dom.redact_event(event)
        if event_type == 4 and isinstance(payload, dict):
            return {
                **event,
                "data": {
                    k: self.redact_url(v) if k == "href" else self._deep(v, 1)
                    for k, v in payload.items()
                },
            }
        if event_type == 5 and isinstance(payload, dict):
            return {**event, "data": self._redact_custom(payload)}
        if "data" not in event:
            return event
        return {**event, "data": self._deep(payload, 1)}

    def _redact_custom(self, data: dict[str, Any]) -> dict[str, Any]:
        tag = data.get("tag")
        fields = STRUCTURAL_MAP.get(tag, {}) if isinstance(tag, str) else {}
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key == "tag":
                out[key] = value
            elif key == "payload" and isinstance(value, dict):
                out[key] = self._redact_payload(value, fields)
            else:
                out[key] = self._deep(value, 1)
        return out

    def _redact_payload(self, payload: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in payload.items():
            kind = fields.get(key) if isinstance(key, str) else None
            if kind == "url" and isinstance(value, str):
                out[key] = self.redact_url(value)
            elif kind == "text" and isinstance(value, str):
                out[key] = self.redact_text(value)
            else:
                new_key = self.redact_text(key) if isinstance(key, str) else key
                out[new_key] = self._deep(value, 2)
        return out
