"""Privacy canaries in real Chromium: distinct strings typed into every kind of input on the
fixture pages must reach no byte of storage with default settings (events of every chunk,
session metadata, facts, the SQLite files), and must appear only where a page marks its inputs
``data-sentiero-unmask`` — passwords never."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.app import Sentiero
from sentiero.stores.base import SessionQuery, WindowRef
from sentiero.stores.sql import SQLStore
from tests.e2e.test_record_replay import wait_for
from tests.fixtures import PAGES_DIR

pytestmark = pytest.mark.e2e

OWN_PAGES = Path(__file__).resolve().parent / "pages"
PAGE_NAME = re.compile(r"^/([a-z]+\.html)$")

# page -> [(selector, kind, canary)]; kind says how the canary goes in. No canary looks like an
# email, URL, card number or token, so no redaction pattern could be what hides it.
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "signup.html": [
        ("#name", "type", "cnry-text-Quokka"),
        ("#email", "type", "cnry-email-Wombat"),
        ("#password", "type", "cnry-pass-Numbat"),
        ("#about", "type", "cnry-textarea-Dingo"),
        ("#q", "type", "cnry-search-unmasked-Bilby"),  # the fixture marks it data-sentiero-unmask
        ("#plan", "select", "Enterprise"),
    ],
    "todo.html": [("#new", "type", "cnry-todo-Possum")],
    "inputs.html": [
        ("#phone", "type", "cnry-tel-Koala"),
        ("#find", "type", "cnry-search-Echidna"),
        ("#site", "type", "cnry-url-Wallaby"),
        ("#pin", "type", "cnry-pin-Platypus"),
        ("#country", "select", "Norway"),
        ("#notes", "edit", "cnry-editable-Kookaburra"),
        ("#rich", "edit", "cnry-rich-Cassowary"),
    ],
}
PASSWORDS = {"cnry-pass-Numbat", "cnry-pin-Platypus"}
FIXTURE_UNMASKED = {"cnry-search-unmasked-Bilby"}
SELECTS = {"plan": "Enterprise", "country": "Norway"}
INPUT_FIELDS = sum(1 for fields in FIELDS.values() for _s, kind, _c in fields if kind != "edit")


def canaries() -> set[str]:
    return {c for fields in FIELDS.values() for _s, kind, c in fields if kind != "select"}


def canary_site(sentiero: Sentiero, unmask: bool) -> Any:
    """The fixture pages (and ours) with the script tag injected before </head>; with
    ``unmask`` the whole body is a data-sentiero-unmask subtree."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.wrappers import Request, Response

    def site(environ: dict[str, Any], start_response: Any) -> Any:
        match = PAGE_NAME.match(Request(environ).path)
        path = None
        if match:
            path = next((d / match.group(1) for d in (PAGES_DIR, OWN_PAGES)
                         if (d / match.group(1)).is_file()), None)
        if path is None:
            return Response("Not Found", status=404)(environ, start_response)
        html = path.read_text(encoding="utf-8")
        html = html.replace("</head>", f"{sentiero.script_tag()}</head>", 1)
        if unmask:
            html = html.replace("<body", "<body data-sentiero-unmask", 1)
        return Response(html, content_type="text/html; charset=utf-8")(environ, start_response)

    return DispatcherMiddleware(site, {sentiero.settings.prefix: sentiero.wsgi_app})


def fill_everything(page: Any, base: str) -> None:
    for name, fields in FIELDS.items():
        page.goto(f"{base}/{name}")  # leaving the previous page beacons what it recorded
        page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")
        for selector, kind, value in fields:
            locator = page.locator(selector)
            if kind == "select":
                locator.select_option(value)
            elif kind == "edit":
                locator.click()
                page.keyboard.press("End")
                page.keyboard.type(value, delay=5)
            else:
                locator.press_sequentially(value, delay=5)
                assert locator.input_value() == value  # really typed
                # rrweb's input sampling "last" records a field on `change`, i.e. when it
                # loses focus, as a person moving to the next field does.
                page.keyboard.press("Tab")
    page.goto("about:blank")  # page hide: the last page's events go out by beacon


def stored_windows(store: Any) -> list[tuple[WindowRef, list[list[dict[str, Any]]]]]:
    """Every window with the decoded events of each of its chunks."""
    out = []
    for summary in store.list_sessions(SessionQuery(limit=100)):
        for window in summary.windows:
            ref = WindowRef(summary.session_id, window.window_id)
            out.append((ref, [chunk.events() for chunk in store.get_chunks(ref)]))
    return out


def page_loads(store: Any) -> list[list[dict[str, Any]]]:
    """The events of each page load (a Meta event starts one; rrweb node ids are per load)."""
    loads: list[list[dict[str, Any]]] = []
    for _ref, chunks in stored_windows(store):
        for events in chunks:
            for event in events:
                if event.get("type") == 4 or not loads:
                    loads.append([])
                loads[-1].append(event)
    return loads


def is_input(event: dict[str, Any]) -> bool:
    return event.get("type") == 3 and event["data"].get("source") == 5


def typed_fields(store: Any) -> int:
    return sum(len({e["data"]["id"] for e in load if is_input(e)}) for load in page_loads(store))


def node_id(load: list[dict[str, Any]], element_id: str) -> int | None:
    """The rrweb id of the element with that id attribute in this load's full snapshot."""

    def walk(node: dict[str, Any]) -> int | None:
        if (node.get("attributes") or {}).get("id") == element_id:
            return int(node["id"])
        for child in node.get("childNodes") or []:
            found = walk(child)
            if found is not None:
                return found
        return None

    for event in load:
        if event.get("type") == 2:
            return walk(event["data"]["node"])
    return None


def record_visit(tmp_path: Path, live_server: Any, page: Any, unmask: bool) -> Sentiero:
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path}/canary.db"),
                        allow_open_dashboard=True, flush_interval_ms=500)
    server = live_server(canary_site(sentiero, unmask))
    fill_everything(page, server.url)
    # Every typed field has sent its input event (sampling keeps the last per field).
    wait_for(lambda: typed_fields(sentiero.store) >= INPUT_FIELDS, timeout=10)
    page.wait_for_timeout(300)
    return sentiero


def storage_texts(sentiero: Sentiero, tmp_path: Path) -> dict[str, bytes]:
    store = sentiero.store
    events = [e for _ref, chunks in stored_windows(store) for ev in chunks for e in ev]
    sessions = store.list_sessions(SessionQuery(limit=100))
    facts = [dataclasses.asdict(f) for f in store.iter_facts()]
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("canary.db*")))
    return {
        "events": orjson.dumps(events),
        "metadata": orjson.dumps([s.metadata for s in sessions]),
        "facts": orjson.dumps(facts, default=str),
        "sqlite files": raw,
    }


def select_texts(sentiero: Sentiero) -> dict[str, list[str]]:
    """The input-event texts of each select, from the page load that holds it."""
    out: dict[str, list[str]] = {}
    for element_id in SELECTS:
        texts: list[str] = []
        for load in page_loads(sentiero.store):
            rr_id = node_id(load, element_id)
            if rr_id is not None:
                texts += [e["data"]["text"] for e in load
                          if is_input(e) and e["data"]["id"] == rr_id]
        assert texts, f"#{element_id} sent an input event"
        out[element_id] = texts
    return out


def test_default_settings_store_no_typed_canary(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero = record_visit(tmp_path, live_server, page, unmask=False)
    texts = storage_texts(sentiero, tmp_path)
    for canary in canaries() - FIXTURE_UNMASKED:
        for where, blob in texts.items():
            assert canary.encode() not in blob, f"{canary} leaked into {where}"
    # The check is not vacuous: the field the fixture itself unmasks is stored in clear.
    for canary in FIXTURE_UNMASKED:
        assert canary.encode() in texts["events"]
    # A select's chosen option is masked too (its options are page text, so check the events).
    for element_id, values in select_texts(sentiero).items():
        assert all(v and set(v) == {"*"} for v in values), (element_id, values)
    assert sentiero.store.list_sessions(SessionQuery(limit=10)), "the visit was recorded"


def test_unmasked_inputs_are_stored_but_passwords_never(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero = record_visit(tmp_path, live_server, page, unmask=True)
    texts = storage_texts(sentiero, tmp_path)
    for canary in canaries() - PASSWORDS:
        assert canary.encode() in texts["events"], f"{canary} (unmasked) is in the events"
    for canary in PASSWORDS:  # inside the unmask subtree, still never stored
        for where, blob in texts.items():
            assert canary.encode() not in blob, f"password {canary} leaked into {where}"
    for element_id, values in select_texts(sentiero).items():
        assert values[-1] == SELECTS[element_id]


LONG_PASSWORD = "Tr0ub4dor-Xq-Lmnop9"  # 19 characters
LONG_EMAIL = "ann.quokka.wombat@numbat.io"  # 27 characters


def test_typed_lengths_are_not_stored(tmp_path: Path, live_server: Any, page: Any) -> None:
    """A 19-character password and a 27-character email are stored as the same fixed mask as
    a 1-character answer: no stored value has their length."""
    assert (len(LONG_PASSWORD), len(LONG_EMAIL)) == (19, 27)
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path}/canary.db"),
                        allow_open_dashboard=True, flush_interval_ms=500)
    server = live_server(canary_site(sentiero, unmask=False))
    page.goto(f"{server.url}/signup.html")
    page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")
    for selector, value in (("#password", LONG_PASSWORD), ("#email", LONG_EMAIL),
                            ("#name", "A")):
        page.locator(selector).press_sequentially(value, delay=5)
        page.keyboard.press("Tab")
    page.goto("about:blank")
    wait_for(lambda: typed_fields(sentiero.store) >= 3, timeout=10)
    texts = storage_texts(sentiero, tmp_path)
    for where, blob in texts.items():
        for value in (LONG_PASSWORD, LONG_EMAIL):
            assert value.encode() not in blob, f"{value} leaked into {where}"
    assert b"*" * 19 not in texts["events"] and b"*" * 27 not in texts["events"]
    load = page_loads(sentiero.store)[0]
    masks = {node_id(load, name): None for name in ("password", "email", "name")}
    stored = [e["data"]["text"] for e in load if is_input(e) and e["data"]["id"] in masks]
    assert stored and set(stored) == {"********"}, stored
