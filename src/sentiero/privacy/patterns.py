"""Builtin text patterns of the redaction engine (twin of recorder/redaction-patterns.js).

Every pattern runs in time linear in the input: where a single regular expression would backtrack
quadratically on hostile input (emails, JWTs, cards), the scan is written out by hand around
simple, unambiguous expressions. Character classes are spelled out in ASCII so Python and
JavaScript agree on what a "word", a "digit" or "whitespace" is; tests/fixtures/redaction_cases.json
pins the two implementations to the same answers.

Applied in this order (each can be disabled by name):

- ``url``: in ``http(s)://<non-space>``, drop everything from the first ``?`` or ``#``;
- ``jwt``: ``eyJ<b64url>.<b64url>.<b64url or nothing>``;
- ``email``: ``local@domain.tld`` (``[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}``);
- ``long_hex``: a whole word of 32 or more hex digits;
- ``card``: 13 to 19 digits, single spaces or hyphens allowed between digit groups, not glued to
  a letter, digit or underscore, and passing the Luhn check;
- ``bearer``: the token after ``Bearer`` (any case) when it looks like a credential (16+
  characters, or it holds a digit or one of ``-._~+/=``), so prose ("the bearer of") survives.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence

REDACTED = "[redacted]"
BUILTIN_PATTERNS: tuple[str, ...] = ("url", "jwt", "email", "long_hex", "card", "bearer")
MAX_PASSES = 4

# Whitespace as JavaScript's \s knows it, spelled out so both languages split URLs the same way.
_WS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

_URL = re.compile("[Hh][Tt][Tt][Pp][Ss]?://[^" + _WS + "]+")
_JWT_TOKEN = re.compile(r"[A-Za-z0-9_.\-]+")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+\-]*")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9.\-]*")
_HEX = re.compile(r"[0-9A-Fa-f]{32,}")
_DIGIT_RUN = re.compile(r"[0-9]+(?:[ \-][0-9]+)*")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr]")
_BEARER_TAIL = re.compile(r"[ \t]+([A-Za-z0-9\-._~+/]+=*)")
_BEARER_SYMBOLS = frozenset("0123456789-._~+/=")


def _redact_url(text: str) -> str:
    def cut(m: re.Match[str]) -> str:
        s = m.group()
        ends = [i for i in (s.find("?"), s.find("#")) if i != -1]
        return s[: min(ends)] if ends else s

    return _URL.sub(cut, text)


def _redact_jwt(text: str) -> str:
    if "eyJ" not in text:
        return text

    def token(m: re.Match[str]) -> str:
        tok = m.group()
        if "eyJ" not in tok:
            return tok
        segments = tok.split(".")
        out: list[str] = []
        i = 0
        while i < len(segments):
            seg = segments[i]
            p = seg.find("eyJ")
            if p != -1 and len(seg) - p > 3 and i + 2 < len(segments) and segments[i + 1]:
                out.append(seg[:p] + REDACTED)
                i += 3
            else:
                out.append(seg)
                i += 1
        return ".".join(out)

    return _JWT_TOKEN.sub(token, text)


def _email_domain_end(domain: str) -> int:
    """Length of the longest ``[A-Za-z0-9.-]+\\.[A-Za-z]{2,}`` prefix of ``domain``, or 0."""
    i = domain.rfind(".")
    while i >= 1:
        if i + 2 < len(domain) and domain[i + 1] in _LETTERS and domain[i + 2] in _LETTERS:
            end = i + 3
            while end < len(domain) and domain[end] in _LETTERS:
                end += 1
            return end
        i = domain.rfind(".", 0, i)
    return 0


def _redact_email(text: str) -> str:
    at = text.find("@")
    if at == -1:
        return text
    n = len(text)
    reversed_text = text[::-1]
    out: list[str] = []
    last = 0  # end of the previous match: a local part may not start before it
    while at != -1:
        local = _EMAIL_LOCAL.match(reversed_text, n - at).end() - (n - at)
        local = min(local, at - last)
        end = _email_domain_end(_EMAIL_DOMAIN.match(text, at + 1).group()) if local else 0
        if end:
            out.append(text[last : at - local])
            out.append(REDACTED)
            last = at + 1 + end
            at = text.find("@", last)
        else:
            at = text.find("@", at + 1)
    out.append(text[last:])
    return "".join(out)


def _redact_long_hex(text: str) -> str:
    def word(m: re.Match[str]) -> str:
        start, end = m.span()
        if (start and text[start - 1] in _WORD) or (end < len(text) and text[end] in _WORD):
            return m.group()
        return REDACTED

    return _HEX.sub(word, text)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of ASCII digits (used by the ``card`` pattern)."""
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if k % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_spans(run: str, left_glued: bool, right_glued: bool) -> list[tuple[int, int]]:
    """Spans of ``run`` (digit groups joined by single separators) holding a Luhn-valid card.

    From the leftmost group on, each start group takes the longest span of whole groups with 13 to
    19 digits that passes Luhn. Prefix sums make each check O(1), so a run of many short groups
    stays linear.
    """
    groups = [(m.start(), m.end()) for m in re.finditer(r"[0-9]+", run)]
    if not any(e - s <= 19 for s, e in groups):
        return []
    digits = run.replace(" ", "").replace("-", "")
    # p_even[k]: Luhn sum of digits[:k] doubling even positions; p_odd doubling odd positions.
    p_even = [0] * (len(digits) + 1)
    p_odd = [0] * (len(digits) + 1)
    for k, ch in enumerate(digits):
        d = ord(ch) - 48
        dd = d * 2 - 9 if d > 4 else d * 2
        p_even[k + 1] = p_even[k] + (dd if k % 2 == 0 else d)
        p_odd[k + 1] = p_odd[k] + (d if k % 2 == 0 else dd)
    offsets = [0]
    for s, e in groups:
        offsets.append(offsets[-1] + e - s)
    spans: list[tuple[int, int]] = []
    n = len(groups)
    i = 1 if left_glued else 0
    lo = i  # first end group giving at least 13 digits: never moves back as i grows
    while i < n:
        a = offsets[i]
        lo = max(lo, i)
        while lo < n and offsets[lo + 1] - a < 13:
            lo += 1
        best = -1
        j = lo
        while j < n and offsets[j + 1] - a <= 19:
            if not (j == n - 1 and right_glued):
                b = offsets[j + 1]
                # digit t of digits[a:b] is doubled when (b - 1 - t) is odd, i.e. t ≡ b (mod 2)
                total = (p_even[b] - p_even[a]) if b % 2 == 0 else (p_odd[b] - p_odd[a])
                if total % 10 == 0:
                    best = j
            j += 1
        if best >= 0:
            spans.append((groups[i][0], groups[best][1]))
            i = best + 1
        else:
            i += 1
    return spans


def _redact_card(text: str) -> str:
    def run(m: re.Match[str]) -> str:
        start, end = m.span()
        s = m.group()
        if end - start < 13:
            return s
        left = start > 0 and text[start - 1] in _WORD
        right = end < len(text) and text[end] in _WORD
        spans = _card_spans(s, left, right)
        if not spans:
            return s
        out: list[str] = []
        last = 0
        for a, b in spans:
            out.append(s[last:a])
            out.append(REDACTED)
            last = b
        out.append(s[last:])
        return "".join(out)

    return _DIGIT_RUN.sub(run, text)


def _redact_bearer(text: str) -> str:
    out: list[str] = []
    last = 0
    for m in _BEARER.finditer(text):
        start = m.start()
        if start < last or (start and text[start - 1] in _WORD):
            continue
        tail = _BEARER_TAIL.match(text, m.end())
        if not tail:
            continue
        token = tail.group(1)
        if len(token) < 16 and not any(ch in _BEARER_SYMBOLS for ch in token):
            continue
        out.append(text[last : tail.start(1)])
        out.append(REDACTED)
        last = tail.end(1)
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


BUILTIN: dict[str, Callable[[str], str]] = {
    "url": _redact_url,
    "jwt": _redact_jwt,
    "email": _redact_email,
    "long_hex": _redact_long_hex,
    "card": _redact_card,
    "bearer": _redact_bearer,
}


# What each pattern needs at the very least to match; text holding none of them is left as it
# is without running the patterns (most page text: table cells, labels, prose). Each piece is
# bounded, so the search stays linear.
_NEEDS: dict[str, str] = {
    "url": "[Hh][Tt][Tt][Pp][Ss]?://",
    "jwt": "eyJ",
    "email": "@",
    "long_hex": "[0-9A-Fa-f]{32}",
    "card": r"[0-9](?:[ \-]?[0-9]){12}",
    "bearer": "[Bb][Ee][Aa][Rr][Ee][Rr]",
}


@functools.lru_cache(maxsize=64)
def prefilter(builtins: tuple[str, ...]) -> re.Pattern[str] | None:
    """What any of ``builtins`` needs to match, as one pattern (None: no builtins)."""
    if not builtins:
        return None
    return re.compile("|".join(_NEEDS[name] for name in builtins))


def ordered(names: Iterable[str]) -> tuple[str, ...]:
    """The given builtin pattern names in the engine's fixed order."""
    wanted = set(names)
    return tuple(name for name in BUILTIN_PATTERNS if name in wanted)


def _replacement(_m: re.Match[str]) -> str:
    return REDACTED


def redact_with(text: str, builtins: Sequence[str], custom: Sequence[re.Pattern[str]] = ()) -> str:
    """Apply the named builtin patterns (already in order), then every custom pattern.

    The builtins run again until nothing changes (at most MAX_PASSES times): one redaction can
    complete another pattern's match, e.g. removing the spaces of a card number inside
    ``http://4111 1111 1111 1111?token=x`` turns the rest into one URL whose query must go.
    Repeating makes redaction idempotent, so text redacted in the browser is left as is here.
    """
    needs = prefilter(tuple(builtins))
    if needs is not None and needs.search(text) is None:
        builtins = ()  # none of them could match
    for _ in range(MAX_PASSES if builtins else 0):
        before = text
        for name in builtins:
            text = BUILTIN[name](text)
        if text == before:
            break
    for pattern in custom:
        text = pattern.sub(_replacement, text)
    return text
