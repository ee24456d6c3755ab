"""Decoding sentry-sdk events and envelopes, and the timeline helper."""

from __future__ import annotations

import orjson
import pytest

from sentiero.privacy.redaction import Redactor
from sentiero.stores.memory import MemoryStore
from sentiero.tracking import envelope, reports, window_server_errors
from sentiero.tracking.models import Occurrence

R = Redactor()


def event(**kw) -> dict:
    return {
        "event_id": "1" * 32,
        "timestamp": "2030-03-04T05:06:07.250Z",
        "platform": "python",
        "exception": {"values": [
            {"type": "KeyError", "value": "cause"},
            {"type": "ValueError", "value": "mail ann@example.com failed",
             "stacktrace": {"frames": [
                 {"module": "shop.views", "function": "pay", "lineno": 9, "in_app": True,
                  "vars": {"password": "hunter2"}, "context_line": "pay(card)"}]}},
        ]},
        "request": {"method": "POST", "url": "https://shop.example/pay?token=abc",
                    "data": {"password": "hunter2"}, "cookies": {"s": "x"},
                    "headers": {"User-Agent": "Firefox", "Cookie": "s=x"}},
        "contexts": {"sentiero": {"session_id": "s1", "window_id": "w1",
                                  "request_ms": 1_900_000_000_000}},
        "user": {"ip_address": "203.0.113.9"},
        "environment": "prod",
        **kw,
    }


def test_sentry_event_keeps_the_raised_exception_and_nothing_private() -> None:
    occ = reports.sentry_event(event(), "shop", R)
    assert (occ.exception_class, occ.ts_ms) == ("ValueError", 1_898_831_167_250)
    assert "ann@example.com" not in occ.message
    assert occ.frames == [{"module": "shop.views", "function": "pay", "lineno": 9,
                           "in_app": True, "context_line": "pay(card)"}]
    assert (occ.session_id, occ.window_id, occ.replay_ms) == ("s1", "w1", 1_900_000_000_000)
    assert occ.context["request"] == {"method": "POST", "url": "https://shop.example/pay",
                                      "path": "/pay", "user_agent": "Firefox"}
    assert occ.context["user_ip"] == "203.0.113.0"
    text = orjson.dumps(occ.to_dict()).decode()
    for secret in ("hunter2", "token=abc", "203.0.113.9", "s=x"):
        assert secret not in text


def test_messages_group_by_template_and_bad_linkage_is_ignored() -> None:
    a = reports.sentry_event({"logentry": {"message": "order %s failed", "formatted":
                                           "order 1 failed"}}, "shop", R)
    b = reports.sentry_event({"logentry": {"message": "order %s failed", "formatted":
                                           "order 2 failed"},
                              "contexts": {"sentiero": {"session_id": "../x"}}}, "shop", R)
    assert a.problem_id == b.problem_id and a.exception_class == "Message"
    assert b.session_id is None and b.message == "order 2 failed"
    with pytest.raises(reports.ReportError):
        reports.sentry_event({"level": "error"}, "shop", R)


def test_timestamps() -> None:
    assert reports.timestamp_ms(1.5) == 1500
    assert reports.timestamp_ms("2.25") == 2250
    assert reports.timestamp_ms("1970-01-01T00:00:01+00:00") == 1000
    for bad in (float("nan"), float("inf"), 1e300, "soon", None, True):
        assert abs(reports.timestamp_ms(bad) - reports.now_ms()) < 5000


def test_envelope_items_with_and_without_length() -> None:
    payload = b'{"message":"with\\nnewline"}'
    body = b"\n".join([b'{"event_id":"x"}', b'{"type":"event","length":%d}' % len(payload),
                       payload, b'{"type":"attachment","length":3}', b"a\nb",
                       b'{"type":"event"}', b'{"message":"plain"}', b""])
    parsed = envelope.parse(body)
    assert [e["message"] for e in parsed.events] == ["with\nnewline", "plain"]
    assert parsed.dropped == ["attachment"]
    too_many = b"{}\n" + b'{"type":"session"}\n{}\n' * 101
    with pytest.raises(envelope.EnvelopeError):
        envelope.parse(too_many)


def test_sentry_key_sources() -> None:
    assert envelope.sentry_key("Sentry sentry_key=abc, sentry_version=7", "q") == "abc"
    assert envelope.sentry_key(None, " q ") == "q"
    assert envelope.sentry_key("Sentry sentry_version=7", None) is None


def test_window_server_errors_for_the_timeline() -> None:
    store = MemoryStore()
    base = dict(project="shop", exception_class="KeyError", message="m", path="/cart")
    store.save_occurrence(Occurrence("a" * 40, ts_ms=2000, session_id="s", window_id="w",
                                     replay_ms=1500, **base))
    store.save_occurrence(Occurrence("a" * 40, ts_ms=1000, session_id="s", window_id="w",
                                     **base))
    store.save_occurrence(Occurrence("b" * 40, ts_ms=3000, session_id="s", window_id="other",
                                     **base))
    marks = window_server_errors(store, "s", "w")
    assert [m["ts_ms"] for m in marks] == [1000, 1500]
    assert marks[0] == {"ts_ms": 1000, "problem_id": "a" * 40, "title": "KeyError: m",
                        "exception_class": "KeyError", "path": "/cart",
                        "url": "/issues/" + "a" * 40}
    assert window_server_errors(store, "nobody", "w") == []
