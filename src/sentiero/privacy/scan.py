"""A PII scan of what a store holds: the check that redaction did its job.

:func:`scan_store` reads every session's recordings (every event of every chunk), its
metadata, user agent and last URL, and its facts, and reports candidate personal data by kind:

- ``email``, ``card`` (13-19 digits passing Luhn), ``jwt``, ``bearer`` (bearer tokens),
  ``long_hex`` (32+ hex digits, a secret or a key): the redaction engine's own patterns, so
  what the scan calls a finding is exactly what redaction would have removed;
- ``phone``: international numbers (``+`` or ``00``, 8 to 15 digits, spaces, dots, hyphens and
  brackets between them) and North-American ``(555) 123-4567``;
- ``iban``: two letters, two check digits and 11 to 30 letters or digits (spaces allowed every
  four), passing the ISO 13616 mod-97 check;
- ``custom``: the operator's ``RedactionConfig.custom_patterns``.

Strings are scanned wherever they are (values and object keys). Left out, because they are
markup or numbers, not content: the keys of ``page_time`` and ``form_field`` facts (a
timestamp, a node id), ``data:`` URLs (images and fonts inlined as base64) and the SVG geometry
attributes ``d``, ``points``, ``viewBox`` and ``transform`` (digit runs that can pass Luhn).

No finding carries a value in full: :func:`excerpt` keeps the first and last two characters
(one for short values) and elides the rest. Each finding says where it is (session, window,
event timestamp, JSON path inside the record) so the report can link to the replay moment.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sentiero.privacy import patterns
from sentiero.privacy.patterns import REDACTED
from sentiero.stores.base import Store, WindowRef

KINDS: tuple[str, ...] = ("email", "card", "phone", "jwt", "bearer", "iban", "long_hex", "custom")
_ENGINE_KINDS = ("jwt", "email", "long_hex", "card", "bearer")  # patterns.BUILTIN names
SKIPPED_KEYS = frozenset({"d", "points", "viewBox", "transform"})
_REDACTED_RUN = re.compile(r"(?:" + re.escape(REDACTED) + r")+")

_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9][0-9 ().\-]{6,22}[0-9](?![\w])"
    r"|(?<![\w(])\([0-9]{3}\) ?[0-9]{3}[ \-][0-9]{4}(?![\w])"
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
                   r"(?![A-Za-z0-9])")
_CHUNK_PAGE = 200
NUMERIC_KEY_FACTS = frozenset({"page_time", "form_field"})
"""Fact kinds whose key is a number written as text (a page view's timestamp, a node id)."""


@dataclass(frozen=True)
class Finding:
    kind: str
    session_id: str
    place: str
    """``events``, ``metadata``, ``session`` (user agent, last URL) or ``facts``."""
    path: str
    """Where in the record: ``chunk 3 / event 12 / data.node.childNodes[0].textContent``."""
    excerpt: str
    window_id: str | None = None
    ts_ms: int | None = None


@dataclass
class ScanReport:
    sessions: int = 0
    windows: int = 0
    events: int = 0
    facts: int = 0
    findings: list[Finding] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counter = Counter(f.kind for f in self.findings)
        return {kind: counter[kind] for kind in KINDS if counter[kind]}

    def per_session(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter[str]] = {}
        for f in self.findings:
            out.setdefault(f.session_id, Counter())[f.kind] += 1
        return {sid: dict(sorted(c.items())) for sid, c in out.items()}

    def to_dict(self, link: Callable[[Finding], str] | None = None) -> dict[str, Any]:
        return {
            "scanned": {"sessions": self.sessions, "windows": self.windows,
                        "events": self.events, "facts": self.facts},
            "total": len(self.findings),
            "counts": self.counts(),
            "sessions": self.per_session(),
            "findings": [
                {**asdict(f), **({"link": link(f)} if link else {})} for f in self.findings
            ],
        }


def excerpt(value: str) -> str:
    """A masked excerpt: never the value in full, never its exact middle."""
    value = " ".join(value.split())
    if len(value) <= 4:
        return "…"
    keep = 1 if len(value) < 10 else 2
    return f"{value[:keep]}…{value[-keep:]}"


def _mod97_valid(candidate: str) -> bool:
    """The IBAN check (ISO 13616): first four characters moved to the end, letters as 10-35,
    the number mod 97 is 1."""
    text = candidate.replace(" ", "")
    if not 15 <= len(text) <= 34:
        return False
    moved = text[4:] + text[:4]
    digits = "".join(str(int(ch, 36)) for ch in moved)
    return int(digits) % 97 == 1


class Scanner:
    """Finds candidate personal data in strings. Built once, used for a whole store."""

    def __init__(self, custom_patterns: Sequence[str | re.Pattern[str]] = ()) -> None:
        self.custom = tuple(re.compile(p) if isinstance(p, str) else p for p in custom_patterns)
        self._clean: set[str] = set()
        """Short strings already found clean (tag and attribute names, classes, keys repeat
        all over a recording)."""

    def _remember_clean(self, text: str) -> None:
        if len(text) <= 64 and len(self._clean) < 50_000:
            self._clean.add(text)

    def scan_text(self, text: str) -> Iterator[tuple[str, str]]:
        """``(kind, masked excerpt)`` for every candidate in ``text``."""
        if len(text) < 5 or text.startswith("data:"):
            return
        if patterns.redact_with(text, _ENGINE_KINDS) != text:  # which ones, then
            for kind in _ENGINE_KINDS:
                yield from self._engine(kind, text)
        for m in _PHONE.finditer(text):
            digits = sum(ch.isdigit() for ch in m.group())
            if 8 <= digits <= 15 or m.group().startswith("("):
                yield "phone", excerpt(m.group())
        for m in _IBAN.finditer(text):
            if _mod97_valid(m.group()):
                yield "iban", excerpt(m.group())
        for pattern in self.custom:
            for m in pattern.finditer(text):
                if m.group():
                    yield "custom", excerpt(m.group())

    @staticmethod
    def _engine(kind: str, text: str) -> Iterator[tuple[str, str]]:
        redacted = patterns.redact_with(text, (kind,))
        if redacted == text:
            return
        pieces = _REDACTED_RUN.split(redacted)
        if REDACTED in text:  # cannot tell old markers from new ones: count only
            for _ in range(len(pieces) - 1):
                yield kind, f"(in a {len(text):,}-character string)"
            return
        # text = pieces[0] + match + pieces[1] + match + ... + pieces[-1]
        pos = len(pieces[0])
        for k, piece in enumerate(pieces[1:], start=1):
            if k == len(pieces) - 1:
                end = len(text) - len(piece)
            else:
                end = text.find(piece, pos + 1)
                end = len(text) - len(pieces[-1]) if end == -1 else end
            yield kind, excerpt(text[pos:end])
            pos = end + len(piece)

    def _found(self, text: str) -> list[tuple[str, str]]:
        if text in self._clean:
            return []
        found = list(self.scan_text(text))
        if not found:
            self._remember_clean(text)
        return found

    def scan_value(self, value: Any) -> Iterator[tuple[str, str, str]]:
        """``(kind, excerpt, path)`` for every string in a JSON-like value (keys included),
        iteratively (stored trees can be deep). Paths are only spelled out for findings."""
        # (item, parent link, key): the link chain is the path, joined when something is found
        stack: list[tuple[Any, Any, Any]] = [(value, None, None)]
        while stack:
            item, parent, key = stack.pop()
            if isinstance(item, str):
                for kind, text in self._found(item):
                    yield kind, text, _path(parent, key)
            elif isinstance(item, dict):
                link = (parent, key)
                for name, child in item.items():
                    if name in SKIPPED_KEYS:
                        continue
                    if isinstance(name, str):
                        for kind, text in self._found(name):
                            yield kind, text, _path(link, name) + " (key)"
                    if isinstance(child, (str, dict, list)):
                        stack.append((child, link, name))
            elif isinstance(item, list):
                link = (parent, key)
                stack.extend((child, link, i) for i, child in enumerate(item)
                             if isinstance(child, (str, dict, list)))


def _path(parent: Any, key: Any) -> str:
    parts: list[Any] = [key]
    while parent is not None:
        parent, name = parent
        parts.append(name)
    out = ""
    for part in reversed(parts):
        if part is None:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def scan_store(
    store: Store,
    scanner: Scanner | None = None,
    progress: Callable[[int, int], None] | None = None,
    session_ids: Sequence[str] | None = None,
) -> ScanReport:
    """Scan every session of ``store`` (or just ``session_ids``); ``progress(done, total)``
    after each session."""
    scanner = scanner or Scanner()
    report = ScanReport()
    ids = list(store.iter_session_ids()) if session_ids is None else list(session_ids)
    for done, session_id in enumerate(ids, start=1):
        _scan_session(store, session_id, scanner, report)
        if progress is not None:
            progress(done, len(ids))
    return report


def _scan_session(store: Store, session_id: str, scanner: Scanner, report: ScanReport) -> None:
    summary = store.get_session(session_id)
    if summary is None:
        return  # erased meanwhile
    report.sessions += 1
    add = report.findings.append
    for kind, text, path in scanner.scan_value(summary.metadata):
        add(Finding(kind, session_id, "metadata", path, text))
    for name in ("user_agent", "last_url"):
        value = getattr(summary, name)
        if isinstance(value, str):
            for kind, text in scanner.scan_text(value):
                add(Finding(kind, session_id, "session", name, text))
    for window in summary.windows:
        report.windows += 1
        ref = WindowRef(session_id, window.window_id)
        start = 0
        while True:
            page = store.get_chunks(ref, start_index=start, limit=_CHUNK_PAGE)
            for chunk in page:
                for number, event in enumerate(chunk.events()):
                    report.events += 1
                    ts = event.get("timestamp") if isinstance(event, dict) else None
                    ts = ts if isinstance(ts, int) and not isinstance(ts, bool) else None
                    where = f"chunk {chunk.info.index} / event {number}"
                    for kind, text, path in scanner.scan_value(event):
                        add(Finding(kind, session_id, "events", f"{where} / {path}", text,
                                    window.window_id, ts))
            if len(page) < _CHUNK_PAGE:
                break
            start = page[-1].info.index + 1
    for fact in store.iter_facts(session_id=session_id):
        report.facts += 1
        record: dict[str, Any] = {"url": fact.url, "data": fact.data}
        if fact.kind not in NUMERIC_KEY_FACTS:
            record["key"] = fact.key
        for kind, text, path in scanner.scan_value(record):
            add(Finding(kind, session_id, "facts", f"{fact.kind} / {path}", text,
                        fact.window_id, fact.ts_ms))
