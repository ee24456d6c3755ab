"""Dashboard auth (basic, callable, open, fail closed), CSRF and security headers."""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

import pytest

from sentiero.stores.memory import MemoryStore
from sentiero.web.security import CSP, basic_credentials
from tests.web.support import PREFIX, csrf_from, save, stored_sessions

META = [{"type": 4, "timestamp": 1000, "data": {"href": "https://a.test/"}}]


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- auth ------------------------------------------------------------------------------------


def test_no_auth_configured_fails_closed_with_a_how_to(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app())
    for path in ("/", "/sessions/abc", "/api/sessions/a/windows/b/chunks"):
        response = client.get(path)
        assert response.status_code == 403, path
        text = response.get_data(as_text=True)
        assert "basic_auth" in text and "auth=" in text and "allow_open_dashboard" in text


def test_ingest_and_assets_need_no_auth(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app())
    response = client.post("/events", json={"sessionId": "s", "windowId": "w",
                                             "events": [{"type": 4, "timestamp": 1}]})
    assert response.status_code == 200


def test_open_dashboard(make_app: Any, client_for: Any) -> None:
    assert client_for(make_app(allow_open_dashboard=True)).get("/").status_code == 200


def test_basic_auth(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(basic_auth=("admin", "s3cret:x")))
    assert client.get("/", headers=basic("admin", "s3cret:x")).status_code == 200
    for headers in ({}, basic("admin", "wrong"), basic("Admin", "s3cret:x"),
                    basic("admin", "s3cret"), {"Authorization": "Bearer abc"},
                    {"Authorization": "Basic !!!not-base64"},
                    {"Authorization": "Basic YWRtaW4"}):
        response = client.get("/", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == 'Basic realm="Sentiero"'
        assert response.get_data(as_text=True) == "Unauthorized"


def test_basic_auth_takes_precedence_over_callable(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(basic_auth=("u", "p"), auth=lambda request: True))
    assert client.get("/").status_code == 401


def test_strict_base64() -> None:
    assert basic_credentials("Basic dTpw") == (b"u", b"p")
    assert basic_credentials("basic dTpw") == (b"u", b"p")
    assert basic_credentials("Basic dTpw\n!") is None
    assert basic_credentials("Basic dT pw") is None
    assert basic_credentials("Basic dQ==") is None  # no colon
    assert basic_credentials(None) is None


def test_auth_callable_receives_the_request(make_app: Any, client_for: Any) -> None:
    seen: list[Any] = []

    def auth(request: Any) -> bool:
        seen.append(request)
        return request.headers.get("X-Staff") == "yes"

    client = client_for(make_app(auth=auth, allow_open_dashboard=True))
    assert client.get("/", headers={"X-Staff": "yes"}).status_code == 200
    refused = client.get("/")
    assert refused.status_code == 403
    assert refused.get_data(as_text=True) == "Forbidden"
    assert seen[0].path == "/"


def test_auth_callable_gets_the_host_request_when_an_integration_provides_it(
    make_app: Any, client_for: Any
) -> None:
    marker = object()
    client = client_for(make_app(auth=lambda request: request is marker))
    response = client.get("/", environ_overrides={"SCRIPT_NAME": PREFIX,
                                                  "sentiero.host_request": marker})
    assert response.status_code == 200


def test_auth_callable_exception_is_403_and_logged(make_app: Any, client_for: Any,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    def auth(request: Any) -> bool:
        raise RuntimeError("db down")

    with caplog.at_level(logging.ERROR, logger="sentiero.web"):
        response = client_for(make_app(auth=auth)).get("/")
    assert response.status_code == 403
    assert "db down" not in response.get_data(as_text=True)
    assert any("auth callable raised" in r.getMessage() for r in caplog.records)


# --- headers ---------------------------------------------------------------------------------


def test_pages_carry_the_security_headers(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    for path in ("/", "/sessions/s1/windows/w1"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/").headers["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-src 'self' blob:"
    ) == CSP


def test_replay_page_lets_the_recorded_site_show_its_images_but_runs_only_our_scripts(
    make_app: Any, client_for: Any
) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    policy = client.get("/sessions/s1/windows/w1").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert "https:" in directives["img-src"] and "https:" in directives["font-src"]
    assert directives["default-src"] == "'self'"


def test_pages_have_no_inline_script(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    for path in ("/", "/sessions/s1/windows/w1"):
        html = client.get(path).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), "no inline event handlers"


def test_values_are_html_escaped(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", [{"type": 4, "timestamp": 1,
                              "data": {"href": "https://a.test/<script>x</script>"}}],
         metadata={"<b>key</b>": "<img src=x onerror=alert(1)>"},
         user_agent='"><script>alert(1)</script>', page_url="https://a.test/<i>")
    client = client_for(make_app(store, allow_open_dashboard=True))
    for path in ("/", "/sessions/s1/windows/w1"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "<b>key</b>" not in html


# --- CSRF ------------------------------------------------------------------------------------


def test_csrf_cookie_attributes(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    response = client.get("/")
    cookie = response.headers["Set-Cookie"]
    name_value = cookie.split(";")[0]
    assert name_value.startswith("sentiero_csrf=")
    token = name_value.split("=", 1)[1]
    assert len(token) == 64 and int(token, 16) >= 0
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert f"Path={PREFIX}/" in cookie
    assert "Secure" not in cookie
    assert f'name="csrf_token" value="{token}"' in response.get_data(as_text=True)


def test_csrf_cookie_is_secure_over_https(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(allow_open_dashboard=True))
    response = client.get("/", base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]


def test_csrf_token_is_kept_across_pages(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(allow_open_dashboard=True))
    first = csrf_from(client)
    assert csrf_from(client) == first, "several open tabs keep working"


def test_delete_without_or_with_wrong_csrf_is_403(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    token = csrf_from(client)
    for data, query in (({}, ""), ({"csrf_token": "0" * 64}, ""), ({"csrf_token": ""}, ""),
                        ({}, f"?csrf_token={token}")):
        response = client.post(f"/sessions/s1/delete{query}", data=data)
        assert response.status_code == 403
        assert response.get_data(as_text=True) == "Invalid CSRF token"
    client.delete_cookie("sentiero_csrf", path=PREFIX + "/")
    assert client.post("/sessions/s1/delete", data={"csrf_token": token}).status_code == 403
    assert len(stored_sessions(store)) == 1


def test_delete_with_csrf_works(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    token = csrf_from(client)
    response = client.post("/sessions/s1/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert stored_sessions(store) == []


def test_auth_is_checked_before_csrf(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, basic_auth=("u", "p")))
    assert client.post("/sessions/s1/delete", data={"csrf_token": "x"}).status_code == 401
    assert len(stored_sessions(store)) == 1
