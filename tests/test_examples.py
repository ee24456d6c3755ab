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
    pytest.importorskip("flask_login", reason="a test dependency: pip install -e .[dev]")
    monkeypatch.setenv("SHOP_ADMIN_PASSWORD", "admin-pw-for-tests")
    example = load("flask_app", tmp_path, monkeypatch)
    client = example.app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'id="sentiero-config"' in page and "/sentiero/assets/recorder-" in page
    answer = client.post("/sentiero/events", data=CURL_CHECK, content_type="application/json")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    anonymous = client.get("/sentiero/")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=%2Fsentiero%2F"
    wrong = client.post("/login?next=/sentiero/", data={"username": "admin", "password": "x"})
    assert wrong.status_code == 401 and "Wrong user or password" in wrong.get_data(as_text=True)
    assert client.get("/sentiero/").status_code == 302
    ok = client.post("/login?next=/sentiero/",
                     data={"username": "admin", "password": "admin-pw-for-tests"})
    assert ok.status_code == 302 and ok.headers["Location"] == "/sentiero/"
    listing = client.get("/sentiero/")
    assert listing.status_code == 200 and "test" in listing.get_data(as_text=True)
    evil = client.post("/login?next=//evil.example/",
                       data={"username": "admin", "password": "admin-pw-for-tests"})
    assert evil.headers["Location"] == "/"
    assert len(example.sentiero.store.list_sessions(SessionQuery())) == 1


def test_flask_example_refuses_to_start_without_a_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("flask_login", reason="a test dependency: pip install -e .[dev]")
    monkeypatch.delenv("SHOP_ADMIN_PASSWORD", raising=False)
    with pytest.raises(KeyError, match="SHOP_ADMIN_PASSWORD"):
        load("flask_app", tmp_path, monkeypatch)


def test_fastapi_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi", reason="FastAPI is a test dependency: pip install -e .[dev]")
    from fastapi.testclient import TestClient

    example = load("fastapi_app", tmp_path, monkeypatch)
    with TestClient(example.app) as client:
        assert "/sentiero/assets/recorder-" in client.get("/").text
        answer = client.post("/sentiero/events", content=CURL_CHECK,
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        refused = client.get("/sentiero/")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Basic realm="Sentiero"'
        token = base64.b64encode(b"admin:pw-for-tests").decode()
        listing = client.get("/sentiero/", headers={"Authorization": f"Basic {token}"})
        assert listing.status_code == 200 and "test" in listing.text


def test_litestar_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("litestar", reason="Litestar is a test dependency: pip install -e .[dev]")
    from litestar.testing import TestClient

    example = load("litestar_app", tmp_path, monkeypatch)
    with TestClient(example.app) as client:
        assert "/sentiero/assets/recorder-" in client.get("/").text
        answer = client.post("/sentiero/events", content=CURL_CHECK,
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        refused = client.get("/sentiero/")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Basic realm="Sentiero"'
        token = base64.b64encode(b"admin:pw-for-tests").decode()
        listing = client.get("/sentiero/", headers={"Authorization": f"Basic {token}"})
        assert listing.status_code == 200 and 'href="/sentiero/sessions/test"' in listing.text


def test_plain_wsgi_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = load("wsgi_app", tmp_path, monkeypatch)
    client = Client(example.application)
    assert "/sentiero/assets/recorder-" in client.get("/").get_data(as_text=True)
    answer = client.post("/sentiero/events", data=CURL_CHECK, content_type="application/json")
    assert answer.status_code == 200
    assert client.get("/sentiero/").status_code == 401


@pytest.mark.parametrize("interface", ["wsgi", "asgi"])
def test_django_example_under_wsgi_and_asgi(interface: str, tmp_path: Path) -> None:
    """The Django project, served by gunicorn and by uvicorn: the events endpoint stores in the
    project's database; the dashboard sends anonymous users to the admin login, refuses
    non-staff users, and shows staff users the session; a Django login (with Django's CSRF)
    and Sentiero's pages live side by side."""
    pytest.importorskip("django")
    import httpx

    from tests import django_example as project

    env = project.prepare(tmp_path)
    with project.serve(env, interface) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert "/sentiero/assets/recorder-" in client.get("/").text
        answer = client.post("/sentiero/events", content=CURL_CHECK,
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        anonymous = client.get("/sentiero/")
        assert anonymous.status_code == 302
        assert anonymous.headers["Location"] == "/accounts/login/?next=/sentiero/"
        for (user, password), status in ((project.VISITOR, 403), (project.STAFF, 200)):
            client.cookies.clear()
            form = client.get("/accounts/login/?next=/sentiero/")
            token = client.cookies["csrftoken"]
            assert token and "csrfmiddlewaretoken" in form.text
            logged_in = client.post("/accounts/login/", data={
                "username": user, "password": password, "csrfmiddlewaretoken": token,
                "next": "/sentiero/"})
            assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/sentiero/"
            listing = client.get("/sentiero/")
            assert listing.status_code == status
        assert "test" in listing.text
    assert '"session_id":"test"' in project.manage(env, "sentiero_export")
