"""sentiero.reporter with the real sentry-sdk, real Flask and Starlette apps, reporting over
HTTP to a live Sentiero: grouping, replay linkage, privacy defaults, track(), the fixture."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import sentry_sdk
from werkzeug.serving import make_server

from sentiero import reporter
from sentiero.app import Sentiero
from sentiero.stores.memory import MemoryStore
from sentiero.testing import sentiero_reports  # noqa: F401 - the fixture under test
from sentiero.tracking import keys
from sentiero.tracking.models import ProblemQuery, ServerEventQuery

CARD = "4111 1111 1111 1111"


@pytest.fixture
def sentiero_server(tmp_path) -> Iterator[tuple[MemoryStore, str]]:
    """A live Sentiero (memory store) and the DSN of a fresh ingest key."""
    store = MemoryStore()
    app = Sentiero(store=store, allow_open_dashboard=True)
    key, _record = keys.create_key(store, "shop")
    outer = {"/sentiero": app.wsgi_app}

    def mounted(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/sentiero"):
            environ = {**environ, "SCRIPT_NAME": "/sentiero", "PATH_INFO": path[9:]}
            return outer["/sentiero"](environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"nope"]

    server = make_server("127.0.0.1", 0, mounted, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield store, f"http://{key}@127.0.0.1:{server.server_port}/sentiero/1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def restore_sdk() -> Iterator[None]:
    previous = sentry_sdk.get_client()
    yield
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(previous)


def flask_app() -> Any:
    from flask import Flask, request

    app = Flask("shop")

    @app.post("/checkout")
    def checkout() -> str:
        request.form.get("password")
        raise ValueError(f"card {request.form['card']} declined for order {request.form['order']}")

    @app.get("/ok")
    def ok() -> str:
        reporter.track("checkout_viewed", level="info", plan="pro", token="t0ps3cret")
        return "fine"

    return app


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the report")
        time.sleep(0.05)


def test_flask_errors_reach_sentiero_grouped_linked_and_private(sentiero_server,
                                                                 restore_sdk) -> None:
    from sentry_sdk.integrations.flask import FlaskIntegration

    store, dsn = sentiero_server
    assert reporter.init(dsn=dsn, integrations=[FlaskIntegration()], environment="test")
    client = flask_app().test_client()
    client.set_cookie("sentiero_sid", "sess-A")
    client.set_cookie("sentiero_wid", "win-A")
    client.set_cookie("session", "framework-session-secret")
    before = int(time.time() * 1000)
    for order in ("1001", "1002"):
        response = client.post("/checkout", data={"password": "hunter2", "card": CARD,
                                                  "order": order})
        assert response.status_code == 500
    sentry_sdk.flush(5)
    wait_for(lambda: store.list_problems(ProblemQuery())
             and store.list_problems(ProblemQuery())[0].count == 2)
    [problem] = store.list_problems(ProblemQuery())
    assert problem.exception_class == "ValueError" and problem.project == "shop"
    occurrences = store.list_occurrences(problem_id=problem.id)
    assert {(o.session_id, o.window_id) for o in occurrences} == {("sess-A", "win-A")}
    assert all(before <= o.replay_ms <= o.ts_ms + 1000 for o in occurrences)
    assert occurrences[0].path == "/checkout" and occurrences[0].environment == "test"
    assert any(f.get("function") == "checkout" for f in occurrences[0].frames)
    stored = orjson.dumps([o.to_dict() for o in occurrences] + [problem.to_dict()])
    for secret in (b"hunter2", CARD.encode(), b"4111111111111111", b"framework-session-secret",
                   b"127.0.0.1"):
        assert secret not in stored, secret


def test_track_goes_through_the_sdk_transport(sentiero_server, restore_sdk) -> None:
    from sentry_sdk.integrations.flask import FlaskIntegration

    store, dsn = sentiero_server
    reporter.init(dsn=dsn, integrations=[FlaskIntegration()])
    client = flask_app().test_client()
    client.set_cookie("sentiero_sid", "sess-T")
    client.set_cookie("sentiero_wid", "win-T")
    assert client.get("/ok").status_code == 200
    sentry_sdk.flush(5)
    wait_for(lambda: store.list_server_events(ServerEventQuery()))
    [event] = store.list_server_events(ServerEventQuery())
    assert (event.name, event.level, event.project) == ("checkout_viewed", "info", "shop")
    assert (event.session_id, event.window_id) == ("sess-T", "win-T")
    assert event.payload == {"plan": "pro", "token": "[FILTERED]"}


def test_starlette_requests_are_linked(sentiero_server, restore_sdk) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route
    from starlette.testclient import TestClient

    store, dsn = sentiero_server
    reporter.init(dsn=dsn)

    async def boom(request: Any) -> Any:
        raise KeyError("missing cart")

    app = Starlette(routes=[Route("/boom", boom)])
    with TestClient(app, raise_server_exceptions=False,
                    cookies={"sentiero_sid": "sess-S", "sentiero_wid": "win-S"}) as client:
        assert client.get("/boom").status_code == 500
    sentry_sdk.flush(5)
    wait_for(lambda: store.list_problems(ProblemQuery()))
    [occ] = store.list_occurrences(problem_id=store.list_problems(ProblemQuery())[0].id)
    assert (occ.exception_class, occ.session_id, occ.window_id) == ("KeyError", "sess-S",
                                                                    "win-S")


def test_the_fixture_captures_what_would_be_sent(sentiero_reports) -> None:  # noqa: F811
    try:
        raise RuntimeError(f"payment of {CARD} failed for ann@example.com")
    except RuntimeError:
        sentry_sdk.capture_exception()
    reporter.track("refund", level="warning", amount=3)
    [event] = sentiero_reports.events
    value = event["exception"]["values"][-1]
    assert value["type"] == "RuntimeError"
    assert CARD not in value["value"] and "ann@example.com" not in value["value"]
    assert all("vars" not in f for f in value["stacktrace"]["frames"])
    [tracked] = sentiero_reports.tracks
    assert (tracked["name"], tracked["level"], tracked["payload"]) == ("refund", "warn",
                                                                      {"amount": 3})


def test_never_raises_into_the_host(restore_sdk) -> None:
    assert reporter.init(dsn="not a dsn") is False  # BadDsn is logged, not raised
    assert reporter.track("x") is False  # no active client: nothing queued, nothing raised


def test_scrub_event_keeps_only_what_sentiero_needs() -> None:
    event = {
        "request": {"method": "POST", "url": "https://shop.example/pay?token=abc&page=2",
                    "data": {"password": "hunter2"}, "cookies": {"session": "s3cret"},
                    "headers": {"Cookie": "session=s3cret", "Authorization": "Bearer x",
                                "User-Agent": "Firefox"}, "env": {"REMOTE_ADDR": "198.51.100.7"}},
        "user": {"ip_address": "198.51.100.7", "email": "ann@example.com"},
        "breadcrumbs": {"values": [{"message": "SELECT password"}]},
        "extra": {"api_key": "k", "note": "mail ann@example.com"},
        "contexts": {"sentiero": {"session_id": "deadbeefdeadbeefdeadbeefdeadbeef"}},
    }
    scrubbed = reporter.scrub_event(event)
    assert scrubbed["request"] == {"method": "POST", "url": "https://shop.example/pay",
                                   "headers": {"User-Agent": "Firefox"}}
    assert scrubbed["user"] == {"ip_address": "198.51.100.0"}
    assert "breadcrumbs" not in scrubbed
    assert scrubbed["extra"]["api_key"] == "[FILTERED]"
    assert "ann@example.com" not in scrubbed["extra"]["note"]
    assert scrubbed["contexts"]["sentiero"] == {"session_id": "deadbeef" * 4}


def test_scrubbing_failure_drops_the_event(monkeypatch) -> None:
    def explode(event: Any, redactor: Any = None) -> Any:
        raise RuntimeError("scrubber broke")

    monkeypatch.setattr(reporter, "scrub_event", explode)
    hook = reporter._before_send(None, reporter.Redactor())
    assert hook({"message": "secret"}, {}) is None
