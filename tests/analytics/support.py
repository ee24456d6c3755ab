"""Recorded sessions through the real ingest path (validate, scrub, redact, facts, store), for
analytics tests and the analytics benchmark."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from typing import Any

import orjson

from sentiero.ingest.pipeline import build_batch
from sentiero.settings import Settings
from sentiero.stores.base import Store
from tests.fixtures import RRWEB_DIR

BATCH_SIZE = 50


def load_recording(name: str) -> dict[str, Any]:
    return orjson.loads(gzip.decompress((RRWEB_DIR / f"{name}.json.gz").read_bytes()))


def ingest_recording(
    store: Store,
    name: str,
    session_id: str | None = None,
    *,
    settings: Settings | None = None,
    metadata: dict[str, Any] | None = None,
    user_agent: str | None = None,
    received_at: datetime | None = None,
    shift_ms: int = 0,
    recording: dict[str, Any] | None = None,
) -> str:
    """Post a fixture recording batch by batch as the recorder would; returns the session id.
    ``shift_ms`` moves every timestamp (to spread sessions over days)."""
    settings = settings or Settings(allow_open_dashboard=True)
    recording = recording or load_recording(name)
    sid = session_id or recording["session_id"]
    ua = user_agent or recording["meta"].get("user_agent")
    when = received_at or datetime.now(timezone.utc)
    first = True
    for window in recording["windows"]:
        events = window["events"]
        for seq, start in enumerate(range(0, len(events), BATCH_SIZE)):
            part = [dict(e, timestamp=e["timestamp"] + shift_ms)
                    for e in events[start:start + BATCH_SIZE]]
            payload: dict[str, Any] = {"sessionId": sid, "windowId": window["window_id"],
                                       "events": part, "seq": seq}
            if first and metadata:
                payload["metadata"] = metadata
            first = False
            batch = build_batch(payload, settings, ua, load_window_state=store.get_window_state)
            batch.received_at = when
            store.save_batch(batch)
    return sid
