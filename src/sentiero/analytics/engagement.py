"""Engagement / struggle score (inventory §5.8): 0–100 per session, higher = more friction,
``round(100 × Σ weight × sub-score)`` with the original's weights as defaults:

| signal | weight | sub-score |
|---|---|---|
| rage clicks | 0.20 | count / 3, at most 1 |
| dead clicks | 0.15 | count / 3, at most 1 |
| navigation churn (page views of a URL the session had already seen) | 0.15 | count / 3 |
| idle ratio (pauses over 10 s / session duration) | 0.10 | the ratio, at most 1 |
| thrashing scroll (direction reversals over 100 px within 1 s) | 0.10 | count / 3 |
| quick bounce (one page and under 5 s) | 0.10 | 0 or 1 |
| form refills (inputs − 1 per field) | 0.10 | count / 2 |
| error abandonment (a JS error within 8 s of the session's last event) | 0.10 | 0 or 1 |

Idle pauses and scroll reversals are measured per window at ingest (facts ``idle`` and
``scroll_reversal``); recordings ingested before they existed score 0 on those two."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentiero.analytics.periods import Period
from sentiero.analytics.query import Scope, Segment, SessionRow, span_ms

if TYPE_CHECKING:
    from sentiero.stores.base import Fact, Store

WEIGHTS = {"rage": 0.20, "dead": 0.15, "churn": 0.15, "idle": 0.10, "thrash": 0.10,
           "bounce": 0.10, "refills": 0.10, "error_exit": 0.10}
CAPS = {"rage": 3, "dead": 3, "churn": 3, "thrash": 3, "refills": 2}
LABELS = {"rage": "Rage clicks", "dead": "Dead clicks", "churn": "Revisits",
          "idle": "Idle", "thrash": "Scroll thrash", "bounce": "Quick bounce",
          "refills": "Refills", "error_exit": "Error exit"}
BINS = ("0-20", "20-40", "40-60", "60-80", "80-100")
MAX_ROWS = 500
QUICK_BOUNCE_MS = 5_000
ERROR_EXIT_MS = 8_000
KINDS = ("rage_click", "dead_click", "page_view", "idle", "scroll_reversal", "form_field",
         "error")


@dataclass
class Signals:
    rage: int = 0
    dead: int = 0
    churn: int = 0
    idle_ms: float = 0.0
    thrash: int = 0
    pages: int = 0
    refills: int = 0
    error_exit: bool = False
    duration_ms: int | None = None
    last_error_ms: int | None = None  # the session's last JS error

    @property
    def idle_ratio(self) -> float:
        if not self.duration_ms:
            return 0.0
        return min(1.0, self.idle_ms / self.duration_ms)

    @property
    def bounce(self) -> bool:
        return self.pages <= 1 and self.duration_ms is not None and \
            self.duration_ms < QUICK_BOUNCE_MS

    def sub_scores(self) -> dict[str, float]:
        return {"rage": min(1.0, self.rage / CAPS["rage"]),
                "dead": min(1.0, self.dead / CAPS["dead"]),
                "churn": min(1.0, self.churn / CAPS["churn"]),
                "idle": self.idle_ratio,
                "thrash": min(1.0, self.thrash / CAPS["thrash"]),
                "bounce": 1.0 if self.bounce else 0.0,
                "refills": min(1.0, self.refills / CAPS["refills"]),
                "error_exit": 1.0 if self.error_exit else 0.0}

    def score(self, weights: dict[str, float] = WEIGHTS) -> int:
        total = sum(weights[k] * v for k, v in self.sub_scores().items())
        return max(0, min(100, round(100 * total)))

    def chips(self) -> list[str]:
        """The signals present, as words (the table's chips)."""
        out = []
        for key, value in (("rage", self.rage), ("dead", self.dead), ("churn", self.churn),
                           ("thrash", self.thrash), ("refills", self.refills)):
            if value:
                out.append(f"{LABELS[key]} {value}")
        if self.idle_ratio >= 0.05:
            out.append(f"Idle {round(100 * self.idle_ratio)}%")
        if self.bounce:
            out.append(LABELS["bounce"])
        if self.error_exit:
            out.append(LABELS["error_exit"])
        return out


@dataclass
class SessionScore:
    row: SessionRow
    signals: Signals
    score: int


@dataclass
class Engagement:
    rows: list[SessionScore]  # sorted, at most MAX_ROWS
    total: int
    distribution: list[tuple[str, int]] = field(default_factory=list)
    average: float | None = None


def bin_of(score: int) -> int:
    return min(len(BINS) - 1, score // 20)


def signals_of(facts: Iterable[Fact]) -> Signals:
    """The signals one session's facts (of ``KINDS``, any order) carry, before the session's
    duration is known (see :func:`scored`)."""
    s = Signals()
    urls: set[str] = set()
    fields: dict[str, float] = {}
    for f in facts:
        if f.kind == "rage_click":
            s.rage += 1
        elif f.kind == "dead_click":
            s.dead += 1
        elif f.kind == "page_view":
            if f.url in urls:
                s.churn += 1
            elif f.url:
                urls.add(f.url)
        elif f.kind == "idle":
            s.idle_ms += f.value or 0
        elif f.kind == "scroll_reversal":
            s.thrash += int(f.value or 0)
        elif f.kind == "form_field":
            node = f"{f.window_id}:{f.key}"
            fields[node] = fields.get(node, 0) + (f.value or 1)
        elif f.kind == "error":
            s.last_error_ms = f.ts_ms if s.last_error_ms is None else max(s.last_error_ms,
                                                                           f.ts_ms)
    s.pages = len(urls)
    s.refills = int(sum(n - 1 for n in fields.values()))
    return s


def scored(signals: Signals, first_ms: int | None, last_ms: int | None) -> int:
    """Complete ``signals`` with the session's span and return its score."""
    signals.duration_ms = span_ms(first_ms, last_ms)
    signals.error_exit = signals.last_error_ms is not None and last_ms is not None and \
        last_ms - signals.last_error_ms <= ERROR_EXIT_MS
    return signals.score()


def engagement(store: Store, period: Period, segment: Segment | None = None,
               sort: str = "score") -> Engagement:
    """Every session in scope scored; the rows are the top ``MAX_ROWS`` by score (or by
    duration with ``sort="duration"``), ties by id."""
    scope = Scope(period.since, period.until, segment or Segment())
    return store.engagement_scores(scope, "duration" if sort == "duration" else "score",
                                   MAX_ROWS)


def generic_scores(store: Store, scope: Scope, sort: str, limit: int) -> Engagement:
    rows = store.analytics_sessions(scope)
    wanted = {r.session_id for r in rows}
    facts: dict[str, list[Fact]] = defaultdict(list)
    for f in store.scope_facts(Scope(segment=scope.segment), KINDS):
        if f.session_id in wanted:
            facts[f.session_id].append(f)
    items = []
    for row in rows:
        signals = signals_of(facts.get(row.session_id, ()))
        items.append(SessionScore(row, signals, scored(signals, row.first_ms, row.last_ms)))
    counts = [0] * len(BINS)
    for item in items:
        counts[bin_of(item.score)] += 1
    if sort == "duration":
        items.sort(key=lambda x: (-(x.row.duration_ms or 0), x.row.session_id))
    else:
        items.sort(key=lambda x: (-x.score, x.row.session_id))
    return Engagement(items[:limit], len(items), list(zip(BINS, counts, strict=True)),
                      average_of(sum(x.score for x in items), len(items)))


def average_of(total: int, count: int) -> float | None:
    return round(total / count, 1) if count else None
