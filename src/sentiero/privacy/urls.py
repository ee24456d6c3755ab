"""URL redaction modes (twin of frontend/src/recorder/redaction-url.js).

- ``strip`` (default): keep scheme, host and path; drop ``?query`` and ``#fragment``.
- ``keep_filtered``: keep the query, but drop every parameter on the denylist (builtin list plus
  the operator's; the denylist wins over the allowlist), keep allowlisted parameters verbatim, and
  text-redact every other value. Fragments get the same treatment where they carry parameters:
  after a ``?`` (``#/reset?token=...``, SPA routes) or when they hold ``=`` (``#access_token=...``,
  the OAuth implicit flow); any other fragment is text-redacted.
- ``keep_all``: the URL verbatim.

In ``strip`` and ``keep_filtered`` the path is text-redacted too and user info
(``https://user:pass@host``) becomes ``[redacted]@host``. Names are percent-decoded and
lower-cased before the list lookup, so ``ACCESS%5FTOKEN`` is still dropped. A value is
percent-decoded (``+`` stays ``+``), redacted, and only re-encoded when something was redacted:
a clean value keeps its original encoding, byte for byte. Escapes that are not valid UTF-8 are
left as they are. The URL is split by hand, not by a URL parser, so relative and odd URLs survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from urllib.parse import quote

from sentiero.privacy.patterns import REDACTED

URL_MODES: tuple[str, ...] = ("strip", "keep_filtered", "keep_all")

DEFAULT_PARAM_DENYLIST: frozenset[str] = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "password",
        "passwd",
        "pwd",
        "secret",
        "api_key",
        "apikey",
        "key",
        "sig",
        "signature",
        "code",
        "auth",
        "session",
        "sessionid",
        "otp",
    }
)

_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_AUTHORITY = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//")
# encodeURIComponent's unescaped set, and encodeURI's minus "?" and "#" (for paths, fragments).
_COMPONENT_SAFE = "!~*'()"
_PATH_SAFE = "!~*'();/:@&=+$,"


def decode_lenient(text: str) -> str:
    """Percent-decode every run of escapes that is valid UTF-8; leave the others as they are."""
    if "%" not in text:
        return text

    def run(m: re.Match[str]) -> str:
        try:
            return bytes.fromhex(m.group().replace("%", "")).decode("utf-8")
        except UnicodeDecodeError:
            return m.group()

    return _ESCAPES.sub(run, text)


def _redact_component(value: str, redact: Callable[[str], str], safe: str) -> str:
    decoded = decode_lenient(value)
    redacted = redact(decoded)
    if redacted == decoded:
        return value
    return quote(redacted, safe=safe)


def _filter_params(
    params: str,
    redact: Callable[[str], str],
    allow: Collection[str],
    deny: Collection[str],
) -> str:
    kept: list[str] = []
    for part in params.split("&"):
        if not part:
            continue
        raw_name, sep, value = part.partition("=")
        name = decode_lenient(raw_name).lower()
        if name in deny:
            continue
        if name in allow:
            kept.append(part)
        elif not sep:
            kept.append(_redact_component(part, redact, _COMPONENT_SAFE))
        else:
            kept.append(raw_name + "=" + _redact_component(value, redact, _COMPONENT_SAFE))
    return "&".join(kept)


def _redact_base(base: str, redact: Callable[[str], str]) -> str:
    """Scheme, host and path: user info replaced, the path text-redacted, the host left alone."""
    m = _AUTHORITY.match(base)
    if not m:
        return _redact_component(base, redact, _PATH_SAFE)
    slash = base.find("/", m.end())
    authority_end = len(base) if slash == -1 else slash
    authority = base[m.end() : authority_end]
    at = authority.rfind("@")
    if at != -1:
        authority = REDACTED + authority[at:]
    path = base[authority_end:]
    return m.group() + authority + _redact_component(path, redact, _PATH_SAFE)


def redact_url(
    url: str,
    *,
    mode: str,
    redact: Callable[[str], str],
    allowlist: Collection[str] = (),
    denylist: Collection[str] = DEFAULT_PARAM_DENYLIST,
) -> str:
    """Redact one URL under ``mode``; ``redact`` is the text redaction to apply to its parts."""
    if mode == "keep_all":
        return url
    q, h = url.find("?"), url.find("#")
    query = fragment = None
    if h != -1 and (q == -1 or h < q):
        base, fragment = url[:h], url[h + 1 :]
    elif q != -1:
        base = url[:q]
        if h != -1:
            query, fragment = url[q + 1 : h], url[h + 1 :]
        else:
            query = url[q + 1 :]
    else:
        base = url
    out = _redact_base(base, redact)
    if mode == "strip":
        return out
    if query:
        query = _filter_params(query, redact, allowlist, denylist)
        if query:
            out += "?" + query
    if fragment:
        fragment = _redact_fragment(fragment, redact, allowlist, denylist)
        if fragment:
            out += "#" + fragment
    return out


def _redact_fragment(
    fragment: str,
    redact: Callable[[str], str],
    allow: Collection[str],
    deny: Collection[str],
) -> str:
    """``#/route?a=1`` (SPA routes): parameters after the first ``?`` filtered like a query.
    The part before it is filtered too when it holds ``=`` (``#access_token=...``, the OAuth
    implicit flow), else text-redacted."""
    q = fragment.find("?")
    head = fragment if q == -1 else fragment[:q]
    if "=" in head:
        head = _filter_params(head, redact, allow, deny)
    else:
        head = _redact_component(head, redact, _PATH_SAFE)
    if q == -1:
        return head
    params = _filter_params(fragment[q + 1 :], redact, allow, deny)
    return head + "?" + params if params else head
