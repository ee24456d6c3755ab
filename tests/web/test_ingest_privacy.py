"""Privacy on the real events endpoint, against a hostile client (raw POSTs, no recorder):
whatever it sends, no typed password, email, token or IP reaches storage, in every store.

The payload is the real ``signup-b`` recording with a hostile client's additions: the
password field's value in the full snapshot, typed text for it in input events of a LATER
batch (so only the per-window scrubber state carried between batches can mask it), an email
in a custom event, a reset token in the page URL and in the metadata.
"""

from __future__ import annotations

import gzip
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.privacy.scrub import INPUT_MASK
from sentiero.stores.base import SessionQuery, Store, StoreError, WindowRef
from sentiero.stores.files import FileStore
from sentiero.stores.memory import MemoryStore
from sentiero.stores.sql import SQLStore
from tests.fixtures import RRWEB_DIR
from tests.stores.contract import POSTGRES_URL, require_server
from tests.web.support import MountedClient

PASSWORD_ID = 34  # the password input of the signup page's snapshot
PASSWORD = "hunter2-SECRET-pw"
TYPED = "typed-SECRET-99"
MUTATED = "mutated-SECRET-7"
EMAIL = "victim.person@example.com"
TOKEN = "TOKEN-SECRET-123"
CLIENT_IP = "203.0.113.77"
SECRETS = (PASSWORD, TYPED, MUTATED, EMAIL, TOKEN, "203.0.113.77", "victim.person")


def _find(node: dict[str, Any], node_id: int) -> dict[str, Any]:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.get("id") == node_id:
            return n
        stack.extend(n.get("childNodes", []))
    raise AssertionError(f"node {node_id} not in the snapshot")


def hostile_batches() -> list[dict[str, Any]]:
    recording = orjson.loads(gzip.decompress((RRWEB_DIR / "signup-b.json.gz").read_bytes()))
    window = recording["windows"][0]
    events = window["events"]
    snap_at = max(i for i, e in enumerate(events) if e["type"] == 2)
    snapshot = events[snap_at]
    field = _find(snapshot["data"]["node"], PASSWORD_ID)
    assert field["attributes"]["type"] == "password"
    field["attributes"]["value"] = PASSWORD
    for e in events:
        if e["type"] == 4:
            e["data"]["href"] = f"https://shop.test/reset?token={TOKEN}#step-2"
    first = events[: snap_at + 1]
    ts = events[-1]["timestamp"]
    later = events[snap_at + 1 :] + [
        {"type": 3, "timestamp": ts + 1,
         "data": {"source": 5, "text": TYPED, "isChecked": False, "id": PASSWORD_ID}},
        {"type": 3, "timestamp": ts + 2,
         "data": {"source": 0, "texts": [], "removes": [], "adds": [],
                  "attributes": [{"id": PASSWORD_ID, "attributes": {"value": MUTATED}}]}},
        {"type": 5, "timestamp": ts + 3,
         "data": {"tag": "signup", "payload": {"contact": EMAIL, "nested": {"to": [EMAIL]}}}},
        {"type": 5, "timestamp": ts + 4,
         "data": {"tag": "navigation",
                  "payload": {"url": f"https://shop.test/next?token={TOKEN}", "text": EMAIL}}},
    ]
    base = {"sessionId": "hostile-1", "windowId": window["window_id"]}
    return [
        {**base, "seq": 0, "events": first,
         "metadata": {"url": f"https://shop.test/reset?token={TOKEN}", "contact": EMAIL}},
        {**base, "seq": 1, "events": later, "metadata": {"referrer": f"mailto:{EMAIL}"}},
    ]


def everything_stored(store: Store) -> bytes:
    """Every byte the store gives back, through the whole store API."""
    parts: list[bytes] = []
    for summary in store.list_sessions(SessionQuery(limit=100)):
        parts.append(orjson.dumps([summary.metadata, summary.last_url, summary.user_agent]))
        for window in summary.windows:
            ref = WindowRef(summary.session_id, window.window_id)
            parts.extend(c.events_json() for c in store.get_chunks(ref))
            parts.append(orjson.dumps(store.get_window_state(ref)))
    parts.extend(orjson.dumps([f.kind, f.url, f.data]) for f in store.iter_facts())
    return b"\n".join(parts)


def raw_files(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


# --- the stores: every one that runs without a server, and PostgreSQL --------------------------


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory", "files", "postgres"])
def store_case(request: pytest.FixtureRequest, tmp_path: Path
               ) -> Iterator[tuple[Store, Callable[[], bytes]]]:
    kind = request.param
    if kind == "memory":
        store: Store = MemoryStore()
        yield store, lambda: b""
    elif kind == "sqlite-file":
        path = tmp_path / "rec.db"
        store = SQLStore(f"sqlite:///{path}")
        yield store, lambda: raw_files(tmp_path)
        store.close()
    elif kind == "sqlite-memory":
        store = SQLStore("sqlite://")
        yield store, lambda: b""
        store.close()
    elif kind == "files":
        store = FileStore(tmp_path / "files")
        yield store, lambda: raw_files(tmp_path / "files")
    else:
        require_server(POSTGRES_URL)
        sql = SQLStore(POSTGRES_URL, auto_migrate=True, prefix=f"t{uuid.uuid4().hex[:8]}_")
        sql.setup()
        try:
            yield sql, lambda: b""
        finally:
            sql.drop_tables()
            sql.close()


def post(client: MountedClient, payload: dict[str, Any], gzipped: bool = False, **kw: Any
         ) -> Any:
    body = orjson.dumps(payload)
    headers = {"Content-Type": "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return client.post("/events", data=body, headers=headers, **kw)


@pytest.mark.parametrize("mask_all_inputs", [False, True])
def test_hostile_payload_leaves_no_secret_in_any_store(
    store_case: tuple[Store, Callable[[], bytes]], make_app: Any, mask_all_inputs: bool
) -> None:
    store, raw = store_case
    app = make_app(store, mask_all_inputs=mask_all_inputs, trust_forwarded_for=True,
                   capture_errors=True)
    client = MountedClient(app.wsgi_app)
    first, later = hostile_batches()
    environ = {"REMOTE_ADDR": CLIENT_IP}
    headers_ip = {"X-Forwarded-For": f"{CLIENT_IP}, 10.0.0.1"}
    answer = client.post("/events", data=gzip.compress(orjson.dumps(first)),
                         headers={"Content-Encoding": "gzip", **headers_ip},
                         environ_base=environ)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    answer = client.post("/events", data=orjson.dumps(later), headers=headers_ip,
                         environ_base=environ)
    assert answer.status_code == 200, answer.get_data(as_text=True)

    stored = everything_stored(store)
    for secret in SECRETS:
        assert secret.encode() not in stored, secret
        assert secret.lower().encode() not in stored.lower(), secret
        assert secret.encode() not in raw(), secret

    # what is there instead: the recording, masked and redacted, still replayable
    ref = WindowRef("hostile-1", first["windowId"])
    events = store.get_events(ref)
    assert len(events) == len(first["events"]) + len(later["events"])
    snapshot = [e for e in events if e["type"] == 2][-1]
    assert _find(snapshot["data"]["node"], PASSWORD_ID)["attributes"]["value"] == INPUT_MASK
    typed = [e for e in events if e["type"] == 3 and e["data"].get("source") == 5
             and e["data"].get("id") == PASSWORD_ID]
    assert typed[-1]["data"]["text"] == INPUT_MASK
    assert {e["data"]["href"] for e in events if e["type"] == 4} == {"https://shop.test/reset"}
    custom = next(e for e in events if e["type"] == 5 and e["data"]["tag"] == "signup")
    assert custom["data"]["payload"] == {"contact": "[redacted]", "nested": {"to": ["[redacted]"]}}
    summary = store.get_session("hostile-1")
    assert summary.metadata["url"] == "https://shop.test/reset"
    assert summary.metadata["contact"] == "[redacted]"
    assert summary.last_url == "https://shop.test/reset"
    assert {f.url for f in store.iter_facts(kind="page_view")} == {"https://shop.test/reset"}
    assert PASSWORD_ID in store.get_window_state(ref)["password_ids"]


def test_password_typed_in_a_later_batch_needs_the_window_state(make_app: Any) -> None:
    """The control: a store that forgot the window state would have leaked the typed text
    (mask_all_inputs off masks only fields known to be passwords)."""
    store = MemoryStore()
    client = MountedClient(make_app(store, mask_all_inputs=False).wsgi_app)
    first, later = hostile_batches()
    assert post(client, first).status_code == 200
    store.get_window_state = lambda ref: None  # type: ignore[method-assign]
    assert post(client, later).status_code == 200
    stored = everything_stored(store)
    assert TYPED.encode() in stored  # what the window state prevents in the test above


def test_redaction_failure_refuses_the_batch(make_app: Any, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store).wsgi_app)
    first, _ = hostile_batches()

    def broken(self: Any, metadata: Any) -> Any:
        raise RuntimeError("redactor bug")

    monkeypatch.setattr("sentiero.privacy.redaction.Redactor.redact_metadata", broken)
    with caplog.at_level(logging.ERROR, logger="sentiero.ingest"):
        answer = post(client, first, gzipped=True)
    assert answer.status_code == 500
    assert answer.get_json() == {
        "error": "the batch could not be processed (redaction failed); nothing was stored"
    }
    assert store.list_sessions(SessionQuery()) == []
    assert store.get_window_state(WindowRef("hostile-1", first["windowId"])) is None
    assert EMAIL not in caplog.text and TOKEN not in caplog.text


def test_failures_never_log_the_payload(make_app: Any, monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """An exception that quotes the batch (a hook, a driver listing SQL parameters) must not
    carry it into the logs: only its type and where it was raised are logged."""
    first, _ = hostile_batches()

    def quoting(self: Any, metadata: Any) -> Any:
        raise ValueError(f"cannot redact {EMAIL}")

    monkeypatch.setattr("sentiero.privacy.redaction.Redactor.redact_metadata", quoting)
    with caplog.at_level(logging.DEBUG):
        answer = post(MountedClient(make_app(MemoryStore()).wsgi_app), first)
    assert answer.status_code == 500
    assert "ValueError" in caplog.text and "quoting" in caplog.text
    assert EMAIL not in caplog.text
    monkeypatch.undo()

    class DriverDown(MemoryStore):
        def save_batch(self, batch: Any) -> bool:
            try:
                raise RuntimeError(f"INSERT failed [parameters: ({TYPED!r}, {TOKEN!r})]")
            except RuntimeError as driver_error:
                raise StoreError("the database at sqlite:// failed: disk I/O error") from (
                    driver_error)

    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        answer = post(MountedClient(make_app(DriverDown()).wsgi_app), first)
    assert answer.status_code == 503
    assert "disk I/O error" in caplog.text
    assert TYPED not in caplog.text and TOKEN not in caplog.text


def test_scrubber_failure_refuses_the_batch(make_app: Any, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store).wsgi_app)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("out of memory while scrubbing")

    monkeypatch.setattr("sentiero.privacy.scrub.PasswordScrubber.scrub_events", broken)
    assert post(client, hostile_batches()[0]).status_code == 500
    assert store.list_sessions(SessionQuery()) == []


def test_server_hook_drops_and_replaces_events(make_app: Any) -> None:
    store = MemoryStore()

    def hook(event: dict[str, Any]) -> Any:
        if event["type"] == 5:
            raise ValueError("no custom events here")  # fail closed: dropped
        if event["type"] == 4:
            return {**event, "data": {**event["data"], "hooked": True}}
        return True

    client = MountedClient(make_app(store, redaction={"server_hook": hook}).wsgi_app)
    _, later = hostile_batches()
    assert post(client, later).status_code == 200
    events = store.get_events(WindowRef("hostile-1", later["windowId"]))
    assert [e for e in events if e["type"] == 5] == []
    assert all(e["data"]["hooked"] for e in events if e["type"] == 4)
    assert len(events) == len(later["events"]) - 2


def test_batch_whose_every_event_is_dropped_stores_nothing(make_app: Any) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store, redaction={"server_hook": lambda e: None}).wsgi_app)
    answer = post(client, hostile_batches()[0])
    assert (answer.status_code, answer.get_json()) == (200, {"status": "ok"})
    assert store.list_sessions(SessionQuery()) == []


def test_keep_filtered_url_mode_applies_to_pages_and_facts(make_app: Any) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(
        store, redaction={"url_mode": "keep_filtered", "url_param_allowlist": ["plan"]}
    ).wsgi_app)
    payload = {"sessionId": "s", "windowId": "w", "events": [
        {"type": 4, "timestamp": 1,
         "data": {"href": f"https://a.test/p?plan=pro&token={TOKEN}", "width": 1, "height": 1}},
    ]}
    assert post(client, payload).status_code == 200
    assert store.get_session("s").last_url == "https://a.test/p?plan=pro"
    assert {f.url for f in store.iter_facts()} == {"https://a.test/p?plan=pro"}


# --- geo ------------------------------------------------------------------------------------


def geo_payload(**metadata: Any) -> dict[str, Any]:
    return {"sessionId": "g1", "windowId": "w1", "metadata": metadata,
            "events": [{"type": 4, "timestamp": 1, "data": {"href": "https://a.test/"}}]}


CF_HEADERS = {"CF-IPCountry": "DE", "CF-IPCity": " Berlin ", "CF-Region": "Land Berlin",
              "CF-Timezone": "Europe/Berlin"}


def test_cloudflare_geo_wins_over_client_keys(make_app: Any) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store, geo_source="cloudflare").wsgi_app)
    answer = client.post("/events", headers=CF_HEADERS, data=orjson.dumps(
        geo_payload(geo_country="FR", geo_city="Paris", plan="pro")))
    assert answer.status_code == 200
    assert store.get_session("g1").metadata == {
        "plan": "pro", "geo_country": "DE", "geo_city": "Berlin", "geo_region": "Land Berlin",
        "geo_timezone": "Europe/Berlin",
    }


@pytest.mark.parametrize("country", ["XX", "T1"])
def test_cloudflare_unknown_and_tor_countries_are_dropped(make_app: Any, country: str) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store, geo_source="cloudflare").wsgi_app)
    client.post("/events", headers={"CF-IPCountry": country},
                data=orjson.dumps(geo_payload(geo_country="FR")))
    assert store.get_session("g1").metadata == {}  # the client's claim is gone too


def test_geo_resolver_callables(make_app: Any) -> None:
    seen: list[Any] = []

    def one_arg(environ: dict[str, Any]) -> dict[str, Any]:
        seen.append(environ.get("REMOTE_ADDR"))
        return {"country": "IT", "city": "x" * 300, "region": 7, "timezone": "  ", "lat": "45"}

    def two_args(environ: dict[str, Any], client: dict[str, Any]) -> dict[str, str]:
        return {"country": client.get("geo_country", "??")}

    store = MemoryStore()
    client = MountedClient(make_app(store, geo_source=one_arg).wsgi_app)
    client.post("/events", data=orjson.dumps(geo_payload()),
                environ_base={"REMOTE_ADDR": CLIENT_IP})
    assert seen == [CLIENT_IP]  # the resolver may look the IP up; Sentiero keeps none of it
    assert store.get_session("g1").metadata == {"geo_country": "IT", "geo_city": "x" * 256}

    store = MemoryStore()
    client = MountedClient(make_app(store, geo_source=two_args).wsgi_app)
    client.post("/events", data=orjson.dumps(geo_payload(geo_country="NL")))
    assert store.get_session("g1").metadata == {"geo_country": "NL"}


@pytest.mark.parametrize("resolver", [lambda env: 1 / 0, lambda env: ["IT"], lambda env: None])
def test_broken_geo_resolver_adds_nothing(make_app: Any, resolver: Any) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store, geo_source=resolver).wsgi_app)
    answer = client.post("/events", data=orjson.dumps(geo_payload(geo_city="Rome", plan="p")))
    assert answer.status_code == 200
    assert store.get_session("g1").metadata == {"plan": "p"}


def test_without_geo_source_client_keys_are_kept(make_app: Any) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store).wsgi_app)
    client.post("/events", headers=CF_HEADERS, data=orjson.dumps(geo_payload(geo_city="Rome")))
    assert store.get_session("g1").metadata == {"geo_city": "Rome"}


def test_geo_values_are_redacted(make_app: Any) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store, geo_source=lambda env: {"city": EMAIL}).wsgi_app)
    client.post("/events", data=orjson.dumps(geo_payload()))
    assert store.get_session("g1").metadata == {"geo_city": "[redacted]"}


# --- sizes ----------------------------------------------------------------------------------


def big_snapshot_payload(size: int) -> bytes:
    """A full snapshot of ``size`` bytes of page text that compresses well, sent alone."""
    text = ("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * (size // 60))
    return orjson.dumps({"sessionId": "big", "windowId": "w", "seq": 0, "events": [
        {"type": 2, "timestamp": 1, "data": {"node": {"type": 0, "id": 1, "childNodes": [
            {"type": 3, "id": 2, "textContent": text}]}, "initialOffset": {"left": 0, "top": 0}}},
    ]})


def test_big_snapshot_within_the_decompressed_limit_is_accepted(make_app: Any) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store).wsgi_app)
    raw = big_snapshot_payload(3 * 1024 * 1024)
    packed = gzip.compress(raw)
    assert len(raw) > 524_288 > len(packed)
    answer = client.post("/events", data=packed, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert store.get_session("big").event_count == 1


def test_gzip_past_the_decompressed_limit_is_refused(make_app: Any) -> None:
    store = MemoryStore()
    client = MountedClient(make_app(store).wsgi_app)
    packed = gzip.compress(big_snapshot_payload(5 * 1024 * 1024))
    assert len(packed) < 524_288
    answer = client.post("/events", data=packed, headers={"Content-Encoding": "gzip"})
    assert (answer.status_code, answer.get_json()) == (413, {"error": "request body too large"})
    # an uncompressed body is still bound by max_body_bytes alone
    answer = client.post("/events", data=big_snapshot_payload(600_000))
    assert answer.status_code == 413
    assert store.list_sessions(SessionQuery()) == []


def test_sentiero_fixture_is_not_a_hostile_payload_by_accident() -> None:
    """Guard for this module: the unmodified recording holds none of the secrets."""
    recording = gzip.decompress((RRWEB_DIR / "signup-b.json.gz").read_bytes())
    assert not any(s.encode() in recording for s in SECRETS)


def test_window_state_unavailable_means_503_and_nothing_stored(make_app: Any) -> None:
    """Without the window's state the batch cannot be scrubbed safely: refuse it for now."""
    store = MemoryStore()

    def down(ref: WindowRef) -> None:
        raise StoreError("database is restarting")

    store.get_window_state = down  # type: ignore[method-assign]
    client = MountedClient(make_app(store).wsgi_app)
    answer = post(client, hostile_batches()[1])
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.get_json() == {"error": "storage unavailable, retry later"}
    assert store.list_sessions(SessionQuery()) == []
