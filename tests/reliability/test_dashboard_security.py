"""Dashboard security over the route table, present and future routes alike: every dashboard
route refuses without auth; every state-changing one refuses without a valid CSRF token,
with a planted-cookie token and with a forged one, changing nothing; every answer (pages,
redirects, refusals, 404s, errors) carries the security headers."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.app import Sentiero
from sentiero.stores.base import Batch, SessionQuery
from sentiero.stores.memory import MemoryStore
from sentiero.web.application import Route
from tests.web.support import FAKE_MANIFEST, PREFIX, MountedClient

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:secret").decode()}
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
META = [{"type": 4, "timestamp": 1000, "data": {"href": "https://a.test/"}}]


@pytest.fixture
def assets(tmp_path: Path) -> str:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "manifest.json").write_bytes(orjson.dumps(FAKE_MANIFEST))
    for name in FAKE_MANIFEST.values():
        (dist / name).write_text("/* */\n")
    return str(dist)


def make(assets: str, store: Any = None) -> tuple[Sentiero, MountedClient]:
    if store is None:
        store = MemoryStore()
        store.save_batch(Batch("s1", "w1", META, seq=0))
    app = Sentiero(store=store, basic_auth=("admin", "secret"), assets_dir=assets)
    return app, MountedClient(app.wsgi_app)


def url_of(app: Sentiero, route: Route) -> str:
    adapter = app.wsgi_app.url_map.bind("localhost", script_name=PREFIX)
    rule = next(r for r in app.wsgi_app.url_map.iter_rules() if r.endpoint == route.endpoint)
    values = {name: {"sid": "s1", "wid": "w1", "filename": "recorder-ABCD1234.js"}.get(
        name, "1") for name in rule.arguments}  # "1" suits str and int converters
    return adapter.build(route.endpoint, values)[len(PREFIX):]


def dashboard_routes(app: Sentiero) -> list[Route]:
    return [r for r in app.wsgi_app.routes.values() if not r.public]


def assert_security_headers(response: Any, where: str) -> None:
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    assert "default-src 'self'" in headers.get("Content-Security-Policy", ""), where
    assert headers.get("Cache-Control") == "no-store", where


def stored(app: Sentiero) -> Any:
    return [(s.session_id, s.event_count, s.window_ids)
            for s in app.store.list_sessions(SessionQuery(limit=100))]


def test_the_route_table_has_dashboard_routes_that_change_state(assets: str) -> None:
    app, _ = make(assets)
    changing = [r for r in dashboard_routes(app) if set(r.methods) & set(STATE_CHANGING)]
    assert len(dashboard_routes(app)) >= 6 and len(changing) >= 3


def test_every_dashboard_route_refuses_without_auth(assets: str) -> None:
    app, client = make(assets)
    before = stored(app)
    for route in dashboard_routes(app):
        path = url_of(app, route)
        for method in route.methods:
            response = client.open(path, method=method)
            where = f"{method} {path}"
            assert response.status_code == 401, where
            assert response.headers["WWW-Authenticate"].startswith("Basic"), where
            assert_security_headers(response, where)
            wrong = client.open(path, method=method, headers={
                "Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()})
            assert wrong.status_code == 401, where
    assert stored(app) == before


def test_every_state_changing_route_needs_a_valid_token(assets: str) -> None:
    app, client = make(assets)
    client.get("/", headers=AUTH)
    real = client.get_cookie("sentiero_csrf", path=PREFIX + "/").value
    nonce = real.split(".")[0]
    before = stored(app)
    attempts = [
        ("no token", None, None),
        ("planted cookie, same value in the form", "attacker", "attacker"),
        ("planted well-formed token", "0" * 32 + "." + "0" * 64, "0" * 32 + "." + "0" * 64),
        ("real nonce, forged signature", f"{nonce}.{'a' * 64}", f"{nonce}.{'a' * 64}"),
        ("real cookie, no form field", real, None),
        ("real cookie, other form value", real, new_nonce_token(nonce)),
    ]
    for route in dashboard_routes(app):
        path = url_of(app, route)
        for method in set(route.methods) & set(STATE_CHANGING):
            for name, cookie, field in attempts:
                if cookie is None:
                    client.delete_cookie("sentiero_csrf", path=PREFIX + "/")
                else:
                    client.set_cookie("sentiero_csrf", cookie, path=PREFIX + "/")
                data = {"csrf_token": field, "session_ids": "s1"} if field else {
                    "session_ids": "s1"}
                response = client.open(path, method=method, data=data, headers=AUTH)
                where = f"{method} {path} with {name}"
                assert response.status_code == 403, where
                assert_security_headers(response, where)
                assert stored(app) == before, where
            # the query string never carries the token
            client.set_cookie("sentiero_csrf", real, path=PREFIX + "/")
            response = client.open(f"{path}?csrf_token={real}", method=method, headers=AUTH)
            assert response.status_code == 403, f"{method} {path} token in the query"
    assert stored(app) == before


def new_nonce_token(nonce: str) -> str:
    return ("f" if nonce[0] != "f" else "e") + nonce[1:] + "." + "b" * 64


def test_every_answer_carries_the_security_headers(assets: str) -> None:
    app, client = make(assets)
    seen: set[int] = set()
    for route in dashboard_routes(app):
        for method in route.methods:
            response = client.open(url_of(app, route), method=method, headers=AUTH)
            seen.add(response.status_code)
            assert_security_headers(response, f"{method} {route.rule}")
    for path in ("/nope", "/sessions/s1/windows/w1/nope", "/assets/missing.js"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 404
        assert_security_headers(response, path)

    class Broken(MemoryStore):
        def list_sessions(self, query: Any) -> Any:
            raise RuntimeError("down")

        def get_session(self, session_id: str) -> Any:
            raise RuntimeError("down")

    broken_app, broken = make(assets, Broken())
    for route in dashboard_routes(broken_app):
        if "GET" in route.methods:
            response = broken.get(url_of(broken_app, route), headers=AUTH)
            seen.add(response.status_code)
            assert_security_headers(response, f"GET {route.rule} (store down)")
    assert {200, 302, 403, 500} <= seen, seen


def test_public_routes_need_no_auth_and_send_nosniff(assets: str) -> None:
    app, client = make(assets)
    for route in app.wsgi_app.routes.values():
        if route.public and "GET" in route.methods and route.endpoint != "events":
            response = client.get(url_of(app, route))
            assert response.status_code in (200, 204, 404, 405), route.rule
            assert response.headers["X-Content-Type-Options"] == "nosniff", route.rule
