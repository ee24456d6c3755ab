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


def assert_page_headers(response: Any) -> None:
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_nothing_showing_recorded_data_is_cacheable(make_app: Any, client_for: Any) -> None:
    """Sessions list, replay page, redirects and the chunk index used to carry no
    Cache-Control: a shared or browser cache could keep recorded data after a delete."""
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    for path, status in (("/", 200), ("/?search=a", 200), ("/sessions/s1", 302),
                         ("/sessions/s1/windows/w1", 200), ("/sessions/s1/windows/nope", 404),
                         ("/api/sessions/s1/windows/w1/chunks", 200),
                         ("/api/sessions/s1/windows/w1/events", 200)):
        response = client.get(path)
        assert response.status_code == status, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert_page_headers(response)
    token = csrf_from(client)
    response = client.post("/sessions/s1/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Cache-Control"] == "no-store"


def test_refusals_not_found_and_errors_carry_the_security_headers(
        make_app: Any, client_for: Any, caplog: Any) -> None:
    class Broken(MemoryStore):
        def list_sessions(self, query: Any) -> Any:
            raise RuntimeError("boom")

    client = client_for(make_app(Broken(), basic_auth=("u", "p")))
    for response, status in ((client.get("/"), 401),
                             (client.get("/no/such/page"), 404),
                             (client.get("/assets/../../etc/passwd"), 404),
                             (client.post("/sessions/s1/delete", headers=basic("u", "p")), 403),
                             (client.get("/", headers=basic("u", "p")), 500)):
        assert response.status_code == status
        assert_page_headers(response)
        assert response.headers["Cache-Control"] == "no-store"


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
    assert re.fullmatch(r"[0-9a-f]{32}\.[0-9a-f]{64}", token), "nonce.signature"
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert f"Path={PREFIX}/" in cookie
    assert "Secure" not in cookie
    assert f'name="csrf_token" value="{token}"' in response.get_data(as_text=True)


def test_csrf_cookie_is_host_prefixed_and_secure_over_https(make_app: Any,
                                                            client_for: Any) -> None:
    """__Host-: the browser refuses the cookie unless Secure, host-only and Path=/, so a
    sibling subdomain or plain http cannot plant it."""
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    response = client.get("/", base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-sentiero_csrf=")
    assert "Secure" in cookie and "Path=/;" in cookie + ";" and "Domain" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    # over https only the __Host- cookie counts: a plain one (settable over http) does not
    client.set_cookie("sentiero_csrf", token, path=PREFIX + "/")
    client.delete_cookie("__Host-sentiero_csrf", path="/")
    response = client.post("/sessions/s1/delete", data={"csrf_token": token},
                           base_url="https://localhost")
    assert response.status_code == 403
    client.set_cookie("__Host-sentiero_csrf", token, path="/")
    response = client.post("/sessions/s1/delete", data={"csrf_token": token},
                           base_url="https://localhost")
    assert response.status_code == 302
    assert stored_sessions(store) == []


def test_a_planted_cookie_cannot_forge_a_token(make_app: Any, client_for: Any) -> None:
    """Whoever can set a cookie for the host used to pass by sending the same value in the
    form; a token now needs the server's signature."""
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    real = csrf_from(client)
    nonce = real.split(".")[0]
    for planted in ("attacker", "0" * 64, "0" * 32 + "." + "0" * 64, nonce + "." + "f" * 64,
                    real.upper(), real + "0"):
        client.set_cookie("sentiero_csrf", planted, path=PREFIX + "/")
        response = client.post("/sessions/s1/delete", data={"csrf_token": planted})
        assert response.status_code == 403, planted
    assert len(stored_sessions(store)) == 1


def test_a_token_is_bound_to_the_signed_in_user(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, auth=lambda request: True))
    alice = {"REMOTE_USER": "alice"}
    client.get("/", environ_overrides={**alice, "SCRIPT_NAME": PREFIX})
    token = client.get_cookie("sentiero_csrf", path=PREFIX + "/").value
    response = client.post("/sessions/s1/delete", data={"csrf_token": token},
                           environ_overrides={"REMOTE_USER": "bob", "SCRIPT_NAME": PREFIX})
    assert response.status_code == 403, "alice's token does not work for bob"
    assert len(stored_sessions(store)) == 1
    response = client.post("/sessions/s1/delete", data={"csrf_token": token},
                           environ_overrides={**alice, "SCRIPT_NAME": PREFIX})
    assert response.status_code == 302


def test_a_page_of_another_user_gets_a_fresh_token(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(auth=lambda request: True))
    client.get("/", environ_overrides={"REMOTE_USER": "alice", "SCRIPT_NAME": PREFIX})
    first = client.get_cookie("sentiero_csrf", path=PREFIX + "/").value
    client.get("/", environ_overrides={"REMOTE_USER": "bob", "SCRIPT_NAME": PREFIX})
    assert client.get_cookie("sentiero_csrf", path=PREFIX + "/").value != first


def test_tokens_verify_across_servers_sharing_secret_key(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    key = "k" * 32
    token = csrf_from(client_for(make_app(store, allow_open_dashboard=True, secret_key=key)))
    stranger = client_for(make_app(store, allow_open_dashboard=True))  # its own random key
    stranger.set_cookie("sentiero_csrf", token, path=PREFIX + "/")
    assert stranger.post("/sessions/s1/delete", data={"csrf_token": token}).status_code == 403
    peer = client_for(make_app(store, allow_open_dashboard=True, secret_key=key))
    peer.set_cookie("sentiero_csrf", token, path=PREFIX + "/")
    assert peer.post("/sessions/s1/delete", data={"csrf_token": token}).status_code == 302


def test_csrf_token_header_is_accepted_for_scripts(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    save(store, "s1", "w1", META)
    client = client_for(make_app(store, allow_open_dashboard=True))
    token = csrf_from(client)
    response = client.post("/sessions/s1/delete", headers={"X-CSRF-Token": token})
    assert response.status_code == 302


@pytest.mark.parametrize("bad", ["", "short", 123])
def test_secret_key_must_be_a_long_string(bad: Any) -> None:
    from sentiero.settings import ConfigurationError, Settings

    with pytest.raises(ConfigurationError, match="secret_key"):
        Settings(secret_key=bad)


def test_secret_key_from_the_environment() -> None:
    from sentiero.settings import Settings

    settings = Settings.from_env({"SENTIERO_SECRET_KEY": "s" * 40})
    assert settings.secret_key == "s" * 40
    assert "s" * 40 not in repr(settings)


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
