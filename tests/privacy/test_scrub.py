"""Server-side scrubbing of typed values, on a real rrweb recording with injected values."""

from __future__ import annotations

import copy
import gzip
import json

import pytest

from sentiero.privacy.scrub import INPUT_MASK, PasswordScrubber, ScrubState
from tests.fixtures import RRWEB_DIR

FIXTURE = RRWEB_DIR / "signup-b.json.gz"

# Node ids in the signup page's full snapshot.
NAME, EMAIL, PASSWORD, ABOUT, SEARCH = 26, 30, 34, 48, 52  # SEARCH has data-sentiero-unmask
TYPED = {
    NAME: "Ann Example",
    EMAIL: "ann@ex.org",
    PASSWORD: "hunter2-Secret",
    ABOUT: "I like hiking",
    SEARCH: "walking shoes",
}


def input_event(node_id: int, text: str, ts: int = 0) -> dict:
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 5, "text": text, "isChecked": False, "id": node_id},
    }


def find(node: dict, node_id: int) -> dict | None:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.get("id") == node_id:
            return n
        stack.extend(n.get("childNodes", []))
    return None


@pytest.fixture()
def events() -> list[dict]:
    """The recording with a hostile client's additions: typed values in input events and in
    the snapshot's value attributes, the password field included."""
    recording = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    evs = recording["windows"][0]["events"]
    snapshot = [e for e in evs if e["type"] == 2][-1]
    for node_id, value in TYPED.items():
        find(snapshot["data"]["node"], node_id)["attributes"]["value"] = value
    ts = evs[-1]["timestamp"]
    for i, (node_id, value) in enumerate(TYPED.items()):
        evs.append(input_event(node_id, value, ts + i + 1))
    for e in evs:  # the recorder's own (masked) input event now carries the typed email
        if e["type"] == 3 and e["data"].get("source") == 5 and e["data"]["id"] == EMAIL:
            e["data"]["text"] = TYPED[EMAIL]
    return evs


def dump(events: list[dict]) -> str:
    return json.dumps(events)


def test_everything_typed_is_masked_except_unmasked_fields(events: list[dict]) -> None:
    out, state = PasswordScrubber().scrub_events(events)
    text = dump(out)
    for node_id, value in TYPED.items():
        if node_id == SEARCH:
            assert value in text  # inside data-sentiero-unmask
        else:
            assert value not in text, node_id
    assert PASSWORD in state.password_ids
    assert SEARCH in state.unmasked_ids
    masked = [e["data"]["text"] for e in out if e["type"] == 3 and e["data"].get("source") == 5]
    assert set(masked) - {"walking shoes"} == {INPUT_MASK}, "one mask, whatever the length"


def test_state_carries_across_batches(events: list[dict]) -> None:
    """The snapshot in one batch, the typing in the next: the state links them."""
    cut = max(i for i, e in enumerate(events) if e["type"] == 2) + 1
    scrubber = PasswordScrubber()
    first, state = scrubber.scrub_events(events[:cut])
    persisted = json.loads(json.dumps(state.to_dict()))
    second, state = scrubber.scrub_events(events[cut:], ScrubState.from_dict(persisted))
    text = dump(first + second)
    assert TYPED[PASSWORD] not in text and TYPED[EMAIL] not in text
    assert TYPED[SEARCH] in text


def test_password_is_masked_even_with_mask_all_inputs_off(events: list[dict]) -> None:
    out, _ = PasswordScrubber(mask_all_inputs=False).scrub_events(events)
    text = dump(out)
    assert TYPED[PASSWORD] not in text
    assert TYPED[EMAIL] in text and TYPED[ABOUT] in text


def test_password_set_state_round_trip(events: list[dict]) -> None:
    """The plain-set form: password ids carry over; unmask info does not (masks more)."""
    cut = max(i for i, e in enumerate(events) if e["type"] == 2) + 1
    scrubber = PasswordScrubber(mask_all_inputs=False)
    _, ids = scrubber.scrub_events(events[:cut], set())
    assert ids == {PASSWORD}
    second, ids = scrubber.scrub_events(events[cut:], ids)
    assert TYPED[PASSWORD] not in dump(second)
    assert ids == {PASSWORD}


def test_input_events_without_any_snapshot_are_masked() -> None:
    evs = [input_event(7, "typed secret"), input_event(8, "***"), input_event(9, 123)]  # type: ignore[arg-type]
    out, _ = PasswordScrubber().scrub_events(evs)
    assert [e["data"]["text"] for e in out] == [INPUT_MASK, INPUT_MASK, ""]


def test_mutation_adds_and_show_password_toggle() -> None:
    add = {
        "type": 3,
        "timestamp": 1,
        "data": {
            "source": 0,
            "texts": [],
            "removes": [],
            "attributes": [],
            "adds": [
                {
                    "parentId": 1,
                    "nextId": None,
                    "node": {
                        "type": 2,
                        "id": 70,
                        "tagName": "DIV",
                        "attributes": {},
                        "childNodes": [
                            {
                                "type": 2,
                                "id": 71,
                                "tagName": "INPUT",
                                "attributes": {"type": "PassWord", "value": "pw-in-add"},
                                "childNodes": [],
                            },
                            {
                                "type": 2,
                                "id": 72,
                                "tagName": "textarea",
                                "attributes": {},
                                "childNodes": [{"type": 3, "id": 73, "textContent": "draft text"}],
                            },
                            {
                                "type": 2,
                                "id": 74,
                                "tagName": "input",
                                "attributes": {"type": "checkbox", "value": "on"},
                                "childNodes": [],
                            },
                            {
                                "type": 2,
                                "id": 75,
                                "tagName": "input",
                                "attributes": {"type": "hidden", "value": "csrf-token-value"},
                                "childNodes": [],
                            },
                        ],
                    },
                }
            ],
        },
    }
    toggle = {
        "type": 3,
        "timestamp": 2,
        "data": {
            "source": 0,
            "adds": [],
            "removes": [],
            "texts": [{"id": 73, "value": "edited draft"}],
            "attributes": [
                {"id": 71, "attributes": {"type": "text"}},
                {"id": 72, "attributes": {"value": "textarea value"}},
                {"id": 80, "attributes": {"type": "password", "value": "late-pw"}},
            ],
        },
    }
    scrubber = PasswordScrubber(mask_all_inputs=False)
    out, state = scrubber.scrub_events(
        [add, toggle, input_event(71, "shown-pw"), input_event(80, "x1")]
    )
    text = dump(out)
    for secret in ("pw-in-add", "shown-pw", "late-pw", "x1"):
        assert secret not in text
    assert {71, 80} <= state.password_ids
    assert "draft text" in text  # mask_all_inputs off: only passwords

    out, _ = PasswordScrubber().scrub_events(copy.deepcopy([add, toggle]))
    text = dump(out)
    for secret in ("draft text", "edited draft", "textarea value", "csrf-token-value"):
        assert secret not in text
    assert '"value": "on"' in text  # checkbox values are markup, not typing


def test_unmask_subtree_in_mutations_and_reset_on_new_page() -> None:
    snapshot = {
        "type": 2,
        "timestamp": 1,
        "data": {
            "node": {
                "type": 0,
                "id": 1,
                "childNodes": [
                    {
                        "type": 2,
                        "id": 2,
                        "tagName": "form",
                        "attributes": {"data-sentiero-unmask": ""},
                        "childNodes": [
                            {
                                "type": 2,
                                "id": 3,
                                "tagName": "input",
                                "attributes": {"value": "visible"},
                                "childNodes": [],
                            },
                            {
                                "type": 2,
                                "id": 4,
                                "tagName": "input",
                                "attributes": {"type": "password", "value": "pw"},
                                "childNodes": [],
                            },
                        ],
                    },
                ],
            }
        },
    }
    added = {
        "type": 3,
        "timestamp": 2,
        "data": {
            "source": 0,
            "texts": [],
            "attributes": [],
            "removes": [],
            "adds": [
                {
                    "parentId": 2,
                    "node": {
                        "type": 2,
                        "id": 5,
                        "tagName": "input",
                        "attributes": {"value": "also visible"},
                        "childNodes": [],
                    },
                }
            ],
        },
    }
    scrubber = PasswordScrubber()
    out, state = scrubber.scrub_events(
        [
            snapshot,
            added,
            input_event(3, "typed"),
            input_event(5, "typed too"),
            input_event(4, "pw2"),
        ]
    )
    text = dump(out)
    assert "visible" in text and "also visible" in text and "typed too" in text
    assert '"pw"' not in text and "pw2" not in text
    # a new page: earlier unmask information no longer applies, passwords stay known
    blank = {"type": 2, "timestamp": 3, "data": {"node": {"type": 0, "id": 1, "childNodes": []}}}
    out, state = scrubber.scrub_events([blank, input_event(3, "typed later")], state)
    assert out[1]["data"]["text"] == INPUT_MASK
    assert state.unmasked_ids == set() and 4 in state.password_ids


def test_hostile_shapes_do_not_crash() -> None:
    deep: dict = {
        "type": 2,
        "id": 1,
        "tagName": "input",
        "attributes": {"type": "password", "value": "deep-pw"},
    }
    for i in range(10_000):
        deep = {
            "type": 2,
            "id": i + 2,
            "tagName": "div",
            "attributes": [],
            "childNodes": [deep, "junk", None],
        }
    evs = [
        None,
        "junk",
        {"type": 2, "data": {"node": deep}},
        {"type": 2, "data": "x"},
        {
            "type": 3,
            "data": {
                "source": 0,
                "adds": [None, {"node": 5}],
                "attributes": [{"id": "x", "attributes": None}],
                "texts": [1],
            },
        },
        {"type": 3, "data": {"source": 5, "id": True, "text": "secret"}},
    ]
    out, state = PasswordScrubber().scrub_events(evs)
    leaf = out[2]["data"]["node"]
    while leaf.get("childNodes"):
        leaf = leaf["childNodes"][0]
    assert leaf["attributes"]["value"] == INPUT_MASK
    assert "secret" not in dump(out[3:])
    assert 1 in state.password_ids


def test_state_serialization_is_tolerant() -> None:
    state = ScrubState(password_ids={3, 1}, unmasked_ids={9})
    assert ScrubState.from_dict(state.to_dict()) == state
    assert state.to_dict()["password_ids"] == [1, 3]
    assert ScrubState.from_dict(
        {"password_ids": [1, "x", None], "unmasked_ids": "bad"}
    ) == ScrubState(password_ids={1})
    assert ScrubState.from_dict(None) == ScrubState()


@pytest.mark.parametrize("password", ["a", "hunter2-Secret", "x" * 19, "y" * 64])
def test_a_password_of_any_length_is_stored_as_the_same_mask(password: str) -> None:
    """Whatever the client sent (its own stars of the right length, or the clear text)."""
    snapshot_value = {"type": 2, "timestamp": 0, "data": {"node": {
        "type": 2, "id": 1, "tagName": "input", "childNodes": [],
        "attributes": {"type": "password", "value": password}}}}
    sent = [snapshot_value, input_event(1, password), input_event(1, "*" * len(password))]
    for scrubber in (PasswordScrubber(), PasswordScrubber(preserve_length=True),
                     PasswordScrubber(mask_all_inputs=False)):
        out, _ = scrubber.scrub_events(copy.deepcopy(sent))
        assert out[0]["data"]["node"]["attributes"]["value"] == INPUT_MASK
        assert [e["data"]["text"] for e in out[1:]] == [INPUT_MASK, INPUT_MASK]


def test_preserve_length_keeps_stars_per_character_for_other_fields_only() -> None:
    out, _ = PasswordScrubber(preserve_length=True).scrub_events(
        [input_event(7, "ann@ex.org"), input_event(8, "*" * 27), input_event(9, "")])
    assert [e["data"]["text"] for e in out] == ["*" * 10, "*" * 27, ""]
    # the default: a 27-star mask from an old recorder is cut to the fixed mask
    out, _ = PasswordScrubber().scrub_events([input_event(8, "*" * 27), input_event(9, "")])
    assert [e["data"]["text"] for e in out] == [INPUT_MASK, ""]


def text(node_id: int, value: str, **extra: object) -> dict:
    return {"type": 3, "id": node_id, "textContent": value, **extra}


def element(node_id: int, tag: str, attrs: dict, *children: dict) -> dict:
    return {"type": 2, "id": node_id, "tagName": tag, "attributes": attrs,
            "childNodes": list(children)}


def test_mask_all_text_masks_what_arrives_unmasked_except_unmasked_regions() -> None:
    tree = {"type": 0, "id": 1, "childNodes": [element(2, "body", {},
        element(3, "style", {}, text(4, "a{color:red}", isStyle=True)),
        element(5, "p", {"title": "Ann Example"}, text(6, "Hello Ann Example")),
        {"type": 5, "id": 7, "textContent": "user 4711"},
        element(8, "section", {"data-sentiero-unmask": ""},
                element(9, "img", {"alt": "Shop front"}), text(10, "Open 9-17")),
    )]}
    later = {"type": 3, "timestamp": 2, "data": {"source": 0, "removes": [],
        "texts": [{"id": 6, "value": "Bye Ann"}, {"id": 10, "value": "Open 9-18"},
                  {"id": 99, "value": "never seen"}],
        "attributes": [{"id": 5, "attributes": {"title": "Ann E."}},
                       {"id": 9, "attributes": {"alt": "Shop at night"}}],
        "adds": [{"parentId": 8, "nextId": None, "node": text(11, "Closed Sundays")},
                 {"parentId": 5, "nextId": None, "node": text(12, "Ann again")}]}}
    nav = {"type": 5, "timestamp": 3, "data": {"tag": "navigation",
           "payload": {"url": "https://a.test/x", "text": "Ann's profile"}}}
    snapshot = {"type": 2, "timestamp": 1, "data": {"node": tree}}
    scrubber = PasswordScrubber(mask_all_text=True)
    _, state = scrubber.scrub_events([snapshot])
    persisted = json.loads(json.dumps(state.to_dict()))  # a later batch, state from the store
    scrubber.scrub_events([later, nav], ScrubState.from_dict(persisted))
    stored = dump([snapshot, later, nav])
    for secret in ("Ann", "4711", "never seen"):
        assert secret not in stored
    for shown in ("a{color:red}", "Shop front", "Open 9-17", "Open 9-18", "Closed Sundays",
                  "Shop at night"):
        assert shown in stored
    assert find(tree, 6)["textContent"] == "***** *** *******"
    assert nav["data"]["payload"] == {"url": "https://a.test/x"}


def test_page_text_is_left_alone_without_mask_all_text() -> None:
    snapshot = {"type": 2, "timestamp": 1, "data": {"node": element(1, "p", {"title": "Ann"},
                                                                     text(2, "Hello Ann"))}}
    PasswordScrubber().scrub_events([snapshot])
    assert "Hello Ann" in dump([snapshot]) and '"Ann"' in dump([snapshot])


def test_an_add_inherits_from_an_earlier_add_of_the_same_mutation() -> None:
    """rrweb sends a new subtree as one add per node, parents first: a field added under an
    unmask region added just before it stays visible, a text node added under a textarea
    added just before it is masked, and the same adds under plain parents are masked."""
    snapshot = {"type": 2, "timestamp": 1, "data": {"node": element(1, "body", {})}}

    def mutation(region_id: int, area_id: int, field_id: int, text_id: int) -> dict:
        return {"type": 3, "timestamp": 2, "data": {"source": 0, "texts": [], "attributes": [],
                "removes": [], "adds": [
                    {"parentId": 1, "node": element(region_id, "div",
                                                    {"data-sentiero-unmask": ""})},
                    {"parentId": region_id, "node": element(field_id, "input",
                                                            {"value": "kept"})},
                    {"parentId": 1, "node": element(area_id, "textarea", {})},
                    {"parentId": area_id, "node": text(text_id, "typed note")},
                ]}}

    out, _ = PasswordScrubber().scrub_events([snapshot, mutation(2, 3, 4, 5)])
    adds = out[1]["data"]["adds"]
    assert adds[1]["node"]["attributes"]["value"] == "kept"
    assert adds[3]["node"]["textContent"] == INPUT_MASK
    plain = mutation(6, 7, 8, 9)
    plain["data"]["adds"][0]["node"]["attributes"] = {}
    out, _ = PasswordScrubber().scrub_events([snapshot, plain])
    assert out[1]["data"]["adds"][1]["node"]["attributes"]["value"] == INPUT_MASK
