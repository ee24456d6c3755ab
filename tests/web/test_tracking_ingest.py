"""The original's ``/errors`` and ``/track`` (inventory §6.3, every refusal) and the envelope
endpoint's refusals, through the real WSGI app."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest

from sentiero.stores.memory import MemoryStore
from sentiero.tracking import keys
from sentiero.tracking.models import ProblemQuery, ServerEventQuery
from tests.web.support import MountedClient

ERROR = {
    "exception_class": "NoMethodError",
    "message": "undefined method `name' for nil",
    "backtrace": ["app/models/user.rb:12:in `name'", "app/controllers/users.rb:5:in `show'"],
    "context": {"request": {"path": "/users/1", "ip": "203.0.113.77"}, "environment": "prod"},
    "timestamp": 1_900_000_000.5,
    "platform": "ruby",
    "session_id": "sess-1",
    "window_id": "win-1",
}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def key(store: MemoryStore) -> str:
    return keys.create_key(store, "shop")[0]


@pytest.fixture
def client(make_app: Any, store: MemoryStore) -> MountedClient:
    return MountedClient(make_app(store=store).wsgi_app)


def post(client: MountedClient, path: str, body: Any, key: str | None, **kw: Any) -> Any:
    headers = kw.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(path, data=data, headers=headers, content_type="application/json", **kw)


def problems(store: MemoryStore) -> list[Any]:
    return store.list_problems(ProblemQuery())


def test_error_report_is_stored_grouped_and_private(client, store, key) -> None:
    response = post(client, "/errors", ERROR, key)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["status"] == "ok" and len(answer["fingerprint"]) == 40
    again = post(client, "/errors", {**ERROR, "message": "undefined method `id' for nil",
                                    "backtrace": ["app/models/user.rb:14:in `name'",
                                                  "app/controllers/users.rb:9:in `show'"]}, key)
    assert again.get_json()["fingerprint"] == answer["fingerprint"]
    [problem] = problems(store)
    assert (problem.count, problem.project, problem.exception_class) == (2, "shop",
                                                                          "NoMethodError")
    [latest, first] = store.list_occurrences(problem_id=problem.id)
    assert first.ts_ms == 1_900_000_000_500
    assert (first.session_id, first.window_id, first.platform) == ("sess-1", "win-1", "ruby")
    assert first.context["request"] == {"path": "/users/1", "ip": "203.0.113.0"}
    assert first.path == "/users/1" and first.environment == "prod"


def test_secrets_and_card_numbers_never_reach_storage(client, store, key) -> None:
    report = {**ERROR, "message": "charge failed for 4111 1111 1111 1111",
              "context": {"params": {"password": "hunter2", "user": "ann@example.com"}}}
    assert post(client, "/errors", report, key).status_code == 200
    stored = orjson.dumps([o.to_dict() for o in store.list_occurrences(
        problem_id=problems(store)[0].id)] + [p.to_dict() for p in problems(store)])
    for secret in (b"hunter2", b"4111 1111 1111 1111", b"4111111111111111", b"ann@example.com"):
        assert secret not in stored
    assert b"[FILTERED]" in stored


@pytest.mark.parametrize(("body", "error"), [
    ({**ERROR, "exception_class": ""}, "exception_class is required"),
    ({k: v for k, v in ERROR.items() if k != "exception_class"}, "exception_class is required"),
    ({**ERROR, "exception_class": 7}, "exception_class is required"),
    ({**ERROR, "message": ""}, "message is required"),
    ({**ERROR, "message": None}, "message is required"),
    ({**ERROR, "session_id": "../etc"}, "invalid session_id"),
    ({**ERROR, "session_id": 12}, "invalid session_id"),
    ({**ERROR, "window_id": "a b"}, "invalid window_id"),
    ([ERROR], "body must be a JSON object"),
    (b"{not json", "invalid JSON body"),
])
def test_error_report_refusals(client, store, key, body, error) -> None:
    response = post(client, "/errors", body, key)
    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert problems(store) == []


def test_keys_methods_and_limits(client, store, key) -> None:
    tampered = key[:-1] + ("1" if key.endswith("0") else "0")
    for bad in (None, "", "snt_000000000000_" + "0" * 32, key + "x", tampered):
        response = post(client, "/errors", ERROR, bad)
        assert response.status_code == 401
        assert response.get_json() == {"error": "invalid or missing ingest key"}
    response = client.get("/errors", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 405 and response.get_json() == {"error": "method not allowed"}
    big = orjson.dumps({**ERROR, "message": "x" * 600_000})
    assert post(client, "/errors", big, key).status_code == 413
    bomb = gzip.compress(b"{" + b" " * 5_000_000 + b"}")  # past max_decompressed_bytes
    response = post(client, "/errors", bomb, key, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    response = post(client, "/errors", b"\x1f\x8bnot gzip", key)
    assert response.status_code == 400 and response.get_json() == {"error": "invalid gzip encoding"}
    response = post(client, "/errors", orjson.dumps(ERROR), key,
                    headers={"Content-Encoding": "deflate"})
    assert response.status_code == 415 and "gzip" in response.get_json()["error"]
    response = post(client, "/errors", orjson.dumps(ERROR), key, headers={"Content-Encoding": "br"})
    assert response.get_json() == {"error": "invalid brotli encoding"}
    assert problems(store) == []
    brotli = pytest.importorskip("brotli")  # sentry-sdk's default encoding when installed
    br_bomb = brotli.compress(b"{" + b" " * 5_000_000 + b"}")
    response = post(client, "/errors", br_bomb, key, headers={"Content-Encoding": "br"})
    assert response.status_code == 413
    assert problems(store) == []
    response = post(client, "/errors", brotli.compress(orjson.dumps(ERROR)), key,
                    headers={"Content-Encoding": "br"})
    assert response.status_code == 200
    zipped = gzip.compress(orjson.dumps(ERROR))
    assert post(client, "/errors", zipped, key, headers={"Content-Encoding": "gzip"}).status_code \
        == 200


def test_revoked_key_is_refused(client, store, key) -> None:
    assert post(client, "/errors", ERROR, key).status_code == 200
    store.revoke_ingest_key(key.split("_")[1])
    assert post(client, "/errors", ERROR, key).status_code == 401
    assert post(client, "/track", {"name": "x"}, key).status_code == 401
    assert problems(store)[0].count == 1


def test_redaction_failure_stores_nothing(client, store, key, monkeypatch) -> None:
    from sentiero.privacy.redaction import Redactor

    def broken(self, text):
        raise RuntimeError("pattern engine broke")

    monkeypatch.setattr(Redactor, "redact_text", broken)
    response = post(client, "/errors", ERROR, key)
    assert response.status_code == 500
    assert "nothing was stored" in response.get_json()["error"]
    assert problems(store) == []


def test_track(client, store, key) -> None:
    body = {"name": "signup " + "n" * 300, "level": "loud", "payload": {"plan": "pro",
            "token": "abc", "email": "ann@example.com"}, "timestamp": "1900000000",
            "session_id": "sess-1"}
    assert post(client, "/track", body, key).get_json() == {"status": "ok"}
    assert post(client, "/track", {"name": "big", "payload": {"x": "y" * 20_000}}, key
                ).status_code == 200
    [event, big] = store.list_server_events(ServerEventQuery())
    assert len(event.name) == 200 and event.level == "info"
    assert event.ts_ms == 1_900_000_000_000 and event.session_id == "sess-1"
    assert event.payload["plan"] == "pro" and event.payload["token"] == "[FILTERED]"
    assert "ann@example.com" not in orjson.dumps(event.payload).decode()
    assert big.payload == {"_truncated": True}
    for body, error in (({"name": ""}, "name is required"), ({}, "name is required"),
                        ({"name": "x", "session_id": "no/slash"}, "invalid session_id"),
                        (["x"], "body must be a JSON object")):
        response = post(client, "/track", body, key)
        assert (response.status_code, response.get_json()) == (400, {"error": error})
    assert len(store.list_server_events(ServerEventQuery())) == 2


def envelope(*items: tuple[dict[str, Any], bytes]) -> bytes:
    parts = [orjson.dumps({"event_id": "e" * 32})]
    for header, payload in items:
        parts += [orjson.dumps(header), payload]
    return b"\n".join(parts) + b"\n"


def test_envelope_refusals(client, store, key) -> None:
    path = "/api/1/envelope/"
    event = orjson.dumps({"exception": {"values": [{"type": "KeyError", "value": "'x'"}]}})
    good = envelope(({"type": "event", "length": len(event)}, event))
    response = client.post(path, data=good)
    assert response.status_code == 401
    response = client.post(f"{path}?sentry_key=nope", data=good)
    assert response.get_json() == {"error": "invalid or missing ingest key"}
    for body, error in ((b"", "invalid envelope: empty body"),
                        (b"[]\n", "invalid envelope: the header is not a JSON object"),
                        (b"{}\n{\"type\":\"event\",\"length\":999}\n{}",
                         "invalid envelope: an item is shorter than its length"),
                        (b"{}\n{\"type\":\"event\"}\nnot json",
                         "invalid envelope: an event item is not JSON")):
        response = client.post(f"{path}?sentry_key={key}", data=body)
        assert (response.status_code, response.get_json()) == (400, {"error": error})
    assert client.get(f"{path}?sentry_key={key}").status_code == 405
    assert client.post(f"/api/abc/envelope/?sentry_key={key}", data=good).status_code == 404
    assert problems(store) == []
    response = client.post(path, data=gzip.compress(good), headers={
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
        "Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.get_json()["stored"] == 1
    assert problems(store)[0].exception_class == "KeyError"


def test_envelope_other_items_are_dropped_with_200(client, store, key) -> None:
    body = envelope(({"type": "transaction"}, b'{"type":"transaction"}'),
                    ({"type": "session"}, b'{"sid":"x"}'),
                    ({"type": "client_report"}, b'{}'))
    response = client.post(f"/api/7/envelope/?sentry_key={key}", data=body)
    assert response.status_code == 200
    assert response.get_json()["dropped"] == ["client_report", "session", "transaction"]
    assert problems(store) == []


