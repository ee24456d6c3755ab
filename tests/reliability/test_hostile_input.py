"""Hostile input: a hypothesis-driven fuzzer over every public POST endpoint (events,
opt-out, and any ingest endpoint added later): malformed JSON, wrong types, deep nesting,
huge strings, invalid UTF-8, NaN/Infinity, duplicate keys, broken gzip, unknown encodings,
path traversal and unicode in ids. Never a 5xx, never a partial write (a refused request
leaves the store exactly as it was), memory bounded; plus gzip bombs and bad HTTP framing
against a real server.

CI size: 150 cases per store (SENTIERO_FUZZ_CASES changes it). ``--long``: 100,000 cases
on SQLite.
"""

from __future__ import annotations

import gzip
import os
import re
import resource
import socket
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from sentiero.app import Sentiero
from sentiero.stores import open_store
from sentiero.stores.base import SessionQuery, Store
from sentiero.stores.sql import SQLStore
from sentiero.tracking.keys import create_key
from tests.reliability.harness import SentieroServer, private_folder
from tests.stores.contract import load_fixture

# --- what a hostile client sends ----------------------------------------------------------

IDS = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9_-]{1,20}\Z"),
    st.sampled_from(["", "../../etc/passwd", "..", "a/b", "a\\b", "%2e%2e", "s" * 129,
                     "ünï", "a\x00b", "CON", " s1", "s1\n", "🙂", "\u202e", "s1;DROP TABLE x"]),
    st.text(max_size=140),
    st.integers(), st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
)
NUMBERS = st.one_of(
    st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.just(1.7e308),
    st.sampled_from(["1700000000000", "NaN", "1e400", "-0", " 12 ", "0x10", ""]),
    st.booleans(), st.none(),
)
JSON_LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=40))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20,
)
REAL_EVENTS = load_fixture("signup-b")["windows"][0]["events"]
EVENTS = st.one_of(
    st.lists(st.fixed_dictionaries({"type": st.one_of(st.integers(0, 7), JSON_LEAVES),
                                    "timestamp": NUMBERS},
                                   optional={"data": JSON_VALUES, "extra": JSON_VALUES}),
             max_size=5),
    st.lists(st.sampled_from(REAL_EVENTS), min_size=1, max_size=6),
    JSON_VALUES,
)
VALID_ID = st.from_regex(r"\A[A-Za-z0-9_-]{1,12}\Z")
NEARLY_VALID = st.fixed_dictionaries(
    {"sessionId": VALID_ID, "windowId": VALID_ID,
     "events": st.lists(st.sampled_from(REAL_EVENTS), min_size=1, max_size=6)},
    optional={"seq": st.integers(0, 3), "metadata": st.dictionaries(
        st.text(min_size=1, max_size=10), JSON_VALUES, max_size=3)},
)
"""Valid batches, so the mutations also hit the path that stores."""
NEARLY_VALID_REPORT = st.fixed_dictionaries(
    {"exception_class": st.sampled_from(["RuntimeError", "KeyError", "", " ", 7, None]),
     "message": st.one_of(st.text(min_size=1, max_size=60), JSON_LEAVES),
     "name": st.sampled_from(["signup", "checkout.paid", "", 3, None])},
    optional={"backtrace": st.one_of(st.lists(st.text(max_size=60), max_size=5), JSON_VALUES),
              "context": st.one_of(st.dictionaries(
                  st.sampled_from(["request", "user", "environment", "release", "tags"]),
                  JSON_VALUES, max_size=4), JSON_VALUES),
              "payload": JSON_VALUES, "level": JSON_LEAVES, "timestamp": NUMBERS,
              "platform": JSON_LEAVES, "session_id": IDS, "window_id": IDS},
)
"""Server-side reports (`/errors` wants exception_class and message, `/track` a name), so
the fuzzer reaches their body rules and the path that stores, not only the key check."""
PAYLOADS = st.one_of(NEARLY_VALID, NEARLY_VALID_REPORT, st.fixed_dictionaries(
    {},
    optional={"sessionId": IDS, "windowId": IDS, "events": EVENTS,
              "seq": st.one_of(NUMBERS, st.integers(0, 5)),
              "metadata": st.one_of(JSON_VALUES, st.dictionaries(
                  st.text(max_size=130), JSON_VALUES, max_size=60))},
))


def deep(depth: int) -> bytes:
    return b'{"sessionId":"s1","windowId":"w1","events":[{"type":5,"timestamp":1,"data":' + (
        b"[" * depth) + b"1" + (b"]" * depth) + b"}],\"metadata\":{\"k\":" + (
        b"[" * depth) + b"1" + (b"]" * depth) + b"}}"


def mutate(body: bytes, how: str, data: st.DataObject) -> bytes:
    if how == "truncate" and body:
        return body[: data.draw(st.integers(0, len(body) - 1))]
    if how == "invalid-utf8":
        return body.replace(b'"s', b'"\xff\xfes', 1) if b'"s' in body else b'"\xc3\x28"'
    if how == "nan":
        return body.replace(b'"timestamp":', b'"timestamp":NaN,"t":', 1) or b"NaN"
    if how == "infinity":
        return body.replace(b"1", b"Infinity", 1)
    if how == "duplicate-keys":
        return body.replace(b"{", b'{"sessionId":"dup","sessionId":"s1",', 1)
    if how == "deep":
        return deep(data.draw(st.sampled_from([150, 199, 200, 254, 256, 10_000])))
    if how == "huge-string":
        return b'{"sessionId":"s1","windowId":"w1","events":[{"type":5,"timestamp":1,' \
               b'"data":{"tag":"' + b"x" * data.draw(st.sampled_from([10_000, 600_000])) + \
               b'"}}]}'
    if how == "garbage":
        return data.draw(st.binary(max_size=300))
    if how == "envelope":  # a sentry envelope: header line, item header, item payload
        header = data.draw(st.sampled_from([b'{"event_id":"0123456789abcdef"}', b"{}", b"[]",
                                            b"not json", b""]))
        item = data.draw(st.sampled_from([b"event", b"transaction", b"attachment", b"x"]))
        length = data.draw(st.sampled_from([b"", b',"length":%d' % len(body), b',"length":-1',
                                            b',"length":99999999']))
        return header + b'\n{"type":"' + item + b'"' + length + b"}\n" + body + b"\n"
    return body


BODIES = st.tuples(
    PAYLOADS,
    st.sampled_from(["none"] * 6 + ["truncate", "invalid-utf8", "nan", "infinity",
                                    "duplicate-keys", "deep", "huge-string", "garbage",
                                    "envelope", "envelope"]),
    st.sampled_from([None, None, None, "gzip", "gzip", "gzip-broken", "x-gzip", "br",
                     "gzip, deflate", "identity", "\x00"]),
    st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=x", "", "application/json; charset=latin1"]),
)


def encode(body: bytes, encoding: str | None) -> tuple[bytes, dict[str, str]]:
    if encoding is None:
        return body, {}
    if encoding == "gzip-broken":
        return gzip.compress(body)[:-6], {"Content-Encoding": "gzip"}
    if "gzip" in encoding and "," not in encoding:
        return gzip.compress(body), {"Content-Encoding": encoding}
    return body, {"Content-Encoding": encoding}


# --- the fuzzer -----------------------------------------------------------------------------


def fingerprint(store: Store) -> tuple[Any, ...]:
    """What a partial write would change: rows of every table (SQL), or every session."""
    if isinstance(store, SQLStore):
        t = store.tables
        with store.engine.connect() as conn:
            return tuple(
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                for table in (t.sessions, t.windows, t.chunks, t.facts, t.batches,
                              t.tracking.problems, t.tracking.occurrences,
                              t.tracking.server_events)
            ) + tuple(conn.execute(sa.select(sa.func.sum(t.sessions.c.event_count))).one())
    sessions = store.list_sessions(SessionQuery(limit=10_000))
    return tuple(sorted((s.session_id, s.event_count, tuple(s.window_ids),
                         orjson.dumps(s.metadata, option=orjson.OPT_SORT_KEYS))
                        for s in sessions))


def public_post_paths(app: Sentiero) -> list[str]:
    """Every public route taking POST (assets excluded): events, opt-out, the ingest
    endpoints and any added later, without editing this test (an ``<int:...>`` part, the
    envelope's project id, becomes 1)."""
    paths = []
    for route in app.wsgi_app.routes.values():
        if route.public and "POST" in route.methods:
            rule = re.sub(r"<int:\w+>", "1", route.rule)
            if "<" not in rule:
                paths.append(rule)
    return sorted(paths)


@pytest.fixture(params=["sqlite", "file"])
def fuzz_store_url(request: pytest.FixtureRequest, tmp_path: Path, long_run: bool) -> str:
    if long_run and request.param == "file":
        pytest.skip("--long runs its 100,000 cases on SQLite; the file store has its CI run")
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fuzz.db"
    return f"file://{tmp_path}/fuzz-files"


ROUND = 2_000


def test_hostile_requests_never_5xx_and_never_write_partially(
        fuzz_store_url: str, long_run: bool, report: Any) -> None:
    app = Sentiero(store=open_store(fuzz_store_url), allow_open_dashboard=True,
                   capture_errors=True)
    client = Client(app.wsgi_app)
    paths = public_post_paths(app)
    assert {"/events", "/opt-out", "/errors", "/track", "/api/1/envelope/"} <= set(paths)
    ingest_key, _ = create_key(app.store, "fuzz")
    keys = st.sampled_from([ingest_key] * 4 + [None, "wrong", ingest_key + "x"])
    statuses: Counter[str] = Counter()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cases = int(os.environ.get("SENTIERO_FUZZ_CASES", 100_000 if long_run else 150))

    def one_request(case: tuple[Any, str, str | None, str], path: str,
                    data: st.DataObject) -> None:
        key = data.draw(keys)
        payload, how, encoding, content_type = case
        try:
            body = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # an integer beyond 64 bits: write the JSON by hand
            body = repr(payload).encode()
        raw, headers = encode(mutate(body, how, data), encoding)
        if content_type:
            headers["Content-Type"] = content_type
        query = {}
        if key is not None:  # the key as each endpoint takes it (the others ignore it)
            headers["Authorization"] = f"Bearer {key}"
            query["sentry_key"] = key
        before = fingerprint(app.store)
        response = client.post(path, data=raw, headers=headers, query_string=query)
        statuses[f"{path} {response.status_code}"] += 1
        assert response.status_code < 500, (path, response.get_data(as_text=True)[:300])
        answer = response.get_json(silent=True)
        accepted = response.status_code == 200 and isinstance(answer, dict) and \
            answer.get("status") == "ok"
        if not accepted:
            assert fingerprint(app.store) == before, "a refused request changed the store"

    # in rounds of at most ROUND cases: Hypothesis keeps what it explored for the length of
    # one run (hundreds of MiB over 100,000 cases), which would hide what we measure, the
    # server's memory; each round is a fresh run (random in --long, fixed in CI)
    started = time.monotonic()
    done = 0
    while done < cases:
        size = min(ROUND, cases - done)
        run = settings(max_examples=size, deadline=None, database=None,
                       derandomize=not long_run, suppress_health_check=list(HealthCheck))(
            given(case=BODIES, path=st.sampled_from(paths), data=st.data())(one_request))
        run()
        done += size
        if long_run:
            print(f"fuzz: {sum(statuses.values())} requests after {done} cases, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
    growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    report(store=fuzz_store_url.split(":", 1)[0], cases=cases, requests=sum(statuses.values()),
           statuses=dict(statuses), peak_rss_growth_mib=round(growth_mib, 1),
           duration_s=round(time.monotonic() - started))
    assert growth_mib < 400, f"memory grew by {growth_mib:.0f} MiB"


# --- a real server: gzip bombs and bad framing ---------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[SentieroServer]:
    with private_folder("hostile") as folder:
        srv = SentieroServer(folder, f"sqlite:///{folder}/s.db")
        srv.start()
        yield srv
        srv.stop()


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A gzip member of ``inflated_bytes`` zeros (about 1/1000 of that, compressed)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    parts = [packer.compress(block) for _ in range(inflated_bytes >> 20)]
    return b"".join(parts) + packer.flush()


def exchange(port: int, raw: bytes, timeout_s: float = 15) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(raw)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int | None:
    first = answer.split(b"\r\n", 1)[0].split(b" ")
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else None


def test_a_gzip_bomb_is_refused_with_flat_memory(server: SentieroServer, long_run: bool,
                                                 report: Any) -> None:
    from tests.reliability.recorders import peak_rss_mib

    inflated = (1 << 30) if long_run else (256 << 20)
    bomb = gzip_bomb(inflated)
    rss_before = peak_rss_mib([server.proc.pid])
    head = (b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(bomb))
    for _ in range(3):
        assert status_of(exchange(server.port, head + bomb)) == 413
    rss_after = peak_rss_mib([server.proc.pid])
    report(inflated_mib=inflated >> 20, compressed_kib=len(bomb) >> 10,
           server_peak_rss_before_mib=round(rss_before, 1),
           server_peak_rss_after_mib=round(rss_after, 1))
    assert rss_after - rss_before < 64, "decompression is bounded"


FRAMING = [
    # (name, raw request, acceptable statuses; None = the server closed without answering)
    ("content-length larger than the body", b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 100\r\nConnection: close\r\n\r\n{\"a\":1}", {400, None}),
    ("content-length smaller than the body", b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 3\r\nConnection: close\r\n\r\n{\"sessionId\":\"s\"}", {400}),
    ("negative content-length", b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: -5\r\nConnection: close\r\n\r\n{}", {400}),
    ("two content-lengths", b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 2\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{}", {400}),
    ("chunked with a bad size", b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\n"
     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", {400}),
    ("chunked and content-length", b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\n"
     b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
     b"2\r\n{}\r\n0\r\n\r\n", {400}),
    ("chunked, never terminated", b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\n"
     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n", {400, None}),
    ("a header line without a colon", b"POST /sentiero/events HTTP/1.1\r\nHost: x\r\n"
     b"Broken\r\nConnection: close\r\n\r\n", {400}),
    ("a bare LF request", b"POST /sentiero/events HTTP/1.1\nHost: x\nContent-Length: 2\n"
     b"Connection: close\n\n{}", {400}),
    ("a path with traversal", b"GET /sentiero/assets/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\n"
     b"Host: x\r\nConnection: close\r\n\r\n", {404}),
    ("a huge request line", b"GET /sentiero/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     {414, 400}),
]


@pytest.mark.parametrize(("name", "raw", "allowed"), FRAMING, ids=[f[0] for f in FRAMING])
def test_bad_framing_is_refused_cleanly(server: SentieroServer, name: str, raw: bytes,
                                        allowed: set[int | None]) -> None:
    answer = exchange(server.port, raw, timeout_s=5)
    assert status_of(answer) in allowed, answer[:200]
    assert status_of(exchange(server.port, b"GET /sentiero/recorder.js HTTP/1.1\r\nHost: x\r\n"
                                            b"Connection: close\r\n\r\n")) == 200, "still up"
