"""The analytics test dataset: the five fixture recordings plus one synthetic session with Web
Vitals, custom events and navigation, each with a browser, device, country and plan. The
expected figures in the tests are derived from this table and tests/fixtures/README.md."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sentiero.settings import Settings
from sentiero.stores.base import Store
from tests.analytics.support import ingest_recording

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
SETTINGS = Settings(allow_open_dashboard=True, capture_errors=True)
NOW = datetime.now(timezone.utc)
# recording, user agent, plan, country
SESSIONS: list[tuple[str, str, str, str]] = [
    ("frustration-a", CHROME, "pro", "DE"),
    ("landing-a", FIREFOX, "free", "FR"),
    ("signup-b", IPHONE, "pro", "DE"),
    ("todo-a", CHROME, "free", "IT"),
    ("dashboard-a", CHROME, "team", "DE"),
]
SHOP = "https://shop.example"


def _vitals_recording(start_ms: int) -> dict[str, Any]:
    """One window: /a (LCP 1000 then 1200: the page view's last is 1200, good), /b, /a again
    (LCP 3000, poor); a custom event `added` with a number, a navigation click."""
    def meta(ts: int, path: str) -> dict[str, Any]:
        return {"type": 4, "timestamp": start_ms + ts,
                "data": {"href": SHOP + path, "width": 1440, "height": 900}}

    def custom(ts: int, tag: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"type": 5, "timestamp": start_ms + ts, "data": {"tag": tag, "payload": payload}}

    def perf(ts: int, value: float, rating: str) -> dict[str, Any]:
        return custom(ts, "__perf", {"metric": "LCP", "value": value, "rating": rating})

    events = [
        meta(0, "/a"), {"type": 2, "timestamp": start_ms + 1, "data": {}},
        perf(500, 1000, "good"), perf(900, 1200, "good"),
        custom(1000, "added", {"sku": "X-1", "qty": 2}),
        custom(1100, "navigation", {"url": SHOP + "/b", "text": "Next page"}),
        meta(2000, "/b"), meta(4000, "/a"), perf(4500, 3000, "poor"),
        custom(5000, "added", {"sku": "X-2", "qty": 1}),
    ]
    return {"session_id": "vitals-session", "meta": {},
            "windows": [{"window_id": "vw", "url": SHOP + "/a", "events": events}]}


def fill(store: Store, names: list[str] | None = None) -> dict[str, str]:
    """Ingest the dataset; returns {recording name: session id}."""
    ids = {}
    for name, ua, plan, country in SESSIONS:
        if names is not None and name not in names:
            continue
        ids[name] = ingest_recording(
            store, name, f"sess-{name}", settings=SETTINGS, user_agent=ua,
            metadata={"plan": plan, "geo_country": country}, received_at=NOW)
    if names is None or "vitals" in names:
        start = int((NOW - timedelta(minutes=5)).timestamp() * 1000)
        ids["vitals"] = ingest_recording(
            store, "vitals", "vitals-session", settings=SETTINGS, user_agent=CHROME,
            metadata={"plan": "pro", "geo_country": "US", "entry_url": SHOP + "/a"},
            received_at=NOW, recording=_vitals_recording(start))
    return ids
