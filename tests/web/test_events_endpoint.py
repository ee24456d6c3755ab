"""The events endpoint: the wire protocol, one test per refusal rule and limit.

Every refusal asserts the status, the exact JSON error body and that nothing was stored.
"""

from __future__ import annotations

import gzip
import logging
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from sentiero.stores.base import Batch, SessionQuery, StoreError, WindowRef
from sentiero.stores.memory import MemoryStore
from tests.web.support import stored_sessions

ID_ERROR = "must be 1-128 alphanumeric, hyphen, or underscore characters"


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sessionId": "s1", "windowId": "w1",
                            "events": [{"type": 4, "timestamp": 1,
                                        "data": {"href": "https://a.test/p?q=1", "width": 2,
                                                 "height": 3}}]}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def client(make_app: Any, client_for: Any, store: MemoryStore) -> Client:
    return client_for(make_app(store))


def post(client: Client, data: Any, **kwargs: Any) -> Any:
    raw = data if isinstance(data, bytes) else orjson.dumps(data)
    kwargs.setdefault("content_type", "application/json")
    return client.post("/events", data=raw, **kwargs)


def assert_refused(response: Any, status: int, message: str, store: MemoryStore) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json() == {"error": message}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert stored_sessions(store) == []


def assert_dropped_silently(response: Any, store: MemoryStore) -> None:
    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["Content-Type"] == "application/json"
    assert stored_sessions(store) == []


# --- success ---------------------------------------------------------------------------------


def test_documented_curl_check(client: Client, store: MemoryStore) -> None:
    response = post(client, {"sessionId": "test", "windowId": "test",
                             "events": [{"type": 4, "timestamp": 1}]})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    [session] = stored_sessions(store)
    assert session.session_id == "test" and session.event_count == 1


def test_stored_batch_is_redacted_and_carries_facts(client: Client, store: MemoryStore) -> None:
    response = post(client, body(metadata={"plan": "pro"}),
                    headers={"User-Agent": "Mozilla/5.0 Test"})
    assert response.status_code == 200
    [session] = stored_sessions(store)
    assert session.last_url == "https://a.test/p"
    assert session.metadata == {"plan": "pro"}
    assert session.user_agent == "Mozilla/5.0 Test"
    events = store.get_events(WindowRef("s1", "w1"))
    assert events[0]["data"]["href"] == "https://a.test/p"
    assert [f.kind for f in store.iter_facts() if f.kind != "page_time"] == ["page_view"]


def test_gzip_by_header_and_by_magic_bytes(client: Client, store: MemoryStore) -> None:
    packed = gzip.compress(orjson.dumps(body(windowId="w1")))
    assert post(client, packed, headers={"Content-Encoding": "GZIP"}).status_code == 200
    packed = gzip.compress(orjson.dumps(body(windowId="w2")))
    assert post(client, packed, content_type="text/plain").status_code == 200
    assert sorted(stored_sessions(store)[0].window_ids) == ["w1", "w2"]


def test_content_type_does_not_matter(client: Client, store: MemoryStore) -> None:
    response = client.post("/events", data=orjson.dumps(body()), content_type="text/plain")
    assert response.status_code == 200
    assert len(stored_sessions(store)) == 1


def test_string_timestamps_are_stored_as_numbers(client: Client, store: MemoryStore) -> None:
    assert post(client, body(events=[{"type": 3, "timestamp": "1700000000123"}])).status_code == 200
    events = store.get_events(WindowRef("s1", "w1"))
    assert events == [{"type": 3, "timestamp": 1700000000123}]


def test_duplicate_seq_is_acknowledged_and_stored_once(client: Client, store: MemoryStore) -> None:
    assert post(client, body(seq=0)).get_json() == {"status": "ok"}
    again = post(client, body(seq=0))
    assert again.status_code == 200
    assert again.get_json() == {"status": "ok", "duplicate": True}
    assert stored_sessions(store)[0].event_count == 1
    assert post(client, body(seq=1)).get_json() == {"status": "ok"}
    assert stored_sessions(store)[0].event_count == 2


def test_a_retried_batch_without_seq_is_stored_once(client: Client, store: MemoryStore) -> None:
    """The original recorder sends no seq: a retry after a lost answer was stored twice."""
    snapshot = {"type": 2, "timestamp": 5, "data": {"node": {"type": 0, "id": 1, "childNodes": [
        {"type": 2, "id": 2, "tagName": "input", "attributes": {"type": "password"},
         "childNodes": []}]}, "initialOffset": {"top": 0, "left": 0}}}
    typing = {"type": 3, "timestamp": 6, "data": {"source": 5, "id": 2, "text": "hunter2"}}
    sent = body(events=[snapshot, typing])
    assert post(client, sent).get_json() == {"status": "ok"}
    # the first attempt changed the window's scrubber state; the retry is still recognised
    assert post(client, sent).get_json() == {"status": "ok", "duplicate": True}
    assert stored_sessions(store)[0].event_count == 2
    assert post(client, body(events=[typing])).get_json() == {"status": "ok"}, "new content"
    assert stored_sessions(store)[0].event_count == 3
    assert "hunter2" not in str(store.get_events(WindowRef("s1", "w1")))


def test_has_errors_flag_needs_capture_errors(make_app: Any, client_for: Any) -> None:
    error = {"type": 5, "timestamp": 2, "data": {"tag": "error", "payload": {"message": "x"}}}
    for capture, expected in ((False, False), (True, True)):
        store = MemoryStore()
        client = client_for(make_app(store, capture_errors=capture))
        assert post(client, body(events=[error])).status_code == 200
        assert stored_sessions(store)[0].has_errors is expected


# --- methods and CORS ------------------------------------------------------------------------


def test_options_preflight(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(cors_origins=["https://shop.test"]))
    response = client.options("/events", headers={"Origin": "https://shop.test"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type, Content-Encoding"
    assert response.headers["Access-Control-Max-Age"] == "86400"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.test"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: Client, store: MemoryStore, method: str) -> None:
    response = client.open("/events", method=method, data=orjson.dumps(body()))
    assert_refused(response, 405, "method not allowed", store)


def test_cors_exact_origin_only(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(cors_origins=["https://shop.test"]))
    ok = post(client, body(), headers={"Origin": "https://shop.test"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://shop.test"
    assert "Origin" in ok.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in ok.headers
    for origin in ("https://evil.test", "https://shop.test.evil.test", "http://shop.test",
                   "null", "", "https://SHOP.test"):
        response = post(client, body(), headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers, origin


def test_no_cors_headers_without_configured_origins(client: Client) -> None:
    response = post(client, body(), headers={"Origin": "https://shop.test"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_headers_on_errors_too(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(cors_origins=["https://shop.test"]))
    response = post(client, b"nope", headers={"Origin": "https://shop.test"})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.test"


# --- opt-out and GPC (before the body is read) -----------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_opt_out_cookie_drops_the_batch(make_app: Any, client_for: Any, value: str) -> None:
    store = MemoryStore()
    client = client_for(make_app(store, user_opt_out=True))
    client.set_cookie("sentiero_optout", value)
    # even an invalid body: it is never read
    assert_dropped_silently(post(client, b"x" * 10), store)
    assert_dropped_silently(post(client, body()), store)


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_falsy_opt_out_cookie_records(make_app: Any, client_for: Any, value: str) -> None:
    store = MemoryStore()
    client = client_for(make_app(store, user_opt_out=True))
    client.set_cookie("sentiero_optout", value)
    assert post(client, body()).status_code == 200


def test_opt_out_cookie_ignored_when_user_opt_out_is_off(client: Client,
                                                         store: MemoryStore) -> None:
    client.set_cookie("sentiero_optout", "1")
    assert post(client, body()).status_code == 200
    assert len(stored_sessions(store)) == 1


def test_custom_opt_out_cookie_name(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    client = client_for(make_app(store, user_opt_out=True, opt_out_cookie_name="no_rec"))
    client.set_cookie("no_rec", "1")
    assert_dropped_silently(post(client, body()), store)


def test_gpc_drops_the_batch(client: Client, store: MemoryStore) -> None:
    assert_dropped_silently(post(client, b"\x1f\x8bbroken", headers={"Sec-GPC": "1"}), store)


def test_gpc_only_when_exactly_1(client: Client, store: MemoryStore) -> None:
    assert post(client, body(), headers={"Sec-GPC": "0"}).status_code == 200


def test_gpc_ignored_when_respect_gpc_is_off(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    client = client_for(make_app(store, respect_gpc=False))
    assert post(client, body(), headers={"Sec-GPC": "1"}).status_code == 200
    assert len(stored_sessions(store)) == 1


# --- body limits -----------------------------------------------------------------------------


def test_body_too_large(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    client = client_for(make_app(store, max_body_bytes=1024))
    padded = body(metadata={"pad": "x" * 1100})
    assert_refused(post(client, padded), 413, "request body too large", store)


def test_default_limit_is_512_kib(client: Client, store: MemoryStore) -> None:
    raw = orjson.dumps(body())
    raw = raw[:-1] + b"," + b'"pad":"' + b"x" * (524_288 - len(raw) - 9) + b'"}'
    assert len(raw) == 524_288
    assert post(client, raw).status_code == 200
    store.clear()
    assert_refused(post(client, raw[:-2] + b'x"}'), 413, "request body too large", store)


def test_decompressed_body_too_large(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    client = client_for(make_app(store, max_body_bytes=4096, max_decompressed_bytes=4096))
    packed = gzip.compress(orjson.dumps(body(metadata={"pad": "x" * 900}, events=[
        {"type": 3, "timestamp": 1, "data": "y" * 10_000}])))
    assert len(packed) < 4096
    assert_refused(post(client, packed, headers={"Content-Encoding": "gzip"}), 413,
                   "request body too large", store)


def test_invalid_gzip(client: Client, store: MemoryStore) -> None:
    assert_refused(post(client, b"\x1f\x8b\x08garbage"), 400, "invalid gzip encoding", store)
    assert_refused(post(client, orjson.dumps(body()), headers={"Content-Encoding": "gzip"}),
                   400, "invalid gzip encoding", store)


def test_invalid_json(client: Client, store: MemoryStore) -> None:
    assert_refused(post(client, b'{"sessionId":'), 400, "invalid JSON body", store)


def test_empty_body(client: Client, store: MemoryStore) -> None:
    assert_refused(post(client, b""), 400, "invalid JSON body", store)


@pytest.mark.parametrize("raw", [b"[]", b"[1,2]", b"42", b'"text"', b"null"])
def test_body_must_be_an_object(client: Client, store: MemoryStore, raw: bytes) -> None:
    assert_refused(post(client, raw), 400, "body must be a JSON object", store)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [..., "", "a" * 129, "bad id", "../x", 7])
def test_invalid_session_id(client: Client, store: MemoryStore, value: Any) -> None:
    assert_refused(post(client, body(sessionId=value)), 400, f"sessionId {ID_ERROR}", store)


@pytest.mark.parametrize("value", [..., "", "a" * 129, "w:1", None])
def test_invalid_window_id(client: Client, store: MemoryStore, value: Any) -> None:
    assert_refused(post(client, body(windowId=value)), 400, f"windowId {ID_ERROR}", store)


@pytest.mark.parametrize("events", [..., [], {}, "events", [1], [{"type": 4}, None]])
def test_invalid_events(client: Client, store: MemoryStore, events: Any) -> None:
    assert_refused(post(client, body(events=events)), 400,
                   "events must be a non-empty array of objects", store)


def test_too_many_events(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    client = client_for(make_app(store, max_events_per_request=3))
    events = [{"type": 3, "timestamp": i} for i in range(4)]
    assert_refused(post(client, body(events=events)), 400, "too many events (max 3)", store)
    assert post(client, body(events=events[:3])).status_code == 200


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "soon", None, True, {},
                                   2**53, -(2**53), 1e300, "1e300", -1e300])
def test_invalid_timestamp(client: Client, store: MemoryStore, value: Any) -> None:
    events = [{"type": 4, "timestamp": 1}, {"type": 3, "timestamp": value}]
    assert_refused(post(client, body(events=events)), 400, "invalid timestamp value", store)


def test_timestamp_beyond_64_bits_is_refused(client: Client, store: MemoryStore) -> None:
    """orjson reads 2**64-1 as an int; a SQL store would overflow on it (was a 500)."""
    raw = b'{"sessionId":"s","windowId":"w","events":[{"type":3,"timestamp":18446744073709551615}]}'
    assert_refused(post(client, raw), 400, "invalid timestamp value", store)


def test_nan_literal_is_invalid_json(client: Client, store: MemoryStore) -> None:
    raw = b'{"sessionId":"s","windowId":"w","events":[{"type":3,"timestamp":NaN}]}'
    assert_refused(post(client, raw), 400, "invalid JSON body", store)


@pytest.mark.parametrize("seq", [-1, 1.5, "3", True, 2**53])
def test_invalid_seq(client: Client, store: MemoryStore, seq: Any) -> None:
    assert_refused(post(client, body(seq=seq)), 400, "seq must be a non-negative integer", store)


def test_metadata_too_many_keys(client: Client, store: MemoryStore) -> None:
    metadata = {f"k{i}": "v" for i in range(51)}
    assert_refused(post(client, body(metadata=metadata)), 400,
                   "metadata may hold at most 50 keys", store)


def test_metadata_key_too_long(client: Client, store: MemoryStore) -> None:
    assert_refused(post(client, body(metadata={"k" * 129: "v"})), 400,
                   "metadata keys must be 1-128 characters", store)


def test_metadata_value_too_long(client: Client, store: MemoryStore) -> None:
    assert_refused(post(client, body(metadata={"k": "v" * 1025})), 400,
                   "metadata values must be at most 1024 characters", store)


def test_metadata_nested_too_deeply_is_400(client: Client, store: MemoryStore) -> None:
    """orjson reads 300 levels but writes at most 254: this was a 500."""
    deep = b'{"a":' * 300 + b'"x"' + b"}" * 300
    raw = orjson.dumps(body()).replace(b'"events"', b'"metadata":{"k":' + deep + b'},"events"', 1)
    assert_refused(post(client, raw), 400, "metadata may be nested at most 199 levels deep",
                   store)


@pytest.mark.parametrize("depth", [200, 230, 254])
def test_metadata_lists_nested_past_the_redaction_limit_are_400_not_500(
        client: Client, store: MemoryStore, depth: int, caplog: pytest.LogCaptureFixture) -> None:
    """orjson accepts these, and they used to reach the redactor, whose depth limit raised:
    500 and an ERROR line. Validation and redaction now share one limit."""
    deep = b"[" * depth + b"1" + b"]" * depth
    raw = orjson.dumps(body()).replace(b'"events"', b'"metadata":{"k":' + deep + b'},"events"', 1)
    with caplog.at_level(logging.WARNING):
        assert_refused(post(client, raw), 400, "metadata may be nested at most 199 levels deep",
                       store)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_metadata_at_the_nesting_limit_is_stored_and_redacted(
        client: Client, store: MemoryStore) -> None:
    deep = b"[" * 199 + b'"mail me at a@b.example"' + b"]" * 199
    raw = orjson.dumps(body()).replace(b'"events"', b'"metadata":{"k":' + deep + b'},"events"', 1)
    assert post(client, raw).status_code == 200
    [summary] = store.list_sessions(SessionQuery())
    value = summary.metadata["k"]
    for _ in range(199):
        [value] = value
    assert "a@b.example" not in value


def test_error_event_with_an_absurd_line_number_keeps_the_batch(client: Client,
                                                                store: MemoryStore) -> None:
    raw = (b'{"sessionId":"s1","windowId":"w1","events":[{"type":5,"timestamp":1,"data":'
           b'{"tag":"error","payload":{"message":"boom","lineno":1e300,"colno":7}}}]}')
    assert post(client, raw).status_code == 200
    [fact] = store.iter_facts(kind="error")
    assert fact.data == {"message": "boom", "column": 7}  # the unstorable line left out


def test_metadata_that_is_not_an_object_is_ignored(client: Client, store: MemoryStore) -> None:
    assert post(client, body(metadata=["x"])).status_code == 200
    assert stored_sessions(store)[0].metadata == {}


# --- store failures --------------------------------------------------------------------------


class DownStore(MemoryStore):
    def save_batch(self, batch: Batch) -> bool:
        raise StoreError("connection refused")


class PickyStore(MemoryStore):
    def save_batch(self, batch: Batch) -> bool:
        raise ValueError("events cannot be stored as JSON: nope")


def test_store_unavailable_is_503_with_retry_after(make_app: Any, client_for: Any) -> None:
    store = DownStore()
    response = post(client_for(make_app(store)), body())
    assert_refused(response, 503, "storage unavailable, retry later", store)
    assert response.headers["Retry-After"] == "5"


def test_store_value_error_is_400_with_its_message(make_app: Any, client_for: Any) -> None:
    store = PickyStore()
    assert_refused(post(client_for(make_app(store)), body()), 400,
                   "events cannot be stored as JSON: nope", store)


def test_unexpected_error_is_500_json_without_details(make_app: Any, client_for: Any) -> None:
    class BrokenStore(MemoryStore):
        def save_batch(self, batch: Batch) -> bool:
            raise RuntimeError("secret internals")

    store = BrokenStore()
    response = post(client_for(make_app(store)), body())
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error"}
    assert b"secret" not in response.get_data()


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, br", "zstd"])
def test_an_unknown_content_encoding_is_415(client: Client, store: MemoryStore,
                                            encoding: str) -> None:
    """It used to be read as plain JSON (a valid JSON body was even stored)."""
    response = post(client, body(), headers={"Content-Encoding": encoding})
    assert_refused(response, 415,
                   "unsupported Content-Encoding: send gzip or no Content-Encoding", store)


@pytest.mark.parametrize("encoding", ["identity", "GZIP", "x-gzip", ""])
def test_known_content_encodings_are_read(client: Client, store: MemoryStore,
                                          encoding: str) -> None:
    raw = orjson.dumps(body())
    if "gzip" in encoding.lower():
        raw = gzip.compress(raw)
    assert post(client, raw, headers={"Content-Encoding": encoding}).status_code == 200
    assert len(stored_sessions(store)) == 1


def test_a_refused_oversized_body_is_read_before_answering() -> None:
    """So a client still uploading sees the 413 (see tests/test_serve_http.py for gunicorn)."""
    import io

    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request, Response

    from sentiero.web.events import drained

    answer = Response(status=413)
    stream = io.BytesIO(b"x" * 3_000_000)
    request = Request(EnvironBuilder(method="POST", input_stream=stream,
                                     headers={"Content-Length": "3000000"}).get_environ())
    assert drained(request, answer) is answer and stream.tell() == 3_000_000
    assert "Connection" not in answer.headers
    huge = io.BytesIO(b"x" * 9_000_000)
    request = Request(EnvironBuilder(method="POST", input_stream=huge,
                                     headers={"Content-Length": "9000000"}).get_environ())
    assert drained(request, answer).headers["Connection"] == "close"
    assert huge.tell() == 8 * 1024 * 1024, "reading stops at the bound"


def test_a_body_that_cannot_be_read_is_400_not_500(make_app: Any, store: MemoryStore) -> None:
    """gunicorn raises from wsgi.input on bad chunked framing or a cut connection; that was
    answered 500 "redaction failed"."""
    import io

    from werkzeug.test import EnvironBuilder

    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise ValueError("Invalid chunk size")

    from werkzeug.test import run_wsgi_app

    app = make_app(store)
    environ = EnvironBuilder(path="/events", method="POST",
                             headers={"Transfer-Encoding": "chunked",
                                      "Content-Type": "application/json"}).get_environ()
    environ["wsgi.input"] = Broken()
    environ["wsgi.input_terminated"] = True
    body, status, _headers = run_wsgi_app(app.wsgi_app, environ)
    assert status.startswith("400")
    assert orjson.loads(b"".join(body)) == {
        "error": "the request body could not be read (bad chunked framing or a cut connection)"}
    assert stored_sessions(store) == []
