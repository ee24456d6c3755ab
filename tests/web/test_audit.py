"""The audit hook: opt-out reports, dashboard access and deletes, with who and from where
(the IP anonymized), and never for refused requests."""

from __future__ import annotations

import base64
import logging
from datetime import timezone
from typing import Any

import orjson
import pytest

from sentiero.privacy.audit import AuditRecord, request_ip
from sentiero.stores.base import SessionQuery, WindowRef
from sentiero.stores.memory import MemoryStore
from tests.web.support import PREFIX, MountedClient, save

V4 = "203.0.113.77"
V6 = "2001:db8:abcd:1234:5678::1"


class AuthClient(MountedClient):
    """A mounted client that sends the same headers and environ with every request."""

    def __init__(self, app: Any, headers: dict[str, str] | None = None,
                 environ: dict[str, Any] | None = None) -> None:
        super().__init__(app)
        self._headers = headers or {}
        self._environ = environ or {}

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["headers"] = {**self._headers, **(kwargs.get("headers") or {})}
        kwargs["environ_base"] = {**self._environ, **(kwargs.get("environ_base") or {})}
        return super().open(*args, **kwargs)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def events(start: int = 1000) -> list[dict[str, Any]]:
    return [{"type": 4, "timestamp": start, "data": {"href": "https://a.test/p"}},
            {"type": 3, "timestamp": start + 500, "data": {"source": 1}}]


@pytest.fixture
def records() -> list[AuditRecord]:
    return []


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    save(s, "s1", "w1", events())
    save(s, "s1", "w2", events(5000))
    save(s, "s2", "w1", events())
    save(s, "s3", "w1", events())
    return s


def csrf(client: MountedClient) -> str:
    assert client.get("/").status_code == 200
    cookie = client.get_cookie("sentiero_csrf", path=PREFIX + "/")
    assert cookie is not None
    return cookie.value


# --- opt-out ----------------------------------------------------------------------------------


def test_opt_out_is_audited_with_the_anonymized_ip(make_app: Any, records: list[AuditRecord]
                                                   ) -> None:
    store = MemoryStore()
    app = make_app(store, audit=records.append, cors_origins=["https://shop.test"],
                   user_opt_out=True)
    client = MountedClient(app.wsgi_app)
    answer = client.post("/opt-out", data=b'{"sessionId":"sess-42"}',
                         headers={"Origin": "https://shop.test", "Content-Type": "text/plain"},
                         environ_base={"REMOTE_ADDR": V4})
    assert answer.status_code == 204 and answer.get_data() == b""
    assert answer.headers["Access-Control-Allow-Origin"] == "https://shop.test"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    (record,) = records
    assert record.action == "opt_out"
    assert record.session_ids == ("sess-42",)
    assert record.ip == "203.0.113.0"
    assert record.path == "/sentiero/opt-out"
    assert record.at.tzinfo == timezone.utc
    assert store.list_sessions(SessionQuery()) == []  # nothing about the session is stored


def test_opt_out_with_the_cookie_set_is_still_heard(make_app: Any, records: list[AuditRecord]
                                                   ) -> None:
    app = make_app(MemoryStore(), audit=records.append, user_opt_out=True)
    client = MountedClient(app.wsgi_app)
    client.set_cookie("sentiero_optout", "1", path="/")
    assert client.post("/opt-out", data=b'{"sessionId":"a"}').status_code == 204
    assert [r.session_ids for r in records] == [("a",)]


@pytest.mark.parametrize("body", [b"", b"not json", b"[1]", b'{"sessionId":"../etc"}',
                                  b'{"sessionId":7}', b"x" * 10_000])
def test_malformed_opt_out_is_204_and_audited_without_an_id(
    make_app: Any, records: list[AuditRecord], body: bytes
) -> None:
    client = MountedClient(make_app(MemoryStore(), audit=records.append).wsgi_app)
    answer = client.post("/opt-out", data=body)
    assert answer.status_code == 204
    assert [(r.action, r.session_ids) for r in records] == [("opt_out", ())]


def test_opt_out_preflight_methods_and_cors(make_app: Any, records: list[AuditRecord]) -> None:
    client = MountedClient(make_app(MemoryStore(), audit=records.append,
                                    cors_origins=["https://shop.test"]).wsgi_app)
    pre = client.options("/opt-out", headers={"Origin": "https://shop.test"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Methods"] == "POST"
    assert pre.headers["Access-Control-Allow-Origin"] == "https://shop.test"
    other = client.post("/opt-out", data=b"{}", headers={"Origin": "https://evil.test"})
    assert other.status_code == 204 and "Access-Control-Allow-Origin" not in other.headers
    got = client.get("/opt-out")
    assert got.status_code == 405 and got.get_json() == {"error": "method not allowed"}
    assert len(records) == 1  # the POST only


def test_opt_out_gzip_body_and_no_hook(make_app: Any) -> None:
    import gzip

    client = MountedClient(make_app(MemoryStore()).wsgi_app)
    assert client.post("/opt-out", data=gzip.compress(b'{"sessionId":"a"}')).status_code == 204


def test_raising_audit_hook_is_logged_not_raised(make_app: Any, store: MemoryStore,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    def hook(record: AuditRecord) -> None:
        raise RuntimeError("audit sink down")

    app = make_app(store, audit=hook, allow_open_dashboard=True)
    client = MountedClient(app.wsgi_app)
    with caplog.at_level(logging.ERROR, logger="sentiero.audit"):
        assert client.post("/opt-out", data=b'{"sessionId":"a"}').status_code == 204
        assert client.get("/").status_code == 200
        assert client.get("/sessions/s1/windows/w1").status_code == 200
    assert caplog.text.count("audit hook raised") == 3


# --- IPs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("remote", "expected"), [
    (V4, "203.0.113.0"),
    (V6, "2001:db8:abcd::"),
    ("::ffff:203.0.113.77", "203.0.113.0"),
    ("garbage", None),
])
def test_audit_ip_is_anonymized(make_app: Any, records: list[AuditRecord], remote: str,
                                expected: str | None) -> None:
    client = MountedClient(make_app(MemoryStore(), audit=records.append).wsgi_app)
    client.post("/opt-out", data=b"{}", environ_base={"REMOTE_ADDR": remote})
    assert records[0].ip == expected


def test_forwarded_for_only_when_trusted(make_app: Any, records: list[AuditRecord]) -> None:
    for trust in (False, True):
        client = MountedClient(make_app(MemoryStore(), audit=records.append,
                                        trust_forwarded_for=trust).wsgi_app)
        client.post("/opt-out", data=b"{}", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                    headers={"X-Forwarded-For": f"{V6}, 10.1.2.3"})
    assert [r.ip for r in records] == ["10.1.2.0", "2001:db8:abcd::"]


def test_raw_ip_only_when_anonymization_is_off(make_app: Any, records: list[AuditRecord]
                                               ) -> None:
    client = MountedClient(make_app(MemoryStore(), audit=records.append,
                                    anonymize_ip=False).wsgi_app)
    client.post("/opt-out", data=b"{}", environ_base={"REMOTE_ADDR": V4})
    assert records[0].ip == V4
    assert request_ip({"REMOTE_ADDR": V4}) == "203.0.113.0"


def test_no_ip_is_stored_by_ingest(make_app: Any) -> None:
    """Sentiero has no place for a client IP: after ingest from a known address, nothing the
    store returns mentions it (the full hostile check is in test_ingest_privacy.py)."""
    store = MemoryStore()
    client = MountedClient(make_app(store, trust_forwarded_for=True,
                                    geo_source="cloudflare").wsgi_app)
    body = orjson.dumps({"sessionId": "ip", "windowId": "w", "events": events(),
                         "metadata": {"note": "hello"}})
    answer = client.post("/events", data=body, environ_base={"REMOTE_ADDR": V4},
                         headers={"X-Forwarded-For": V4, "CF-Connecting-IP": V4,
                                  "CF-IPCountry": "DE"})
    assert answer.status_code == 200
    session = store.get_session("ip")
    dumped = orjson.dumps([session.metadata, session.user_agent, session.last_url,
                           store.get_events(WindowRef("ip", "w")),
                           [f.data for f in store.iter_facts()]])
    assert b"203.0.113" not in dumped
    assert session.metadata == {"note": "hello", "geo_country": "DE"}


# --- dashboard access -------------------------------------------------------------------------


def test_dashboard_reads_are_audited_with_the_basic_auth_user(
    make_app: Any, store: MemoryStore, records: list[AuditRecord]
) -> None:
    app = make_app(store, audit=records.append, basic_auth=("alice", "pw"))
    client = AuthClient(app.wsgi_app, basic("alice", "pw"), {"REMOTE_ADDR": V6})
    assert client.get("/?search=s1&page=1").status_code == 200
    assert client.get("/sessions/s1/windows/w2").status_code == 200
    assert client.get("/api/sessions/s1/windows/w2/events?cursor=0").status_code == 200
    assert client.get("/api/sessions/s1/windows/w2/chunks").status_code == 200  # no content
    assert client.get("/sessions/nope/windows/w1").status_code == 404  # nothing viewed
    assert [(r.action, r.session_ids, r.window_id, r.dataset) for r in records] == [
        ("list_sessions", (), None, "sessions"),
        ("view_session", ("s1",), "w2", None),
        ("view_session", ("s1",), "w2", None),
    ]
    assert {(r.user, r.ip) for r in records} == {("alice", "2001:db8:abcd::")}
    assert records[0].detail == {"page": 1, "filtered": True}
    assert records[0].path == "/sentiero/"
    assert records[1].path == "/sentiero/sessions/s1/windows/w2"
    assert records[2].detail["via"] == "events_api"


def test_deletes_are_audited(make_app: Any, store: MemoryStore, records: list[AuditRecord]
                             ) -> None:
    app = make_app(store, audit=records.append, auth=lambda request: True)
    client = AuthClient(app.wsgi_app, environ={"REMOTE_USER": "bob", "REMOTE_ADDR": V4})
    token = csrf(client)
    records.clear()
    assert client.post("/sessions/s1/windows/w1/delete",
                       data={"csrf_token": token}).status_code == 302
    assert client.post("/sessions/s2/delete", data={"csrf_token": token}).status_code == 302
    assert client.post("/sessions/bulk_delete", data={
        "csrf_token": token, "session_ids[]": ["s1", "s3", "gone", "../x"]}).status_code == 302
    assert [(r.action, r.session_ids, r.window_id, r.detail) for r in records] == [
        ("delete_session", ("s1",), "w1", {"deleted": True}),
        ("delete_session", ("s2",), None, {"deleted": True}),
        ("delete_session", ("s1", "s3", "gone"), None, {"deleted": 2, "bulk": True}),
    ]
    assert {(r.user, r.ip) for r in records} == {("bob", "203.0.113.0")}
    assert store.list_sessions(SessionQuery()) == []


def test_refused_requests_are_never_audited(make_app: Any, store: MemoryStore,
                                            records: list[AuditRecord]) -> None:
    app = make_app(store, audit=records.append, basic_auth=("alice", "pw"))
    stranger = MountedClient(app.wsgi_app)
    assert stranger.get("/").status_code == 401
    assert stranger.get("/sessions/s1/windows/w1").status_code == 401
    assert stranger.post("/sessions/s1/delete", data={"csrf_token": "x"}).status_code == 401
    client = AuthClient(app.wsgi_app, basic("alice", "pw"))
    csrf(client)
    records.clear()
    assert client.post("/sessions/s1/delete", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/sessions/bulk_delete", data={"session_ids[]": ["s1"]}).status_code == 403
    assert records == []
    assert store.get_session("s1") is not None
    denied = make_app(store, audit=records.append, auth=lambda request: False)
    assert MountedClient(denied.wsgi_app).get("/").status_code == 403
    assert records == []


def test_open_dashboard_user_is_unknown(make_app: Any, store: MemoryStore,
                                        records: list[AuditRecord]) -> None:
    client = MountedClient(make_app(store, audit=records.append,
                                    allow_open_dashboard=True).wsgi_app)
    client.get("/", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert records[0].user is None and records[0].ip == "127.0.0.0"
