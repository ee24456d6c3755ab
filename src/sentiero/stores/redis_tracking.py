"""The Redis store's error-tracking half (stores/tracking.py has the contract).

Keys (``<p>`` is the store prefix)::

    <p>t:p:<problem>    STRING  problem JSON
    <p>t:problems       ZSET    problem ids scored by last_seen_ms
    <p>t:po:<problem>   ZSET    occurrence ids scored by ts_ms
    <p>t:o              HASH    occurrence id -> occurrence JSON
    <p>t:so:<session>   SET     occurrence ids linked to the session (erasure)
    <p>t:e              HASH    server event id -> JSON
    <p>t:es             ZSET    server event ids scored by ts_ms
    <p>t:se:<session>   SET     server event ids of the session (erasure)
    <p>t:k              HASH    ingest key id -> JSON

An occurrence is one optimistic transaction (WATCH the problem, apply the upsert rule,
MULTI/EXEC the problem and the occurrence together; retried when another writer got there
first), so concurrent reports of one problem count exactly. Caps are enforced after it;
their deletes are idempotent. Tracking keys have no TTL: they go with ``purge_older_than``
and the caps, and a session's occurrences and server events go with the session, however it
goes (``delete_session``, its last window deleted, ``max_sessions`` eviction, TTL expiry): the
session-erasing Lua of stores/redis.py (``forget_tracking``) removes them in the same script.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import redis as redis_lib

from sentiero.stores.tracking import TrackingStore, occurrence_query_check
from sentiero.tracking.models import (
    IngestKey,
    Occurrence,
    Problem,
    ProblemQuery,
    ServerEvent,
    ServerEventQuery,
    apply_occurrence,
    apply_status,
    event_matches,
    now_ms,
    select_problems,
    validate_ingest_key,
    validate_occurrence,
    validate_server_event,
    validate_status,
)

_MARK_ERRORS = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'err', '1') end
return 0
"""
_PAGE = 500


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisTracking(TrackingStore):
    prefix: str
    limits: Any
    _client: Any

    def _t(self, name: str) -> str:
        return f"{self.prefix}t:{name}"

    def _mark_errors_script(self) -> Any:
        script = getattr(self, "_mark_errors", None)
        if script is None:
            script = self._mark_errors = self._client.register_script(_MARK_ERRORS)
        return script

    # --- problems and occurrences -------------------------------------------------------------

    def save_occurrence(self, occurrence: Occurrence) -> Problem:
        validate_occurrence(occurrence)
        pkey = self._t("p:" + occurrence.problem_id)
        body = orjson.dumps(occurrence.to_dict())
        with self._client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(pkey)
                    raw = pipe.get(pkey)
                    before = Problem.from_dict(orjson.loads(raw)) if raw else None
                    problem = apply_occurrence(before, occurrence)
                    pipe.multi()
                    pipe.set(pkey, orjson.dumps(problem.to_dict()))
                    pipe.zadd(self._t("problems"), {problem.id: problem.last_seen_ms})
                    pipe.hset(self._t("o"), occurrence.id, body)
                    pipe.zadd(self._t("po:" + problem.id), {occurrence.id: occurrence.ts_ms})
                    if occurrence.session_id is not None:
                        pipe.sadd(self._t("so:" + occurrence.session_id), occurrence.id)
                    pipe.execute()
                    break
                except redis_lib.WatchError:
                    continue
        if occurrence.session_id is not None:
            self._mark_errors_script()(keys=[self.prefix + "s:" + occurrence.session_id])
        self._cap_occurrences(problem.id)
        if before is None:
            self._cap_problems(problem.id)
        return problem

    def _drop_occurrences(self, problem_id: str, ids: list[bytes]) -> None:
        if not ids:
            return
        r = self._client
        bodies = r.hmget(self._t("o"), ids)
        pipe = r.pipeline(transaction=True)
        for oid, raw in zip(ids, bodies, strict=True):
            if raw:
                sid = orjson.loads(raw).get("session_id")
                if sid:
                    pipe.srem(self._t("so:" + sid), oid)
        pipe.hdel(self._t("o"), *ids)
        pipe.zrem(self._t("po:" + problem_id), *ids)
        pipe.execute()

    def _cap_occurrences(self, problem_id: str) -> None:
        cap = self.limits.max_occurrences_per_problem
        if cap is None:
            return
        key = self._t("po:" + problem_id)
        excess = self._client.zcard(key) - cap
        if excess > 0:
            self._drop_occurrences(problem_id, self._client.zrange(key, 0, excess - 1))

    def _cap_problems(self, keep: str) -> None:
        cap = self.limits.max_problems
        if cap is None:
            return
        excess = self._client.zcard(self._t("problems")) - cap
        if excess <= 0:
            return
        victims = [
            _text(p) for p in self._client.zrange(self._t("problems"), 0, excess)
            if _text(p) != keep
        ][:excess]
        self._delete_problems(victims)

    def _delete_problems(self, problem_ids: Iterable[str]) -> None:
        for pid in problem_ids:
            key = self._t("po:" + pid)
            while True:
                ids = self._client.zrange(key, 0, _PAGE - 1)
                if not ids:
                    break
                self._drop_occurrences(pid, ids)
            self._client.delete(self._t("p:" + pid), key)
            self._client.zrem(self._t("problems"), pid)

    def get_problem(self, problem_id: str) -> Problem | None:
        raw = self._client.get(self._t("p:" + problem_id))
        return Problem.from_dict(orjson.loads(raw)) if raw else None

    def _all_problems(self) -> list[Problem]:
        ids = self._client.zrange(self._t("problems"), 0, -1)
        out: list[Problem] = []
        for start in range(0, len(ids), _PAGE):
            keys = [self._t("p:" + _text(i)) for i in ids[start : start + _PAGE]]
            out.extend(Problem.from_dict(orjson.loads(raw))
                       for raw in self._client.mget(keys) if raw)
        return out

    def list_problems(self, query: ProblemQuery) -> list[Problem]:
        return select_problems(self._all_problems(), query)

    def set_problem_status(self, problem_id: str, status: str, at_ms: int | None = None) -> bool:
        validate_status(status)
        pkey = self._t("p:" + problem_id)
        with self._client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(pkey)
                    raw = pipe.get(pkey)
                    if not raw:
                        return False
                    changed = apply_status(Problem.from_dict(orjson.loads(raw)), status, at_ms)
                    pipe.multi()
                    pipe.set(pkey, orjson.dumps(changed.to_dict()))
                    pipe.execute()
                    return True
                except redis_lib.WatchError:
                    continue

    def list_occurrences(
        self,
        problem_id: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
        since_ms: int | None = None,
    ) -> list[Occurrence]:
        occurrence_query_check(problem_id, session_id, limit)
        r = self._client
        if session_id is None:
            ids = r.zrevrangebyscore(self._t("po:" + str(problem_id)), "+inf",
                                     "-inf" if since_ms is None else since_ms,
                                     start=0, num=limit)
        else:
            ids = list(r.smembers(self._t("so:" + session_id)))
        found = [Occurrence.from_dict(orjson.loads(raw))
                 for raw in (r.hmget(self._t("o"), ids) if ids else []) if raw]
        chosen = [
            o for o in found
            if (problem_id is None or o.problem_id == problem_id)
            and (since_ms is None or o.ts_ms >= since_ms)
        ]
        chosen.sort(key=lambda o: (o.ts_ms, o.id), reverse=True)
        return chosen[:limit]

    def count_occurrences(self, problem_id: str, since_ms: int | None = None) -> int:
        return int(self._client.zcount(self._t("po:" + problem_id),
                                       "-inf" if since_ms is None else since_ms, "+inf"))

    # --- server events --------------------------------------------------------------------------

    def save_server_event(self, event: ServerEvent) -> None:
        validate_server_event(event)
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self._t("e"), event.id, orjson.dumps(event.to_dict()))
        pipe.zadd(self._t("es"), {event.id: event.ts_ms})
        if event.session_id is not None:
            pipe.sadd(self._t("se:" + event.session_id), event.id)
        pipe.execute()
        cap = self.limits.max_server_events
        if cap is not None:
            excess = self._client.zcard(self._t("es")) - cap
            if excess > 0:
                self._drop_events(self._client.zrange(self._t("es"), 0, excess - 1))

    def _drop_events(self, ids: list[bytes]) -> None:
        if not ids:
            return
        r = self._client
        bodies = r.hmget(self._t("e"), ids)
        pipe = r.pipeline(transaction=True)
        for eid, raw in zip(ids, bodies, strict=True):
            if raw:
                sid = orjson.loads(raw).get("session_id")
                if sid:
                    pipe.srem(self._t("se:" + sid), eid)
        pipe.hdel(self._t("e"), *ids)
        pipe.zrem(self._t("es"), *ids)
        pipe.execute()

    def list_server_events(self, query: ServerEventQuery) -> list[ServerEvent]:
        r = self._client
        hi = "+inf" if query.until_ms is None else query.until_ms
        lo = "-inf" if query.since_ms is None else query.since_ms
        plain = not (query.level or query.search or query.project or query.session_id)
        out: list[ServerEvent] = []
        skipped = 0
        start = 0
        while len(out) < query.limit:
            page_size = query.offset + query.limit if plain else _PAGE
            ids = r.zrevrangebyscore(self._t("es"), hi, lo, start=start, num=page_size)
            if not ids:
                break
            start += len(ids)
            for raw in r.hmget(self._t("e"), ids):
                if not raw:
                    continue
                event = ServerEvent.from_dict(orjson.loads(raw))
                if not event_matches(event, query):
                    continue
                if skipped < query.offset:
                    skipped += 1
                    continue
                out.append(event)
                if len(out) >= query.limit:
                    break
        # equal timestamps: newest first, ties by id ascending (the contract's order)
        out.sort(key=lambda e: (-e.ts_ms, e.id))
        return out

    def get_server_event(self, event_id: str) -> ServerEvent | None:
        raw = self._client.hget(self._t("e"), event_id)
        return ServerEvent.from_dict(orjson.loads(raw)) if raw else None

    # --- ingest keys ----------------------------------------------------------------------------

    def save_ingest_key(self, key: IngestKey) -> None:
        validate_ingest_key(key)
        if not self._client.hsetnx(self._t("k"), key.key_id, orjson.dumps(key.to_dict())):
            raise ValueError(f"an ingest key with id {key.key_id} exists")

    def get_ingest_key(self, key_id: str) -> IngestKey | None:
        raw = self._client.hget(self._t("k"), key_id)
        return IngestKey.from_dict(orjson.loads(raw)) if raw else None

    def list_ingest_keys(self) -> list[IngestKey]:
        keys = [IngestKey.from_dict(orjson.loads(v))
                for v in self._client.hvals(self._t("k"))]
        return sorted(keys, key=lambda k: (k.created_ms, k.key_id))

    def revoke_ingest_key(self, key_id: str, at_ms: int | None = None) -> bool:
        key = self.get_ingest_key(key_id)
        if key is None or key.revoked_ms is not None:
            return False
        key.revoked_ms = at_ms if at_ms is not None else now_ms()
        self._client.hset(self._t("k"), key_id, orjson.dumps(key.to_dict()))
        return True

    # --- erasure and retention ------------------------------------------------------------------

    def _purge_tracking(self, cutoff_ms: int) -> None:
        r = self._client
        old = [_text(p) for p in r.zrangebyscore(self._t("problems"), "-inf", f"({cutoff_ms}")]
        self._delete_problems(old)
        for pid in r.zrange(self._t("problems"), 0, -1):
            pid = _text(pid)
            self._drop_occurrences(
                pid, r.zrangebyscore(self._t("po:" + pid), "-inf", f"({cutoff_ms}"))
        while True:
            ids = r.zrangebyscore(self._t("es"), "-inf", f"({cutoff_ms}", start=0, num=_PAGE)
            if not ids:
                break
            self._drop_events(ids)


def _wrap_errors(method: Any) -> Any:
    import functools

    from sentiero.stores.base import StoreError

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except redis_lib.RedisError as exc:
            raise StoreError(f"Redis store: {type(exc).__name__}: {exc}") from exc

    return wrapper


for _name in [n for n in vars(TrackingStore) if not n.startswith("_")]:
    setattr(RedisTracking, _name, _wrap_errors(getattr(RedisTracking, _name)))
