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
