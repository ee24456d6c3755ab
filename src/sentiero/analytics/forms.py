"""Forms (inventory §5.5): per page, the sessions that typed and submitted, per field the
interaction rate, time to fill, refills and a human label, the field people left the form at,
and completion per form.

Units are page views: a page view "submitted" when a form submit on it came at or after its
first input; a session completed the page's form only when every page view it typed in was
submitted (strict, as the original). Per field: sessions that typed in it, its share of the
sessions that typed on the page, the mean of (last input − first input) per page view, and
refills = inputs − 1 summed. The drop-off field of a page view that was not submitted is the
field typed in last; its replay moment is that last input.

Labels come from one representative full snapshot of the page (the page view with the most
fields, ties by session id): the control's ``<label for>`` or wrapping ``<label>`` text, else
``aria-label``, ``name``, ``placeholder``, DOM id, tag; the type is shown beside it. Never a
value. Fields are keyed by (page, rrweb node id), which is stable across recordings of the
same page markup."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics import snapshots
from sentiero.analytics.periods import Period, pct, top_counts
from sentiero.analytics.query import Scope, Segment

if TYPE_CHECKING:
    from sentiero.stores.base import Store

MAX_PAGES = 200
MAX_FIELDS = 200
DROP_OFFS = 50
EXAMPLES = 5
NO_FORM = "(outside a form)"
CONTROLS = ("input", "select", "textarea")


@dataclass(frozen=True)
class FieldLabel:
    text: str
    kind: str  # input type, or select / textarea
    form: str  # the enclosing form's name or id, or NO_FORM


def field_labels(node: dict[str, Any] | None) -> dict[int, FieldLabel]:
    """Labels of every form control of a snapshot, by node id."""
    if node is None:
        return {}
    by_for: dict[str, str] = {}
    controls = []
    for current, ancestors in snapshots.walk(node):
        if current.get("type") != 2:
            continue
        tag = str(current.get("tagName") or "").lower()
        attrs = current.get("attributes") if isinstance(current.get("attributes"), dict) else {}
        if tag == "label" and isinstance(attrs.get("for"), str):
            by_for.setdefault(attrs["for"], snapshots.text_of(current))
        if tag in CONTROLS and isinstance(current.get("id"), int):
            controls.append((current, attrs, tag, ancestors))
    out = {}
    for current, attrs, tag, ancestors in controls:
        text = by_for.get(attrs.get("id")) if isinstance(attrs.get("id"), str) else None
        if not text:
            wrapping = next((a for a in reversed(ancestors)
                             if str(a.get("tagName") or "").lower() == "label"), None)
            text = snapshots.text_of(wrapping) if wrapping is not None else None
        for attr in ("aria-label", "name", "placeholder", "id"):
            if not text and isinstance(attrs.get(attr), str) and attrs[attr].strip():
                text = attrs[attr].strip()
        kind = str(attrs.get("type") or "text").lower() if tag == "input" else tag
        form = next((a for a in reversed(ancestors)
                     if str(a.get("tagName") or "").lower() == "form"), None)
        form_attrs = form.get("attributes") if form is not None and \
            isinstance(form.get("attributes"), dict) else {}
        form_name = form_attrs.get("name") or form_attrs.get("id") if form is not None else None
        out[current["id"]] = FieldLabel((text or tag)[:120], kind,
                                        str(form_name)[:120] if form_name else
                                        (NO_FORM if form is None else "(unnamed form)"))
    return out


@dataclass
class _Unit:
    """One page view that typed: its fields and submits."""

    session_id: str
    window_id: str
    pv: Any
    fields: dict[str, list[float]] = field(default_factory=dict)  # node -> [first, last, n]
    submits: list[tuple[int, str | None]] = field(default_factory=list)

    @property
    def first_input(self) -> float:
        return min(f[0] for f in self.fields.values())

    @property
    def submitted(self) -> bool:
        return any(ts >= self.first_input for ts, _ in self.submits)


@dataclass(frozen=True)
class Moment:
    session_id: str
    window_id: str
    ts_ms: int


@dataclass
class FieldStats:
    node: str
    label: FieldLabel | None
    sessions: int
    rate_pct: float | None
    avg_fill_ms: float | None
    refills: int
    drop_offs: int = 0
    examples: list[Moment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.label.text if self.label else f"Field #{self.node}"


@dataclass
class FormStats:
    form: str
    sessions: int
    submitted: int

    @property
    def completion_pct(self) -> float | None:
        return pct(self.submitted, self.sessions)


@dataclass
class PageForms:
    url: str
    started: int = 0  # sessions that typed
    completed: int = 0  # sessions whose every typing page view was submitted
    submits: int = 0
    fields: list[FieldStats] = field(default_factory=list)
    forms: list[FormStats] = field(default_factory=list)
    labelled_from: Moment | None = None  # the page view whose snapshot named the fields

    @property
    def completion_pct(self) -> float | None:
        return pct(self.completed, self.started)

    @property
    def drop_offs(self) -> list[FieldStats]:
        return [f for f in sorted(self.fields, key=lambda f: (-f.drop_offs, f.name))
                if f.drop_offs][:DROP_OFFS]


def _units(store: Store, scope: Scope, url: str | None
           ) -> tuple[dict[str, dict[tuple[str, str, Any], _Unit]], Counter[str]]:
    units: dict[str, dict[tuple[str, str, Any], _Unit]] = {}
    submits: list[Any] = []
    submit_counts: Counter[str] = Counter()
    for f in store.scope_facts(scope, ("form_field", "form_submit"), url=url):
        if not f.url:
            continue
        if f.kind == "form_submit":
            submits.append(f)
            submit_counts[f.url] += 1
            continue
        key = (f.session_id, f.window_id, f.data.get("pv"))
        unit = units.setdefault(f.url, {}).setdefault(key, _Unit(*key))
        first, last = f.data.get("first_ms", f.ts_ms), f.data.get("last_ms", f.ts_ms)
        kept = unit.fields.get(f.key or "")
        n = f.value or 1
        if kept is None:
            unit.fields[f.key or ""] = [first, last, n]
        else:
            kept[0], kept[1], kept[2] = min(kept[0], first), max(kept[1], last), kept[2] + n
    for f in submits:
        unit = units.get(f.url or "", {}).get((f.session_id, f.window_id, f.data.get("pv")))
        if unit is not None:
            unit.submits.append((f.ts_ms, f.key))
    return units, submit_counts


def _page(store: Store, url: str, units: dict[tuple[str, str, Any], _Unit], submits: int,
          with_labels: bool) -> PageForms:
    page = PageForms(url, submits=submits)
    by_session: dict[str, list[_Unit]] = {}
    for unit in units.values():
        by_session.setdefault(unit.session_id, []).append(unit)
    page.started = len(by_session)
    page.completed = sum(all(u.submitted for u in us) for us in by_session.values())
    labels: dict[int, FieldLabel] = {}
    if with_labels and units:
        best = min(units.values(), key=lambda u: (-len(u.fields), u.session_id, u.window_id))
        if isinstance(best.pv, int):
            events = snapshots.page_events(store, best.session_id, best.window_id, best.pv)
            labels = field_labels(snapshots.snapshot_node(events))
            if labels:
                page.labelled_from = Moment(best.session_id, best.window_id, best.pv)
    sessions: dict[str, set[str]] = {}
    fills: dict[str, list[float]] = {}
    refills: Counter[str] = Counter()
    drops: Counter[str] = Counter()
    examples: dict[str, list[Moment]] = {}
    for unit in sorted(units.values(), key=lambda u: (u.session_id, u.window_id, str(u.pv))):
        for node, (first, last, n) in unit.fields.items():
            sessions.setdefault(node, set()).add(unit.session_id)
            fills.setdefault(node, []).append(last - first)
            refills[node] += int(n) - 1
        if not unit.submitted:
            node, (_, last, _) = max(unit.fields.items(), key=lambda kv: (kv[1][1], kv[0]))
            drops[node] += 1
            if len(examples.setdefault(node, [])) < EXAMPLES:
                examples[node].append(Moment(unit.session_id, unit.window_id, int(last)))
    for node, who in sessions.items():
        label = labels.get(int(node)) if node.isdigit() else None
        page.fields.append(FieldStats(
            node, label, len(who), pct(len(who), page.started),
            sum(fills[node]) / len(fills[node]), refills[node], drops[node],
            examples.get(node, [])))
    page.fields.sort(key=lambda f: (-f.sessions, f.name))
    page.fields = page.fields[:MAX_FIELDS]
    if labels:
        typed: dict[str, set[str]] = {}
        done: dict[str, set[str]] = {}
        for unit in units.values():
            forms = {labels[int(n)].form for n in unit.fields if n.isdigit()
                     and int(n) in labels}
            for form in forms:
                typed.setdefault(form, set()).add(unit.session_id)
                if any(ts >= unit.first_input and key == form for ts, key in unit.submits):
                    done.setdefault(form, set()).add(unit.session_id)
        page.forms = sorted((FormStats(form, len(who), len(done.get(form, ())))
                             for form, who in typed.items()), key=lambda f: (-f.sessions, f.form))
    return page


def form_pages(store: Store, period: Period, segment: Segment | None = None,
               url: str | None = None) -> list[PageForms]:
    """Pages where people typed, most sessions first; fields labelled only with ``url`` (one
    snapshot fetch) or when there is one page."""
    scope = Scope(period.since, period.until, segment or Segment())
    units, submits = _units(store, scope, url)
    pages = [_page(store, page_url, page_units, submits[page_url], url is not None)
             for page_url, page_units in units.items()]
    return sorted(pages, key=lambda p: (-p.started, p.url))


def top_drop_offs(page: PageForms) -> list[tuple[str, int]]:
    return top_counts({f.name: f.drop_offs for f in page.fields if f.drop_offs}, DROP_OFFS)
