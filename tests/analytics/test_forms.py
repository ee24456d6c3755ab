"""Forms on every store, over three hand-written sign-up sessions and the fixtures.

The page /signup has one form "signup" with: "Full name" (``<label for>``, node 10), "Email"
(a wrapping ``<label>``, node 12), an input named only by aria-label "Company" (node 14), and
a password input whose markup carries a value attribute "hunter2" (node 16, name "pw"), which
must never show. Input moments in ms from each session's start:

| session | name (10) | email (12) | submit |
|---|---|---|---|
| g1 | 1000, 1500, 2000 | 3000 | 4000 |
| g2 | 1000 | 2000, 2600 | — |
| g3 | 1000 | — | — |

Started 3, completed 1 (33.3%), 1 submit. Name: 3 sessions (100%), time to fill (1000 + 0 +
0) / 3 = 333.3 ms, refills 2 + 0 + 0 = 2. Email: 2 sessions (66.7%), (0 + 600) / 2 = 300 ms,
refills 1. g2 left at Email (at 2600), g3 at Full name (at 1000). Form signup: 3 typing, 1
submitted.
"""

from __future__ import annotations

from typing import Any

import pytest

from sentiero.analytics import forms, pages
from sentiero.analytics.periods import resolve_period
from sentiero.stores.base import Store
from tests.analytics import synthetic as s
from tests.analytics.dataset import SETTINGS
from tests.analytics.support import ingest_recording

ALL = resolve_period(None, None, None, default_preset=None)
START = 1_790_000_000_000
HOST = "http://127.0.0.1:39711"


def el(node_id: int, tag: str, attrs: dict[str, str] | None = None,
       children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": 2, "id": node_id, "tagName": tag, "attributes": attrs or {},
            "childNodes": children or []}


def text(node_id: int, content: str) -> dict[str, Any]:
    return {"type": 3, "id": node_id, "textContent": content}


PAGE = {"type": 0, "id": 1, "childNodes": [el(2, "html", {}, [el(3, "body", {}, [
    el(4, "form", {"name": "signup", "id": "signup-form"}, [
        el(5, "label", {"for": "full"}, [text(6, "Full name ")]),
        el(10, "input", {"id": "full", "name": "full_name"}),
        el(11, "label", {}, [text(7, "Email "), el(12, "input", {"type": "email",
                                                                  "name": "email"})]),
        el(14, "input", {"aria-label": "Company", "name": "org"}),
        el(16, "input", {"type": "password", "name": "pw", "value": "hunter2"}),
    ]),
])])]}


def _typing(n: int, inputs: list[tuple[int, int]], submit: int | None) -> dict[str, Any]:
    t0 = START + n * 3_600_000
    events = [s.meta(t0, "/signup"), s.snapshot(t0 + 1, PAGE)]
    events += [{"type": 3, "timestamp": t0 + at,
                "data": {"source": 5, "id": node, "text": "***", "isChecked": False}}
               for node, at in inputs]
    if submit is not None:
        events.append(s.custom(t0 + submit, "__form_submit", {"name": "signup"}))
    events.append(s.custom(t0 + 9_000, "tick"))
    events.sort(key=lambda e: e["timestamp"])
    return s.recording(f"g{n}", events)


def fill_forms(store: Store) -> None:
    for n, inputs, submit in (
        (1, [(10, 1000), (10, 1500), (10, 2000), (12, 3000)], 4000),
        (2, [(10, 1000), (12, 2000), (12, 2600)], None),
        (3, [(10, 1000)], None),
    ):
        ingest_recording(store, "", f"g{n}", settings=SETTINGS, recording=_typing(n, inputs,
                                                                                  submit))


@pytest.fixture
def signup(empty_store: Store) -> Store:
    fill_forms(empty_store)
    return empty_store


def test_fields_labels_completion_and_drop_offs(signup: Store) -> None:
    (page,) = forms.form_pages(signup, ALL, url=s.SITE + "/signup")
    assert (page.started, page.completed, page.completion_pct, page.submits) == (3, 1, 33.3, 1)
    got = [(f.name, f.label.kind if f.label else None, f.sessions, f.rate_pct,
            round(f.avg_fill_ms or 0, 1), f.refills, f.drop_offs) for f in page.fields]
    assert got == [("Full name", "text", 3, 100.0, 333.3, 2, 1),
                   ("Email", "email", 2, 66.7, 300.0, 1, 1)]
    email = page.fields[1]
    assert [(m.session_id, m.ts_ms) for m in email.examples] == [
        ("g2", START + 2 * 3_600_000 + 2600)]
    assert [(f.form, f.sessions, f.submitted) for f in page.forms] == [("signup", 3, 1)]
    # the page report: 2 fields typed in, 3 sessions typed, 1 submit, 1 typed and submitted
    report = pages.page_report(signup, ALL, s.SITE + "/signup")
    assert (report.form_fields, report.form_sessions, report.form_submits,
            report.form_submit_sessions) == (2, 3, 1, 1)
    labels = forms.field_labels(PAGE)
    assert labels[14].text == "Company" and labels[16].text == "pw"
    assert "hunter2" not in repr(labels)


def test_pages_with_forms_from_the_fixtures(filled_store: Store) -> None:
    """signup-b types once into the email field of signup.html (node 30, wrapped in a label
    "Email") and leaves without submitting; todo-a types into the todo title (node 16, 8
    inputs: 7 refills) and checks a todo (node 39, added after the snapshot: no label)."""
    pages = {p.url: p for p in forms.form_pages(filled_store, ALL)}
    assert set(pages) == {HOST + "/signup.html", HOST + "/todo.html"}
    assert all((p.started, p.completed) == (1, 0) for p in pages.values())
    (signup,) = forms.form_pages(filled_store, ALL, url=HOST + "/signup.html")
    (email,) = signup.fields
    assert (email.name, email.label and email.label.form, email.drop_offs) == (
        "Email", "signup", 1)
    (todo,) = forms.form_pages(filled_store, ALL, url=HOST + "/todo.html")
    assert {f.node: (f.name, f.refills) for f in todo.fields} == {
        "16": ("title", 7), "39": ("Field #39", 0)}


def _visit(n: int, steps: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A session on /signup: ("page", ms, path) opens a page, ("input", node, ms) types,
    ("submit", ms) submits the form "signup"."""
    t0 = START + n * 3_600_000
    events: list[dict[str, Any]] = [s.meta(t0, "/signup"), s.snapshot(t0 + 1, PAGE)]
    for step in steps:
        if step[0] == "page":
            events += [s.meta(t0 + step[1], step[2]), s.snapshot(t0 + step[1] + 1, PAGE)]
        elif step[0] == "input":
            events.append({"type": 3, "timestamp": t0 + step[2],
                           "data": {"source": 5, "id": step[1], "text": "***",
                                    "isChecked": False}})
        else:
            events.append(s.custom(t0 + step[1], "__form_submit", {"name": "signup"}))
    events.append(s.custom(t0 + 9_000, "tick"))
    events.sort(key=lambda e: e["timestamp"])
    return s.recording(f"g{n}", events)


def fill_edge_cases(store: Store) -> None:
    """g4 types its name, goes to /home at 3000 and back to /signup at 5000 (a second page
    view), types its email at 6000 and submits at 7000; g5 submits at 500, before typing
    Company at 1000; g6 types name and email in the same millisecond (2000); g7 types its name
    60 times, 10 ms apart from 1000, which ingest stores as two facts (its batches hold 50
    events: 48 inputs, then 12)."""
    for n, steps in (
        (4, [("input", 10, 1000), ("page", 3000, "/home"), ("page", 5000, "/signup"),
             ("input", 12, 6000), ("submit", 7000)]),
        (5, [("submit", 500), ("input", 14, 1000)]),
        (6, [("input", 10, 2000), ("input", 12, 2000)]),
        (7, [("input", 10, 1000 + 10 * i) for i in range(60)]),
    ):
        ingest_recording(store, "", f"g{n}", settings=SETTINGS, recording=_visit(n, steps))


def test_page_views_submits_ties_and_facts_across_batches(empty_store: Store) -> None:
    """Units are page views: g4's first one (name at 1000) was not submitted (its submit came
    on the second page view), so g4 did not complete and left at Full name; g5's submit before
    its first input does not count: it left at Company; g6 left at the larger node id of the
    two typed last (Email, 12 > 10 as text); g7's two facts are one field: 60 inputs (59
    refills), 1000 to 1590 (590 ms), left at 1590. Started 4, completed 0, 2 submits.
    Full name: g4, g6, g7 (75%), (0 + 0 + 590) / 3 = 196.7 ms, 59 refills, 2 drop-offs (g4 at
    1000, g7 at 1590, session order). Email: g4, g6 (50%), 0 ms, 1 drop-off (g6). Company:
    g5 (25%), 1 drop-off. Labels from g6's page view (the most fields: 2). Form signup: 4
    typed, 1 (g4's second page view) submitted it."""
    from sentiero.analytics.form_groups import generic_form_groups
    from sentiero.analytics.query import Scope

    fill_edge_cases(empty_store)
    page_facts = [f for f in empty_store.iter_facts(kind="form_field") if f.session_id == "g7"]

    def since_start(session_id: str, ms: int) -> int:
        return ms - START - int(session_id[1:]) * 3_600_000

    assert [(f.value, since_start("g7", f.data["first_ms"]), since_start("g7", f.data["last_ms"]))
            for f in page_facts] == [(48.0, 1000, 1470), (12.0, 1480, 1590)]
    (page,) = forms.form_pages(empty_store, ALL, url=s.SITE + "/signup")
    assert (page.started, page.completed, page.submits) == (4, 0, 2)
    # the page report counts sessions that typed and submitted on the page, in any order or
    # page view: g4 and g5 (3 fields: 10, 12, 14)
    report = pages.page_report(empty_store, ALL, s.SITE + "/signup")
    assert (report.form_fields, report.form_sessions, report.form_submits,
            report.form_submit_sessions) == (3, 4, 2, 2)
    got = [(f.name, f.sessions, f.rate_pct, round(f.avg_fill_ms or 0, 1), f.refills,
            f.drop_offs, [(m.session_id, since_start(m.session_id, m.ts_ms)) for m in f.examples])
           for f in page.fields]
    assert got == [("Full name", 3, 75.0, 196.7, 59, 2, [("g4", 1000), ("g7", 1590)]),
                   ("Email", 2, 50.0, 0.0, 0, 1, [("g6", 2000)]),
                   ("Company", 1, 25.0, 0.0, 0, 1, [("g5", 1000)])]
    assert page.labelled_from is not None and page.labelled_from.session_id == "g6"
    assert [(f.form, f.sessions, f.submitted) for f in page.forms] == [("signup", 4, 1)]
    # the store's grouping (SQL on SQL stores) answers as the generic one over the facts
    for url in (None, s.SITE + "/signup"):
        mine, generic = empty_store.form_groups(Scope(), url), generic_form_groups(
            empty_store, Scope(), url)
        assert sorted(mine.pages, key=repr) == sorted(generic.pages, key=repr)
        assert sorted(mine.fields, key=repr) == sorted(generic.fields, key=repr)
