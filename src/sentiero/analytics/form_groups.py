"""What the forms analysis (sentiero.analytics.forms) asks the store: the form facts grouped
per page and per field (``Store.form_groups``) and, once the page's fields are labelled, per
form (``Store.form_completion``). The rules are here, with the generic implementation over the
facts; the SQL store answers the same in GROUP BY queries (sentiero.stores.sql_forms).

A unit is one page view that typed: (page, session, window, page view). Per unit and field:
the first and last input (a ``form_field`` fact's ``first_ms``/``last_ms``, default its
``ts_ms``) and the inputs (its value, 1 when none), summed over the unit's facts of that field.
A unit was submitted when a ``form_submit`` of the same unit came at or after its first input.
Its drop-off field, when it was not, is the field typed in last (ties: the larger node id as
text), at that last input. Units are listed in (session, window, page view) order. A form fact
without a page view (none are written by ingest) belongs to no unit; a submit still counts in
the page's submits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics.query import Moment

if TYPE_CHECKING:
    from sentiero.analytics.query import Scope
    from sentiero.stores.base import Fact, Store

EXAMPLES = 5  # drop-off moments kept per field


@dataclass
class FieldGroup:
    """One field of one page over the units that typed in it."""

    url: str
    node: str
    sessions: int
    units: int
    fill_ms: float  # summed (last - first input) over the units
    refills: int  # summed (inputs - 1) over the units
    drop_offs: int = 0
    examples: list[Moment] = field(default_factory=list)  # the first EXAMPLES drop-offs


@dataclass
class PageGroup:
    url: str
    started: int  # sessions that typed
    completed: int  # sessions whose every unit was submitted
    submits: int  # form_submit facts on the page
    best: Moment | None = None  # the unit with the most fields (ts_ms = its page view)
    best_fields: int = 0  # how many


@dataclass
class FormGroups:
    pages: list[PageGroup]
    fields: list[FieldGroup]
    submits: dict[str, int] = field(default_factory=dict)  # every page's, typed in or not


def merge_form_groups(parts: list[FormGroups]) -> FormGroups:
    """The groups of the units of every part (no session in two parts: the SQL store keeps
    each closed UTC day's groups in its day cache)."""
    submits: dict[str, int] = {}
    pages: dict[str, PageGroup] = {}
    fields: dict[tuple[str, str], FieldGroup] = {}
    for part in parts:
        for u, n in part.submits.items():
            submits[u] = submits.get(u, 0) + n
        for p in part.pages:
            kept = pages.setdefault(p.url, PageGroup(p.url, 0, 0, 0))
            kept.started += p.started
            kept.completed += p.completed
            if p.best is not None and (kept.best is None or (-p.best_fields, astuple(p.best))
                                       < (-kept.best_fields, astuple(kept.best))):
                kept.best, kept.best_fields = p.best, p.best_fields
        for g in part.fields:
            f = fields.setdefault((g.url, g.node), FieldGroup(g.url, g.node, 0, 0, 0.0, 0))
            f.sessions += g.sessions
            f.units += g.units
            f.fill_ms += g.fill_ms
            f.refills += g.refills
            f.drop_offs += g.drop_offs
            f.examples.extend(g.examples)
    for f in fields.values():  # each part's in unit order; stable, so the units' order
        f.examples = sorted(f.examples, key=lambda m: (m.session_id, m.window_id))[:EXAMPLES]
    for p in pages.values():
        p.submits = submits.get(p.url, 0)
    return FormGroups(list(pages.values()), list(fields.values()), submits)


def merge_completion(parts: list[dict[str, tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    """``form_completion`` answers of disjoint sets of sessions, added up."""
    out: dict[str, tuple[int, int]] = {}
    for part in parts:
        for form, (typed, done) in part.items():
            had = out.get(form, (0, 0))
            out[form] = (had[0] + typed, had[1] + done)
    return out


def whole(data: Mapping[str, Any], name: str) -> int | None:
    """An integer of a fact's data (a page view or input moment), None when it is not one."""
    value = data.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def unit_key(f: Fact) -> tuple[str, str, int] | None:
    pv = whole(f.data, "pv")
    return None if pv is None else (f.session_id, f.window_id, pv)


@dataclass
class _Unit:
    fields: dict[str, list[float]] = field(default_factory=dict)  # node -> [first, last, n]
    submits: list[tuple[int, str | None]] = field(default_factory=list)

    @property
    def first_input(self) -> float:
        return min(f[0] for f in self.fields.values())

    def submitted(self, form: str | None = None) -> bool:
        """A submit (of ``form``, when given) at or after the first input."""
        return any(ts >= self.first_input and (form is None or key == form)
                   for ts, key in self.submits)


def _units(facts: Iterable[Fact]) -> tuple[dict[str, dict[tuple[str, str, int], _Unit]],
                                            dict[str, int]]:
    units: dict[str, dict[tuple[str, str, int], _Unit]] = {}
    submits: list[Fact] = []
    counts: dict[str, int] = {}
    for f in facts:
        if not f.url:
            continue
        if f.kind == "form_submit":
            submits.append(f)
            counts[f.url] = counts.get(f.url, 0) + 1
            continue
        key = unit_key(f)
        if key is None:
            continue
        unit = units.setdefault(f.url, {}).setdefault(key, _Unit())
        first, last = whole(f.data, "first_ms"), whole(f.data, "last_ms")
        first, last = f.ts_ms if first is None else first, f.ts_ms if last is None else last
        kept = unit.fields.get(f.key or "")
        n = f.value or 1
        if kept is None:
            unit.fields[f.key or ""] = [first, last, n]
        else:
            kept[0], kept[1], kept[2] = min(kept[0], first), max(kept[1], last), kept[2] + n
    for f in submits:
        key = unit_key(f)
        submitted = units.get(f.url or "", {}).get(key) if key is not None else None
        if submitted is not None:
            submitted.submits.append((f.ts_ms, f.key))
    return units, counts


def _facts(store: Store, scope: Scope, url: str | None) -> Iterable[Fact]:
    return store.scope_facts(scope, ("form_field", "form_submit"), url=url)


def generic_form_groups(store: Store, scope: Scope, url: str | None) -> FormGroups:
    units, submits = _units(_facts(store, scope, url))
    pages, fields = [], []
    for page_url, page_units in units.items():
        by_session: dict[str, bool] = {}
        for (sid, _, _), unit in page_units.items():
            by_session[sid] = by_session.get(sid, True) and unit.submitted()
        page = PageGroup(page_url, len(by_session), sum(by_session.values()),
                         submits.get(page_url, 0))
        if url is not None:
            (sid, wid, pv), unit = min(page_units.items(),
                                       key=lambda kv: (-len(kv[1].fields), kv[0]))
            page.best, page.best_fields = Moment(sid, wid, pv), len(unit.fields)
        pages.append(page)
        groups: dict[str, FieldGroup] = {}
        who: dict[str, set[str]] = {}
        for (sid, wid, _), unit in sorted(page_units.items(), key=lambda kv: kv[0]):
            for node, (first, last, n) in unit.fields.items():
                g = groups.get(node)
                if g is None:
                    g = groups[node] = FieldGroup(page_url, node, 0, 0, 0.0, 0)
                who.setdefault(node, set()).add(sid)
                g.units += 1
                g.fill_ms += last - first
                g.refills += int(n) - 1
            if not unit.submitted():
                node, (_, last, _) = max(unit.fields.items(), key=lambda kv: (kv[1][1], kv[0]))
                groups[node].drop_offs += 1
                if len(groups[node].examples) < EXAMPLES:
                    groups[node].examples.append(Moment(sid, wid, int(last)))
        for node, g in groups.items():
            g.sessions = len(who[node])
            fields.append(g)
    return FormGroups(pages, fields, submits)


def generic_form_completion(store: Store, scope: Scope, url: str, forms: Mapping[str, str]
                            ) -> dict[str, tuple[int, int]]:
    """{form: (sessions that typed in one of its fields, sessions with a unit that did and
    then submitted that form)} on one page; ``forms`` maps a field's node id to its form."""
    units, _ = _units(_facts(store, scope, url))
    typed: dict[str, set[str]] = {}
    done: dict[str, set[str]] = {}
    for (sid, _, _), unit in units.get(url, {}).items():
        for form in {forms[n] for n in unit.fields if n in forms}:
            typed.setdefault(form, set()).add(sid)
            if unit.submitted(form):
                done.setdefault(form, set()).add(sid)
    return {form: (len(who), len(done.get(form, ()))) for form, who in typed.items()}

