"""Page content redaction (sentiero.privacy.dom): what is scanned, what is left alone, and the
pipeline's in-place walk agreeing with the Redactor's copying one."""

from __future__ import annotations

import copy
import gzip
import json
import time

import pytest

from sentiero.ingest.pipeline import build_batch
from sentiero.privacy.redaction import RedactionConfig, Redactor
from sentiero.privacy.scrub import PasswordScrubber
from sentiero.settings import Settings
from tests.fixtures import RRWEB_DIR

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
LEAKS = ("ann@ex.org", JWT, "r3setT0ken", "4111 1111 1111 1111")


def page(*nodes: dict) -> dict:
    return {"type": 2, "timestamp": 1, "data": {"node": {"type": 0, "id": 1, "childNodes": [
        {"type": 2, "id": 2, "tagName": "body", "attributes": {}, "childNodes": list(nodes)}]}}}


def test_full_snapshot_link_text_and_card_do_not_survive_ingest() -> None:
    link = {"type": 2, "id": 3, "tagName": "a",
            "attributes": {"href": f"https://shop.test/reset?token=r3setT0ken&u=ann@ex.org#{JWT}"},
            "childNodes": [{"type": 3, "id": 4,
                            "textContent": "Card 4111 1111 1111 1111, ann@ex.org"}]}
    payload = {"sessionId": "s-dom", "windowId": "w-dom", "events": [page(link)]}
    stored = json.dumps(build_batch(payload, Settings(), None).events)
    for leak in LEAKS:
        assert leak not in stored
    assert '"https://shop.test/reset"' in stored


def test_markup_attributes_are_not_scanned() -> None:
    path = {"type": 2, "id": 3, "tagName": "path", "childNodes": [], "attributes": {
        "d": "M 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "class": "x-4111111111111111",
        "id": "ann@ex.org"}}
    out = Redactor().redact_event(page(path))
    assert out["data"]["node"]["childNodes"][0]["childNodes"][0]["attributes"] == path["attributes"]


@pytest.mark.parametrize("value", [
    "url(" * 30_000, "x)" + "url(" * 30_000, "url(a" * 30_000, " ," * 50_000, "a " * 50_000,
], ids=["open url(", "closed then open", "url(a", "commas", "words"])
def test_css_and_srcset_scans_are_linear(value: str) -> None:
    dom = Redactor(RedactionConfig(url_mode="keep_filtered")).dom
    assert dom is not None
    start = time.perf_counter()
    dom.css(value)
    dom.srcset(value)
    assert time.perf_counter() - start < 1.0


def fixture_events() -> list[list[dict]]:
    out = []
    for path in sorted(RRWEB_DIR.glob("*.json.gz")):
        recording = json.loads(gzip.decompress(path.read_bytes()))
        out.extend(w["events"] for w in recording["windows"])
    return out


@pytest.mark.parametrize("mode", ["strip", "keep_filtered"])
def test_one_walk_gives_what_the_copying_redactor_gives(mode: str) -> None:
    """The pipeline redacts the DOM inside the scrubber's walk; the Redactor alone copies.
    Both must store the same thing, on every fixture recording."""
    redactor = Redactor(RedactionConfig(url_mode=mode))
    for events in fixture_events():
        in_place = copy.deepcopy(events)
        PasswordScrubber(dom=redactor.dom).scrub_events(in_place)
        in_place = redactor.redact_events(in_place, dom_done=True)
        copied = copy.deepcopy(events)
        PasswordScrubber().scrub_events(copied)
        assert redactor.redact_events(copied) == in_place
