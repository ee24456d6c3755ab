"""Query parameters of the analytics pages (inventory §3.4, §3.7): the date range (a 14/30/90
day preset or explicit since/until), segment filters checked against closed lists or trimmed
and capped, paging, and a conversion goal. Invalid values are dropped, never echoed back, never
a 500."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sentiero.analytics.periods import DEFAULT_PRESET, PRESETS, Period, resolve_period
from sentiero.analytics.query import MAX_FILTER_TEXT, Segment
from sentiero.analytics.traits import BROWSERS, DEVICES, OPERATING_SYSTEMS
from sentiero.web.dashboard import _date_value, parse_bound, parse_int

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_DURATION_S = 10 * 365 * 86_400
MAX_URL_PARAM = 2_048
SEGMENT_PARAMS = ("browser", "device", "os", "country", "url_pattern", "event_tag",
                  "metadata_key",
                  "metadata_value", "metadata_match", "has_errors", "min_duration",
                  "max_duration")


def _text(args: Mapping[str, str], name: str) -> str | None:
    value = (args.get(name) or "").strip()[:MAX_FILTER_TEXT]
    return value or None


def _choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = args.get(name)
    return value if value in allowed else None


def _seconds(args: Mapping[str, str], name: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw.isdigit():
        return None
    return min(int(raw), MAX_DURATION_S)


def parse_segment(args: Mapping[str, str]) -> Segment:
    country = (args.get("country") or "").strip()
    metadata_key = _text(args, "metadata_key")
    if metadata_key is not None and not _METADATA_KEY.match(metadata_key):
        metadata_key = None
    return Segment(
        browser=_choice(args, "browser", BROWSERS),
        device=_choice(args, "device", DEVICES),
        os=_choice(args, "os", OPERATING_SYSTEMS),
        country=country.upper() if _COUNTRY.match(country) else None,
        url_pattern=_text(args, "url_pattern"),
        event_tag=_text(args, "event_tag"),
        metadata_key=metadata_key,
        metadata_value=_text(args, "metadata_value") if metadata_key else None,
        metadata_match="contains" if args.get("metadata_match") == "contains" else "exact",
        has_errors=True if args.get("has_errors") in ("true", "1", "on") else None,
        min_duration_s=_seconds(args, "min_duration"),
        max_duration_s=_seconds(args, "max_duration"),
    )


def segment_params(segment: Segment) -> dict[str, str]:
    """The query string of a segment (what links to it carry)."""
    out: dict[str, Any] = {
        "browser": segment.browser, "device": segment.device, "os": segment.os,
        "country": segment.country, "url_pattern": segment.url_pattern,
        "event_tag": segment.event_tag,
        "metadata_key": segment.metadata_key, "metadata_value": segment.metadata_value,
        "metadata_match": "contains" if segment.metadata_key and
        segment.metadata_match == "contains" else None,
        "has_errors": "true" if segment.has_errors else None,
        "min_duration": segment.min_duration_s, "max_duration": segment.max_duration_s,
    }
    return {k: str(v) for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class RangeParams:
    """The range as asked (for the form and the links between analytics pages)."""

    period: Period
    since_raw: str
    until_raw: str
    preset: int

    def params(self) -> dict[str, str]:
        if self.since_raw or self.until_raw:
            return {k: v for k, v in (("since", self.since_raw), ("until", self.until_raw)) if v}
        return {"range": str(self.preset)} if self.preset != DEFAULT_PRESET else {}

    def period_params(self) -> dict[str, str]:
        """The range as explicit UTC dates: what a link to another page's list carries, so
        it shows the sessions the number counted whatever that page's default range."""
        p = self.period
        out = {}
        if p.since is not None:
            out["since"] = p.since.date().isoformat() if p.preset else self.since_raw
        if p.until is not None:
            out["until"] = p.until.date().isoformat() if p.preset else self.until_raw
        return out

    @property
    def since_value(self) -> str:
        return _date_value(self.since_raw)

    @property
    def until_value(self) -> str:
        return _date_value(self.until_raw)


def parse_range(args: Mapping[str, str], default_preset: int | None = DEFAULT_PRESET
                ) -> RangeParams:
    since_raw = (args.get("since") or "").strip()
    until_raw = (args.get("until") or "").strip()
    since = parse_bound(since_raw, end=False)
    until = parse_bound(until_raw, end=True)
    asked = parse_int(args.get("range"), 0)
    if since is not None and until is not None and since > until:
        since = until = None
    period = resolve_period(since, until, asked if asked in PRESETS else None,
                            default_preset=default_preset)
    preset = period.preset or (asked if asked in PRESETS else DEFAULT_PRESET)
    return RangeParams(period, since_raw if since else "", until_raw if until else "", preset)


def parse_goal(args: Mapping[str, str]) -> tuple[str, str]:
    """A conversion goal as asked (the conversions page and the conversions export):
    ``tag`` (the original's) or ``url`` (a page URL pattern), which wins when both are given.
    The value is checked by :func:`sentiero.analytics.funnel.make_step`."""
    url = (args.get("url") or "").strip()[:MAX_URL_PARAM]
    if url:
        return "url", url
    return "tag", (args.get("tag") or "").strip()[:1000]
