"""pytest helpers for apps that report to Sentiero.

Add ``pytest_plugins = ["sentiero.testing"]`` to your ``conftest.py`` and use the
``sentiero_reports`` fixture: while it is active, ``sentiero.reporter`` (sentry-sdk set up
with Sentiero's privacy defaults and replay linkage) captures what it would send instead of
sending it::

    def test_checkout_error_is_reported(client, sentiero_reports):
        client.post("/checkout", data={"password": "x"})
        [event] = sentiero_reports.events
        assert event["exception"]["values"][-1]["type"] == "CardDeclined"
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class CapturedReports:
    """What would have been sent: error ``events`` (after ``before_send``) and ``tracks``
    (the payloads of ``sentiero.reporter.track``)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    tracks: list[dict[str, Any]] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)

    def clear(self) -> None:
        self.events.clear()
        self.tracks.clear()
        self.envelopes.clear()


def capture_reports(**options: Any) -> tuple[CapturedReports, Any]:
    """Start the reporter with a capturing transport; returns (captured, the previous
    client to restore). ``options`` go to ``sentiero.reporter.init``."""
    import sentry_sdk
    from sentry_sdk.transport import Transport

    from sentiero import reporter

    captured = CapturedReports()

    class CaptureTransport(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            captured.envelopes.append(envelope)
            for item in envelope.items:
                kind = item.headers.get("type")
                if kind == "event" and item.payload.json is not None:
                    captured.events.append(item.payload.json)
                elif kind == reporter.TRACK_ITEM and item.payload.json is not None:
                    captured.tracks.append(item.payload.json)

    previous = sentry_sdk.get_client()
    options.setdefault("dsn", "http://snt_000000000000_00000000000000000000000000000000"
                              "@127.0.0.1/sentiero/1")
    reporter.init(transport=CaptureTransport, **options)
    return captured, previous


@pytest.fixture
def sentiero_reports() -> Iterator[CapturedReports]:
    import sentry_sdk

    captured, previous = capture_reports()
    try:
        yield captured
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(previous)
