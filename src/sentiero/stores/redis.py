"""A store on Redis (redis-py), for several app servers sharing one Redis.

Every write that touches more than one key runs as one Lua script, so Redis applies it whole
and alone: the dedup check, the chunk index allocation, the chunk, the window and session
bookkeeping, the facts, the limits and the TTL of a batch happen together or not at all.

Keys (``<p>`` is the prefix, ``<s>`` a session id, ``<w>`` a window id)::

    <p>s:<s>         HASH  created, updated (epoch microseconds), ec (event count), ua, url,
                           url_ms, err
    <p>m:<s>         HASH  metadata key -> JSON value (shallow merge is HSET)
    <p>w:<s>         ZSET  window ids (score 0)
    <p>wi:<s>:<w>    HASH  next (chunk index allocator, above every index: a seq'd batch's
                           index is its seq), ec, first, last, state (ingest's per-window
                           state as JSON, replaced by each batch carrying one)
    <p>c:<s>:<w>     HASH  chunk index -> zstandard-compressed JSON array of events
    <p>ci:<s>:<w>    ZSET  "index:first_ms:last_ms:event_count:seq" scored by index, so the
                           chunk index and time ranges are read without touching the blobs
    <p>q:<s>:<w>     SET   seqs already stored (dedup; kept when a chunk is dropped by limits)
    <p>sf:<s>        ZSET  the session's fact members, scored by ts_ms (for erasure)
    <p>f:<kind>      ZSET  fact members of one kind, scored by ts_ms
    <p>kinds         SET   fact kinds seen
    <p>factseq       STRING  counter that orders facts with equal ts_ms by arrival
    <p>by:updated    ZSET  session ids scored by -updated (ascending range = newest first,
    <p>by:created    ZSET  -created                      ties by id ascending)
    <p>by:events     ZSET  -event count
    <p>expiry        ZSET  session ids scored by the Redis time their keys expire (TTL only)
    <p>funnels       HASH  saved funnel id -> its JSON document (never expires)

A fact member is ``<16 hex counter><8 hex position><2 hex len>kind<2 hex len>window`` followed
by the JSON ``[session_id, ts_ms, url, data]``.

With ``ttl_seconds`` every key a write touches gets an EXPIRE: all keys of the session (its
fact index lives twice as long so the leftovers of an expired session can still be found and
removed from the shared indexes), and the shared indexes, which therefore only expire when
the whole store has been idle for the TTL. Expired sessions are pruned from the shared
indexes, with their error-tracking records, by later writes and before reads. The expiry
index itself never expires (each member goes when its session is pruned): error-tracking
records carry no TTL, and after the store sat idle past the TTL this index is how they are
still found.

The scripts build key names from the prefix, so this store needs a single Redis server (or a
primary with replicas / Sentinel), not Redis Cluster. No command here uses KEYS; ``clear``
uses SCAN.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import orjson
import redis as redis_lib

from sentiero.stores.base import (
    SEQ_INDEX_LIMIT,
    Batch,
    Chunk,
    ChunkInfo,
    Fact,
    SessionQuery,
    SessionSummary,
    Store,
    StoreError,
    StoreLimits,
    WindowRef,
    WindowSummary,
    batch_has_errors,
    fact_data_json,
    fact_from_stored,
    fact_stored_data,
    load_window_state,
    to_ms,
    utcnow,
    validate_batch,
    validate_id,
    validate_metadata,
    window_state_json,
)
from sentiero.stores.redis_tracking import RedisTracking
from sentiero.stores.saved_funnels import MAX_SAVED, SavedFunnel, sorted_funnels

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_PAGE = 500
_PRUNE_BATCH = 200

T = TypeVar("T")

# --- Lua --------------------------------------------------------------------------------------
# Numbers that can exceed 14 significant digits (microsecond times, event timestamps) travel
# as strings and are stored as the strings they came in as; Lua numbers only compare them.

_LUA_PRELUDE = r"""
local P = ARGV[1]
local function k_sess(s) return P .. 's:' .. s end
local function k_meta(s) return P .. 'm:' .. s end
local function k_wins(s) return P .. 'w:' .. s end
local function k_win(s, w) return P .. 'wi:' .. s .. ':' .. w end
local function k_chunks(s, w) return P .. 'c:' .. s .. ':' .. w end
local function k_cidx(s, w) return P .. 'ci:' .. s .. ':' .. w end
local function k_seqs(s, w) return P .. 'q:' .. s .. ':' .. w end
local function k_sfacts(s) return P .. 'sf:' .. s end
local function k_facts(kind) return P .. 'f:' .. kind end
local K_UPD = P .. 'by:updated'
local K_CRE = P .. 'by:created'
local K_EVT = P .. 'by:events'
local K_EXP = P .. 'expiry'
local K_KINDS = P .. 'kinds'
local K_CTR = P .. 'factseq'

-- the negation of a decimal integer string, exactly (scores of the newest-first indexes)
local function neg(x)
  if string.sub(x, 1, 1) == '-' then return string.sub(x, 2) end
  return '-' .. x
end

local function fact_kind(m)
  local kl = tonumber(string.sub(m, 25, 26), 16)
  return string.sub(m, 27, 26 + kl), kl
end

local function fact_window(m)
  local _, kl = fact_kind(m)
  local wl = tonumber(string.sub(m, 27 + kl, 28 + kl), 16)
  return string.sub(m, 29 + kl, 28 + kl + wl)
end

local function zrem_facts(members)
  for _, m in ipairs(members) do
    local kind = fact_kind(m)
    redis.call('ZREM', k_facts(kind), m)
  end
end

local function parse_chunk(m)
  local idx, first, last, count = string.match(m, '^(%d+):(%-?%d+):(%-?%d+):(%d+):')
  return idx, first, last, tonumber(count)
end

local function refresh_window(s, w)
  local win = k_win(s, w)
  local ec, first, last = 0, nil, nil
  for _, m in ipairs(redis.call('ZRANGE', k_cidx(s, w), 0, -1)) do
    local _, f, l, c = parse_chunk(m)
    ec = ec + c
    if first == nil or tonumber(f) < tonumber(first) then first = f end
    if last == nil or tonumber(l) > tonumber(last) then last = l end
  end
  redis.call('HSET', win, 'ec', ec)
  if first == nil then
    redis.call('HDEL', win, 'first', 'last')
  else
    redis.call('HSET', win, 'first', first, 'last', last)
  end
end

local function del_window_keys(s, w)
  redis.call('DEL', k_win(s, w), k_chunks(s, w), k_cidx(s, w), k_seqs(s, w))
end

-- the error-tracking records linked to a session (stores/redis_tracking.py has the keys):
-- its occurrences (their problems stay, as on every store) and its server events
local function forget_tracking(s)
  local k_so, k_se, k_o, k_e = P .. 't:so:' .. s, P .. 't:se:' .. s, P .. 't:o', P .. 't:e'
  for _, id in ipairs(redis.call('SMEMBERS', k_so)) do
    local raw = redis.call('HGET', k_o, id)
    if raw then
      local ok, doc = pcall(cjson.decode, raw)
      if ok and type(doc) == 'table' and type(doc.problem_id) == 'string' then
        redis.call('ZREM', P .. 't:po:' .. doc.problem_id, id)
      end
      redis.call('HDEL', k_o, id)
    end
  end
  for _, id in ipairs(redis.call('SMEMBERS', k_se)) do
    redis.call('HDEL', k_e, id)
    redis.call('ZREM', P .. 't:es', id)
  end
  redis.call('DEL', k_so, k_se)
end

-- erase a session; ``tracking``: with the error-tracking records linked to it (everything
-- but the clean-up of a new session's stale keys, whose records may predate its first batch)
local function del_session(s, tracking)
  local existed = redis.call('EXISTS', k_sess(s))
  for _, w in ipairs(redis.call('ZRANGE', k_wins(s), 0, -1)) do del_window_keys(s, w) end
  local sf = k_sfacts(s)
  zrem_facts(redis.call('ZRANGE', sf, 0, -1))
  redis.call('DEL', k_sess(s), k_meta(s), k_wins(s), sf)
  redis.call('ZREM', K_UPD, s)
  redis.call('ZREM', K_CRE, s)
  redis.call('ZREM', K_EVT, s)
  redis.call('ZREM', K_EXP, s)
  if tracking then forget_tracking(s) end
  return existed
end

-- drop the sessions whose keys have expired (TTL): they still sit in the shared indexes
local function prune_expired(limit, keep)
  local now = tonumber(redis.call('TIME')[1])
  local ids = redis.call('ZRANGEBYSCORE', K_EXP, '-inf', now, 'LIMIT', 0, limit)
  local n = 0
  for _, s in ipairs(ids) do
    if s ~= keep then
      del_session(s, true)
      n = n + 1
    end
  end
  return #ids
end
"""

_LUA_SAVE = _LUA_PRELUDE + r"""
-- ARGV: 1 prefix, 2 session, 3 window, 4 dedupe key (the seq; negative: a seq-less batch's
-- content key), 5 chunk data, 6 first_ms,
-- 7 last_ms, 8 event count, 9 received (us), 10 user agent, 11 page url, 12 has errors (0/1),
-- 13 ttl seconds ('' = none), 14 max sessions, 15 max events, 16 n metadata pairs, pairs...,
-- n facts, then per fact: kind, ts_ms, member body; then the window state JSON ('' = keep)
local s, w, seq = ARGV[2], ARGV[3], ARGV[4]
local SEQ_INDEX_LIMIT = """ + str(SEQ_INDEX_LIMIT) + r"""
local sess = k_sess(s)
if redis.call('EXISTS', sess) == 0 then
  -- leftovers of an expired or half-pruned session must not leak into this one; its
  -- error-tracking records stay (an error may be reported before the session's first batch)
  del_session(s, false)
end
if seq ~= '' and redis.call('SISMEMBER', k_seqs(s, w), seq) == 1 then
  return 0
end

local first, last, count, now = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9]
local win = k_win(s, w)
-- the chunk index: the seq when it is free, else the window's next index (a seq-less batch,
-- or a seq a seq-less chunk holds); the rule of base.allocate_chunk_index
local nxt = tonumber(redis.call('HGET', win, 'next') or '0')
local want = nil
if seq ~= '' and string.sub(seq, 1, 1) ~= '-' and string.len(seq) <= 10 then
  want = tonumber(seq)
  if want >= SEQ_INDEX_LIMIT then want = nil end
end
local idx = nxt
if want and (want >= nxt or
    redis.call('HEXISTS', k_chunks(s, w), string.format('%d', want)) == 0) then
  idx = want
end
if idx >= nxt then redis.call('HSET', win, 'next', string.format('%d', idx + 1)) end
local sidx = string.format('%d', idx)
redis.call('HSET', k_chunks(s, w), sidx, ARGV[5])
local info_seq = seq
if string.sub(seq, 1, 1) == '-' then info_seq = '' end  -- a content key is not a seq
local info = sidx .. ':' .. first .. ':' .. last .. ':' .. ARGV[8] .. ':' .. info_seq
redis.call('ZADD', k_cidx(s, w), idx, info)
if seq ~= '' then redis.call('SADD', k_seqs(s, w), seq) end
redis.call('HINCRBY', win, 'ec', count)
local wf = redis.call('HGET', win, 'first')
if not wf or tonumber(first) < tonumber(wf) then redis.call('HSET', win, 'first', first) end
local wl = redis.call('HGET', win, 'last')
if not wl or tonumber(last) > tonumber(wl) then redis.call('HSET', win, 'last', last) end
redis.call('ZADD', k_wins(s), 'NX', 0, w)

if redis.call('HSETNX', sess, 'created', now) == 1 then
  redis.call('HSET', sess, 'updated', now)
  redis.call('ZADD', K_CRE, neg(now), s)
else
  local up = redis.call('HGET', sess, 'updated')
  if not up or tonumber(now) > tonumber(up) then
    redis.call('HSET', sess, 'updated', now)
  end
end
redis.call('ZADD', K_UPD, neg(redis.call('HGET', sess, 'updated')), s)
local ua = ARGV[10]
if ua ~= '' then
  local cur = redis.call('HGET', sess, 'ua')
  if not cur or cur == '' then redis.call('HSET', sess, 'ua', ua) end
end
if ARGV[11] ~= '' then
  local um = redis.call('HGET', sess, 'url_ms')
  if not um or tonumber(last) >= tonumber(um) then
    redis.call('HSET', sess, 'url', ARGV[11], 'url_ms', last)
  end
end
if ARGV[12] == '1' then redis.call('HSET', sess, 'err', '1') end
local ec = redis.call('HINCRBY', sess, 'ec', count)

local pos = 16
local nmeta = tonumber(ARGV[pos])
for i = 1, nmeta do
  redis.call('HSET', k_meta(s), ARGV[pos + 2 * i - 1], ARGV[pos + 2 * i])
end
pos = pos + 2 * nmeta + 1
local nfacts = tonumber(ARGV[pos])
if nfacts > 0 then
  local ctr = string.format('%016x', redis.call('INCR', K_CTR))
  local sf = k_sfacts(s)
  for i = 1, nfacts do
    local kind, ts, body = ARGV[pos + 3 * i - 2], ARGV[pos + 3 * i - 1], ARGV[pos + 3 * i]
    local member = ctr .. string.format('%08x', i) .. body
    redis.call('ZADD', k_facts(kind), ts, member)
    redis.call('ZADD', sf, ts, member)
    redis.call('SADD', K_KINDS, kind)
  end
end
local state = ARGV[pos + 3 * nfacts + 1]
if state and state ~= '' then redis.call('HSET', win, 'state', state) end

-- limits: the oldest chunks of the session (by first event), never the one just written
if ARGV[15] ~= '' then
  local max_events = tonumber(ARGV[15])
  if ec > max_events then
    local cands = {}
    for _, ww in ipairs(redis.call('ZRANGE', k_wins(s), 0, -1)) do
      for _, m in ipairs(redis.call('ZRANGE', k_cidx(s, ww), 0, -1)) do
        local ci, cf, _, cc = parse_chunk(m)
        if not (ww == w and ci == sidx) then
          table.insert(cands, {tonumber(cf), tonumber(ci), ww, cc, m, ci})
        end
      end
    end
    table.sort(cands, function(a, b)
      if a[1] ~= b[1] then return a[1] < b[1] end
      if a[2] ~= b[2] then return a[2] < b[2] end
      return a[3] < b[3]
    end)
    local touched = {}
    for _, c in ipairs(cands) do
      if ec <= max_events then break end
      redis.call('HDEL', k_chunks(s, c[3]), c[6])
      redis.call('ZREM', k_cidx(s, c[3]), c[5])
      ec = ec - c[4]
      touched[c[3]] = true
    end
    for ww, _ in pairs(touched) do refresh_window(s, ww) end
    redis.call('HSET', sess, 'ec', ec)
  end
end
redis.call('ZADD', K_EVT, -ec, s)

-- limits: the sessions updated longest ago, never the one just written
if ARGV[14] ~= '' then
  local excess = redis.call('ZCARD', K_UPD) - tonumber(ARGV[14])
  local off = 0
  while excess > 0 do
    local oldest = redis.call('ZREVRANGE', K_UPD, off, off, 'WITHSCORES')
    if #oldest == 0 then break end
    local group = redis.call('ZRANGEBYSCORE', K_UPD, oldest[2], oldest[2])
    local kept = 0
    for _, other in ipairs(group) do
      if excess > 0 and other ~= s then
        del_session(other, true)
        excess = excess - 1
      else
        kept = kept + 1
      end
    end
    off = off + kept
  end
end

if ARGV[13] ~= '' then
  local ttl = tonumber(ARGV[13])
  local keys = {sess, k_meta(s), k_wins(s)}
  for _, ww in ipairs(redis.call('ZRANGE', k_wins(s), 0, -1)) do
    table.insert(keys, k_win(s, ww))
    table.insert(keys, k_chunks(s, ww))
    table.insert(keys, k_cidx(s, ww))
    table.insert(keys, k_seqs(s, ww))
  end
  for _, k in ipairs(keys) do redis.call('EXPIRE', k, ttl) end
  redis.call('EXPIRE', k_sfacts(s), 2 * ttl)
  local now_s = tonumber(redis.call('TIME')[1])
  redis.call('ZADD', K_EXP, now_s + ttl, s)
  -- not the expiry index: after the whole store sat idle past the TTL, it is how the next
  -- read or write finds the expired sessions' error-tracking records (which have no TTL)
  for _, k in ipairs({K_UPD, K_CRE, K_EVT, K_KINDS, K_CTR}) do
    redis.call('EXPIRE', k, ttl)
  end
  redis.call('PERSIST', K_EXP)  -- (earlier versions gave it the TTL)
  for _, kind in ipairs(redis.call('SMEMBERS', K_KINDS)) do
    redis.call('EXPIRE', k_facts(kind), ttl)
  end
  prune_expired(20, s)
end
return 1
"""

_LUA_METADATA = _LUA_PRELUDE + r"""
-- ARGV: 1 prefix, 2 session, then key/value pairs
local s = ARGV[2]
if redis.call('EXISTS', k_sess(s)) == 0 then return 0 end
local meta = k_meta(s)
for i = 3, #ARGV, 2 do redis.call('HSET', meta, ARGV[i], ARGV[i + 1]) end
local pttl = redis.call('PTTL', k_sess(s))
if pttl > 0 then redis.call('PEXPIRE', meta, pttl) end
return 1
"""

_LUA_DELETE_SESSION = _LUA_PRELUDE + r"""
-- ARGV: 1 prefix, 2 session, 3 only when updated before this (us, '' = always)
local s = ARGV[2]
if ARGV[3] ~= '' then
  local up = redis.call('HGET', k_sess(s), 'updated')
  if up and tonumber(up) >= tonumber(ARGV[3]) then return 0 end
end
return del_session(s, true)
"""

_LUA_DELETE_WINDOW = _LUA_PRELUDE + r"""
-- ARGV: 1 prefix, 2 session, 3 window
local s, w = ARGV[2], ARGV[3]
if redis.call('EXISTS', k_sess(s)) == 0 then return 0 end
if not redis.call('ZSCORE', k_wins(s), w) then return 0 end
if redis.call('ZCARD', k_wins(s)) <= 1 then
  del_session(s, true)
  return 1
end
local ec = tonumber(redis.call('HGET', k_win(s, w), 'ec') or '0')
del_window_keys(s, w)
redis.call('ZREM', k_wins(s), w)
local sf = k_sfacts(s)
for _, m in ipairs(redis.call('ZRANGE', sf, 0, -1)) do
  if fact_window(m) == w then
    local kind = fact_kind(m)
    redis.call('ZREM', k_facts(kind), m)
    redis.call('ZREM', sf, m)
  end
end
local total = redis.call('HINCRBY', k_sess(s), 'ec', -ec)
redis.call('ZADD', K_EVT, -total, s)
return 1
"""

_LUA_REPLACE_CHUNKS = _LUA_PRELUDE + r"""
-- compaction: ARGV: 1 prefix, 2 session, 3 window, 4 first index, 5 last index, 6 the new
-- chunk's info member, 7 its data, 8.. the info members expected in [first, last], in order
local s, w, lo, hi = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', k_sess(s)) == 0 then return 0 end
local cidx, chunks = k_cidx(s, w), k_chunks(s, w)
local current = redis.call('ZRANGEBYSCORE', cidx, lo, hi)
if #current ~= #ARGV - 7 then return 0 end
for i, member in ipairs(current) do
  if member ~= ARGV[7 + i] then return 0 end
end
for _, member in ipairs(current) do
  redis.call('HDEL', chunks, string.match(member, '^(%d+):'))
end
redis.call('ZREMRANGEBYSCORE', cidx, lo, hi)
redis.call('HSET', chunks, lo, ARGV[7])
redis.call('ZADD', cidx, lo, ARGV[6])
return 1
"""

_LUA_PRUNE = _LUA_PRELUDE + r"""
-- ARGV: 1 prefix, 2 batch size; returns how many expired sessions were examined
return prune_expired(tonumber(ARGV[2]), '')
"""


# --- helpers ----------------------------------------------------------------------------------


def _us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_us(value: bytes | str | int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _wrap_errors(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except redis_lib.RedisError as exc:
            raise StoreError(f"Redis store: {type(exc).__name__}: {exc}") from exc

    return wrapper


def _matches(session_id: str, metadata: dict[str, Any], needle: str) -> bool:
    if needle in session_id.lower():
        return True
    for value in metadata.values():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if needle in text.lower():
            return True
    return False


def _fact_body(fact: Fact) -> tuple[bytes, bytes, bytes]:
    """(kind, ts_ms, member body) of a fact; the script prepends counter and position."""
    fact_data_json(fact)  # raises ValueError for data that is not JSON
    kind = fact.kind.encode()
    wid = fact.window_id.encode()
    payload = orjson.dumps([fact.session_id, int(fact.ts_ms), fact.url, fact_stored_data(fact)])
    body = b"%02x" % len(kind) + kind + b"%02x" % len(wid) + wid + payload
    return kind, str(int(fact.ts_ms)).encode(), body


def _parse_fact(member: bytes) -> Fact:
    kl = int(member[24:26], 16)
    kind = member[26 : 26 + kl].decode()
    at = 26 + kl
    wl = int(member[at : at + 2], 16)
    wid = member[at + 2 : at + 2 + wl].decode()
    sid, ts_ms, url, data = orjson.loads(member[at + 2 + wl :])
    return fact_from_stored(kind, sid, wid, ts_ms, url, data)


def _chunk_info_member(info: ChunkInfo) -> str:
    """The chunk index member of a chunk, as the save script writes it."""
    seq = "" if info.seq is None else str(info.seq)
    return f"{info.index}:{info.first_ms}:{info.last_ms}:{info.event_count}:{seq}"


def _parse_chunk_info(member: bytes) -> ChunkInfo:
    idx, first, last, count, seq = member.split(b":")
    return ChunkInfo(int(idx), int(first), int(last), int(count), int(seq) if seq else None)


# --- the store --------------------------------------------------------------------------------


class RedisStore(RedisTracking, Store):
    """Sessions, chunks and facts in Redis; see the module docstring for the key layout.

    ``url_or_client`` is a ``redis://`` / ``rediss://`` URL or a ``redis.Redis`` client
    (created with the default ``decode_responses=False``). ``ttl_seconds`` makes every
    session expire that long after its last write.
    """

    def __init__(
        self,
        url_or_client: str | redis_lib.Redis,
        limits: StoreLimits | None = None,
        prefix: str = "sentiero:",
        ttl_seconds: int | None = None,
    ) -> None:
        super().__init__(limits)
        # redis-py's annotations cover its async client too (Awaitable unions): keep Any
        self._client: Any
        if isinstance(url_or_client, str):
            self._client = redis_lib.Redis.from_url(
                url_or_client, socket_connect_timeout=5, socket_timeout=10
            )
            self._owns_client = True
        else:
            kwargs = url_or_client.connection_pool.connection_kwargs
            if kwargs.get("decode_responses"):
                raise ValueError("RedisStore needs a client with decode_responses=False")
            self._client = url_or_client
            self._owns_client = False
        if ttl_seconds is not None and (
            isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 1
        ):
            raise ValueError("ttl_seconds must be a positive integer or None")
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        r = self._client
        self._save = r.register_script(_LUA_SAVE)
        self._metadata = r.register_script(_LUA_METADATA)
        self._delete_session = r.register_script(_LUA_DELETE_SESSION)
        self._delete_window = r.register_script(_LUA_DELETE_WINDOW)
        self._prune = r.register_script(_LUA_PRUNE)
        self._replace_chunks = r.register_script(_LUA_REPLACE_CHUNKS)

    # --- keys -----------------------------------------------------------------------------

    def _sess(self, sid: str) -> str:
        return self.prefix + "s:" + sid

    def _meta(self, sid: str) -> str:
        return self.prefix + "m:" + sid

    def _wins(self, sid: str) -> str:
        return self.prefix + "w:" + sid

    def _win(self, sid: str, wid: str) -> str:
        return f"{self.prefix}wi:{sid}:{wid}"

    def _chunks(self, sid: str, wid: str) -> str:
        return f"{self.prefix}c:{sid}:{wid}"

    def _cidx(self, sid: str, wid: str) -> str:
        return f"{self.prefix}ci:{sid}:{wid}"

    def _sfacts(self, sid: str) -> str:
        return self.prefix + "sf:" + sid

    def _facts(self, kind: str) -> str:
        return self.prefix + "f:" + kind

    def _by(self, sort_by: str) -> str:
        return self.prefix + {
            "updated_at": "by:updated",
            "created_at": "by:created",
            "event_count": "by:events",
        }[sort_by]

    # --- lifecycle ------------------------------------------------------------------------

    @_wrap_errors
    def setup(self) -> None:
        """Check that Redis answers (raises StoreError otherwise)."""
        self._client.ping()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # --- saved funnels (one hash: id -> SavedFunnel document; no TTL) ----------------------

    @_wrap_errors
    def save_funnel(self, funnel: SavedFunnel) -> None:
        key = self.prefix + "funnels"
        if not self._client.hexists(key, funnel.funnel_id) and \
                self._client.hlen(key) >= MAX_SAVED:
            raise StoreError(f"at most {MAX_SAVED} saved funnels")
        self._client.hset(key, funnel.funnel_id, funnel.to_json())

    @_wrap_errors
    def list_funnels(self) -> list[SavedFunnel]:
        docs = self._client.hvals(self.prefix + "funnels")
        return sorted_funnels([SavedFunnel.from_json(d) for d in docs])

    @_wrap_errors
    def delete_funnel(self, funnel_id: str) -> bool:
        return bool(self._client.hdel(self.prefix + "funnels", funnel_id))

    # --- writes ---------------------------------------------------------------------------

    @_wrap_errors
    def save_batch(self, batch: Batch) -> bool:
        data = validate_batch(batch)
        facts = [_fact_body(f) for f in batch.facts]
        state = window_state_json(batch)
        if not batch.events:
            return False
        limits = self.limits
        args: list[Any] = [
            self.prefix,
            batch.session_id,
            batch.window_id,
            str(batch.dedupe_key),
            data,
            str(batch.first_ms),
            str(batch.last_ms),
            str(len(batch.events)),
            str(_us(batch.received_at)),
            batch.user_agent or "",
            batch.page_url or "",
            "1" if batch_has_errors(batch) else "0",
            "" if self.ttl_seconds is None else str(self.ttl_seconds),
            "" if limits.max_sessions is None else str(int(limits.max_sessions)),
            ""
            if limits.max_events_per_session is None
            else str(int(limits.max_events_per_session)),
            str(len(batch.metadata)),
        ]
        for key, value in batch.metadata.items():
            args.extend((key, orjson.dumps(value)))
        args.append(str(len(facts)))
        for kind, ts, body in facts:
            args.extend((kind, ts, body))
        args.append(state or "")
        return bool(self._save(keys=[], args=args))

    @_wrap_errors
    def save_metadata(self, session_id: str, metadata: dict[str, Any]) -> None:
        validate_id(session_id, "session id")
        clean = validate_metadata(metadata)
        if not clean:
            return
        args: list[Any] = [self.prefix, session_id]
        for key, value in clean.items():
            args.extend((key, orjson.dumps(value)))
        self._metadata(keys=[], args=args)

    # --- reads ----------------------------------------------------------------------------

    def _prune_expired(self) -> None:
        if self.ttl_seconds is None:
            return
        while self._prune(keys=[], args=[self.prefix, _PRUNE_BATCH]) >= _PRUNE_BATCH:
            pass

    @_wrap_errors
    def prune_expired(self) -> None:
        """Remove expired sessions from the shared indexes (reads and writes also do this)."""
        self._prune_expired()

    def _load_heads(
        self, sids: list[str]
    ) -> list[tuple[str, dict[bytes, bytes], dict[str, Any]] | None]:
        """Session hash and metadata of each id (None where the session is gone)."""
        pipe = self._client.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(self._sess(sid))
            pipe.hgetall(self._meta(sid))
        raw = pipe.execute()
        out: list[tuple[str, dict[bytes, bytes], dict[str, Any]] | None] = []
        for i, sid in enumerate(sids):
            head, meta = raw[2 * i], raw[2 * i + 1]
            if not head or b"created" not in head:
                out.append(None)
                continue
            metadata = {k.decode(): orjson.loads(v) for k, v in meta.items()}
            out.append((sid, head, metadata))
        return out

    def _complete(
        self, heads: list[tuple[str, dict[bytes, bytes], dict[str, Any]]]
    ) -> list[SessionSummary]:
        """Add the windows to session heads, in two round trips for the whole page."""
        pipe = self._client.pipeline(transaction=False)
        for sid, _, _ in heads:
            pipe.zrange(self._wins(sid), 0, -1)
        window_ids = [[w.decode() for w in ws] for ws in pipe.execute()]
        pipe = self._client.pipeline(transaction=False)
        for (sid, _, _), wids in zip(heads, window_ids, strict=True):
            for wid in wids:
                pipe.hmget(self._win(sid, wid), "ec", "first", "last")
        window_rows = iter(pipe.execute())
        out = []
        for (sid, head, metadata), wids in zip(heads, window_ids, strict=True):
            windows = []
            for wid in wids:
                ec, first, last = next(window_rows)
                windows.append(
                    WindowSummary(
                        wid,
                        int(ec or 0),
                        None if first is None else int(first),
                        None if last is None else int(last),
                    )
                )
            windows.sort(key=lambda w: (w.first_ms is None, w.first_ms or 0, w.window_id))
            firsts = [w.first_ms for w in windows if w.first_ms is not None]
            lasts = [w.last_ms for w in windows if w.last_ms is not None]
            out.append(
                SessionSummary(
                    session_id=sid,
                    created_at=_from_us(head[b"created"]),
                    updated_at=_from_us(head.get(b"updated", head[b"created"])),
                    first_ms=min(firsts, default=None),
                    last_ms=max(lasts, default=None),
                    event_count=sum(w.event_count for w in windows),
                    windows=windows,
                    metadata=metadata,
                    user_agent=_text(head.get(b"ua")) or None,
                    last_url=_text(head.get(b"url")),
                    has_errors=head.get(b"err") == b"1",
                )
            )
        return out

    def _summaries(self, sids: list[str]) -> list[SessionSummary]:
        heads = [h for h in self._load_heads(sids) if h is not None]
        return self._complete(heads) if heads else []

    @_wrap_errors
    def list_sessions(self, query: SessionQuery) -> list[SessionSummary]:
        self._prune_expired()
        r = self._client
        key = self._by(query.sort_by)
        filtered = query.search is not None or query.has_errors is not None
        if not filtered and query.since is None and query.until is None:
            # the default listing pages the sorted set directly
            ids = r.zrange(key, query.offset, query.offset + query.limit - 1)
            return self._summaries([i.decode() for i in ids])
        lo = "-inf" if query.until is None else -_us(query.until)
        hi = "+inf" if query.since is None else -_us(query.since)
        if not filtered and query.sort_by == "updated_at":
            ids = r.zrangebyscore(key, lo, hi, start=query.offset, num=query.limit)
            return self._summaries([i.decode() for i in ids])
        # filters: walk the sorted set in pages, filter the heads, finish the page's windows
        needle = query.search.lower() if query.search else None
        since_us = None if query.since is None else _us(query.since)
        until_us = None if query.until is None else _us(query.until)
        skip = query.offset
        picked: list[tuple[str, dict[bytes, bytes], dict[str, Any]]] = []
        start = 0
        while len(picked) < query.limit:
            if query.sort_by == "updated_at":
                ids = r.zrangebyscore(key, lo, hi, start=start, num=_PAGE)
            else:
                ids = r.zrange(key, start, start + _PAGE - 1)
            start += _PAGE
            for head in self._load_heads([i.decode() for i in ids]):
                if head is None:
                    continue
                sid, row, metadata = head
                updated = int(row.get(b"updated", row[b"created"]))
                if since_us is not None and updated < since_us:
                    continue
                if until_us is not None and updated > until_us:
                    continue
                if query.has_errors is not None and (row.get(b"err") == b"1") != query.has_errors:
                    continue
                if needle is not None and not _matches(sid, metadata, needle):
                    continue
                if skip:
                    skip -= 1
                    continue
                picked.append(head)
                if len(picked) >= query.limit:
                    break
            if len(ids) < _PAGE:
                break
        return self._complete(picked) if picked else []

    @_wrap_errors
    def get_session(self, session_id: str) -> SessionSummary | None:
        validate_id(session_id, "session id")
        found = self._summaries([session_id])
        return found[0] if found else None

    @_wrap_errors
    def iter_session_ids(self) -> Iterator[str]:
        """Every session id, oldest created first (a snapshot of the created index)."""
        self._prune_expired()
        rows: list[tuple[float, str]] = []
        start = 0
        key = self._by("created_at")
        while True:
            page = self._client.zrange(key, start, start + 4999, withscores=True)
            rows.extend((-score, sid.decode()) for sid, score in page)
            if len(page) < 5000:
                break
            start += len(page)
        rows.sort()
        return iter([sid for _, sid in rows])

    def _check_ref(self, ref: WindowRef) -> None:
        validate_id(ref.session_id, "session id")
        validate_id(ref.window_id, "window id")

    @_wrap_errors
    def chunk_index(self, ref: WindowRef) -> list[ChunkInfo]:
        self._check_ref(ref)
        members = self._client.zrange(self._cidx(ref.session_id, ref.window_id), 0, -1)
        return [_parse_chunk_info(m) for m in members]

    @_wrap_errors
    def replace_chunks(self, ref: WindowRef, replaced: Sequence[ChunkInfo], chunk: Chunk) -> bool:
        """Compaction's primitive: one script, so it runs whole and alone like a batch."""
        self._check_ref(ref)
        args = [self.prefix, ref.session_id, ref.window_id, replaced[0].index,
                replaced[-1].index, _chunk_info_member(chunk.info), chunk.data,
                *(_chunk_info_member(i) for i in replaced)]
        return bool(self._replace_chunks(keys=[], args=args))

    @_wrap_errors
    def get_chunks(
        self,
        ref: WindowRef,
        from_ms: int | None = None,
        to_ms: int | None = None,
        start_index: int = 0,
        limit: int | None = None,
    ) -> list[Chunk]:
        self._check_ref(ref)
        sid, wid = ref.session_id, ref.window_id
        key = self._cidx(sid, wid)
        infos: list[ChunkInfo] = []
        # with a limit, read the index a page at a time (resuming after the last index seen),
        # so the first chunk of a long window costs the same as that of a short one
        page = None if limit is None else max(limit, 64)
        lo = max(0, start_index)
        while True:
            if page is None:
                members = self._client.zrangebyscore(key, lo, "+inf")
            else:
                members = self._client.zrangebyscore(key, lo, "+inf", start=0, num=page)
            for member in members:
                info = _parse_chunk_info(member)
                lo = info.index + 1
                if not info.selected(from_ms, to_ms):  # start_index is the range's low end
                    continue
                infos.append(info)
                if limit is not None and len(infos) >= limit:
                    break
            if page is None or len(members) < page or len(infos) >= (limit or 0):
                break
        if not infos:
            return []
        blobs = self._client.hmget(self._chunks(sid, wid), [str(i.index) for i in infos])
        pairs = zip(infos, blobs, strict=True)
        return [Chunk(info, blob) for info, blob in pairs if blob is not None]

    @_wrap_errors
    def get_window_state(self, ref: WindowRef) -> dict[str, Any] | None:
        self._check_ref(ref)
        return load_window_state(
            self._client.hget(self._win(ref.session_id, ref.window_id), "state")
        )

    @_wrap_errors
    def iter_facts(
        self,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
    ) -> Iterator[Fact]:
        if session_id is not None:
            validate_id(session_id, "session id")
        self._prune_expired()
        lo = "-inf" if since is None else to_ms(since, round_up=True)
        hi = "+inf" if until is None else to_ms(until)
        facts: Iterator[Fact]
        if session_id is not None:
            source = self._walk(self._sfacts(session_id), lo, hi)
            facts = (f for f in map(_parse_fact, source) if kind is None or f.kind == kind)
        elif kind is not None:
            facts = map(_parse_fact, self._walk(self._facts(kind), lo, hi))
        else:
            kinds = sorted(k.decode() for k in self._client.smembers(self.prefix + "kinds"))
            walks = [self._walk_scored(self._facts(k), lo, hi) for k in kinds]
            facts = (_parse_fact(m) for _, m in heapq.merge(*walks))
        return self._guard(facts)

    def _guard(self, items: Iterable[T]) -> Iterator[T]:
        try:
            yield from items
        except redis_lib.RedisError as exc:
            raise StoreError(f"Redis store: {type(exc).__name__}: {exc}") from exc

    def _walk(self, key: str, lo: Any, hi: Any) -> Iterator[bytes]:
        return (m for _, m in self._walk_scored(key, lo, hi))

    def _walk_scored(self, key: str, lo: Any, hi: Any) -> Iterator[tuple[float, bytes]]:
        """Members of a sorted set in (score, member) order, a page at a time; pages resume
        from the last score (skipping its members already seen), not from an offset."""
        score, seen = lo, 0
        while True:
            page = self._client.zrangebyscore(
                key, score, hi, start=seen, num=_PAGE, withscores=True
            )
            for member, value in page:
                yield value, member
            if len(page) < _PAGE:
                return
            last = page[-1][1]
            same = sum(1 for _, v in page if v == last)
            seen = seen + same if last == score else same
            score = last

    # --- deletes --------------------------------------------------------------------------

    @_wrap_errors
    def delete_window(self, ref: WindowRef) -> bool:
        self._check_ref(ref)
        # the last window takes the session with it, its error-tracking records included
        return bool(self._delete_window(keys=[], args=[self.prefix, ref.session_id, ref.window_id]))

    @_wrap_errors
    def delete_session(self, session_id: str) -> bool:
        validate_id(session_id, "session id")
        return bool(self._delete_session(keys=[], args=[self.prefix, session_id, ""]))

    @_wrap_errors
    def purge_older_than(self, seconds: float) -> int:
        self._prune_expired()
        cutoff = _us(utcnow() - timedelta(seconds=seconds))
        key = self._by("updated_at")
        deleted = 0
        while True:
            # newest-first scores are negated: older than the cutoff = score above -cutoff
            ids = self._client.zrangebyscore(key, f"({-cutoff}", "+inf", start=0, num=_PAGE)
            if not ids:
                self._purge_tracking(cutoff // 1000)
                return deleted
            removed_any = False
            for sid in ids:
                if self._delete_session(keys=[], args=[self.prefix, sid, str(cutoff)]):
                    deleted += 1
                    removed_any = True
            if not removed_any and len(ids) < _PAGE:
                self._purge_tracking(cutoff // 1000)
                return deleted

    @_wrap_errors
    def clear(self) -> int:
        """Delete every key under the prefix (SCAN, never KEYS); returns how many went."""
        removed = 0
        batch: list[bytes] = []
        for key in self._client.scan_iter(match=_glob_escape(self.prefix) + "*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                removed += self._client.unlink(*batch)
                batch = []
        if batch:
            removed += self._client.unlink(*batch)
        return removed


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
