"""Geo enrichment at ingest (inventory §1.6): country, city, region and timezone as session
metadata, from trusted proxy headers or a resolver callable, never from a stored IP.

``Settings.geo_source``:

- ``None``: nothing is added and client-sent keys are left as they are.
- ``"cloudflare"``: ``CF-IPCountry``, ``CF-IPCity``, ``CF-Region``, ``CF-Timezone``. Country
  ``XX`` (unknown) and ``T1`` (Tor) are dropped.
- a callable ``resolver(environ)`` or ``resolver(environ, client_metadata)`` returning a
  mapping with ``country``/``city``/``region``/``timezone`` (other keys ignored). A resolver
  that raises or returns something that is not a mapping gives nothing (and a warning, once
  per process).

Values must be strings; they are stripped, empty ones dropped, and cut to 256 characters.
With a source set, the server's keys win: client-sent ``geo_*`` keys are removed first, so a
client cannot claim a location (a two-argument resolver may read and return them on purpose).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("sentiero.ingest")

GEO_FIELDS = ("country", "city", "region", "timezone")
GEO_KEYS = tuple(f"geo_{name}" for name in GEO_FIELDS)
MAX_VALUE = 256
_CLOUDFLARE = {
    "country": "HTTP_CF_IPCOUNTRY",
    "city": "HTTP_CF_IPCITY",
    "region": "HTTP_CF_REGION",
    "timezone": "HTTP_CF_TIMEZONE",
}
_NO_COUNTRY = frozenset({"XX", "T1"})
_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:MAX_VALUE] if value else None


def _normalize(found: Mapping[Any, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in GEO_FIELDS:
        value = _clean(found.get(name))
        if value is not None:
            out[f"geo_{name}"] = value
    country = out.get("geo_country")
    if country is not None and country.upper() in _NO_COUNTRY:
        del out["geo_country"]
    return out


def _takes_metadata(resolver: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(resolver).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: call with one argument
        return False
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def resolve(source: Any, environ: Mapping[str, Any], client_metadata: Mapping[str, Any]
            ) -> dict[str, str]:
    """The ``geo_*`` metadata keys for one request (empty when nothing is known)."""
    if source is None:
        return {}
    if source == "cloudflare":
        return _normalize({name: environ.get(header) for name, header in _CLOUDFLARE.items()})
    try:
        if _takes_metadata(source):
            found = source(environ, dict(client_metadata))
        else:
            found = source(environ)
    except Exception as exc:
        _warn_once("raised", "sentiero: geo_source resolver raised %s; no geo data added",
                   type(exc).__name__)
        return {}
    if not isinstance(found, Mapping):
        _warn_once("type", "sentiero: geo_source resolver returned %s, not a mapping; no geo "
                   "data added", type(found).__name__)
        return {}
    return _normalize({str(k): v for k, v in found.items()})


def enrich(metadata: dict[str, Any], source: Any, environ: Mapping[str, Any] | None
           ) -> dict[str, Any]:
    """``metadata`` with the server's geo keys (a new dict; unchanged when no source is set)."""
    if source is None:
        return metadata
    client = dict(metadata)
    out = {k: v for k, v in metadata.items() if k not in GEO_KEYS}
    if environ is not None:
        out.update(resolve(source, environ, client))
    return out
