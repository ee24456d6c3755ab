"""IP anonymization: nothing downstream of this module ever sees a full client address.

``anonymize_ip`` keeps the network, never the host: IPv4 to its /24 (``1.2.3.4`` -> ``1.2.3.0``),
IPv6 to its /48 (``2001:db8:abcd:1234::1`` -> ``2001:db8:abcd::``). IPv4-mapped IPv6
(``::ffff:1.2.3.4``) is treated as the IPv4 address it carries. Anything that is not a single
address (CIDR ranges, garbage, non-strings, empty) gives None. Anonymizing twice changes nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

_V4_MASK = 0xFFFFFF00
_V6_MASK = ((1 << 48) - 1) << 80


def anonymize_ip(ip: Any) -> str | None:
    """The anonymized form of ``ip``, or None when it is not one IPv4 or IPv6 address."""
    if not isinstance(ip, str):
        return None
    text = ip.strip()
    if not text or "/" in text:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Address(int(addr) & _V4_MASK))
    return str(ipaddress.IPv6Address(int(addr) & _V6_MASK))  # drops any %zone too


def _strip_port(hop: str) -> str:
    """``[2001:db8::1]:443`` -> ``2001:db8::1``; ``1.2.3.4:8080`` -> ``1.2.3.4``."""
    if hop.startswith("["):
        end = hop.find("]")
        return hop[1:end] if end != -1 else hop
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def client_ip(environ: Mapping[str, Any], trust_forwarded: bool) -> str | None:
    """The client's address from a WSGI environ (not anonymized: pass it to anonymize_ip).

    With ``trust_forwarded`` (only behind a proxy that sets the header), the first hop of
    ``X-Forwarded-For`` wins when present; otherwise ``REMOTE_ADDR``. A hop that is not an
    address gives None rather than falling back to the proxy's own address. Ports are dropped.
    """
    candidate = None
    if trust_forwarded:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if isinstance(forwarded, str):
            first = forwarded.split(",", 1)[0].strip()
            if first:
                candidate = first
    if candidate is None:
        remote = environ.get("REMOTE_ADDR")
        candidate = remote.strip() if isinstance(remote, str) else None
    if not candidate:
        return None
    candidate = _strip_port(candidate)
    if "/" in candidate:
        return None
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
