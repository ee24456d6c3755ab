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
same page markup. The store groups the facts (``Store.form_groups``, ``Store.form_completion``:
sentiero.analytics.form_groups has the rules; GROUP BY on SQL stores)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sentiero.analytics import snapshots
from sentiero.analytics.form_groups import FieldGroup, Moment, PageGroup
from sentiero.analytics.periods import Period, pct, top_counts
from sentiero.analytics.query import Scope, Segment

if TYPE_CHECKING:
    from sentiero.stores.base import Store

MAX_PAGES = 200
MAX_FIELDS = 200
DROP_OFFS = 50
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


def _page(store: Store, scope: Scope, group: PageGroup, fields: list[FieldGroup],
          with_labels: bool) -> PageForms:
    page = PageForms(group.url, group.started, group.completed, group.submits)
    labels: dict[int, FieldLabel] = {}
    best = group.best
    if with_labels and best is not None:
        events = snapshots.page_events(store, best.session_id, best.window_id, best.ts_ms)
        labels = field_labels(snapshots.snapshot_node(events))
        if labels:
            page.labelled_from = best
    for g in fields:
        label = labels.get(int(g.node)) if g.node.isdigit() else None
        page.fields.append(FieldStats(g.node, label, g.sessions, pct(g.sessions, page.started),
                                      g.fill_ms / g.units, g.refills, g.drop_offs, g.examples))
    page.fields.sort(key=lambda f: (-f.sessions, f.name))
    page.fields = page.fields[:MAX_FIELDS]
    if labels:
        forms = {g.node: labels[int(g.node)].form for g in fields
                 if g.node.isdigit() and int(g.node) in labels}
        page.forms = sorted((FormStats(form, typed, done) for form, (typed, done)
                             in store.form_completion(scope, group.url, forms).items()),
                            key=lambda f: (-f.sessions, f.form))
    return page


def form_pages(store: Store, period: Period, segment: Segment | None = None,
               url: str | None = None) -> list[PageForms]:
    """Pages where people typed, most sessions first; fields labelled only with ``url`` (one
    snapshot fetch)."""
    scope = Scope(period.since, period.until, segment or Segment())
    groups = store.form_groups(scope, url)
    by_page: dict[str, list[FieldGroup]] = {}
    for g in groups.fields:
        by_page.setdefault(g.url, []).append(g)
    pages = [_page(store, scope, group, by_page.get(group.url, []), url is not None)
             for group in groups.pages]
    return sorted(pages, key=lambda p: (-p.started, p.url))


def top_drop_offs(page: PageForms) -> list[tuple[str, int]]:
    return top_counts({f.name: f.drop_offs for f in page.fields if f.drop_offs}, DROP_OFFS)
