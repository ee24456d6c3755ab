"""Date ranges, buckets and percentiles, the same for every analysis and every store."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TypeVar

PRESETS = (14, 30, 90)
DEFAULT_PRESET = 30
WEEKLY_AFTER_DAYS = 45
DAY_MS = 86_400_000
T = TypeVar("T")


@dataclass(frozen=True)
class Period:
    """The analysed range: an explicit since/until, or the preset ending today (UTC)."""

    since: datetime | None
    until: datetime | None
    preset: int | None  # 14/30/90 when the range is a preset

    @property
    def days(self) -> int | None:
        if self.since is None or self.until is None:
            return None
        return max(1, math.ceil((self.until - self.since).total_seconds() / 86_400))

    def previous(self) -> Period | None:
        """The same span right before this one (for period-over-period deltas)."""
        if self.since is None or self.until is None:
            return None
        span = self.until - self.since
        return Period(self.since - span - timedelta(microseconds=1),
                      self.since - timedelta(microseconds=1), None)

    @property
    def weekly(self) -> bool:
        return (self.days or 0) > WEEKLY_AFTER_DAYS


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), timezone.utc)


def end_of_day(day: date) -> datetime:
    """The day's last microsecond (session times are kept in microseconds)."""
    return datetime.combine(day, time(23, 59, 59, 999_999), timezone.utc)


def resolve_period(since: datetime | None, until: datetime | None, preset: int | None,
                   now: datetime | None = None, default_preset: int | None = DEFAULT_PRESET
                   ) -> Period:
    """Explicit bounds override the preset (inventory §3.4); a preset outside 14/30/90 falls
    back to the default; with neither, the default preset (or everything, when None)."""
    if since is not None or until is not None:
        return Period(since, until, None)
    days = preset if preset in PRESETS else default_preset
    if days is None:
        return Period(None, None, None)
    today = (now or datetime.now(timezone.utc)).date()
    return Period(start_of_day(today - timedelta(days=days - 1)), end_of_day(today), days)


def bucket_of(ms: int, weekly: bool) -> str:
    """``YYYY-MM-DD`` for a UTC day, ``YYYY-Www`` for an ISO week."""
    day = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).date()
    if weekly:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def bucket_labels(period: Period, seen_ms: Iterable[int] = ()) -> list[str]:
    """Every bucket of the period in order (days or ISO weeks), or those seen when the
    period is unbounded."""
    if period.since is None or period.until is None:
        return sorted({bucket_of(ms, period.weekly) for ms in seen_ms})
    labels: list[str] = []
    day = period.since.date()
    while day <= period.until.date():
        label = bucket_of(int(start_of_day(day).timestamp() * 1000), period.weekly)
        if not labels or labels[-1] != label:
            labels.append(label)
        day += timedelta(days=1)
    return labels


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest rank: the value at ``ceil(p/100 × n)`` (1-based, clamped)."""
    n = len(sorted_values)
    if n == 0:
        return None
    rank = min(n, max(1, math.ceil(p / 100 * n)))
    return sorted_values[rank - 1]


def median(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    return percentile(ordered, 50)


def top_counts(counts: Counter[T] | dict[T, int], limit: int) -> list[tuple[T, int]]:
    """Count descending, then key ascending (inventory §5)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:limit]


def pct(part: float, whole: float, digits: int = 1) -> float | None:
    return round(100 * part / whole, digits) if whole else None


def delta_pct(current: float, prior: float) -> float | None:
    """Relative change in percent; None when the prior value is 0 (inventory §5.1)."""
    return round(100 * (current - prior) / prior, 1) if prior else None


