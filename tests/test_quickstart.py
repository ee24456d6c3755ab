"""docs/quickstart.md, followed word for word: each framework section's files (the code blocks
with a ``title="path"``) are written into an empty folder, run as the section says, and do what
it promises: the page carries the recorder, the events endpoint stores, and the dashboard asks
for the login the section set up, then shows the visit."""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "docs" / "quickstart.md"
CHECK = b'{"sessionId":"test","windowId":"test","events":[{"type":4,"timestamp":1}]}'
PASSWORD = "a long password for tests"
BLOCK = re.compile(r'```\w+ title="([^"]+)"( append)?\n(.*?)```', re.S)


def section(title: str) -> list[tuple[str, bool, str]]:
    text = QUICKSTART.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return [(m[1], bool(m[2]), m[3]) for m in BLOCK.finditer(text[start:end])]


def write_files(folder: Path, title: str) -> list[str]:
    written = []
    for name, append, code in section(title):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if append:
            path.write_text(path.read_text() + "\n" + code)
        else:
            path.write_text(code)
        written.append(name)
    return written


def import_file(path: Path) -> ModuleType:
    name = f"quickstart_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the sections use the default ./sentiero.db and templates/
    monkeypatch.setenv("SENTIERO_PASSWORD", PASSWORD)
    return tmp_path


def test_flask_section(folder: Path) -> None:
    pytest.importorskip("flask")
    assert write_files(folder, "Flask") == ["app.py", "templates/home.html"]
    client = import_file(folder / "app.py").app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<script src="/sentiero/assets/recorder-\w+\.js" defer>', page)
    assert client.post("/sentiero/events", data=CHECK,
                       content_type="application/json").get_json() == {"status": "ok"}
    prompt = client.get("/sentiero/")
    assert prompt.status_code == 401
    assert prompt.headers["WWW-Authenticate"] == 'Basic realm="Sentiero"'
    assert client.get("/sentiero/", headers=basic("admin", "any password")).status_code == 401
    listing = client.get("/sentiero/", headers=basic("admin", PASSWORD))
    assert listing.status_code == 200 and "test" in listing.get_data(as_text=True)


def test_fastapi_section(folder: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    assert write_files(folder, "FastAPI and Starlette") == ["main.py", "templates/home.html"]
    with TestClient(import_file(folder / "main.py").app) as client:
        assert re.search(r'<script src="/sentiero/assets/recorder-\w+\.js" defer>',
                         client.get("/").text)
        posted = client.post("/sentiero/events", content=CHECK,
                             headers={"Content-Type": "application/json"})
        assert posted.json() == {"status": "ok"}
        assert client.get("/sentiero/").headers["WWW-Authenticate"] == 'Basic realm="Sentiero"'
        listing = client.get("/sentiero/", headers=basic("admin", PASSWORD))
        assert listing.status_code == 200 and "test" in listing.text


def test_litestar_section(folder: Path) -> None:
    pytest.importorskip("litestar")
    from litestar.testing import TestClient

    assert write_files(folder, "Litestar") == ["app.py"]
    with TestClient(import_file(folder / "app.py").app) as client:
        assert "/sentiero/assets/recorder-" in client.get("/").text
        posted = client.post("/sentiero/events", content=CHECK,
                             headers={"Content-Type": "application/json"})
        assert posted.json() == {"status": "ok"}
        assert client.get("/sentiero/").headers["WWW-Authenticate"] == 'Basic realm="Sentiero"'
        listing = client.get("/sentiero/", headers=basic("admin", PASSWORD))
        assert listing.status_code == 200 and "test" in listing.text


def test_wsgi_section(folder: Path) -> None:
    from werkzeug.test import Client

    assert write_files(folder, "Any other WSGI app") == ["wsgi.py"]
    client = Client(import_file(folder / "wsgi.py").application)
    assert "/sentiero/assets/recorder-" in client.get("/").get_data(as_text=True)
    assert client.post("/sentiero/events", data=CHECK,
                       content_type="application/json").status_code == 200
    assert client.get("/sentiero/").status_code == 401
    assert client.get("/sentiero/", headers=basic("admin", PASSWORD)).status_code == 200


def test_django_section(folder: Path) -> None:
    """startproject, the section's edits, migrate, a staff user, gunicorn: then a browser's
    path through it (page, events, login redirect, admin login with Django's CSRF, dashboard)."""
    pytest.importorskip("django")
    import httpx

    from tests import django_example

    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(folder)],
                   check=True, capture_output=True, timeout=60)
    assert write_files(folder, "Django") == ["mysite/settings.py", "mysite/urls.py",
                                            "templates/home.html"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def manage(*args: str) -> None:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    manage("check")
    manage("migrate", "--noinput", "-v", "0")
    manage("shell", "-c", "from django.contrib.auth.models import User; "
                          f"User.objects.create_superuser('boss', password={PASSWORD!r})")
    with django_example.serve(env, "wsgi", project=folder, package="mysite") as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        assert "/sentiero/assets/recorder-" in client.get("/").text
        posted = client.post("/sentiero/events", content=CHECK,
                             headers={"Content-Type": "application/json"})
        assert posted.json() == {"status": "ok"}
        anonymous = client.get("/sentiero/")
        assert anonymous.status_code == 302
        assert anonymous.headers["Location"] == "/admin/login/?next=/sentiero/"
        client.get("/admin/login/")
        logged_in = client.post("/admin/login/?next=/sentiero/", data={
            "username": "boss", "password": PASSWORD, "next": "/sentiero/",
            "csrfmiddlewaretoken": client.cookies["csrftoken"]})
        assert logged_in.headers["Location"] == "/sentiero/"
        listing = client.get("/sentiero/")
        assert listing.status_code == 200 and "test" in listing.text
