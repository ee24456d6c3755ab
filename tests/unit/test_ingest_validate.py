"""Payload validation: ids, events, limits, timestamps, seq and metadata."""

from __future__ import annotations

from typing import Any

import pytest

from sentiero.ingest.decode import IngestError
from sentiero.ingest.validate import (
    check_metadata,
    check_seq,
    normalize_timestamp,
    normalize_timestamps,
    validate_payload,
)

ID_MESSAGE = "{} must be 1-128 alphanumeric, hyphen, or underscore characters"


def payload(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sessionId": "s1", "windowId": "w1",
                            "events": [{"type": 4, "timestamp": 1}]}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def refusal(body: dict[str, Any], max_events: int | None = None) -> tuple[int, str]:
    with pytest.raises(IngestError) as exc:
        validate_payload(body, max_events)
    return exc.value.status, exc.value.message


def test_valid_payload() -> None:
    valid = validate_payload(payload(seq=3, metadata={"plan": "pro"}))
    assert (valid.session_id, valid.window_id, valid.seq) == ("s1", "w1", 3)
    assert valid.metadata == {"plan": "pro"}
    assert valid.events == [{"type": 4, "timestamp": 1}]


@pytest.mark.parametrize("value", [..., None, "", "a" * 129, "has space", "é", "a/b", 12, ["x"]])
def test_bad_session_id(value: Any) -> None:
    assert refusal(payload(sessionId=value)) == (400, ID_MESSAGE.format("sessionId"))


@pytest.mark.parametrize("value", [..., "", "a" * 129, "a.b", "a\n"])
def test_bad_window_id(value: Any) -> None:
    assert refusal(payload(windowId=value)) == (400, ID_MESSAGE.format("windowId"))


def test_ids_of_128_characters_are_fine() -> None:
    assert validate_payload(payload(sessionId="a" * 128, windowId="B-_9" * 32)).session_id


def test_session_id_is_checked_before_window_id() -> None:
    assert refusal(payload(sessionId="", windowId=""))[1] == ID_MESSAGE.format("sessionId")


@pytest.mark.parametrize("events", [..., None, [], {}, "x", [1], [{"type": 4}, "x"], [[]]])
def test_events_must_be_a_non_empty_array_of_objects(events: Any) -> None:
    assert refusal(payload(events=events)) == (400, "events must be a non-empty array of objects")


def test_max_events_per_request_allows_exactly_n() -> None:
    events = [{"type": 3, "timestamp": i} for i in range(5)]
    assert len(validate_payload(payload(events=events), 5).events) == 5
    assert refusal(payload(events=events + [{"type": 3}]), 5) == (400, "too many events (max 5)")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, 1), (1.5, 1.5), (2.0, 2), ("17", 17), (" 17 ", 17), ("1.25", 1.25), ("1e3", 1000),
     ("-4", -4)],
)
def test_timestamps_become_numbers(raw: Any, expected: float) -> None:
    value = normalize_timestamp(raw)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "raw",
    ["NaN", "nan", "Infinity", "-Infinity", "inf", "abc", "", "1_000", "0x10", None, True,
     [], {}, float("nan"), float("inf"), float("-inf"), "1e999"],
)
def test_invalid_timestamps_refuse_the_batch(raw: Any) -> None:
    events = [{"type": 4, "timestamp": 1}, {"type": 3, "timestamp": raw}]
    assert refusal(payload(events=events)) == (400, "invalid timestamp value")


def test_events_without_timestamp_are_left_as_they_are() -> None:
    events = [{"type": 4}, {"type": 3, "timestamp": "5"}]
    out = normalize_timestamps(events)
    assert out == [{"type": 4}, {"type": 3, "timestamp": 5}]
    assert events[1]["timestamp"] == "5", "the input is not modified"
    assert out[0] is events[0]


@pytest.mark.parametrize("value", [0, 1, 2**53 - 1, None])
def test_valid_seq(value: Any) -> None:
    assert check_seq(value) == value


@pytest.mark.parametrize("value", [-1, 2**53, 1.0, 1.5, "1", True, False, [], {}])
def test_invalid_seq(value: Any) -> None:
    assert refusal(payload(seq=value)) == (400, "seq must be a non-negative integer")


@pytest.mark.parametrize("value", [None, "x", [1], 3])
def test_metadata_that_is_not_an_object_is_ignored(value: Any) -> None:
    assert check_metadata(value) == {}


def test_metadata_limits() -> None:
    assert len(check_metadata({f"k{i}": i for i in range(50)})) == 50
    status, message = refusal(payload(metadata={f"k{i}": i for i in range(51)}))
    assert status == 400 and "50" in message
    status, message = refusal(payload(metadata={"k" * 129: "v"}))
    assert status == 400 and "128" in message
    status, message = refusal(payload(metadata={"k": "v" * 1025}))
    assert status == 400 and "1024" in message
    assert check_metadata({"k" * 128: "v" * 1024})
