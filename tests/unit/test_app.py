"""The Sentiero object: options, store wiring, WSGI/ASGI apps."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from sentiero.app import Sentiero
from sentiero.settings import ConfigurationError, Settings
from sentiero.stores.base import SessionQuery
from sentiero.stores.memory import MemoryStore


class SetupRecordingStore(MemoryStore):
    setups = 0

    def setup(self) -> None:
        self.setups += 1


def test_options_become_settings() -> None:
    app = Sentiero(store=MemoryStore(), capture_errors=True, prefix="/rec")
    assert isinstance(app.settings, Settings)
    assert app.settings.capture_errors and app.settings.prefix == "/rec"


def test_options_override_a_settings_object() -> None:
    base = Settings(prefix="/rec", capture_errors=True)
    app = Sentiero(store=MemoryStore(), settings=base, capture_errors=False)
    assert app.settings.prefix == "/rec" and app.settings.capture_errors is False


def test_invalid_options_raise_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Sentiero(store=MemoryStore(), max_body_bytes=0)
    with pytest.raises(TypeError):
        Sentiero(store=MemoryStore(), not_an_option=1)


def test_store_gets_limits_and_setup() -> None:
    store = SetupRecordingStore()
    app = Sentiero(store=store, max_sessions=10, max_events_per_session=500)
    assert app.store is store and store.setups == 1
    assert (store.limits.max_sessions, store.limits.max_events_per_session) == (10, 500)


def test_store_from_url_when_none_is_given() -> None:
    app = Sentiero(store_url="memory://")
    assert isinstance(app.store, MemoryStore)


def test_wsgi_app_is_cached_and_the_object_is_wsgi(tmp_path: Path) -> None:
    app = Sentiero(store=MemoryStore(), allow_open_dashboard=True, assets_dir=str(tmp_path))
    assert app.wsgi_app is app.wsgi_app
    response = Client(app).post("/events", json={"sessionId": "test", "windowId": "test",
                                                 "events": [{"type": 4, "timestamp": 1}]})
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_asgi_app_serves_the_same_routes() -> None:
    app = Sentiero(store=MemoryStore())
    asgi = app.asgi_app
    assert asgi is app.asgi_app
    messages: list[dict[str, Any]] = []
    body = b'{"sessionId":"test","windowId":"test","events":[{"type":4,"timestamp":1}]}'

    async def run() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/events", "raw_path": b"/events",
                 "root_path": "", "query_string": b"", "server": ("testserver", 80),
                 "client": ("127.0.0.1", 1234),
                 "headers": [(b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())]}
        await asgi(scope, receive, send)

    # In a thread of its own: a session-wide Playwright loop may be running in this one.
    worker = threading.Thread(target=asyncio.run, args=(run(),))
    worker.start()
    worker.join(timeout=30)
    assert messages[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in messages[1:]) == b'{"status":"ok"}'
    assert len(app.store.list_sessions(SessionQuery())) == 1


def test_a_bad_store_url_is_reported_without_its_password() -> None:
    from sentiero.stores import open_store

    with pytest.raises(ValueError) as refused:
        open_store("bogus://admin:s3cret-pw@db.example/sentiero")
    assert "s3cret-pw" not in str(refused.value)
    assert "bogus://admin:***@db.example/sentiero" in str(refused.value)
