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

from sentiero.analytics import forms
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
