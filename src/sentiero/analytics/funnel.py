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
needed, pre-filtered in SQL; every store matches them with the rules here) and adds the chains
up (``Store.funnel_tally``, :class:`FunnelTally`: the SQL store keeps the tally of each closed
UTC day's sessions in its day cache)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sentiero.analytics.periods import Period, pct
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


@dataclass
class FunnelTally:
    """What the chains of some sessions add up to, for each step: sessions that reached it,
    sessions whose last step reached it was (drop-offs), the first ``EXAMPLES`` of those by
    session id, and {ms from the previous step: sessions}; and the steps some event matched.
    Tallies of disjoint sets of sessions merge (:func:`merge_tallies`) into the tally of all
    of them: the SQL store keeps one per closed day (sql_day_cache)."""

    reached: list[int]
    drop_offs: list[int]
    examples: list[list[Moment]]
    gaps: list[dict[int, int]]
    seen: set[int]

    @staticmethod
    def empty(count: int) -> FunnelTally:
        return FunnelTally([0] * count, [0] * count, [[] for _ in range(count)],
                           [{} for _ in range(count)], set())


def tally_sessions(per_session: StepEvents, count: int, within_ms: int | None) -> FunnelTally:
    """Chain each session's step events (``Store.step_events``) and add the chains up."""
    out = FunnelTally.empty(count)
    for session_id in sorted(per_session):
        # by time and window; events equal in both give the same chain in any order (a step
        # needs a strictly later event than the previous one's)
        events = sorted(per_session[session_id], key=lambda e: (e[0], e[1]))
        for _, _, hit in events:
            out.seen |= hit
        reached = chain(events, count, within_ms)
        for i, (ts, _) in enumerate(reached):
            out.reached[i] += 1
            if i:
                gap = ts - reached[i - 1][0]
                out.gaps[i][gap] = out.gaps[i].get(gap, 0) + 1
        if reached and len(reached) < count:
            last = len(reached) - 1
            out.drop_offs[last] += 1
            if len(out.examples[last]) < EXAMPLES:
                ts, window_id = reached[-1]
                out.examples[last].append(Moment(session_id, window_id, ts))
    return out


def merge_tallies(parts: list[FunnelTally], count: int) -> FunnelTally:
    """The tally of the sessions of every part (no session in two parts)."""
    out = FunnelTally.empty(count)
    for part in parts:
        for i in range(count):
            out.reached[i] += part.reached[i]
            out.drop_offs[i] += part.drop_offs[i]
            out.examples[i].extend(part.examples[i])
            for gap, n in part.gaps[i].items():
                out.gaps[i][gap] = out.gaps[i].get(gap, 0) + n
        out.seen |= part.seen
    out.examples = [sorted(e, key=lambda m: m.session_id)[:EXAMPLES] for e in out.examples]
    return out


def counted_median(counts: dict[int, int]) -> float | None:
    """``periods.median`` of values given as {value: how many times}."""
    rank = (sum(counts.values()) + 1) // 2  # nearest rank: ceil(n / 2)
    for value in sorted(counts):
        rank -= counts[value]
        if rank <= 0:
            return value
    return None


def generic_funnel_tally(store: Store, scope: Scope, steps: list[Step],
                         within_ms: int | None) -> FunnelTally:
    return tally_sessions(store.step_events(scope, steps), len(steps), within_ms)


def funnel(store: Store, period: Period, steps: list[Step], within_ms: int | None = None,
           segment: Segment | None = None) -> Funnel:
    scope = Scope(period.since, period.until, segment or Segment())
    tally = store.funnel_tally(scope, steps, within_ms)
    results = [StepResult(s, n, drop_offs=d, examples=list(e))
               for s, n, d, e in zip(steps, tally.reached, tally.drop_offs, tally.examples,
                                     strict=True)]
    first = results[0].sessions
    for i, r in enumerate(results):
        r.from_first_pct = pct(r.sessions, first)
        r.from_previous_pct = pct(r.sessions, results[i - 1].sessions) if i else \
            (100.0 if first else None)
        r.median_ms_from_previous = counted_median(tally.gaps[i]) if i else None
    never = [s for i, s in enumerate(steps) if i not in tally.seen]
    return Funnel(results, within_ms, never)


def tag_vocabulary(store: Store, period: Period) -> list[str]:
    """The custom event tags of the range (for the step picker), internal ones left out."""
    counts = store.fact_counts(Scope(period.since, period.until), "custom", by_key=True,
                               sessions=False)
    return sorted({c.key for c in counts if c.key and not is_internal_tag(c.key)})[:200]
