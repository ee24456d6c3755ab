"""RedisStore against a real Redis (SENTIERO_TEST_REDIS_URL, default redis://127.0.0.1:6379/0).

Every test works under its own key prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from contract import (
    REDIS_URL,
    T0,
    StoreConcurrencyContract,
    StoreContract,
    batch,
    require_server,
)

redis = pytest.importorskip("redis")

from sentiero.stores import open_store  # noqa: E402
from sentiero.stores.base import (  # noqa: E402
    Fact,
    SessionQuery,
    StoreError,
    StoreLimits,
    WindowRef,
)
from sentiero.stores.redis import RedisStore  # noqa: E402

pytestmark = pytest.mark.backend


def _prefix() -> str:
    return f"sentiero-test-{uuid.uuid4().hex[:12]}:"


def _keys(client: redis.Redis, prefix: str) -> list[bytes]:
    return sorted(client.scan_iter(match=prefix + "*", count=1000))


def _drop(client: redis.Redis, prefix: str) -> None:
    keys = _keys(client, prefix)
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def redis_url() -> str:
    return require_server(REDIS_URL)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    p = _prefix()
    yield p
    _drop(client, p)


class TestRedisStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, redis_url: str) -> Iterator[None]:
        self._url = redis_url
        self._prefixes: list[str] = []
        yield
        c = redis.Redis.from_url(redis_url)
        for p in self._prefixes:
            _drop(c, p)
        c.close()

    def make_store(self) -> RedisStore:
        p = _prefix()
        self._prefixes.append(p)
        return RedisStore(self._url, prefix=p)

    def backend_leftovers(self, store: RedisStore) -> list[str]:  # type: ignore[override]
        client = redis.Redis.from_url(self._url)
        try:
            keys = sorted(k.decode() for k in _keys(client, store.prefix))
            # two store-wide counters hold no session data: the fact kinds seen ("click", ...)
            # and the fact arrival counter
            kinds = {m.decode() for m in client.smembers(store.prefix + "kinds")}
        finally:
            client.close()
        assert kinds <= {"page_view", "click", "error"}
        allowed = {store.prefix + "kinds", store.prefix + "factseq"}
        return [k for k in keys if k not in allowed]


class TestRedisStoreWithTTL(TestRedisStore):
    """The whole contract again with a TTL set: expiry bookkeeping must not change results."""

    def make_store(self) -> RedisStore:
        p = _prefix()
        self._prefixes.append(p)
        return RedisStore(self._url, prefix=p, ttl_seconds=3600)


class TestRedisStoreConcurrency(StoreConcurrencyContract):
    @pytest.fixture(autouse=True)
    def _server(self, redis_url: str) -> Iterator[None]:
        self._url = redis_url
        self._prefix = _prefix()
        yield
        c = redis.Redis.from_url(redis_url)
        _drop(c, self._prefix)
        c.close()

    def make_store(self) -> RedisStore:
        return RedisStore(self._url, prefix=self._prefix)

    def store_factory(self) -> Callable[[], RedisStore]:
        return functools.partial(RedisStore, self._url, prefix=self._prefix)


# --- backend specific -------------------------------------------------------------------------


def _fill(store: RedisStore) -> None:
    store.save_batch(batch("s1", "w1", seq=0, metadata={"plan": "pro"},
                           facts=[Fact("click", "s1", "w1", 1_700_000_000_000, None, {"x": 1})]))
    store.save_batch(batch("s1", "w2", seq=0, start_ms=5000, user_agent="UA",
                           page_url="https://x.test/", has_errors=True,
                           facts=[Fact("page_view", "s1", "w2", 5000, "https://x.test/", {})]))
    store.save_batch(batch("s2", "w1", seq=None))
    store.save_metadata("s2", {"k": "v"})


def test_open_store_redis_url(redis_url: str) -> None:
    store = open_store(redis_url)
    try:
        assert isinstance(store, RedisStore)
        store.setup()
    finally:
        store.close()


def test_ttl_applied_to_every_key(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(client, prefix=prefix, ttl_seconds=600)
    store.limits = StoreLimits(max_events_per_session=1000, max_sessions=100)
    _fill(store)
    keys = _keys(client, prefix)
    assert len(keys) > 15
    expiry = (prefix + "expiry").encode()
    for key in keys:
        ttl = client.ttl(key)
        if key == expiry:  # outlives an idle store, so expired sessions are still found
            assert ttl == -1
            continue
        assert 0 < ttl <= 1200, (key, ttl)


def test_ttl_refreshes_every_window_of_the_session(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(client, prefix=prefix, ttl_seconds=600)
    store.save_batch(batch("s1", "w1", seq=0))
    for key in _keys(client, prefix):
        client.expire(key, 5)
    store.save_batch(batch("s1", "w2", seq=0))
    for key in _keys(client, prefix):
        if key == (prefix + "expiry").encode():
            assert client.ttl(key) == -1, "the expiry index never expires"
        else:
            assert client.ttl(key) > 5, key


def test_expired_session_leaves_the_indexes(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(client, prefix=prefix, ttl_seconds=600)
    store.save_batch(batch("gone", seq=0, facts=[Fact("click", "gone", "w1", 10)]))
    store.save_batch(batch("kept", seq=0, facts=[Fact("click", "kept", "w1", 20)]))
    # make "gone" expire now, as Redis would after the TTL
    for key in _keys(client, prefix):
        name = key.decode()
        if name.endswith(":gone") or ":gone:" in name:
            if not name.startswith(prefix + "sf:"):
                client.delete(key)
    client.zadd(prefix + "expiry", {"gone": 0})
    assert [s.session_id for s in store.list_sessions(SessionQuery())] == ["kept"]
    assert [f.session_id for f in store.iter_facts()] == ["kept"]
    assert not [k for k in _keys(client, prefix) if b"gone" in k]
    assert client.zscore(prefix + "by:updated", "gone") is None


def test_no_keys_command_on_any_path(
    client: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("KEYS must never be used")

    monkeypatch.setattr(client, "keys", forbidden)
    real_execute = client.execute_command

    def spy(*args: object, **kwargs: object) -> object:
        assert str(args[0]).upper() != "KEYS", "KEYS must never be used"
        return real_execute(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", spy)
    store = RedisStore(client, prefix=prefix, ttl_seconds=600,
                       limits=StoreLimits(max_sessions=2, max_events_per_session=15))
    _fill(store)
    store.save_batch(batch("s3", seq=0, received_at=T0 + timedelta(seconds=5)))
    store.list_sessions(SessionQuery())
    store.list_sessions(SessionQuery(search="pro", has_errors=True, sort_by="event_count"))
    store.list_sessions(SessionQuery(since=T0, until=T0 + timedelta(days=1)))
    store.get_session("s1")
    list(store.iter_facts())
    list(store.iter_session_ids())
    store.get_events(WindowRef("s1", "w1"))
    store.delete_window(WindowRef("s1", "w1"))
    store.delete_session("s1")
    store.purge_older_than(0)
    store.clear()
    # the Lua scripts must not call KEYS either
    from sentiero.stores import redis as module

    for name in dir(module):
        if name.startswith("_LUA"):
            assert "'KEYS'" not in getattr(module, name).upper().replace('"', "'")


def test_delete_session_leaves_no_key_behind(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(client, prefix=prefix)
    store.save_batch(batch("other", seq=0, facts=[Fact("click", "other", "w1", 3)]))
    baseline = set(_keys(client, prefix))
    _fill(store)
    store.limits = StoreLimits(max_events_per_session=15)
    store.save_batch(batch("s1", "w1", seq=1, start_ms=9000,
                           facts=[Fact("error", "s1", "w1", 9000, None, {"message": "x"})]))
    assert store.delete_session("s1") is True
    assert store.delete_session("s2") is True
    leftovers = set(_keys(client, prefix)) - baseline
    # only the shared fact-kind indexes created by s1's facts may remain, and empty ones vanish
    assert leftovers <= {(prefix + "kinds").encode(), (prefix + "factseq").encode()}
    for key in _keys(client, prefix):
        if client.type(key) == b"zset":
            for member in client.zrange(key, 0, -1):
                assert b"s1" not in member and b"s2" not in member, (key, member)
    assert [f.session_id for f in store.iter_facts()] == ["other"]


def test_delete_window_keeps_other_windows(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(client, prefix=prefix)
    _fill(store)
    assert store.delete_window(WindowRef("s1", "w1")) is True
    assert not [k for k in _keys(client, prefix) if k.endswith(b":s1:w1")]
    assert [f.kind for f in store.iter_facts(session_id="s1")] == ["page_view"]
    summary = store.get_session("s1")
    assert summary is not None and summary.window_ids == ["w2"]
    assert store.list_sessions(SessionQuery(sort_by="event_count"))[0].event_count == 10


def test_redis_down_raises_store_error() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", prefix=_prefix())
    with pytest.raises(StoreError):
        store.setup()
    with pytest.raises(StoreError):
        store.save_batch(batch(seq=0))
    with pytest.raises(StoreError):
        store.list_sessions(SessionQuery())
    with pytest.raises(StoreError):
        store.get_session("s1")
    with pytest.raises(StoreError):
        store.get_chunks(WindowRef("s1", "w1"))
    with pytest.raises(StoreError):
        list(store.iter_facts())
    with pytest.raises(StoreError):
        store.delete_session("s1")
    with pytest.raises(StoreError):
        store.purge_older_than(10)
    store.close()


def test_validation_happens_before_redis_is_reached() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", prefix=_prefix())
    with pytest.raises(ValueError):
        store.save_batch(batch(session_id="../x", seq=0))
    with pytest.raises(ValueError):
        store.get_session("a b")
    store.close()


def test_client_with_decoded_responses_is_refused(redis_url: str) -> None:
    c = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ValueError):
        RedisStore(c)
    c.close()


def test_default_listing_pages_the_sorted_set(
    client: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore(client, prefix=prefix)
    for i in range(30):
        store.save_batch(batch(f"p{i:02d}", seq=0, received_at=T0 + timedelta(seconds=i)))
    calls: list[tuple[object, ...]] = []
    real = client.execute_command

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", spy)
    page = store.list_sessions(SessionQuery(limit=5, offset=10))
    assert [s.session_id for s in page] == [f"p{i:02d}" for i in range(19, 14, -1)]
    ranged = [c for c in calls if str(c[0]).upper() in ("ZRANGE", "ZRANGEBYSCORE")]
    assert ranged and all(c[1] == prefix + "by:updated" for c in ranged)
    assert ranged[0][2:4] == (10, 14)


def test_facts_page_through_many_equal_timestamps(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(client, prefix=prefix)
    facts = [Fact("click", "s1", "w1", 1000 + (i // 700), None, {"i": i}) for i in range(1600)]
    store.save_batch(batch(seq=0, facts=facts))
    assert [f.data["i"] for f in store.iter_facts()] == list(range(1600))
    assert [f.data["i"] for f in store.iter_facts(kind="click")] == list(range(1600))
    assert [f.data["i"] for f in store.iter_facts(session_id="s1")] == list(range(1600))


def test_filtered_listing_walks_many_pages(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(client, prefix=prefix)
    pipe_batches = [
        batch(f"x{i:04d}", seq=0, count=1, received_at=T0 + timedelta(seconds=i),
              has_errors=(i % 100 == 0))
        for i in range(1200)
    ]
    for b in pipe_batches:
        store.save_batch(b)
    found = store.list_sessions(SessionQuery(limit=50, has_errors=True))
    assert [s.session_id for s in found] == [f"x{i:04d}" for i in range(1100, -1, -100)]
    found = store.list_sessions(SessionQuery(limit=2, offset=3, has_errors=True,
                                             sort_by="created_at"))
    assert [s.session_id for s in found] == ["x0800", "x0700"]


def test_max_sessions_with_ttl_prunes_and_evicts(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(client, prefix=prefix, ttl_seconds=600,
                       limits=StoreLimits(max_sessions=3))
    for i in range(6):
        store.save_batch(batch(f"m{i}", seq=0, received_at=T0 + timedelta(seconds=i)))
    assert sorted(s.session_id for s in store.list_sessions(SessionQuery())) == [
        "m3", "m4", "m5"]
    assert client.zcard(prefix + "expiry") == 3
    assert not [k for k in _keys(client, prefix) if b"m0" in k]


def test_first_chunk_of_a_long_window_reads_a_bounded_index_page(
    client: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore(client, prefix=prefix)
    for i in range(200):
        store.save_batch(batch(count=1, start_ms=i * 1000, seq=i))
    ref = WindowRef("s1", "w1")
    returned: list[int] = []
    real = client.zrangebyscore

    def spy(*args: object, **kwargs: object) -> object:
        members = real(*args, **kwargs)
        returned.append(len(members))
        return members

    monkeypatch.setattr(client, "zrangebyscore", spy)
    assert [c.info.index for c in store.get_chunks(ref, limit=1)] == [0]
    assert sum(returned) <= 64
    # pages resume after the last index seen, past the first page
    returned.clear()
    got = store.get_chunks(ref, from_ms=150_000, limit=2)
    assert [c.info.index for c in got] == [150, 151]
    assert [c.info.index for c in store.get_chunks(ref, start_index=130, to_ms=131_000)] == [
        130,
        131,
    ]
    assert [c.info.index for c in store.get_chunks(ref, start_index=190, limit=50)] == list(
        range(190, 200)
    )


# --- error-tracking records go with their session, however it goes --------------------------


def _tracked(store: RedisStore, session_id: str) -> None:
    """A session with an occurrence and a server event linked to it."""
    from tracking_contract import event, occ

    store.save_batch(batch(session_id, seq=0, received_at=T0))
    store.save_occurrence(occ(session_id=session_id))
    store.save_server_event(event(session_id=session_id))


def _tracking_traces(client: redis.Redis, prefix: str, session_id: str) -> list[str]:
    """Every trace of the session's tracking records in Redis, by key."""
    traces = []
    for key in _keys(client, prefix):
        name = key.decode()
        if name.endswith(":" + session_id) and name.startswith(prefix + "t:"):
            traces.append(name)
        elif client.type(key) == b"hash" and name.startswith(prefix + "t:"):
            traces += [f"{name}[{f.decode()}]" for f, v in client.hgetall(key).items()
                       if session_id.encode() in v]
    occurrence_ids = set(client.hkeys(prefix + "t:o"))
    for key in _keys(client, prefix + "t:po:"):
        traces += [f"{key.decode()} -> {m.decode()}" for m in client.zrange(key, 0, -1)
                   if m not in occurrence_ids]  # an index entry without its occurrence
    event_ids = set(client.hkeys(prefix + "t:e"))
    traces += [f"t:es -> {m.decode()}" for m in client.zrange(prefix + "t:es", 0, -1)
               if m not in event_ids]
    return traces


@pytest.mark.parametrize("ttl", [None, 600])
def test_max_sessions_eviction_takes_the_tracking_records(
        client: redis.Redis, prefix: str, ttl: int | None) -> None:
    store = RedisStore(client, prefix=prefix, ttl_seconds=ttl,
                       limits=StoreLimits(max_sessions=1))
    _tracked(store, "old")
    assert _tracking_traces(client, prefix, "old")  # the probe sees them
    _tracked(store, "new")
    store.save_batch(batch("newest", seq=0, received_at=T0 + timedelta(seconds=1)))
    assert [s.session_id for s in store.list_sessions(SessionQuery())] == ["newest"]
    for gone in ("old", "new"):
        assert store.list_occurrences(session_id=gone) == []
        assert _tracking_traces(client, prefix, gone) == []
    assert store.list_occurrences(problem_id="a" * 40) == []
    assert store.count_occurrences("a" * 40) == 0
    from sentiero.tracking.models import ServerEventQuery

    assert store.list_server_events(ServerEventQuery()) == []
    assert store.get_problem("a" * 40) is not None  # the aggregate stays, as on erase


def test_ttl_expiry_takes_the_tracking_records_even_of_an_idle_store(
        client: redis.Redis, prefix: str) -> None:
    """Every key with a TTL expires (the whole store sat idle past it, as Redis does it);
    the next read still finds the expired session's tracking records and removes them."""
    import time

    store = RedisStore(client, prefix=prefix, ttl_seconds=1)
    _tracked(store, "idle")
    assert _tracking_traces(client, prefix, "idle")
    deadline = time.monotonic() + 30
    while client.exists(prefix + "s:idle", prefix + "by:updated") and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert not client.exists(prefix + "s:idle", prefix + "by:updated"), "Redis expired them"
    assert store.list_sessions(SessionQuery()) == []
    assert store.list_occurrences(session_id="idle") == []
    assert store.count_occurrences("a" * 40) == 0
    assert _tracking_traces(client, prefix, "idle") == []
    assert client.zcard(prefix + "expiry") == 0


def test_a_new_session_keeps_errors_reported_before_its_first_batch(
        client: redis.Redis, prefix: str) -> None:
    from tracking_contract import occ

    store = RedisStore(client, prefix=prefix, ttl_seconds=600)
    store.save_occurrence(occ(session_id="early"))
    store.save_batch(batch("early", seq=0))
    assert len(store.list_occurrences(session_id="early")) == 1
