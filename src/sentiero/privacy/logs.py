"""What may reach a log line: one line per record, and no client address.

``log_safe`` escapes control characters (C0, DEL, C1, U+2028/U+2029), so a ``%0a`` in a
request path cannot forge a second line. ``without_ips`` replaces every IPv4 and IPv6
literal with ``[ip]``: the server's logs (gunicorn's error log included, see
:mod:`sentiero.server`) never hold a raw client address.
"""

from __future__ import annotations

import ipaddress
import re

IP_PLACEHOLDER = "[ip]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:.])[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:%[\w.-]+)?(?![\w:])")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def log_safe(text: object) -> str:
    """``text`` as one printable line: control characters written as ``\\xNN`` escapes."""
    return _CONTROL.sub(_escape, str(text))


def _is_ipv6(text: str) -> bool:
    if text.count(":") < 2:
        return False  # a time (12:30), a port (host:80), ...
    try:
        ipaddress.IPv6Address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _hide_ipv6(match: re.Match[str]) -> str:
    candidate = match.group()
    if _is_ipv6(candidate):
        return IP_PLACEHOLDER
    if candidate.endswith(":") and _is_ipv6(candidate[:-1]):  # "ip=2001:db8::1: message"
        return IP_PLACEHOLDER + ":"
    return candidate


def without_ips(text: str) -> str:
    """``text`` with every IPv4 and IPv6 address replaced by ``[ip]``."""
    text = _IPV6_CANDIDATE.sub(_hide_ipv6, text)
    return _IPV4.sub(IP_PLACEHOLDER, text)
