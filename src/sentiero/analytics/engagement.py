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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentiero.analytics.periods import Period
from sentiero.analytics.query import Scope, Segment, SessionRow

if TYPE_CHECKING:
    from sentiero.stores.base import Store

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


def engagement(store: Store, period: Period, segment: Segment | None = None,
               sort: str = "score") -> Engagement:
    scope = Scope(period.since, period.until, segment or Segment())
    rows = store.analytics_sessions(scope)
    wanted = {r.session_id for r in rows}
    signals: dict[str, Signals] = defaultdict(Signals)
    seen_urls: dict[str, set[str]] = defaultdict(set)
    fields: dict[str, dict[str, float]] = defaultdict(dict)
    errors: dict[str, int] = {}
    for f in store.scope_facts(Scope(segment=scope.segment), KINDS):
        if f.session_id not in wanted:
            continue
        s = signals[f.session_id]
        if f.kind == "rage_click":
            s.rage += 1
        elif f.kind == "dead_click":
            s.dead += 1
        elif f.kind == "page_view":
            urls = seen_urls[f.session_id]
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
            fields[f.session_id][node] = fields[f.session_id].get(node, 0) + (f.value or 1)
        elif f.kind == "error":
            errors[f.session_id] = max(errors.get(f.session_id, f.ts_ms), f.ts_ms)
    scored = []
    for row in rows:
        s = signals[row.session_id]
        s.pages = len(seen_urls[row.session_id])
        s.duration_ms = row.duration_ms
        s.refills = int(sum(n - 1 for n in fields[row.session_id].values()))
        last_error = errors.get(row.session_id)
        s.error_exit = last_error is not None and row.last_ms is not None and \
            row.last_ms - last_error <= ERROR_EXIT_MS
        scored.append(SessionScore(row, s, s.score()))
    counts = [0] * len(BINS)
    for item in scored:
        counts[bin_of(item.score)] += 1
    if sort == "duration":
        scored.sort(key=lambda x: (-(x.row.duration_ms or 0), x.row.session_id))
    else:
        scored.sort(key=lambda x: (-x.score, x.row.session_id))
    average = round(sum(x.score for x in scored) / len(scored), 1) if scored else None
    return Engagement(scored[:MAX_ROWS], len(scored), list(zip(BINS, counts, strict=True)),
                      average)
