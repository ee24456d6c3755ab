"""Web Vitals (inventory §5.10): per page and metric, p50/p75/p90 of each page view's last
report, the rating mix as the browser's web-vitals library rated it, and the slowest one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentiero.analytics.periods import Period, percentile
from sentiero.analytics.query import Scope, Segment
from sentiero.stores.base import Fact

if TYPE_CHECKING:
    from sentiero.stores.base import Store

METRICS = ("LCP", "INP", "CLS")
RATINGS = ("good", "needs-improvement", "poor")
MAX_PAGES = 200


@dataclass
class MetricSummary:
    metric: str
    samples: int
    p50: float | None
    p75: float | None
    p90: float | None
    ratings: dict[str, int]
    worst: Fact | None

    @property
    def dominant_rating(self) -> str | None:
        if not any(self.ratings.values()):
            return None
        return max(RATINGS, key=lambda r: (self.ratings.get(r, 0), -RATINGS.index(r)))


@dataclass
class PageVitals:
    url: str
    metrics: list[MetricSummary] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(m.samples for m in self.metrics)

    def metric(self, name: str) -> MetricSummary | None:
        return next((m for m in self.metrics if m.metric == name), None)

    @property
    def slowest(self) -> Fact | None:
        """The worst LCP, else INP, else CLS (the page's "slowest session")."""
        for name in METRICS:
            summary = self.metric(name)
            if summary is not None and summary.worst is not None:
                return summary.worst
        return None


def web_vitals(store: Store, period: Period, segment: Segment | None = None,
               url: str | None = None) -> list[PageVitals]:
    scope = Scope(period.since, period.until, segment or Segment())
    last: dict[tuple[str, str, object, str], Fact] = {}
    for fact in store.scope_facts(scope, ("vital",), url=url):
        if fact.value is None or not fact.key or not fact.url:
            continue
        group = (fact.session_id, fact.window_id, fact.data.get("pv"), fact.key)
        kept = last.get(group)
        if kept is None or fact.ts_ms >= kept.ts_ms:  # one sample per page view: its last
            last[group] = fact
    samples: dict[str, dict[str, list[Fact]]] = {}
    for fact in last.values():
        per_page = samples.setdefault(fact.url or "", {})
        per_page.setdefault(fact.key or "", []).append(fact)
    pages = []
    for page_url, metrics in samples.items():
        page = PageVitals(page_url)
        ordered = sorted(metrics, key=lambda m: (METRICS.index(m) if m in METRICS else 9, m))
        for name in ordered:
            facts = metrics[name]
            values = sorted(f.value or 0.0 for f in facts)
            ratings = Counter(str(f.data.get("rating")) for f in facts if f.data.get("rating"))
            worst = max(facts, key=lambda f: (f.value or 0.0, -f.ts_ms))
            page.metrics.append(MetricSummary(
                name, len(facts), percentile(values, 50), percentile(values, 75),
                percentile(values, 90), {r: ratings.get(r, 0) for r in RATINGS}, worst))
        pages.append(page)
    pages.sort(key=lambda p: (-p.samples, p.url))
    return pages
