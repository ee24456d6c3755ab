"""Helpers of the replay-page browser tests: recordings stored through the real events
endpoint (so facts are derived as in production), and a running dashboard."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rrweb"


def fixture(name: str) -> dict[str, Any]:
    return json.loads(gzip.decompress((FIXTURES / f"{name}.json.gz").read_bytes()))


def mounted(sentiero: Any) -> Any:
    """The dashboard at /sentiero, as a host app mounts it (404 elsewhere)."""
    return DispatcherMiddleware(Response("not here", status=404),
                                {sentiero.settings.prefix: sentiero.wsgi_app})


def post_events(app: Any, session_id: str, window_id: str, events: list[dict[str, Any]],
                per_batch: int = 10, metadata: dict[str, Any] | None = None) -> None:
    """Send `events` as the recorder would: numbered batches to POST /sentiero/events."""
    client = Client(app)
    for seq, start in enumerate(range(0, len(events), per_batch)):
        body: dict[str, Any] = {"sessionId": session_id, "windowId": window_id, "seq": seq,
                                "events": events[start:start + per_batch]}
        if seq == 0 and metadata:
            body["metadata"] = metadata
        response = client.post("/sentiero/events", data=orjson.dumps(body),
                               content_type="application/json",
                               headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) "
                                        "AppleWebKit/537.36 (KHTML, like Gecko) "
                                        "Chrome/126.0 Safari/537.36"})
        assert response.status_code in (200, 202, 204), response.get_data(as_text=True)


def wait_for_replay(page: Any, timeout: float = 15_000) -> None:
    page.wait_for_selector("#sentiero-player iframe", timeout=timeout)
    page.wait_for_function(
        "() => ['playing', 'paused'].includes(document.body.dataset.replayState)",
        timeout=timeout)


def pause(page: Any) -> None:
    page.evaluate("() => window.__sentieroPlayer.player.pause()")


def current_ms(page: Any) -> float:
    return float(page.evaluate("() => window.__sentieroPlayer.currentTime()"))


def snapshot_events(ts: int, label: str) -> list[dict[str, Any]]:
    """A Meta + FullSnapshot of a tiny page whose <p id="where"> says `label` (node 6 is the
    text node later mutations update)."""
    return [
        {"type": 4, "timestamp": ts, "data": {"href": "https://long.test/", "width": 800,
                                               "height": 600}},
        {"type": 2, "timestamp": ts, "data": {"initialOffset": {"left": 0, "top": 0}, "node": {
            "type": 0, "id": 1, "childNodes": [
                {"type": 2, "id": 2, "tagName": "html", "attributes": {}, "childNodes": [
                    {"type": 2, "id": 3, "tagName": "body", "attributes": {}, "childNodes": [
                        {"type": 2, "id": 4, "tagName": "h1", "attributes": {}, "childNodes": [
                            {"type": 3, "id": 5, "textContent": "Long recording"}]},
                        {"type": 2, "id": 7, "tagName": "p", "attributes": {"id": "where"},
                         "childNodes": [{"type": 3, "id": 6, "textContent": label}]},
                    ]},
                ]},
            ]}}},
    ]


def long_recording(start: int, minutes: int, checkout_every: int = 10
                   ) -> list[list[dict[str, Any]]]:
    """One batch per recorded minute; every `checkout_every` minutes a new full snapshot (as
    rrweb's checkoutEveryNms makes). The page text says "minute N" as time goes by."""
    batches = []
    for minute in range(minutes):
        t0 = start + minute * 60_000
        batch: list[dict[str, Any]] = []
        if minute % checkout_every == 0:
            batch += snapshot_events(t0, f"minute {minute}")
        for second in range(0, 60, 5):
            batch.append({"type": 3, "timestamp": t0 + second * 1000 + 1, "data": {
                "source": 0, "adds": [], "removes": [], "attributes": [],
                "texts": [{"id": 6, "value": f"minute {minute}"}]}})
        batches.append(batch)
    return batches


def post_batches(app: Any, session_id: str, window_id: str,
                 batches: list[list[dict[str, Any]]]) -> None:
    client = Client(app)
    for seq, events in enumerate(batches):
        body = {"sessionId": session_id, "windowId": window_id, "seq": seq, "events": events}
        response = client.post("/sentiero/events", data=orjson.dumps(body),
                               content_type="application/json")
        assert response.status_code in (200, 202, 204), response.get_data(as_text=True)
