"""Each example app under examples/ works as its README says: pages carry the recorder, the
events endpoint stores, and the dashboard is guarded by the example's auth."""

from __future__ import annotations

import base64
import importlib
from pathlib import Path

import pytest
from werkzeug.test import Client

from sentiero.stores.base import SessionQuery

CURL_CHECK = b'{"sessionId":"test","windowId":"test","events":[{"type":4,"timestamp":1}]}'


def load(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SENTIERO_STORE_URL", f"sqlite:///{tmp_path / 'example.db'}")
    monkeypatch.setenv("SENTIERO_PASSWORD", "pw-for-tests")
    monkeypatch.setenv("STAFF_TOKEN", "staff-token")
    module = importlib.import_module(f"examples.{name}")
    return importlib.reload(module)


def test_flask_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("flask", reason="Flask is a test dependency: pip install -e .[dev,flask]")
    example = load("flask_app", tmp_path, monkeypatch)
    client = Client(example.app)
    page = client.get("/").get_data(as_text=True)
    assert 'id="sentiero-config"' in page and "/sentiero/assets/recorder-" in page
    answer = client.post("/sentiero/events", data=CURL_CHECK, content_type="application/json")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    assert client.get("/sentiero/").status_code == 403
    assert client.get("/sentiero/", headers={"X-Staff-Token": "staff-token"}).status_code == 200
    assert len(example.sentiero.store.list_sessions(SessionQuery())) == 1


def test_fastapi_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi", reason="FastAPI is a test dependency: pip install -e .[dev]")
    from fastapi.testclient import TestClient

    example = load("fastapi_app", tmp_path, monkeypatch)
    with TestClient(example.app) as client:
        assert "/sentiero/assets/recorder-" in client.get("/").text
        answer = client.post("/sentiero/events", content=CURL_CHECK,
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        assert client.get("/sentiero/").status_code == 401
        token = base64.b64encode(b"admin:pw-for-tests").decode()
        listing = client.get("/sentiero/", headers={"Authorization": f"Basic {token}"})
        assert listing.status_code == 200 and "test" in listing.text


def test_plain_wsgi_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = load("wsgi_app", tmp_path, monkeypatch)
    client = Client(example.application)
    assert "/sentiero/assets/recorder-" in client.get("/").get_data(as_text=True)
    answer = client.post("/sentiero/events", data=CURL_CHECK, content_type="application/json")
    assert answer.status_code == 200
    assert client.get("/sentiero/").status_code == 401
