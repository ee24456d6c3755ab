"""The contract suite every store passes (DESIGN.md: "Every store passes the same contract
suite, run against the real servers in CI, not mocks").

Use it by subclassing in a test module::

    from contract import StoreContract

    class TestMyStore(StoreContract):
        def make_store(self):
            return MyStore(...)  # fresh and empty for every test

Limits are set by assigning ``store.limits`` after ``make_store()``; a store must read
``self.limits`` when it writes. Stores backed by a server also subclass
``StoreConcurrencyContract`` and implement ``store_factory()``.

Shared helpers live here too (fixture loading, test server URLs, ``require_server``) because
``conftest.py`` modules cannot be imported reliably; ``conftest.py`` re-exports them as
fixtures.
"""

from __future__ import annotations

import base64
import functools
import gzip
import os
import random
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from tests.fixtures import RRWEB_DIR

try:
    from tracking_contract import TrackingContract
except ImportError:  # imported as tests.stores.contract
    from tests.stores.tracking_contract import TrackingContract

from sentiero.stores.base import (
    Batch,
    Fact,
    SessionQuery,
    Store,
    StoreLimits,
    WindowRef,
    content_key,
    decode_events,
)

# --- shared helpers -------------------------------------------------------------------------

FIXTURES = RRWEB_DIR
FIXTURE_NAMES = ("dashboard-a", "frustration-a", "landing-a", "signup-b", "todo-a")

POSTGRES_URL = os.environ.get(
    "SENTIERO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("SENTIERO_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("SENTIERO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_DEFAULT_PORTS = {
    "postgresql": 5432,
    "postgres": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "redis": 6379,
    "rediss": 6379,
}


def require_server(url: str, timeout: float = 2.0) -> str:
    """Skip the test when the server behind ``url`` does not answer (fail instead under CI,
    which must run every backend). Returns the url."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    host = parts.hostname or "127.0.0.1"
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        env = {"postgresql": "POSTGRES", "mariadb": "MYSQL", "rediss": "REDIS"}.get(
            scheme, scheme.upper()
        )
        reason = (
            f"{scheme} server at {host}:{port} is not reachable ({exc}); "
            f"set the URL with SENTIERO_TEST_{env}_URL"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so every backend must run)")
        print(reason)
        pytest.skip(reason)
    return url


@functools.cache
def _load_fixture_bytes(name: str) -> bytes:
    return gzip.decompress((FIXTURES / f"{name}.json.gz").read_bytes())


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded session: ``{session_id, windows: [{window_id, url, events}], meta}``
    (a fresh copy on every call, so tests may mutate it)."""
    return orjson.loads(_load_fixture_bytes(name))


def fixture_batches(
    name: str,
    batch_size: int = 50,
    session_id: str | None = None,
    received_at: datetime | None = None,
    with_seq: bool = True,
) -> list[Batch]:
    """A fixture session cut into recorder-sized batches (seq numbered per window)."""
    fixture = load_fixture(name)
    sid = session_id or fixture["session_id"]
    when = received_at or datetime.now(timezone.utc)
    batches = []
    for window in fixture["windows"]:
        events = window["events"]
        for seq, start in enumerate(range(0, len(events), batch_size)):
            batches.append(
                Batch(
                    session_id=sid,
                    window_id=window["window_id"],
                    events=events[start : start + batch_size],
                    seq=seq if with_seq else None,
                    user_agent=fixture["meta"].get("user_agent"),
                    page_url=window["url"],
                    received_at=when + timedelta(milliseconds=seq),
                )
            )
    return batches


def synthetic_events(
    count: int, start_ms: int = 1_700_000_000_000, step_ms: int = 100, tag: str = ""
) -> list[dict[str, Any]]:
    """rrweb-shaped incremental events (mouse moves) with increasing timestamps."""
    return [
        {
            "type": 3,
            "timestamp": start_ms + i * step_ms,
            "data": {
                "source": 1,
                "positions": [{"x": i % 1280, "y": i % 800, "id": 4, "timeOffset": 0}],
                "tag": f"{tag}{i}",
            },
        }
        for i in range(count)
    ]


T0 = datetime(2031, 3, 4, 5, 6, 7, 123456, tzinfo=timezone.utc)


def batch(
    session_id: str = "s1",
    window_id: str = "w1",
    count: int = 10,
    start_ms: int = 1_700_000_000_000,
    seq: int | None = None,
    received_at: datetime | None = None,
    **kwargs: Any,
) -> Batch:
    return Batch(
        session_id=session_id,
        window_id=window_id,
        events=synthetic_events(count, start_ms, tag=f"{session_id}/{window_id}/{seq}/"),
        seq=seq,
        received_at=received_at or T0,
        **kwargs,
    )


def dumps(events: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(events)


# --- the contract ---------------------------------------------------------------------------


class StoreContract(TrackingContract):
    """Behaviour every backend must show (the error-tracking part: tracking_contract.py).
    Subclasses implement ``make_store``."""

    def make_store(self) -> Store:
        raise NotImplementedError

    def cleanup_store(self, store: Store) -> None:
        """Remove what the test left on a server (called before ``close``)."""

    @pytest.fixture
    def store(self):
        store = self.make_store()
        try:
            yield store
        finally:
            try:
                self.cleanup_store(store)
            finally:
                store.close()

    # --- replay data ------------------------------------------------------------------------

    def test_fixture_batches_read_back_byte_identical(self, store: Store) -> None:
        fixture = load_fixture("todo-a")
        batches = fixture_batches("todo-a", batch_size=20)
        assert len(batches) > 2
        assert all(store.save_batch(b) for b in batches)
        window = fixture["windows"][0]
        ref = WindowRef(fixture["session_id"], window["window_id"])
        assert dumps(store.get_events(ref)) == dumps(window["events"])
        chunks = store.get_chunks(ref)
        assert [c.info.index for c in chunks] == list(range(len(batches)))
        joined = [e for c in chunks for e in orjson.loads(c.events_json())]
        assert dumps(joined) == dumps(window["events"])
        assert [dumps(c.events()) for c in chunks] == [dumps(b.events) for b in batches]

    def test_every_fixture_round_trips(self, store: Store) -> None:
        for name in FIXTURE_NAMES:
            for b in fixture_batches(name):
                assert store.save_batch(b)
        for name in FIXTURE_NAMES:
            fixture = load_fixture(name)
            summary = store.get_session(fixture["session_id"])
            assert summary is not None
            assert summary.window_ids == [w["window_id"] for w in fixture["windows"]]
            assert summary.user_agent == fixture["meta"]["user_agent"]
            for window in fixture["windows"]:
                ref = WindowRef(fixture["session_id"], window["window_id"])
                assert dumps(store.get_events(ref)) == dumps(window["events"])
        listed = store.list_sessions(SessionQuery(limit=100))
        assert sorted(s.session_id for s in listed) == sorted(
            load_fixture(n)["session_id"] for n in FIXTURE_NAMES
        )

    def test_unicode_and_large_events_round_trip(self, store: Store) -> None:
        rng = random.Random(7)
        noise = base64.b64encode(rng.randbytes(300_000)).decode()  # ~400 kB, incompressible
        events = [
            {"type": 2, "timestamp": 1000, "data": {"text": 'naïve café 日本語 🎉 \u0000 "q"'}},
            {"type": 3, "timestamp": 1001, "data": {"blob": noise}},
            {"type": 3, "timestamp": 1002, "data": {"float": 1.5, "neg": -3, "null": None}},
        ]
        assert store.save_batch(Batch("uni", "w", events, seq=0, received_at=T0))
        assert dumps(store.get_events(WindowRef("uni", "w"))) == dumps(events)

    def test_chunk_index_time_ranges(self, store: Store) -> None:
        store.save_batch(batch(count=10, start_ms=1000, seq=0))
        store.save_batch(batch(count=5, start_ms=3000, seq=1))
        store.save_batch(batch(count=1, start_ms=9000, seq=None))
        index = store.chunk_index(WindowRef("s1", "w1"))
        assert [(c.index, c.first_ms, c.last_ms, c.event_count, c.seq) for c in index] == [
            (0, 1000, 1900, 10, 0),
            (1, 3000, 3400, 5, 1),
            (2, 9000, 9000, 1, None),
        ]
        assert store.chunk_index(WindowRef("s1", "other")) == []
        assert store.chunk_index(WindowRef("nope", "w1")) == []

    def test_get_chunks_by_time_range_and_index(self, store: Store) -> None:
        for i in range(5):  # chunk i covers [i*1000, i*1000 + 900]
            store.save_batch(batch(count=10, start_ms=i * 1000, seq=i))
        ref = WindowRef("s1", "w1")

        def indexes(**kw: Any) -> list[int]:
            return [c.info.index for c in store.get_chunks(ref, **kw)]

        assert indexes() == [0, 1, 2, 3, 4]
        assert indexes(from_ms=1900) == [1, 2, 3, 4]  # overlap is inclusive
        assert indexes(from_ms=1901) == [2, 3, 4]
        assert indexes(to_ms=2000) == [0, 1, 2]
        assert indexes(from_ms=950, to_ms=1500) == [1]
        assert indexes(from_ms=950, to_ms=999) == []
        assert indexes(start_index=3) == [3, 4]
        assert indexes(limit=2) == [0, 1]
        assert indexes(start_index=1, limit=2, from_ms=2950) == [3, 4]
        first = store.get_chunks(ref, limit=1)[0]
        assert first.info.first_ms == 0 and first.info.event_count == 10
        assert [e["timestamp"] for e in first.events()] == [i * 100 for i in range(10)]
        assert decode_events(first.data) == first.events()
        assert store.get_chunks(WindowRef("s1", "missing")) == []

    def test_get_events_after_and_limit(self, store: Store) -> None:
        store.save_batch(batch(count=10, start_ms=0, seq=0))
        store.save_batch(batch(count=10, start_ms=1000, seq=1))
        ref = WindowRef("s1", "w1")
        assert len(store.get_events(ref)) == 20
        after = store.get_events(ref, after_ms=900)  # exclusive
        assert [e["timestamp"] for e in after] == [1000 + i * 100 for i in range(10)]
        assert [e["timestamp"] for e in store.get_events(ref, after_ms=850, limit=3)] == [
            900,
            1000,
            1100,
        ]
        assert store.get_events(ref, limit=1)[0]["timestamp"] == 0
        assert store.get_events(ref, after_ms=10_000) == []
        assert store.get_events(WindowRef("s1", "nope")) == []

    def test_batches_arriving_out_of_seq_order_read_back_in_time_order(
        self, store: Store
    ) -> None:
        # the beacons a closing page sends can overtake each other on the way
        store.save_batch(batch(count=5, start_ms=2000, seq=2))
        store.save_batch(batch(count=5, start_ms=0, seq=0))
        store.save_batch(batch(count=5, start_ms=1000, seq=1))
        stamps = [e["timestamp"] for e in store.get_events(WindowRef("s1", "w1"))]
        assert stamps == sorted(stamps) and len(stamps) == 15
        assert store.get_events(WindowRef("s1", "w1"), limit=2)[0]["timestamp"] == 0

    def test_chunks_read_in_seq_order_when_batches_arrive_out_of_order(
        self, store: Store
    ) -> None:
        # seq 3 overtakes seq 2; replay reads 1, 2, 3 from the index and from every page
        ref = WindowRef("s1", "w1")
        for seq in (1, 3, 2):
            store.save_batch(batch(count=3, start_ms=seq * 1000, seq=seq))
        assert [c.seq for c in store.chunk_index(ref)] == [1, 2, 3]
        assert [c.info.seq for c in store.get_chunks(ref)] == [1, 2, 3]
        first = store.get_chunks(ref, limit=2)
        assert [c.info.seq for c in first] == [1, 2]
        rest = store.get_chunks(ref, start_index=first[-1].info.index + 1)
        assert [c.info.seq for c in rest] == [3]
        stamps = [e["timestamp"] for c in store.get_chunks(ref) for e in c.events()]
        assert stamps == sorted(stamps)
        # seq-less batches keep their arrival order, after the chunks already there
        store.save_batch(batch(count=1, start_ms=500, seq=None))
        store.save_batch(batch(count=1, start_ms=400, seq=None))
        assert [c.first_ms for c in store.chunk_index(ref)][-2:] == [500, 400]

    def test_compaction_joins_runs_and_keeps_events_order_and_dedup(self, store: Store) -> None:
        from sentiero.compaction import compact_window

        ref = WindowRef("s1", "w1")
        for seq in (0, 1, 2, 4, 5):  # seq 3 is still on its way
            store.save_batch(batch(count=4, start_ms=seq * 1000, seq=seq))
        before = [c.events_json() for c in store.get_chunks(ref)]
        stats = compact_window(store, ref)
        assert (stats.chunks_before, stats.chunks_after) == (5, 2)
        index = store.chunk_index(ref)
        assert [(c.index, c.seq, c.event_count, c.first_ms) for c in index] == [
            (0, 0, 12, 0), (4, 4, 8, 4000)]
        after = store.get_chunks(ref)
        assert b",".join(c.events_json()[1:-1] for c in after) == b",".join(
            t[1:-1] for t in before)
        assert store.get_session("s1").event_count == 20
        # a retry of a compacted batch is still a duplicate; the missing seq lands in order
        assert store.save_batch(batch(count=4, start_ms=1000, seq=1)) is False
        assert store.save_batch(batch(count=4, start_ms=3000, seq=3)) is True
        assert [c.seq for c in store.chunk_index(ref)] == [0, 3, 4]
        stamps = [e["timestamp"] for c in store.get_chunks(ref) for e in c.events()]
        assert stamps == sorted(stamps) and len(stamps) == 24
        assert compact_window(store, ref).chunks_before == 2  # seq 3 joins the run after it
        assert [(c.index, c.event_count) for c in store.chunk_index(ref)] == [(0, 12), (3, 12)]
        assert compact_window(store, ref).chunks_before == 0  # nothing adjacent is left
        assert store.delete_session("s1") and store.chunk_index(ref) == []

    def test_compaction_recompresses_a_lone_small_chunk_once(self, store: Store) -> None:
        from sentiero.compaction import compact_window
        from sentiero.stores.chunk_codec import gains_from_dictionary

        ref = WindowRef("s1", "w1")
        store.save_batch(batch(count=30, start_ms=0, seq=0))  # a window of one batch
        [before] = store.get_chunks(ref)
        assert gains_from_dictionary(before.data, len(before.events_json()))
        stats = compact_window(store, ref)
        assert (stats.chunks_before, stats.chunks_after, stats.windows) == (1, 1, 1)
        assert stats.bytes_after < stats.bytes_before
        [after] = store.get_chunks(ref)
        assert len(after.data) < len(before.data)
        assert after.events_json() == before.events_json()
        assert [(c.index, c.seq, c.event_count) for c in store.chunk_index(ref)] == [(0, 0, 30)]
        assert compact_window(store, ref).chunks_before == 0  # once: it has its dictionary now
        assert store.save_batch(batch(count=30, start_ms=0, seq=0)) is False

    def test_replace_chunks_refuses_a_run_that_changed(self, store: Store) -> None:
        from sentiero.stores.base import Chunk, encode_events, merged_info

        ref = WindowRef("s1", "w1")
        for seq in (0, 2):
            store.save_batch(batch(count=2, start_ms=seq * 1000, seq=seq))
        read = store.chunk_index(ref)
        joined = Chunk(merged_info(read), encode_events([]))
        store.save_batch(batch(count=2, start_ms=1000, seq=1))  # lands inside the range
        assert store.replace_chunks(ref, read, joined) is False
        assert [c.seq for c in store.chunk_index(ref)] == [0, 1, 2]
        assert store.replace_chunks(WindowRef("s1", "gone"), read, joined) is False

    def test_multi_window_session(self, store: Store) -> None:
        store.save_batch(batch(window_id="wB", count=4, start_ms=5000, seq=0))
        store.save_batch(batch(window_id="wA", count=3, start_ms=2000, seq=0))
        store.save_batch(batch(window_id="wB", count=2, start_ms=9000, seq=1))
        summary = store.get_session("s1")
        assert summary is not None
        assert summary.window_ids == ["wA", "wB"]  # ordered by first_ms
        assert [(w.event_count, w.first_ms, w.last_ms) for w in summary.windows] == [
            (3, 2000, 2200),
            (6, 5000, 9100),
        ]
        assert summary.event_count == 9
        assert (summary.first_ms, summary.last_ms) == (2000, 9100)
        assert summary.duration_ms == 7100
        assert [c.index for c in store.chunk_index(WindowRef("s1", "wA"))] == [0]
        assert [c.index for c in store.chunk_index(WindowRef("s1", "wB"))] == [0, 1]
        assert len(store.get_events(WindowRef("s1", "wA"))) == 3
        assert len(store.get_events(WindowRef("s1", "wB"))) == 6

    def test_session_bookkeeping(self, store: Store) -> None:
        store.save_batch(
            batch(
                count=5,
                start_ms=5000,
                seq=0,
                received_at=T0,
                user_agent="",
                page_url="https://x.test/b",
            )
        )
        store.save_batch(
            batch(
                count=5,
                start_ms=1000,
                seq=1,
                received_at=T0 + timedelta(seconds=3),
                user_agent="UA-1",
                page_url="https://x.test/a",
            )
        )
        store.save_batch(
            batch(
                count=5,
                start_ms=8000,
                seq=2,
                received_at=T0 + timedelta(seconds=5),
                user_agent="UA-2",
                page_url=None,
            )
        )
        s = store.get_session("s1")
        assert s is not None
        assert s.created_at == T0
        assert s.updated_at == T0 + timedelta(seconds=5)
        assert (s.first_ms, s.last_ms, s.event_count) == (1000, 8400, 15)
        assert s.user_agent == "UA-1"  # the first non-empty one
        assert s.last_url == "https://x.test/b"  # from the batch with the latest events
        assert s.has_errors is False
        assert s.created_at.tzinfo is not None and s.updated_at.utcoffset() == timedelta(0)

    def test_has_errors_is_monotonic(self, store: Store) -> None:
        store.save_batch(batch(seq=0))
        assert store.get_session("s1").has_errors is False
        store.save_batch(batch(seq=1, has_errors=True))
        store.save_batch(batch(seq=2, has_errors=False))
        assert store.get_session("s1").has_errors is True
        store.save_batch(batch(session_id="s2", seq=0, metadata={"has_errors": True}))
        assert store.get_session("s2").has_errors is True

    def test_empty_batch_stores_nothing(self, store: Store) -> None:
        assert store.save_batch(Batch("s1", "w1", [], seq=0, received_at=T0)) is False
        assert store.get_session("s1") is None

    # --- listing ----------------------------------------------------------------------------

    def _three_sessions(self, store: Store) -> None:
        # created order a, b, c; updated order b, c, a; event counts c > a > b
        store.save_batch(batch("sess-a", count=5, seq=0, received_at=T0))
        store.save_batch(batch("sess-b", count=2, seq=0, received_at=T0 + timedelta(seconds=1)))
        store.save_batch(batch("sess-c", count=9, seq=0, received_at=T0 + timedelta(seconds=2)))
        store.save_batch(batch("sess-a", count=1, seq=1, received_at=T0 + timedelta(seconds=3)))

    def _ids(self, store: Store, **kw: Any) -> list[str]:
        return [s.session_id for s in store.list_sessions(SessionQuery(**kw))]

    def test_list_sessions_sort(self, store: Store) -> None:
        self._three_sessions(store)
        assert self._ids(store) == ["sess-a", "sess-c", "sess-b"]
        assert self._ids(store, sort_by="updated_at") == ["sess-a", "sess-c", "sess-b"]
        assert self._ids(store, sort_by="created_at") == ["sess-c", "sess-b", "sess-a"]
        assert self._ids(store, sort_by="event_count") == ["sess-c", "sess-a", "sess-b"]
        listed = store.list_sessions(SessionQuery())
        assert listed[0].event_count == 6 and listed[0].window_ids == ["w1"]
        assert listed[0].created_at == T0

    def test_list_sessions_ties_break_by_id(self, store: Store) -> None:
        for sid in ("t-b", "t-c", "t-a"):
            store.save_batch(batch(sid, seq=0, received_at=T0))
        assert self._ids(store) == ["t-a", "t-b", "t-c"]
        assert self._ids(store, limit=2, offset=1) == ["t-b", "t-c"]

    def test_list_sessions_search(self, store: Store) -> None:
        store.save_batch(batch("Alpha-1", seq=0, metadata={"plan": "Enterprise", "n": 42}))
        store.save_batch(batch("beta-2", seq=0, metadata={"email": "jo@example.com"}))
        store.save_batch(batch("gamma_3", seq=0))
        assert self._ids(store, search="alpha") == ["Alpha-1"]
        assert self._ids(store, search="ENTERPRISE") == ["Alpha-1"]
        assert self._ids(store, search="example.COM") == ["beta-2"]
        assert self._ids(store, search="42") == ["Alpha-1"]
        assert sorted(self._ids(store, search="a")) == ["Alpha-1", "beta-2", "gamma_3"]
        assert self._ids(store, search="zzz") == []
        # LIKE wildcards are matched literally
        assert self._ids(store, search="%") == []
        assert self._ids(store, search="a_3") == ["gamma_3"]
        assert self._ids(store, search="a%1") == []
        assert self._ids(store, search="_") == ["gamma_3"]

    def test_list_sessions_since_until_inclusive(self, store: Store) -> None:
        self._three_sessions(store)  # updated: b T0+1, c T0+2, a T0+3
        t = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
        assert self._ids(store, since=t(2)) == ["sess-a", "sess-c"]
        assert self._ids(store, until=t(2)) == ["sess-c", "sess-b"]
        assert self._ids(store, since=t(1), until=t(1)) == ["sess-b"]
        assert self._ids(store, since=t(2) + timedelta(microseconds=1), until=t(3)) == ["sess-a"]
        assert self._ids(store, since=t(4)) == []

    def test_list_sessions_has_errors_filter(self, store: Store) -> None:
        store.save_batch(batch("ok-1", seq=0))
        store.save_batch(batch("bad-1", seq=0, has_errors=True))
        assert self._ids(store, has_errors=True) == ["bad-1"]
        assert self._ids(store, has_errors=False) == ["ok-1"]
        assert sorted(self._ids(store, has_errors=None)) == ["bad-1", "ok-1"]

    def test_list_sessions_pagination(self, store: Store) -> None:
        for i in range(7):
            store.save_batch(batch(f"p{i}", seq=0, received_at=T0 + timedelta(seconds=i)))
        assert self._ids(store, limit=3) == ["p6", "p5", "p4"]
        assert self._ids(store, limit=3, offset=3) == ["p3", "p2", "p1"]
        assert self._ids(store, limit=3, offset=6) == ["p0"]
        assert self._ids(store, limit=3, offset=7) == []
        assert self._ids(store, limit=2, offset=1, search="p") == ["p5", "p4"]

    def test_iter_session_ids(self, store: Store) -> None:
        for i in (2, 0, 1):
            store.save_batch(batch(f"it{i}", seq=0, received_at=T0 + timedelta(seconds=i)))
        assert list(store.iter_session_ids()) == ["it0", "it1", "it2"]

    def test_get_session_unknown(self, store: Store) -> None:
        assert store.get_session("never-seen") is None

    # --- metadata ---------------------------------------------------------------------------

    def test_metadata_merge_is_shallow(self, store: Store) -> None:
        store.save_batch(batch(seq=0, metadata={"user": {"id": 1, "plan": "pro"}, "a": "1"}))
        store.save_metadata("s1", {"user": {"id": 2}, "b": 2})
        store.save_batch(batch(seq=1, metadata={"c": [1, 2]}))
        assert store.get_session("s1").metadata == {
            "user": {"id": 2},
            "a": "1",
            "b": 2,
            "c": [1, 2],
        }
        listed = store.list_sessions(SessionQuery())
        assert listed[0].metadata["b"] == 2

    def test_metadata_ignored_for_unknown_session(self, store: Store) -> None:
        store.save_metadata("ghost", {"a": 1})
        assert store.get_session("ghost") is None
        assert store.list_sessions(SessionQuery()) == []

    def test_metadata_validated(self, store: Store) -> None:
        store.save_batch(batch(seq=0))
        with pytest.raises(ValueError):
            store.save_metadata("s1", {"k": "x" * 2000})
        with pytest.raises(ValueError):
            store.save_metadata("s1", {f"k{i}": i for i in range(51)})
        with pytest.raises(ValueError):
            store.save_batch(batch(seq=1, metadata={"": 1}))
        assert store.get_session("s1").metadata == {}

    # --- deletes ----------------------------------------------------------------------------

    def test_delete_window(self, store: Store) -> None:
        store.save_batch(batch(window_id="w1", seq=0, facts=[Fact("click", "s1", "w1", 5)]))
        store.save_batch(batch(window_id="w2", seq=0, start_ms=10_000))
        assert store.delete_window(WindowRef("s1", "w1")) is True
        summary = store.get_session("s1")
        assert summary is not None and summary.window_ids == ["w2"]
        assert summary.event_count == 10
        assert store.get_events(WindowRef("s1", "w1")) == []
        assert store.chunk_index(WindowRef("s1", "w1")) == []
        assert store.delete_window(WindowRef("s1", "w1")) is False
        assert store.delete_window(WindowRef("s1", "w2")) is True  # the last window
        assert store.get_session("s1") is None
        assert store.list_sessions(SessionQuery()) == []
        assert store.delete_window(WindowRef("nobody", "w1")) is False

    def test_delete_session_removes_everything(self, store: Store) -> None:
        facts = [Fact("page_view", "s1", "w1", 1_700_000_000_000, "https://x.test/", {})]
        store.save_batch(batch(seq=0, facts=facts, metadata={"k": "v"}))
        store.save_batch(batch(window_id="w2", seq=0))
        store.save_batch(batch("s2", seq=0, facts=[Fact("click", "s2", "w1", 7)]))
        assert store.delete_session("s1") is True
        assert store.get_session("s1") is None
        assert store.chunk_index(WindowRef("s1", "w1")) == []
        assert store.get_chunks(WindowRef("s1", "w2")) == []
        assert list(store.iter_facts(session_id="s1")) == []
        assert [f.session_id for f in store.iter_facts()] == ["s2"]
        assert store.delete_session("s1") is False
        # the dedup records went too: the same seq is stored again
        assert store.save_batch(batch(seq=0)) is True
        assert store.get_session("s1").metadata == {}
        assert [c.index for c in store.chunk_index(WindowRef("s1", "w1"))] == [0]

    def test_purge_older_than(self, store: Store) -> None:
        now = datetime.now(timezone.utc)
        store.save_batch(
            batch(
                "old",
                seq=0,
                received_at=now - timedelta(days=3),
                facts=[Fact("click", "old", "w1", 1)],
            )
        )
        store.save_batch(batch("old-but-active", seq=0, received_at=now - timedelta(days=3)))
        store.save_batch(batch("old-but-active", seq=1, received_at=now - timedelta(minutes=1)))
        store.save_batch(batch("new", seq=0, received_at=now))
        assert store.purge_older_than(86_400) == 1
        assert sorted(self._ids(store)) == ["new", "old-but-active"]
        assert list(store.iter_facts(session_id="old")) == []
        assert store.purge_older_than(86_400) == 0

    def test_erase_sessions_validates_all_ids_first(self, store: Store) -> None:
        store.save_batch(batch("e1", seq=0))
        store.save_batch(batch("e2", seq=0))
        with pytest.raises(ValueError):
            store.erase_sessions(["e1", "../etc/passwd"])
        assert sorted(self._ids(store)) == ["e1", "e2"]
        assert store.erase_sessions(["e1", "e2", "e3"]) == 2
        assert store.erase_sessions(["e1"]) == 0
        assert self._ids(store) == []

    def backend_leftovers(self, store: Store) -> list[str]:
        """What the backend still holds, read from the backend itself, not through the store
        API (rows per table, keys, files); empty when the store is empty. Every store's test
        class implements it."""
        raise NotImplementedError(f"{type(self).__name__} must implement backend_leftovers")

    def test_erase_leaves_nothing_behind(self, store: Store) -> None:
        now = datetime.now(timezone.utc)
        rich = {
            "metadata": {"email_hash": "abc", "plan": "pro"},
            "user_agent": "UA/1",
            "page_url": "https://x.test/a",
            "has_errors": True,
        }
        for sid, when in (("erase-me", now), ("old-one", now - timedelta(days=9)),
                          ("one-window", now)):
            for wid in ("w1", "w2") if sid != "one-window" else ("w1",):
                for seq in (0, 1):
                    facts = [
                        Fact("page_view", sid, wid, 1_700_000_000_000 + seq, "https://x.test/a",
                             {"width": 1}),
                        Fact("error", sid, wid, 1_700_000_000_500 + seq, None, {"message": "m"}),
                    ]
                    assert store.save_batch(batch(
                        sid, wid, seq=seq, received_at=when, facts=facts,
                        window_state={"password_ids": [seq, 34]}, **rich,
                    ))
                assert store.save_batch(batch(sid, wid, seq=None, received_at=when))
        assert self.backend_leftovers(store) != []
        # each way a session can leave: erasure by id, retention purge, its last window
        assert store.erase_sessions(["erase-me"]) == 1
        assert store.purge_older_than(86_400) == 1
        assert store.delete_window(WindowRef("one-window", "w1")) is True
        assert self._ids(store) == []
        for sid in ("erase-me", "old-one", "one-window"):
            assert store.get_window_state(WindowRef(sid, "w1")) is None
            assert list(store.iter_facts(session_id=sid)) == []
        assert list(store.iter_facts()) == []
        assert self.backend_leftovers(store) == []

    # --- window state -----------------------------------------------------------------------

    def test_window_state_is_saved_with_the_batch(self, store: Store) -> None:
        ref = WindowRef("s1", "w1")
        assert store.get_window_state(ref) is None
        state = {"password_ids": [34], "field_ids": [26, 30, 34], "unmasked_ids": []}
        assert store.save_batch(batch(seq=0, window_state=state))
        assert store.get_window_state(ref) == state
        state["password_ids"].append(99)  # the store kept its own copy
        assert store.get_window_state(ref)["password_ids"] == [34]
        # a later batch replaces it; one without state leaves it; windows are separate
        assert store.save_batch(batch(seq=1, window_state={"password_ids": [1, 34]}))
        assert store.save_batch(batch(seq=2))
        assert store.get_window_state(ref) == {"password_ids": [1, 34]}
        assert store.save_batch(batch(window_id="w2", seq=0, window_state={"field_ids": [5]}))
        assert store.get_window_state(WindowRef("s1", "w2")) == {"field_ids": [5]}
        assert store.get_window_state(ref) == {"password_ids": [1, 34]}
        assert store.get_window_state(WindowRef("s1", "w3")) is None
        assert store.get_window_state(WindowRef("s9", "w1")) is None

    def test_window_state_of_a_refused_batch_is_not_saved(self, store: Store) -> None:
        ref = WindowRef("s1", "w1")
        assert store.save_batch(batch(seq=0, window_state={"password_ids": [1]}))
        # a duplicate stores nothing, its state included
        assert store.save_batch(batch(seq=0, window_state={"password_ids": [2]})) is False
        assert store.get_window_state(ref) == {"password_ids": [1]}
        # an invalid batch stores nothing either
        bad_fact = Fact("click", "s1", "w1", 5, None, {"bad": {1, 2}})
        with pytest.raises(ValueError):
            store.save_batch(batch(seq=1, facts=[bad_fact], window_state={"password_ids": [3]}))
        with pytest.raises(ValueError):
            store.save_batch(batch(seq=1, window_state={"bad": {1}}))  # type: ignore[dict-item]
        with pytest.raises(ValueError):
            store.save_batch(batch(seq=1, window_state=["not", "a", "dict"]))  # type: ignore
        assert store.get_window_state(ref) == {"password_ids": [1]}
        assert [c.index for c in store.chunk_index(ref)] == [0]

    def test_window_state_goes_with_its_window(self, store: Store) -> None:
        store.save_batch(batch(window_id="w1", seq=0, window_state={"password_ids": [1]}))
        store.save_batch(batch(window_id="w2", seq=0, window_state={"password_ids": [2]}))
        assert store.delete_window(WindowRef("s1", "w1"))
        assert store.get_window_state(WindowRef("s1", "w1")) is None
        assert store.get_window_state(WindowRef("s1", "w2")) == {"password_ids": [2]}
        # a window recorded again after deletion starts without state
        store.save_batch(batch(window_id="w1", seq=0))
        assert store.get_window_state(WindowRef("s1", "w1")) is None
        assert store.delete_session("s1")
        assert store.get_window_state(WindowRef("s1", "w2")) is None

    def test_window_state_survives_chunk_limits(self, store: Store) -> None:
        store.limits = StoreLimits(max_events_per_session=15)
        store.save_batch(batch(seq=0, window_state={"password_ids": [1]}))
        store.save_batch(batch(window_id="w2", seq=0, start_ms=2_000_000_000_000))
        store.save_batch(batch(window_id="w2", seq=1, start_ms=2_000_000_100_000))
        assert store.chunk_index(WindowRef("s1", "w1")) == []  # its only chunk was dropped
        assert store.get_window_state(WindowRef("s1", "w1")) == {"password_ids": [1]}

    # --- facts ------------------------------------------------------------------------------

    def test_facts_written_and_read_back(self, store: Store) -> None:
        base = 1_800_000_000_000
        f1 = Fact(
            "page_view",
            "s1",
            "w1",
            base,
            "https://x.test/a",
            {"viewport": {"width": 1280, "height": 800}},
        )
        f2 = Fact(
            "click",
            "s1",
            "w1",
            base + 500,
            "https://x.test/a",
            {"x": 10, "y": 20, "selector": "button#go"},
        )
        f3 = Fact("error", "s1", "w1", base + 900, None, {"message": "boom ☠", "source": "a.js"})
        f4 = Fact("click", "s2", "w9", base + 200, "https://x.test/b", {"x": 1, "y": 2})
        store.save_batch(batch(seq=0, facts=[f3, f1, f2]))
        store.save_batch(batch("s2", "w9", seq=0, facts=[f4]))
        assert list(store.iter_facts()) == [f1, f4, f2, f3]  # by ts_ms
        assert list(store.iter_facts(kind="click")) == [f4, f2]
        assert list(store.iter_facts(session_id="s1", kind="click")) == [f2]
        at = lambda ms: datetime.fromtimestamp(ms / 1000, tz=timezone.utc)  # noqa: E731
        assert list(store.iter_facts(since=at(base + 200))) == [f4, f2, f3]
        assert list(store.iter_facts(until=at(base + 500))) == [f1, f4, f2]
        assert list(store.iter_facts(since=at(base + 200), until=at(base + 200))) == [f4]
        assert list(store.iter_facts(kind="vital")) == []

    # --- exactly once -----------------------------------------------------------------------

    def test_exactly_once_per_session_window_seq(self, store: Store) -> None:
        assert store.save_batch(batch(seq=0)) is True
        assert store.save_batch(batch(seq=0)) is False
        assert store.save_batch(batch(seq=1)) is True
        assert store.save_batch(batch(window_id="w2", seq=0)) is True
        assert store.save_batch(batch(session_id="s2", seq=0)) is True
        assert len(store.chunk_index(WindowRef("s1", "w1"))) == 2
        assert store.get_session("s1").event_count == 30

    def test_duplicate_stores_nothing_at_all(self, store: Store) -> None:
        store.save_batch(batch(seq=3, received_at=T0, metadata={"a": 1}))
        dup = batch(
            seq=3,
            count=2,
            received_at=T0 + timedelta(hours=1),
            metadata={"a": 2},
            has_errors=True,
            user_agent="UA",
            page_url="https://dup.test/",
            facts=[Fact("click", "s1", "w1", 1)],
        )
        assert store.save_batch(dup) is False
        s = store.get_session("s1")
        assert (s.event_count, s.updated_at, s.metadata, s.has_errors) == (10, T0, {"a": 1}, False)
        assert s.user_agent is None and s.last_url is None
        assert list(store.iter_facts()) == []

    def test_a_retried_batch_without_seq_is_stored_once(self, store: Store) -> None:
        """The original recorder sends no seq; its retries used to be stored twice."""
        assert store.save_batch(batch(seq=None)) is True
        assert store.save_batch(batch(seq=None)) is False
        assert store.save_batch(batch(seq=None, start_ms=5000)) is True, "other content"
        assert store.save_batch(batch(window_id="w2", seq=None)) is True, "other window"
        assert [c.seq for c in store.chunk_index(WindowRef("s1", "w1"))] == [None, None]
        assert store.get_session("s1").event_count == 30

    def test_seq_less_dedup_uses_the_content_key_ingest_gives(self, store: Store) -> None:
        sent = batch(seq=None)
        key = content_key(sent.events)
        assert store.save_batch(batch(seq=None, count=3, content_key=key)) is True
        assert store.save_batch(sent) is False, "same key, as a retry scrubbed differently"
        assert store.get_session("s1").event_count == 3

    def test_seq_less_keys_never_meet_seqs(self, store: Store) -> None:
        assert store.save_batch(batch(seq=0)) is True
        assert store.save_batch(batch(seq=None)) is True
        assert store.save_batch(batch(seq=1, start_ms=7000)) is True
        assert [c.seq for c in store.chunk_index(WindowRef("s1", "w1"))] == [0, None, 1]

    # --- limits -----------------------------------------------------------------------------

    def test_max_sessions_evicts_oldest_updated(self, store: Store) -> None:
        store.limits = StoreLimits(max_sessions=2)
        store.save_batch(batch("m1", seq=0, received_at=T0))
        store.save_batch(batch("m2", seq=0, received_at=T0 + timedelta(seconds=1)))
        store.save_batch(batch("m3", seq=0, received_at=T0 + timedelta(seconds=2)))
        assert sorted(self._ids(store)) == ["m2", "m3"]
        # the session just written is never the one evicted, even when it looks oldest
        store.save_batch(batch("m0", seq=0, received_at=T0 - timedelta(days=1)))
        assert sorted(self._ids(store)) == ["m0", "m3"]
        assert store.chunk_index(WindowRef("m2", "w1")) == []

    def test_writers_racing_at_max_sessions_never_evict_each_others_session(
        self, store: Store
    ) -> None:
        """Each writer stored its new session, then evicted every other one: with a tiny
        limit, two writers could each evict the other's and leave nothing of either."""
        store.limits = StoreLimits(max_sessions=1)
        rounds, writers = 15, 4
        for r in range(rounds):
            start = threading.Barrier(writers)
            errors: list[BaseException] = []

            def write(w: int, r: int = r, start: threading.Barrier = start,
                      errors: list[BaseException] = errors) -> None:
                try:
                    start.wait()
                    store.save_batch(batch(f"race-{r}-{w}", seq=0,
                                           received_at=T0 + timedelta(seconds=r)))
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            survivors = self._ids(store)
            assert survivors, f"round {r}: every new session was evicted"
            assert all(s.startswith(f"race-{r}-") for s in survivors), survivors

    def test_max_events_per_session_drops_oldest_chunks(self, store: Store) -> None:
        store.limits = StoreLimits(max_events_per_session=25)
        for i in range(4):
            store.save_batch(batch(count=10, start_ms=i * 1000, seq=i))
        index = store.chunk_index(WindowRef("s1", "w1"))
        assert [c.index for c in index] == [2, 3]
        s = store.get_session("s1")
        assert s.event_count == 20 and s.first_ms == 2000
        assert store.get_events(WindowRef("s1", "w1"))[0]["timestamp"] == 2000
        # a dropped batch retried later is still a duplicate
        assert store.save_batch(batch(count=10, start_ms=0, seq=0)) is False
        # a single batch above the limit is kept whole: the newest chunk always stays
        store.save_batch(batch(count=40, start_ms=50_000, seq=9))
        assert [(c.index, c.seq) for c in store.chunk_index(WindowRef("s1", "w1"))] == [(9, 9)]
        assert store.get_session("s1").event_count == 40

    def test_max_events_per_session_drains_windows_by_first_event(self, store: Store) -> None:
        store.limits = StoreLimits(max_events_per_session=15)
        store.save_batch(batch(window_id="late", count=10, start_ms=5000, seq=0))
        store.save_batch(batch(window_id="early", count=10, start_ms=1000, seq=0))
        # "early" holds the oldest events, but it is the chunk just written: "late" goes
        assert store.chunk_index(WindowRef("s1", "late")) == []
        store.save_batch(batch(window_id="late", count=10, start_ms=9000, seq=1))
        assert store.chunk_index(WindowRef("s1", "early")) == []
        assert [c.index for c in store.chunk_index(WindowRef("s1", "late"))] == [1]
        assert store.get_session("s1").event_count == 10

    # --- validation and atomicity -----------------------------------------------------------

    def test_unserializable_batch_stores_nothing(self, store: Store) -> None:
        bad = batch(seq=0)
        bad.events[3]["data"]["oops"] = {1, 2, 3}
        with pytest.raises((TypeError, ValueError)):
            store.save_batch(bad)
        assert store.get_session("s1") is None
        assert store.list_sessions(SessionQuery()) == []
        assert store.save_batch(batch(seq=0)) is True  # the seq was not consumed

    def test_unserializable_fact_stores_nothing(self, store: Store) -> None:
        bad = batch(seq=0, facts=[Fact("click", "s1", "w1", 1, None, {"x": object()})])
        with pytest.raises((TypeError, ValueError)):
            store.save_batch(bad)
        assert store.get_session("s1") is None
        assert list(store.iter_facts()) == []

    def test_numbers_too_large_to_store_are_refused_before_anything_is_stored(
        self, store: Store
    ) -> None:
        # import files reach save_batch without the ingest checks: a store must refuse these
        # up front (ValueError), not fail halfway (or with a raw driver error)
        def huge_ts(value: Any) -> Batch:
            b = batch(seq=0)
            b.events[4]["timestamp"] = value
            return b

        bad = [
            batch(seq=2**63),
            huge_ts(2**63),
            huge_ts(-(2**63)),
            huge_ts(1e20),
            huge_ts(float("inf")),
            huge_ts(float("nan")),
            batch(seq=0, facts=[Fact("click", "s1", "w1", 2**63)]),
            batch(seq=0, facts=[Fact("click", "s1", "w1", float("inf"))]),  # type: ignore[arg-type]
            batch(seq=0, facts=[Fact("click", "s1", "w1", None)]),  # type: ignore[arg-type]
        ]
        for b in bad:
            with pytest.raises(ValueError):
                store.save_batch(b)
        assert store.get_session("s1") is None
        assert store.list_sessions(SessionQuery()) == []
        assert list(store.iter_facts()) == []
        # the largest storable values are stored
        assert store.save_batch(huge_ts(2**63 - 1)) is True
        low = Fact("click", "s1", "w1", -(2**63) + 1)
        assert store.save_batch(batch(seq=2**63 - 1, facts=[low])) is True
        assert [c.seq for c in store.chunk_index(WindowRef("s1", "w1"))] == [0, 2**63 - 1]

    def test_batch_received_before_1970_is_stored_whole(self, store: Store) -> None:
        old = datetime(1969, 7, 20, 20, 17, 40, tzinfo=timezone.utc)
        assert store.save_batch(batch("moon", seq=0, received_at=old)) is True
        assert store.save_batch(batch("later", seq=0, received_at=T0)) is True
        s = store.get_session("moon")
        assert s is not None and (s.created_at, s.updated_at, s.event_count) == (old, old, 10)
        assert self._ids(store) == ["later", "moon"]
        assert self._ids(store, sort_by="created_at") == ["later", "moon"]
        assert store.purge_older_than(86_400) == 1
        assert self._ids(store) == ["later"]

    @pytest.mark.parametrize("bad", ["", "a b", "../x", "x" * 129, "ümlaut", "a/b", None, 5])
    def test_bad_ids_raise(self, store: Store, bad: Any) -> None:
        with pytest.raises(ValueError):
            store.save_batch(batch(session_id=bad, seq=0))
        with pytest.raises(ValueError):
            store.save_batch(batch(window_id=bad, seq=0))
        with pytest.raises(ValueError):
            store.get_session(bad)
        with pytest.raises(ValueError):
            store.delete_session(bad)
        with pytest.raises(ValueError):
            store.chunk_index(WindowRef("s1", bad))
        with pytest.raises(ValueError):
            store.get_chunks(WindowRef(bad, "w1"))
        assert store.list_sessions(SessionQuery()) == []

    def test_bad_seq_raises(self, store: Store) -> None:
        for seq in (-1, "1", 1.5, True):
            with pytest.raises(ValueError):
                store.save_batch(batch(seq=seq))  # type: ignore[arg-type]
        assert store.get_session("s1") is None

    def test_longest_valid_ids(self, store: Store) -> None:
        sid, wid = "S" * 128, "w-_" * 42 + "ww"
        assert store.save_batch(batch(sid, wid, seq=0))
        assert store.get_session(sid).window_ids == [wid]
        assert len(store.get_events(WindowRef(sid, wid))) == 10

    def test_threads_write_one_session(self, store: Store) -> None:
        results: list[bool] = []
        lock = threading.Lock()

        def work(t: int) -> None:
            for seq in range(10):
                ok = store.save_batch(batch("th", "w", count=2, start_ms=seq * 10, seq=seq))
                ok2 = store.save_batch(batch("th", f"w{t}", count=2, start_ms=seq * 10, seq=seq))
                with lock:
                    results.extend([ok, ok2])

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert results.count(True) == 10 + 40
        index = store.chunk_index(WindowRef("th", "w"))
        assert sorted(c.seq for c in index) == list(range(10))
        assert [c.index for c in index] == list(range(10))
        assert store.get_session("th").event_count == 100


# --- concurrency across processes (server-backed stores) ------------------------------------

PROCESSES = 4
THREADS = 4
SHARED_SEQS = 12  # every worker posts all of these to one window: exactly one must win
OWN_SEQS = 6


def _concurrency_worker(factory: Callable[[], Store], process: int) -> tuple[int, list[str]]:
    """Runs in a spawned process: THREADS threads posting batches, with duplicate retries."""
    store = factory()
    stored = 0
    errors: list[str] = []
    lock = threading.Lock()

    def post(b: Batch) -> None:
        nonlocal stored
        try:
            ok = store.save_batch(b)
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            return
        if ok:
            with lock:
                stored += 1

    def thread(t: int) -> None:
        worker = process * THREADS + t
        order = list(range(SHARED_SEQS))
        random.Random(worker).shuffle(order)
        for i, seq in enumerate(order):
            # the hot window: all 16 workers race on every seq
            post(_conc_batch("conc-shared", "hot", seq, count=3))
            # a window of the shared session per worker, each batch retried once
            own = _conc_batch("conc-shared", f"w{worker}", i % OWN_SEQS, count=2)
            post(own)
            # a session of this worker alone, each batch retried once
            post(_conc_batch(f"conc-p{process}-t{t}", "w", i % OWN_SEQS, count=1))

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    store.close()
    return stored, errors


def _conc_batch(session_id: str, window_id: str, seq: int, count: int) -> Batch:
    events = [
        {
            "type": 3,
            "timestamp": 1_700_000_000_000 + seq * 1000 + i,
            "data": {"who": f"{session_id}/{window_id}/{seq}/{i}"},
        }
        for i in range(count)
    ]
    return Batch(
        session_id,
        window_id,
        events,
        seq=seq,
        facts=[Fact("click", session_id, window_id, events[0]["timestamp"])],
    )


class StoreConcurrencyContract:
    """Several processes writing the same and different sessions at once store every batch
    exactly once. Subclasses implement ``store_factory`` (picklable, e.g. a
    ``functools.partial`` of the store class) and ``make_store``."""

    def make_store(self) -> Store:
        raise NotImplementedError

    def store_factory(self) -> Callable[[], Store]:
        raise NotImplementedError

    def cleanup_store(self, store: Store) -> None:
        """Remove what the test left on a server (called before ``close``)."""

    def test_processes_and_threads_store_each_batch_exactly_once(self) -> None:
        import multiprocessing

        factory = self.store_factory()
        store = factory()
        store.setup()
        try:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(PROCESSES) as pool:
                results = pool.starmap(
                    _concurrency_worker, [(factory, p) for p in range(PROCESSES)]
                )
            errors = [e for _, errs in results for e in errs]
            assert errors == []
            workers = PROCESSES * THREADS
            expected = SHARED_SEQS + workers * OWN_SEQS + workers * OWN_SEQS
            assert sum(stored for stored, _ in results) == expected

            hot = store.chunk_index(WindowRef("conc-shared", "hot"))
            assert sorted(c.seq for c in hot) == list(range(SHARED_SEQS))
            assert sorted(c.index for c in hot) == list(range(SHARED_SEQS))
            for chunk in store.get_chunks(WindowRef("conc-shared", "hot")):
                assert [e["data"]["who"].split("/")[2] for e in chunk.events()] == [
                    str(chunk.info.seq)
                ] * 3
            shared = store.get_session("conc-shared")
            assert shared is not None
            assert len(shared.windows) == workers + 1
            assert shared.event_count == SHARED_SEQS * 3 + workers * OWN_SEQS * 2
            for w in range(workers):
                own = store.chunk_index(WindowRef("conc-shared", f"w{w}"))
                assert sorted(c.seq for c in own) == list(range(OWN_SEQS))
            for p in range(PROCESSES):
                for t in range(THREADS):
                    s = store.get_session(f"conc-p{p}-t{t}")
                    assert s is not None and s.event_count == OWN_SEQS
            assert len(store.list_sessions(SessionQuery(limit=100))) == workers + 1
            assert len(list(store.iter_facts())) == expected
        finally:
            try:
                self.cleanup_store(store)
            finally:
                store.close()
