"""Log-line hygiene: no client address, no raw control character."""

from __future__ import annotations

import pytest

from sentiero.privacy.logs import log_safe, without_ips


@pytest.mark.parametrize(("text", "expected"), [
    ("Invalid request from ip=203.0.113.7: bad", "Invalid request from ip=[ip]: bad"),
    ("from ip=2001:db8::1: bad", "from ip=[ip]: bad"),
    ("peer [2001:db8:abcd::17]:443 gone", "peer [[ip]]:443 gone"),
    ("mapped ::ffff:192.0.2.1 here", "mapped [ip] here"),
    ("at 10.0.0.1.", "at [ip]."),
    ("zone fe80::1%eth0 x", "zone [ip] x"),
])
def test_addresses_are_hidden(text: str, expected: str) -> None:
    assert without_ips(text) == expected


@pytest.mark.parametrize("text", [
    "12:30:45 worker booted", "version 1.2.3 ready", "took 1.5ms", "pid 12345", "std::vector",
    "sha deadbeef:cafe",
])
def test_other_text_is_left_alone(text: str) -> None:
    assert without_ips(text) == text


def test_control_characters_are_escaped() -> None:
    assert log_safe("a\nb\r\x1b[2J\x00\x7f\x85\u2028c") == (
        "a\\x0ab\\x0d\\x1b[2J\\x00\\x7f\\x85\\u2028c")
    assert log_safe("plain text, ünïcode ok") == "plain text, ünïcode ok"
