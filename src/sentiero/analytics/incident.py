"""Why a frustration incident counted, for the replay page (``?incident=rage|dead&t=``): the
clicks of a rage cluster, or a dead click and what (if anything) answered it and when.

It reads the incident's own facts (sentiero.ingest.facts made the ``rage_click`` /
``dead_click`` and ``click`` facts at ingest) and, for a dead click, the window's recorded
events after it, looking for the first event ingest treats as an answer to a click (the one
rule, :func:`sentiero.ingest.facts.click_response`). Nothing here decides again whether the
incident counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.ingest import facts as F
from sentiero.ingest.rules import FrustrationRules
from sentiero.stores.base import Fact, WindowRef

if TYPE_CHECKING:
    from sentiero.stores.base import Store

SUBTYPES = {"rage": "rage_click", "dead": "dead_click"}
RESPONSE_HORIZON_MS = 60_000
"""How far after a dead click the page looks for the response that came too late."""


@dataclass(frozen=True)
class IncidentClick:
    ts_ms: int
    offset_ms: int
    x: float | None
    y: float | None
    vw: float | None
    vh: float | None
    selector: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"offsetMs": self.offset_ms, "x": self.x, "y": self.y, "vw": self.vw,
                "vh": self.vh}


@dataclass
class Explanation:
    subtype: str  # "rage" or "dead"
    ts_ms: int
    offset_ms: int
    url: str | None
    selector: str | None
    reason: str
    clicks: list[IncidentClick] = field(default_factory=list)
    with_error: bool = False
    response: str | None = None  # what answered a dead click too late, if anything
    response_after_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """For the replay page's script (the markers): positions and offsets only."""
        return {"subtype": self.subtype, "offsetMs": self.offset_ms,
                "clicks": [c.to_dict() for c in self.clicks]}


def explain(store: Store, session_id: str, window_id: str, subtype: str, ts_ms: int,
            first_ms: int, rules: FrustrationRules) -> Explanation | None:
    """The incident of ``subtype`` at ``ts_ms`` in the window, or None if there is none."""
    from sentiero.analytics.frustration import Incident

    kind = SUBTYPES.get(subtype)
    if kind is None:
        return None
    window = [f for f in store.iter_facts(session_id=session_id)
              if f.window_id == window_id and f.kind in (kind, "click")]
    fact = next((f for f in window if f.kind == kind and f.ts_ms == ts_ms), None)
    if fact is None:
        return None
    incident = Incident(fact)
    clicks = sorted((f for f in window if f.kind == "click" and f.ts_ms >= ts_ms),
                    key=lambda f: f.ts_ms)[:incident.clicks]
    out = Explanation(subtype, ts_ms, ts_ms - first_ms, fact.url, fact.key,
                      incident.reason(rules), [_click(c, first_ms) for c in clicks],
                      incident.with_error)
    if not out.clicks:  # a click without its click fact: the incident's own position
        out.clicks = [_click(fact, first_ms)]
    if subtype == "dead":
        found = _first_response(store, WindowRef(session_id, window_id), ts_ms)
        if found is not None:
            out.response, out.response_after_ms = found
    return out


def _click(fact: Fact, first_ms: int) -> IncidentClick:
    def num(name: str) -> float | None:
        value = fact.data.get(name)
        return float(value) if isinstance(value, (int, float)) and \
            not isinstance(value, bool) else None

    return IncidentClick(fact.ts_ms, fact.ts_ms - first_ms, num("x"), num("y"), num("vw"),
                         num("vh"), fact.key)


def _first_response(store: Store, ref: WindowRef, ts_ms: int) -> tuple[str, int] | None:
    """The first answer after the click within ``RESPONSE_HORIZON_MS`` and how late it was."""
    best: tuple[int, str] | None = None
    for chunk in store.get_chunks(ref, from_ms=ts_ms, to_ms=ts_ms + RESPONSE_HORIZON_MS):
        for event in chunk.events():
            at = event.get("timestamp") if isinstance(event, dict) else None
            if not isinstance(at, (int, float)) or at < ts_ms or \
                    at > ts_ms + RESPONSE_HORIZON_MS:
                continue
            answer = F.click_response(event)
            if answer is None or (at == ts_ms and not answer[1]):
                continue
            if best is None or at < best[0]:
                best = (int(at), answer[0])
    return None if best is None else (best[1], best[0] - ts_ms)
