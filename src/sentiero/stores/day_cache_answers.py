"""How each day-cache answer is stored and added up (``Cached``: encode to JSON, decode, merge
the days of a range, the answer of a day without rows), one per cached query of
``sql_day_cache.SQLDayCache``. Merging is the analysis' own wherever the analysis defines it
(``funnel.merge_tallies``, ``form_groups.merge_form_groups``, ``conversions.merge_goal_groups``);
the rest are sums, maxima and first-n lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import TYPE_CHECKING, Any

from sentiero.analytics.query import (
    DURATION_LABELS,
    FACET_TRAITS,
    Durations,
    Facets,
    FactCount,
    Moment,
)
from sentiero.analytics.scroll import Sample, ScrollGroup, deeper

if TYPE_CHECKING:
    from sentiero.analytics.conversions import GoalGroup
    from sentiero.analytics.form_groups import FormGroups
    from sentiero.analytics.funnel import FunnelTally


@dataclass(frozen=True)
class Cached:
    """How one query's answers are stored and added up."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    merge: Callable[[list[Any]], Any]
    empty: Callable[[], Any]  # a day without rows


def _sum_ints(parts: list[int]) -> int:
    return sum(parts)


INT = Cached(lambda n: n, int, _sum_ints, int)


def _merge_pairs(parts: list[dict[Any, tuple[int, int]]]) -> dict[Any, tuple[int, int]]:
    out: dict[Any, list[int]] = {}
    for part in parts:
        for key, (a, b) in part.items():
            slot = out.setdefault(key, [0, 0])
            slot[0] += a
            slot[1] += b
    return {k: (a, b) for k, (a, b) in out.items()}


PAIRS = Cached(lambda d: [[k, a, b] for k, (a, b) in d.items()],
               lambda rows: {k: (a, b) for k, a, b in rows}, _merge_pairs, dict)


def _merge_counts(parts: list[dict[Any, int]]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for part in parts:
        for key, n in part.items():
            out[key] = out.get(key, 0) + n
    return out


TUPLE_COUNTS = Cached(lambda d: [[*k, n] for k, n in d.items()],
                      lambda rows: {tuple(r[:-1]): r[-1] for r in rows}, _merge_counts, dict)


def _encode_facets(f: Facets) -> Any:
    d = f.durations
    return [f.sessions, f.errored, list(d.buckets), d.total_ms, d.timed,
            {t: [[v, a, b] for v, (a, b) in f.counts[t].items()] for t in FACET_TRAITS}]


def _decode_facets(p: Any) -> Facets:
    sessions, errored, buckets, total, timed, counts = p
    return Facets(sessions, errored, Durations(tuple(buckets), total, timed),
                  {t: {v: (a, b) for v, a, b in counts[t]} for t in FACET_TRAITS})


def merge_facets(parts: list[Facets]) -> Facets:
    buckets = [0] * len(DURATION_LABELS)
    for part in parts:
        for i, n in enumerate(part.durations.buckets):
            buckets[i] += n
    return Facets(sum(p.sessions for p in parts), sum(p.errored for p in parts),
                  Durations(tuple(buckets), sum(p.durations.total_ms for p in parts),
                            sum(p.durations.timed for p in parts)),
                  {t: _merge_pairs([p.counts[t] for p in parts]) for t in FACET_TRAITS})


FACETS = Cached(_encode_facets, _decode_facets, merge_facets, lambda: merge_facets([]))


def _merge_days(parts: list[list[tuple[int, int, int]]]) -> list[tuple[int, int, int]]:
    by_day: dict[int, list[int]] = {}
    for part in parts:
        for day, events, starts in part:
            slot = by_day.setdefault(day, [0, 0])
            slot[0] += events
            slot[1] += starts
    return [(d, e, s) for d, (e, s) in sorted(by_day.items())]


DAYS = Cached(lambda rows: [list(r) for r in rows],
              lambda rows: [tuple(r) for r in rows], _merge_days, list)


def merge_fact_counts(parts: list[list[FactCount]]) -> list[FactCount]:
    out: dict[tuple[Any, ...], FactCount] = {}
    for part in parts:
        for c in part:
            group = (c.kind, c.url, c.key, c.day)
            had = out.get(group)
            if had is None:
                out[group] = c
                continue
            out[group] = FactCount(
                c.kind, c.url, c.key, had.count + c.count,
                None if c.sessions is None else (had.sessions or 0) + c.sessions, c.day,
                max(x for x in (had.last_ms, c.last_ms) if x is not None)
                if had.last_ms is not None or c.last_ms is not None else None,
                had.value_sum + c.value_sum)
    return list(out.values())


FACT_COUNTS = Cached(lambda rows: [list(astuple(c)) for c in rows],
                     lambda rows: [FactCount(*r) for r in rows], merge_fact_counts, list)


def _merge_sorted(parts: list[list[float]]) -> list[float]:
    return sorted(v for part in parts for v in part)


SORTED_VALUES = Cached(list, list, _merge_sorted, list)


def _encode_tally(t: FunnelTally) -> Any:
    return [t.reached, t.drop_offs, [[astuple(m) for m in e] for e in t.examples],
            [list(g.items()) for g in t.gaps], sorted(t.seen)]


def _decode_tally(p: Any) -> FunnelTally:
    from sentiero.analytics.funnel import FunnelTally

    reached, drop_offs, examples, gaps, seen = p
    return FunnelTally(reached, drop_offs, [[Moment(*m) for m in e] for e in examples],
                       [{int(k): n for k, n in g} for g in gaps], set(seen))


def funnel_tallies(count: int) -> Cached:
    from sentiero.analytics.funnel import FunnelTally, merge_tallies

    return Cached(_encode_tally, _decode_tally, lambda parts: merge_tallies(parts, count),
                  lambda: FunnelTally.empty(count))


def _decode_goal_groups(rows: Any) -> list[GoalGroup]:
    from sentiero.analytics.conversions import Example, GoalGroup

    return [GoalGroup(*r[:8], Example(*r[8])) for r in rows]


def _merge_goal_groups(parts: list[list[GoalGroup]]) -> list[GoalGroup]:
    from sentiero.analytics.conversions import merge_goal_groups

    return merge_goal_groups(parts)


GOAL_GROUPS = Cached(lambda groups: [[*astuple(g)[:8], astuple(g.first)] for g in groups],
                     _decode_goal_groups, _merge_goal_groups, list)


def _encode_forms(g: FormGroups) -> Any:
    return [[[p.url, p.started, p.completed, p.submits, p.best_fields,
              None if p.best is None else astuple(p.best)] for p in g.pages],
            [[f.url, f.node, f.sessions, f.units, f.fill_ms, f.refills, f.drop_offs,
              [astuple(m) for m in f.examples]] for f in g.fields],
            list(g.submits.items())]


def _decode_forms(p: Any) -> FormGroups:
    from sentiero.analytics.form_groups import FieldGroup, FormGroups, PageGroup

    pages, fields, submits = p
    return FormGroups(
        [PageGroup(u, a, b, c, None if m is None else Moment(*m), n)
         for u, a, b, c, n, m in pages],
        [FieldGroup(u, node, a, b, float(fill), c, d, [Moment(*m) for m in e])
         for u, node, a, b, fill, c, d, e in fields],
        dict(submits))


def _merge_forms(parts: list[FormGroups]) -> FormGroups:
    from sentiero.analytics.form_groups import merge_form_groups

    return merge_form_groups(parts)


def _empty_forms() -> FormGroups:
    from sentiero.analytics.form_groups import FormGroups

    return FormGroups([], [])


def _merge_completion(parts: list[dict[str, tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    from sentiero.analytics.form_groups import merge_completion

    return merge_completion(parts)


FORM_GROUPS = Cached(_encode_forms, _decode_forms, _merge_forms, _empty_forms)
COMPLETION = Cached(lambda d: [[k, a, b] for k, (a, b) in d.items()],
                    lambda rows: {k: (a, b) for k, a, b in rows}, _merge_completion, dict)


def _merge_click_groups(parts: list[dict[Any, tuple[int, Any]]]) -> dict[Any, tuple[int, Any]]:
    out: dict[Any, tuple[int, Any]] = {}
    for part in parts:
        for key, (n, y) in part.items():
            had = out.get(key)
            out[key] = (n, y) if had is None else (had[0] + n, max(had[1], y))
    return out


CLICK_GROUPS = Cached(lambda d: [[*k, n, y] for k, (n, y) in d.items()],
                      lambda rows: {(b, k): (n, y) for b, k, n, y in rows},
                      _merge_click_groups, dict)


def _busiest_view(parts: list[Any]) -> Any:
    return min((v for v in parts if v is not None), default=None,
               key=lambda v: (-v[0], v[1], v[2], v[3]))


CLICK_VIEW = Cached(lambda v: None if v is None else list(v),
                    lambda p: None if p is None else tuple(p), _busiest_view, lambda: None)


def _merge_sums(parts: list[dict[Any, tuple[Any, ...]]]) -> dict[Any, tuple[Any, ...]]:
    out: dict[Any, tuple[Any, ...]] = {}
    for part in parts:
        for key, values in part.items():
            had = out.get(key)
            out[key] = values if had is None else tuple(a + b for a, b in
                                                        zip(had, values, strict=True))
    return out


CLICK_GRID = Cached(lambda d: [[*k, *v] for k, v in d.items()],
                    lambda rows: {(r[0], r[1]): tuple(r[2:]) for r in rows}, _merge_sums, dict)


def _encode_scroll(groups: list[ScrollGroup]) -> Any:
    return [[g.url, [list(d) for d in g.depths], g.sessions, list(astuple(g.deepest))]
            for g in groups]


def _decode_scroll(rows: Any) -> list[ScrollGroup]:
    return [ScrollGroup(url, [(y, vh) for y, vh in depths], sessions, Sample(*deepest))
            for url, depths, sessions, deepest in rows]


def _merge_scroll(parts: list[list[ScrollGroup]]) -> list[ScrollGroup]:
    out: dict[str, ScrollGroup] = {}
    for part in parts:
        for g in part:
            had = out.get(g.url)
            out[g.url] = g if had is None else ScrollGroup(
                g.url, had.depths + g.depths, had.sessions + g.sessions,
                deeper(had.deepest, g.deepest))
    return list(out.values())


SCROLL_GROUPS = Cached(_encode_scroll, _decode_scroll, _merge_scroll, list)


def add_lists(parts: list[list[int]]) -> list[int]:
    return [sum(column) for column in zip(*parts, strict=True)] if parts else []


def first_sessions(limit: int) -> Cached:
    """(value, session id) lists: the first ``limit`` of all days, value descending."""
    return Cached(lambda rows: [list(r) for r in rows], lambda rows: [tuple(r) for r in rows],
                  lambda parts: sorted((r for part in parts for r in part),
                                       key=lambda r: (-r[0], r[1]))[:limit], list)
