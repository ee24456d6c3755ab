"""Funnels (inventory §5.6, past the original's 2–3 tag steps): 2 to ``MAX_STEPS`` ordered
steps, each a custom event tag or a page URL pattern (substring, or a glob with ``*``/``?``),
with an optional time window.

Per session (all its windows together, in time order) the chain is greedy and earliest, as the
original's: a step is reached by the first matching event strictly after the previous step's.
With a window, every step must come within ``within_ms`` of the session's first step 1; later
matches do not count. Per step: sessions that reached it, conversion from the first step and
from the previous one, the median time from the previous step, and drop-off examples (sessions
whose last step reached is this one) with the moment of that step for the replay. The store
reads the events that match some step (``Store.step_events``: on SQL stores only the columns
needed, pre-filtered in SQL; every store matches them with the rules here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentiero.analytics.periods import Period, median, pct
from sentiero.analytics.query import Moment, Scope, Segment, url_pattern_matches
from sentiero.ingest.facts import is_internal_tag

if TYPE_CHECKING:
    from sentiero.stores.base import Store

MIN_STEPS = 2
MAX_STEPS = 10
MAX_STEP_TEXT = 200
MAX_WITHIN_MS = 30 * 86_400_000
EXAMPLES = 10
STEP_KINDS = ("tag", "url")


class FunnelError(ValueError):
    """A funnel that cannot be computed; the message is for the page."""


@dataclass(frozen=True)
class Step:
    kind: str  # "tag" or "url"
    value: str

    @property
    def label(self) -> str:
        return self.value if self.kind == "tag" else f"Page {self.value}"

    def matches_tag(self, tag: str | None) -> bool:
        return self.kind == "tag" and tag == self.value

    def matches_url(self, url: str | None) -> bool:
        return self.kind == "url" and url_pattern_matches(self.value, url)


def make_step(kind: str, value: str) -> Step:
    """One step (or a conversion goal); raises :class:`FunnelError` with a message."""
    value = value.strip()
    if not value:
        raise FunnelError("Give a custom event tag or a page URL pattern.")
    if kind not in STEP_KINDS:
        raise FunnelError(f"A step is a custom event tag or a page URL, not {kind[:20]!r}.")
    if len(value) > MAX_STEP_TEXT:
        raise FunnelError(f"A step is at most {MAX_STEP_TEXT} characters.")
    if kind == "tag" and is_internal_tag(value):
        raise FunnelError("Tags starting with __ and the tag error are Sentiero's own; "
                          "choose one of your custom events.")
    return Step(kind, value)


def make_steps(pairs: list[tuple[str, str]]) -> list[Step]:
    """Steps from (kind, value) pairs as asked, empty values skipped."""
    steps = [make_step(kind, value) for kind, value in pairs if value.strip()]
    if len(steps) > MAX_STEPS:
        raise FunnelError(f"A funnel has at most {MAX_STEPS} steps; this one has {len(steps)}.")
    if len(steps) < MIN_STEPS:
        raise FunnelError(f"A funnel needs at least {MIN_STEPS} steps.")
    return steps


@dataclass
class StepResult:
    step: Step
    sessions: int = 0
    from_first_pct: float | None = None
    from_previous_pct: float | None = None
    median_ms_from_previous: float | None = None
    drop_offs: int = 0  # sessions whose last step reached is this one (not the last step)
    examples: list[Moment] = field(default_factory=list)


@dataclass
class Funnel:
    steps: list[StepResult]
    within_ms: int | None
    never_seen: list[Step]  # steps nothing matched in the range

    @property
    def entered(self) -> int:
        return self.steps[0].sessions if self.steps else 0

    @property
    def converted(self) -> int:
        return self.steps[-1].sessions if self.steps else 0

    @property
    def conversion_pct(self) -> float | None:
        return pct(self.converted, self.entered)


StepEvents = dict[str, list[tuple[int, str, frozenset[int]]]]


def step_kinds(steps: list[Step]) -> tuple[str, ...]:
    """The fact kinds steps match: custom events for tags, page views for URLs."""
    tags = sum(s.kind == "tag" for s in steps)
    return (("custom",) if tags else ()) + (("page_view",) if tags < len(steps) else ())


def step_hits(steps: list[Step], kind: str, url: str | None, key: str | None
              ) -> frozenset[int]:
    """The indexes of the steps a fact (its kind, url and key) matches."""
    if kind == "custom":
        return frozenset(i for i, s in enumerate(steps) if s.matches_tag(key))
    return frozenset(i for i, s in enumerate(steps) if s.matches_url(url))


def add_step_event(found: StepEvents, steps: list[Step], kind: str, session_id: str,
                   window_id: str, ts_ms: int, url: str | None, key: str | None) -> None:
    hit = step_hits(steps, kind, url, key)
    if hit:
        found.setdefault(session_id, []).append((ts_ms, window_id, hit))


def generic_step_events(store: Store, scope: Scope, steps: list[Step]) -> StepEvents:
    """Per session, its events in scope that match some step: (ts, window, step indexes)."""
    found: StepEvents = {}
    for f in store.scope_facts(scope, step_kinds(steps)):
        add_step_event(found, steps, f.kind, f.session_id, f.window_id, f.ts_ms, f.url, f.key)
    return found


def chain(events: list[tuple[int, str, frozenset[int]]], count: int, within_ms: int | None
          ) -> list[tuple[int, str]]:
    """The (ts, window) of each step reached, greedy and earliest, strictly after the
    previous; ``events`` sorted by time."""
    reached: list[tuple[int, str]] = []
    for ts, window_id, hit in events:
        if len(reached) == count:
            break
        if len(reached) not in hit:
            continue
        if reached and ts <= reached[-1][0]:
            continue
        if reached and within_ms is not None and ts - reached[0][0] > within_ms:
            break
        reached.append((ts, window_id))
    return reached


def funnel(store: Store, period: Period, steps: list[Step], within_ms: int | None = None,
           segment: Segment | None = None) -> Funnel:
    scope = Scope(period.since, period.until, segment or Segment())
    per_session = store.step_events(scope, steps)
    seen: set[int] = set()
    results = [StepResult(s) for s in steps]
    gaps: list[list[int]] = [[] for _ in steps]
    for session_id in sorted(per_session):
        # by time and window; events equal in both give the same chain in any order (a step
        # needs a strictly later event than the previous one's)
        events = sorted(per_session[session_id], key=lambda e: (e[0], e[1]))
        for _, _, hit in events:
            seen |= hit
        reached = chain(events, len(steps), within_ms)
        for i, (ts, _) in enumerate(reached):
            results[i].sessions += 1
            if i:
                gaps[i].append(ts - reached[i - 1][0])
        if reached and len(reached) < len(steps):
            last = results[len(reached) - 1]
            last.drop_offs += 1
            if len(last.examples) < EXAMPLES:
                ts, window_id = reached[-1]
                last.examples.append(Moment(session_id, window_id, ts))
    first = results[0].sessions
    for i, r in enumerate(results):
        r.from_first_pct = pct(r.sessions, first)
        r.from_previous_pct = pct(r.sessions, results[i - 1].sessions) if i else \
            (100.0 if first else None)
        r.median_ms_from_previous = median(gaps[i]) if gaps[i] else None
    never = [s for i, s in enumerate(steps) if i not in seen]
    return Funnel(results, within_ms, never)


def tag_vocabulary(store: Store, period: Period) -> list[str]:
    """The custom event tags of the range (for the step picker), internal ones left out."""
    counts = store.fact_counts(Scope(period.since, period.until), "custom", by_key=True,
                               sessions=False)
    return sorted({c.key for c in counts if c.key and not is_internal_tag(c.key)})[:200]
