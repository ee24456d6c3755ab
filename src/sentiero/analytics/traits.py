"""Session traits: what segment filters and distributions read (browser, device, OS, country,
entry page, referrer, UTM parameters). Computed by one function from the session's metadata,
its User-Agent and its first page; SQL stores keep them in columns updated at ingest, the
others derive them when they read a session."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BROWSERS = ("Chrome", "Safari", "Firefox", "Edge", "Opera", "Other")
DEVICES = ("Desktop", "Mobile", "Tablet")
OPERATING_SYSTEMS = ("Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS", "Other")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")
MAX_TRAIT = 200

_TABLET = re.compile(r"Tablet|iPad", re.I)
_MOBILE = re.compile(r"Mobile|Android|iPhone", re.I)
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Traits:
    browser: str | None = None
    device: str | None = None
    os: str | None = None
    country: str | None = None
    entry_url: str | None = None
    referrer: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        # the fields as they are (all text or None): dataclasses.asdict's deep copy cost more
        # than the rest of a batch's trait update
        return dict(self.__dict__)


@functools.lru_cache(maxsize=4096)
def classify_user_agent(user_agent: str | None) -> tuple[str | None, str | None, str | None]:
    """(browser, device, os) by the original's rules (inventory §5.1); Nones for no UA."""
    if not user_agent:
        return None, None, None
    ua = user_agent[:1024]
    if "Edg/" in ua:
        browser = "Edge"
    elif "OPR/" in ua or "Opera" in ua:
        browser = "Opera"
    elif "Chrome/" in ua:
        browser = "Chrome"
    elif "Safari/" in ua:
        browser = "Safari"
    elif "Firefox/" in ua:
        browser = "Firefox"
    else:
        browser = "Other"
    device = "Tablet" if _TABLET.search(ua) else "Mobile" if _MOBILE.search(ua) else "Desktop"
    if "CrOS" in ua:
        os_name = "ChromeOS"
    elif re.search(r"iPhone|iPad|iPod", ua):
        os_name = "iOS"
    elif "Android" in ua:
        os_name = "Android"
    elif "Windows" in ua:
        os_name = "Windows"
    elif "Mac OS X" in ua or "Macintosh" in ua:
        os_name = "macOS"
    elif "Linux" in ua:
        os_name = "Linux"
    else:
        os_name = "Other"
    return browser, device, os_name


def _text(value: Any) -> str | None:
    return value[:2048] if isinstance(value, str) and value else None


def utm_params(url: str | None) -> dict[str, str]:
    """UTM source/medium/campaign of a URL's query (case-insensitive keys, first value). The
    stored URL keeps its query only under the keep-filtered and keep-all URL modes."""
    if not url or "?" not in url:
        return {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=False):
        key = key.lower()
        if key in UTM_KEYS and key not in out and value:
            out[key] = value[:MAX_TRAIT]
    return out


def session_traits(
    metadata: dict[str, Any], user_agent: str | None, first_page_url: str | None = None
) -> Traits:
    ua = user_agent or _text(metadata.get("userAgent"))
    browser, device, os_name = classify_user_agent(ua)
    country = metadata.get("geo_country")
    country = country.upper() if isinstance(country, str) else None
    if country is not None and not _COUNTRY.match(country):
        country = None
    entry = _text(metadata.get("entry_url")) or first_page_url or _text(metadata.get("url"))
    referrer = _text(metadata.get("entry_referrer")) or _text(metadata.get("referrer"))
    return Traits(browser, device, os_name, country, entry, referrer, **utm_params(entry))


def same_origin(a: str | None, b: str | None) -> bool:
    """Same scheme, host and port (the overview drops same-origin referrers)."""
    if not a or not b:
        return False
    try:
        x, y = urlsplit(a), urlsplit(b)
        return (x.scheme, x.hostname, x.port) == (y.scheme, y.hostname, y.port)
    except ValueError:
        return False
