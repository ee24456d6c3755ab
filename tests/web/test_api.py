"""Replay data API: chunk index and events by cursor (docs/CONTRACTS.md)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sentiero.stores.base import Batch, Chunk, ChunkInfo, WindowRef
from sentiero.stores.memory import MemoryStore
from tests.web.support import save

BASE = "/api/sessions/s1/windows/w1"


def batch_events(n: int, start: int, size: int = 3) -> list[dict[str, Any]]:
    return [{"type": 3, "timestamp": start + i, "data": {"batch": n, "i": i}} for i in range(size)]


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    for n in range(6):  # chunks 0..5, 3 events each, 1000 ms apart
        save(store, "s1", "w1", batch_events(n, 1000 * (n + 1)), seq=n)
    return store


@pytest.fixture
def client(make_app: Any, client_for: Any, store: MemoryStore) -> Any:
    return client_for(make_app(store, allow_open_dashboard=True))


def test_chunk_index(client: Any) -> None:
    response = client.get(f"{BASE}/chunks")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    data = response.get_json()
    assert data["session_id"] == "s1" and data["window_id"] == "w1"
    assert (data["first_ms"], data["last_ms"], data["event_count"]) == (1000, 6002, 18)
    assert data["chunks"][0] == {"index": 0, "first_ms": 1000, "last_ms": 1002, "event_count": 3}
    assert [c["index"] for c in data["chunks"]] == list(range(6))


def test_chunk_index_of_unknown_window_is_404(client: Any) -> None:
    response = client.get("/api/sessions/s1/windows/nope/chunks")
    assert response.status_code == 404
    assert response.get_json() == {"error": "window not found"}


def test_events_default_page_is_four_chunks(client: Any) -> None:
    data = client.get(f"{BASE}/events").get_json()
    assert [e["data"]["batch"] for e in data["events"]] == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert data["next_cursor"] == 4
    rest = client.get(f"{BASE}/events?cursor=4").get_json()
    assert [e["data"]["batch"] for e in rest["events"]] == [4] * 3 + [5] * 3
    assert rest["next_cursor"] is None


def test_events_cursor_and_chunks(client: Any) -> None:
    data = client.get(f"{BASE}/events?cursor=2&chunks=1").get_json()
    assert {e["data"]["batch"] for e in data["events"]} == {2}
    assert data["next_cursor"] == 3
    assert client.get(f"{BASE}/events?cursor=99").get_json() == {"events": [],
                                                                 "next_cursor": None}


def test_chunks_is_capped_at_50_and_at_least_1(client: Any) -> None:
    assert client.get(f"{BASE}/events?chunks=1000").get_json()["next_cursor"] is None
    assert client.get(f"{BASE}/events?chunks=0").get_json()["next_cursor"] == 1


def test_from_ms_skips_chunks_that_end_before_it(client: Any) -> None:
    data = client.get(f"{BASE}/events?from_ms=4001&chunks=2").get_json()
    assert [e["data"]["batch"] for e in data["events"]][:1] == [3]
    assert data["next_cursor"] == 5


@pytest.mark.parametrize("query", ["cursor=-1", "cursor=abc", "chunks=1.5", "from_ms=x"])
def test_malformed_numbers_are_400(client: Any, query: str) -> None:
    response = client.get(f"{BASE}/events?{query}")
    assert response.status_code == 400
    assert "must be a non-negative integer" in response.get_json()["error"]


def test_unknown_window_has_no_events(client: Any) -> None:
    data = client.get("/api/sessions/zz/windows/zz/events").get_json()
    assert data == {"events": [], "next_cursor": None}


def test_invalid_ids_are_400(client: Any) -> None:
    for path in ("/api/sessions/a.b/windows/w/chunks", "/api/sessions/s/windows/a%20b/events"):
        response = client.get(path)
        assert response.status_code == 400
        assert response.get_json() == {"error": "invalid ID format"}


def test_api_needs_dashboard_auth(make_app: Any, client_for: Any, store: MemoryStore) -> None:
    client = client_for(make_app(store))
    assert client.get(f"{BASE}/chunks").status_code == 403
    assert client.get(f"{BASE}/events").status_code == 403
    client = client_for(make_app(store, basic_auth=("u", "p")))
    assert client.get(f"{BASE}/events").status_code == 401


def test_body_is_stitched_from_stored_json_without_parsing(make_app: Any,
                                                           client_for: Any) -> None:
    """The stored bytes reach the response as they are (no parse / re-serialize)."""

    class RawStore(MemoryStore):
        def get_chunks(self, ref: WindowRef, *args: Any, **kwargs: Any) -> list[Chunk]:
            import zstandard

            raw = [b'[{"type":3,"timestamp":1.50,"x":"\\u00e9"}]', b"[]", b' [ {"a":1} ] ']
            return [Chunk(ChunkInfo(i, 0, 0, 1), zstandard.ZstdCompressor().compress(r))
                    for i, r in enumerate(raw)]

    client = client_for(make_app(RawStore(), allow_open_dashboard=True))
    body = client.get(f"{BASE}/events").get_data()
    assert body == (b'{"events":[{"type":3,"timestamp":1.50,"x":"\\u00e9"},{"a":1}],'
                    b'"next_cursor":null}')
    assert orjson.loads(body)["events"][0]["x"] == "\u00e9"


def test_windows_after_oldest_chunks_were_dropped(make_app: Any, client_for: Any) -> None:
    store = MemoryStore()
    store.limits.max_events_per_session = 6
    for n in range(4):
        store.save_batch(Batch("s1", "w1", batch_events(n, 1000 * (n + 1)), seq=n))
    client = client_for(make_app(store, allow_open_dashboard=True))
    index = client.get(f"{BASE}/chunks").get_json()
    first = index["chunks"][0]["index"]
    assert first > 0
    data = client.get(f"{BASE}/events?cursor={first}&chunks=1").get_json()
    assert data["events"] and data["next_cursor"] == first + 1


def _unzstd(body: bytes) -> bytes:
    """Decode a zstd body the way a browser does: every concatenated frame."""
    import io

    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body), read_across_frames=True)
    return reader.read()


def test_chunks_layout_sends_the_stored_bytes_as_zstd(client: Any, store: MemoryStore) -> None:
    stored = store.get_chunks(WindowRef("s1", "w1"), limit=4)
    response = client.get(f"{BASE}/events?layout=chunks",
                          headers={"Accept-Encoding": "gzip, br, zstd"})
    assert response.headers["Content-Encoding"] == "zstd"
    assert response.headers["Vary"] == "Accept-Encoding"
    body = response.get_data()
    for chunk in stored:
        assert chunk.data in body, "each stored chunk is on the wire as it is stored"
    glue = len(body) - sum(len(c.data) for c in stored)
    assert 0 < glue < 100, "only the JSON around the chunks is added"
    data = orjson.loads(_unzstd(body))
    assert data["next_cursor"] == 4
    assert data["chunks"] == [c.events() for c in stored]
    assert [e["data"]["batch"] for e in data["chunks"][1]] == [1, 1, 1]


@pytest.mark.parametrize("layout", ["events", "chunks"])
@pytest.mark.parametrize("accept", ["gzip, deflate, br, zstd", "gzip, deflate, br", None])
def test_every_encoding_answers_the_same_json(client: Any, layout: str, accept: str | None) -> None:
    import gzip

    plain = client.get(f"{BASE}/events?layout={layout}&cursor=1&chunks=3")
    assert "Content-Encoding" not in plain.headers
    headers = {"Accept-Encoding": accept} if accept else {}
    response = client.get(f"{BASE}/events?layout={layout}&cursor=1&chunks=3", headers=headers)
    encoding = response.headers.get("Content-Encoding")
    body = response.get_data()
    decoded = {"zstd": _unzstd, "gzip": gzip.decompress, None: lambda b: b}[encoding](body)
    assert encoding == ("zstd" if accept and "zstd" in accept else "gzip" if accept else None)
    assert orjson.loads(decoded) == orjson.loads(plain.get_data())
    if layout == "events":
        assert orjson.loads(decoded) == client.get(f"{BASE}/events?cursor=1&chunks=3").get_json()


def test_chunks_layout_flattens_to_the_events_layout(client: Any) -> None:
    chunks = client.get(f"{BASE}/events?layout=chunks&chunks=50").get_json()
    flat = client.get(f"{BASE}/events?chunks=50").get_json()
    assert [e for chunk in chunks["chunks"] for e in chunk] == flat["events"]
    assert len(chunks["chunks"]) == 6


def test_a_chunk_browsers_cannot_decode_is_re_encoded(make_app: Any, client_for: Any) -> None:
    """A chunk compressed with a dictionary (a browser has none) is never sent as stored."""
    import zstandard

    samples = [orjson.dumps([{"type": 3, "timestamp": i, "data": {"x": i}}]) for i in range(200)]
    dictionary = zstandard.train_dictionary(1024, samples)
    with_dict = zstandard.ZstdCompressor(dict_data=dictionary).compress(samples[7])

    class DictStore(MemoryStore):
        def get_chunks(self, ref: WindowRef, *args: Any, **kwargs: Any) -> list[Chunk]:
            return [Chunk(ChunkInfo(0, 7, 7, 1), with_dict)]

        def chunk_index(self, ref: WindowRef) -> list[ChunkInfo]:
            return [ChunkInfo(0, 7, 7, 1)]

    import sentiero.stores.base as base

    original = base.decode_events_json
    base.decode_events_json = lambda blob: zstandard.ZstdDecompressor(
        dict_data=dictionary).decompress(blob)
    try:
        client = client_for(make_app(DictStore(), allow_open_dashboard=True))
        response = client.get(f"{BASE}/events?layout=chunks", headers={"Accept-Encoding": "zstd"})
    finally:
        base.decode_events_json = original
    body = response.get_data()
    assert with_dict not in body
    expected = {"chunks": [orjson.loads(samples[7])], "next_cursor": None}
    assert orjson.loads(_unzstd(body)) == expected


@pytest.mark.parametrize("accept", ["gzip, zstd", None])
def test_wire_zstd_is_the_zstd_body_without_content_encoding(client: Any, store: MemoryStore,
                                                             accept: str | None) -> None:
    """The player's worker decodes the body itself: the stored frames, whatever it accepts."""
    stored = store.get_chunks(WindowRef("s1", "w1"), start_index=1, limit=3)
    headers = {"Accept-Encoding": accept} if accept else {}
    response = client.get(f"{BASE}/events?layout=chunks&cursor=1&chunks=3&wire=zstd",
                          headers=headers)
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.mimetype == "application/zstd"
    body = response.get_data()
    for chunk in stored:
        assert chunk.data in body, "each stored chunk is on the wire as it is stored"
    plain = client.get(f"{BASE}/events?layout=chunks&cursor=1&chunks=3").get_json()
    decoded = _unzstd(body)
    assert orjson.loads(decoded) == plain
    assert int(response.headers["X-Decoded-Length"]) == len(decoded)


def test_wire_zstd_of_the_flat_layout_states_its_length(client: Any) -> None:
    response = client.get(f"{BASE}/events?cursor=1&chunks=3&wire=zstd")
    decoded = _unzstd(response.get_data())
    assert int(response.headers["X-Decoded-Length"]) == len(decoded)
    assert orjson.loads(decoded) == client.get(f"{BASE}/events?cursor=1&chunks=3").get_json()


def test_unknown_wire_is_400(client: Any) -> None:
    response = client.get(f"{BASE}/events?layout=chunks&wire=br")
    assert response.status_code == 400
    assert "wire must be zstd" in response.get_json()["error"]


def test_unknown_layout_is_400(client: Any) -> None:
    response = client.get(f"{BASE}/events?layout=xml")
    assert response.status_code == 400
    assert "layout must be one of" in response.get_json()["error"]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_beacons_arriving_out_of_seq_order_replay_in_order(
    make_app: Any, client_for: Any, backend: str, tmp_path: Any
) -> None:
    # events endpoint -> store -> replay JSON, with seq 3 overtaking seq 2 on the way
    from sentiero.stores.sql import SQLStore

    store = MemoryStore() if backend == "memory" else SQLStore(f"sqlite:///{tmp_path}/r.db")
    client = client_for(make_app(store, allow_open_dashboard=True))
    for seq in (0, 1, 3, 2):
        events = [{"type": 4 if seq == 0 else 3, "timestamp": 1000 * (seq + 1) + i,
                   "data": {"href": "https://a.test/", "width": 1, "height": 1} if seq == 0
                   else {"source": 1, "positions": [], "batch": seq}} for i in range(2)]
        answer = client.post("/events", content_type="application/json",
                             data=orjson.dumps({"sessionId": "s1", "windowId": "w1",
                                                "seq": seq, "events": events}))
        assert answer.status_code == 200, answer.get_data()
    index = client.get(f"{BASE}/chunks").get_json()["chunks"]
    assert [c["first_ms"] for c in index] == [1000, 2000, 3000, 4000]
    stamps: list[int] = []
    cursor: int | None = 0
    while cursor is not None:  # the player's pages, two chunks at a time
        page = client.get(f"{BASE}/events?cursor={cursor}&chunks=2&layout=chunks").get_json()
        stamps += [e["timestamp"] for chunk in page["chunks"] for e in chunk]
        cursor = page["next_cursor"]
    assert stamps == [1000, 1001, 2000, 2001, 3000, 3001, 4000, 4001]
    flat = client.get(f"{BASE}/events?chunks=50").get_json()["events"]
    assert [e["timestamp"] for e in flat] == stamps
