"""The Flask extension: Sentiero(app, ...) / init_app, options from app.config, the mount as a
blueprint running in Flask's request context (auth sees flask.request and Flask-Login's
current_user), the Jinja global and `flask sentiero ...` commands."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

flask = pytest.importorskip("flask", reason="Flask is a test dependency: pip install -e .[dev]")

from flask import Flask, render_template_string, request  # noqa: E402

from sentiero.contrib.flask import Sentiero  # noqa: E402
from sentiero.stores.base import SessionQuery  # noqa: E402
from sentiero.stores.memory import MemoryStore  # noqa: E402

EVENTS = b'{"sessionId":"fl-1","windowId":"w1","seq":0,"events":[{"type":4,"timestamp":1}]}'
PAGE = "<!doctype html><html><head>{{ sentiero_script_tag() }}</head><body>Shop</body></html>"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def make_app(**options: Any) -> tuple[Flask, Sentiero]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "tests"
    ext = Sentiero(app, store=MemoryStore(), **options)

    @app.get("/")
    def home() -> str:
        return render_template_string(PAGE)

    return app, ext


def test_page_events_and_basic_auth() -> None:
    app, ext = make_app(basic_auth=("admin", "pw"))
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<script src="/sentiero/assets/recorder-\w+\.js" defer>', page)
    answer = client.post("/sentiero/events", data=EVENTS, content_type="application/json")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    refused = client.get("/sentiero/")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="Sentiero"'
    assert client.get("/sentiero/", headers=basic("admin", "wrong")).status_code == 401
    listing = client.get("/sentiero/", headers=basic("admin", "pw"))
    assert listing.status_code == 200 and "fl-1" in listing.get_data(as_text=True)
    assert len(ext.store.list_sessions(SessionQuery())) == 1


def test_init_app_with_options_from_config_and_a_prefix_of_its_own() -> None:
    app = Flask(__name__)
    app.config["SENTIERO_BASIC_AUTH"] = ("ops", "secret")
    app.config["SENTIERO_CAPTURE_CLICKS"] = True
    ext = Sentiero(store=MemoryStore(), url_prefix="/rec")
    ext.init_app(app)
    assert ext.core is not None and ext.core.settings.capture_clicks is True
    client = app.test_client()
    assert client.post("/rec/events", data=EVENTS,
                       content_type="application/json").status_code == 200
    page = client.get("/rec/sessions/fl-1/windows/w1", headers=basic("ops", "secret"))
    assert page.status_code == 200
    assert "/rec/api/sessions/fl-1/windows/w1/events" in page.get_data(as_text=True)
    with app.test_request_context("/", base_url="http://localhost/shop/"):
        assert '"eventsUrl":"/shop/rec/events"' in str(ext.script_tag())


def test_auth_callable_gets_the_flask_request() -> None:
    seen: list[Any] = []

    def auth(req: Any) -> bool:
        seen.append(req)
        return request.headers.get("X-Staff") == "yes"

    app, _ext = make_app(auth=auth)
    client = app.test_client()
    assert client.get("/sentiero/").status_code == 403
    assert client.get("/sentiero/", headers={"X-Staff": "yes"}).status_code == 200
    assert seen and all(isinstance(r, flask.Request) for r in seen)


def test_flask_login_sends_anonymous_users_to_the_login_view() -> None:
    flask_login = pytest.importorskip("flask_login")
    from flask_login import LoginManager, UserMixin, current_user, login_user

    class User(UserMixin):
        def __init__(self, name: str) -> None:
            self.id = name

    app, _ext = make_app(auth=lambda req: current_user.id == "admin")
    login = LoginManager(app)
    login.login_view = "login"
    login.user_loader(User)

    @app.get("/login")
    def login() -> str:
        login_user(User(request.args["name"]))
        return "ok"

    client = app.test_client()
    anonymous = client.get("/sentiero/sessions/x")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=%2Fsentiero%2Fsessions%2Fx"
    assert client.post("/sentiero/events", data=EVENTS,
                       content_type="application/json").status_code == 200
    client.get("/login?name=visitor")
    assert client.get("/sentiero/").status_code == 403
    client.get("/login?name=admin")
    assert client.get("/sentiero/").status_code == 200
    assert flask_login.current_user is not None


def test_flask_sentiero_commands_use_the_app_store() -> None:
    app, ext = make_app(basic_auth=("a", "b"))
    app.test_client().post("/sentiero/events", data=EVENTS, content_type="application/json")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sentiero", "erase", "--session", "fl-1", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Erased 1 session." in result.output
    assert ext.store.list_sessions(SessionQuery()) == []
    result = runner.invoke(args=["sentiero", "purge"])
    assert result.exit_code == 2 and "--older-than" in result.output
    assert runner.invoke(args=["sentiero", "purge", "--older-than", "30d"]).exit_code == 0
