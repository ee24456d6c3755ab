from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiero.privacy.ip import anonymize_ip, client_ip


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("1.2.3.4", "1.2.3.0"),
        (" 192.168.10.255 \n", "192.168.10.0"),
        ("1.2.3.0", "1.2.3.0"),
        ("2001:db8:abcd:1234:5678:9abc:def0:1234", "2001:db8:abcd::"),
        ("2001:DB8:ABCD:12::1", "2001:db8:abcd::"),
        ("::1", "::"),
        ("::ffff:1.2.3.4", "1.2.3.0"),
        ("::ffff:0102:0304", "1.2.3.0"),
        ("fe80::1%eth0", "fe80::"),
    ],
)
def test_anonymize(ip: str, expected: str) -> None:
    assert anonymize_ip(ip) == expected


@pytest.mark.parametrize(
    "ip",
    [
        None,
        "",
        "   ",
        "1.2.3.0/24",
        "2001:db8::/48",
        "not an ip",
        "1.2.3",
        "1.2.3.4.5",
        "999.1.1.1",
        "1.2.3.4:80",
        16909060,
        b"1.2.3.4",
        ["1.2.3.4"],
        "01.2.3.4",
    ],
)
def test_not_an_address_gives_none(ip: object) -> None:
    assert anonymize_ip(ip) is None


@given(st.ip_addresses())
def test_idempotent_and_never_the_host(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    once = anonymize_ip(str(addr))
    assert once is not None
    assert anonymize_ip(once) == once
    net = ipaddress.ip_address(once)
    if isinstance(net, ipaddress.IPv4Address):
        assert int(net) & 0xFF == 0
    else:
        assert int(net) & ((1 << 80) - 1) == 0


@pytest.mark.parametrize(
    ("environ", "trust", "expected"),
    [
        ({"REMOTE_ADDR": "10.0.0.1"}, False, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, False, "10.0.0.1"),
        (
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": " 1.2.3.4 , 5.6.7.8"},
            True,
            "1.2.3.4",
        ),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": ""}, True, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": " ,5.6.7.8"}, True, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "unknown"}, True, None),
        ({"HTTP_X_FORWARDED_FOR": "[2001:db8::1]:443"}, True, "2001:db8::1"),
        ({"HTTP_X_FORWARDED_FOR": "1.2.3.4:8080"}, True, "1.2.3.4"),
        ({"REMOTE_ADDR": "2001:db8::7"}, True, "2001:db8::7"),
        ({}, True, None),
        ({"REMOTE_ADDR": None}, False, None),
    ],
)
def test_client_ip(environ: dict, trust: bool, expected: str | None) -> None:
    assert client_ip(environ, trust_forwarded=trust) == expected


def test_client_ip_then_anonymize() -> None:
    environ = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "2001:db8:abcd:1:2:3:4:5"}
    assert anonymize_ip(client_ip(environ, trust_forwarded=True)) == "2001:db8:abcd::"
