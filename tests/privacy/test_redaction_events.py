from __future__ import annotations

import copy
import logging

import pytest

from sentiero.privacy.redaction import RedactionConfig, Redactor

SECRET = "ann@ex.org"


def custom(tag: str, payload: object) -> dict:
    return {"type": 5, "timestamp": 1, "data": {"tag": tag, "payload": payload}}


def test_redact_events_applies_every_rule_and_keeps_order() -> None:
    events = [
        {"type": 4, "timestamp": 1, "data": {"href": "https://a.io/?token=1", "width": 1}},
        {"type": 2, "timestamp": 2, "data": {"node": {"type": 0, "id": 1, "childNodes": []}}},
        custom("navigation", {"url": "https://a.io/?q=1", "text": SECRET}),
        {"type": 3, "timestamp": 3, "data": {"source": 5, "id": 4, "text": SECRET}},
    ]
    original = copy.deepcopy(events)
    out = Redactor().redact_events(events)
    assert events == original
    assert [e["type"] for e in out] == [4, 2, 5, 3]
    assert out[0]["data"]["href"] == "https://a.io/"
    assert out[2]["data"]["payload"] == {"url": "https://a.io/", "text": "[redacted]"}
    assert out[3]["data"]["text"] == "[redacted]"  # DOM content is scanned by default
    assert Redactor(RedactionConfig(scan_dom=False)).redact_events(events)[3] == events[3]


def test_dom_scan_reaches_input_events_and_deep_snapshots() -> None:
    redactor = Redactor()
    inp = {"type": 3, "timestamp": 1, "data": {"source": 5, "id": 4, "text": SECRET}}
    assert redactor.redact_event(inp)["data"]["text"] == "[redacted]"
    # a hostile, very deep tree is walked without recursion
    leaf: dict = {"type": 3, "id": 0, "textContent": SECRET}
    node = leaf
    for i in range(5000):
        node = {"type": 2, "id": i + 1, "tagName": "div", "attributes": {}, "childNodes": [node]}
    out = redactor.redact_event({"type": 2, "timestamp": 1, "data": {"node": node}})
    walk = out["data"]["node"]
    while walk.get("childNodes"):
        walk = walk["childNodes"][0]
    assert walk["textContent"] == "[redacted]"
    assert leaf["textContent"] == SECRET


def test_dom_scan_leaves_other_sources_alone() -> None:
    redactor = Redactor()
    mouse = {"type": 3, "timestamp": 1, "data": {"source": 2, "type": 2, "id": 3, "x": 1, "y": 2}}
    assert redactor.redact_event(mouse) == mouse


@pytest.mark.parametrize("result", [None, False, 0, "yes", ["x"]])
def test_hook_results_that_drop(result: object, caplog: pytest.LogCaptureFixture) -> None:
    redactor = Redactor(RedactionConfig(server_hook=lambda e: result))
    with caplog.at_level(logging.WARNING, logger="sentiero.privacy"):
        assert redactor.redact_event(custom("t", {"k": "v"})) is None
    assert redactor.redact_events([custom("t", {})]) == []


def test_hook_can_keep_or_replace() -> None:
    keep = Redactor(RedactionConfig(server_hook=lambda e: True))
    assert keep.redact_event(custom("t", {"e": SECRET}))["data"]["payload"] == {"e": "[redacted]"}
    seen = []

    def hook(event: dict) -> dict:
        seen.append(event)
        return {**event, "data": {"tag": "t", "payload": {"replaced": True}}}

    out = Redactor(RedactionConfig(server_hook=hook)).redact_event(custom("t", {"e": SECRET}))
    assert out["data"]["payload"] == {"replaced": True}
    assert seen[0]["data"]["payload"] == {"e": "[redacted]"}, "the hook sees redacted data"


def test_hook_exception_drops_and_logs_without_content(caplog: pytest.LogCaptureFixture) -> None:
    def hook(event: dict) -> dict:
        raise RuntimeError(f"boom {event}")

    redactor = Redactor(RedactionConfig(server_hook=hook))
    events = [custom("t", {"e": "4111111111111111 PRIVATE-NOTE"})]
    with caplog.at_level(logging.WARNING, logger="sentiero.privacy"):
        assert redactor.redact_events(events) == []
    assert "RuntimeError" in caplog.text
    assert "PRIVATE-NOTE" not in caplog.text and "boom" not in caplog.text


def test_unredactable_events_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    deep: object = SECRET
    for _ in range(500):
        deep = [deep]
    with caplog.at_level(logging.WARNING, logger="sentiero.privacy"):
        out = Redactor().redact_events(["junk", None, custom("t", deep), custom("t", {"a": 1})])
    assert out == [custom("t", {"a": 1})]
    assert SECRET not in caplog.text


def test_metadata_and_values() -> None:
    r = Redactor(RedactionConfig(url_mode="keep_all"))
    meta = r.redact_metadata({"url": "https://a.io/?token=1", "x": [SECRET, {SECRET: 1}]})
    assert meta == {"url": "https://a.io/?token=1", "x": ["[redacted]", {"[redacted]": 1}]}
    assert r.redact_value((1, None, 2.5, SECRET)) == [1, None, 2.5, "[redacted]"]
    assert r.redact_url(None) is None
