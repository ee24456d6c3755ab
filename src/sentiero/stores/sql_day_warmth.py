"""What the cache warmer (``sentiero.analytics.warm``) needs from a SQL store's day cache:
whether anything changed since the last pass, a record of that pass, and a lock that one
process holds at a time.

A closed day's cached answers go only when its version (or the store-wide epoch) is bumped,
and a new day becomes cacheable only when the clock passes it (``GRACE_MS`` after it ended).
So ``state`` (the newest cacheable day and the count and sum of the ``day_versions`` rows,
the epoch's included: versions only grow) changes whenever a pass could find a missing day.
The warmer records it after a pass, in the ``day_cache`` table itself (a row of the epoch
day, -1, under its own key: no schema step; forgetting every day forgets it too), and the
next pass, in any process, compares and stops there when nothing changed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from sentiero.stores.sql_day_cache import DAY_MS, EPOCH_DAY, GRACE_MS, SQLDayCache, day_of, now_ms

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: a lock per process only
    fcntl = None  # type: ignore[assignment]


def has_day_cache(store: Any) -> bool:
    return isinstance(store, SQLDayCache)


def newest_cacheable_day(now: int | None = None) -> int:
    """Epoch ms of the newest day the cache keeps answers for (as ``DayPlan.of``)."""
    return day_of((now if now is not None else now_ms()) - GRACE_MS) - DAY_MS


def state(store: Any, now: int | None = None) -> str:
    """A text that changes whenever a cached day's answers may have gone or a new day became
    cacheable."""
    v = store.tables.day_versions
    store._ensure_ready()
    rows, total = store._run(lambda conn: conn.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(v.c.version), 0))).one(), write=False)
    return f"{newest_cacheable_day(now)}:{int(rows)}:{int(total)}"


def _mark_key(name: str) -> str:
    return hashlib.sha1(f"warmed:{name}".encode()).hexdigest()


def warmed_state(store: Any, name: str) -> str | None:
    """The ``state`` recorded by the last complete pass of ``name``, if any."""
    c = store.tables.day_cache
    store._ensure_ready()
    row = store._run(lambda conn: conn.execute(sa.select(c.c.payload).where(
        c.c.query == _mark_key(name), c.c.day == EPOCH_DAY)).first(), write=False)
    return None if row is None else str(row[0])


def mark_warmed(store: Any, name: str, value: str) -> None:
    c = store.tables.day_cache
    key = _mark_key(name)

    def write(conn: Any) -> None:
        conn.execute(sa.delete(c).where(c.c.query == key, c.c.day == EPOCH_DAY))
        conn.execute(sa.insert(c).values(query=key, day=EPOCH_DAY, version=0, epoch=0,
                                         payload=value))

    store._run(write)


@contextmanager
def warm_lock(store: Any) -> Iterator[bool]:
    """Yields whether this process got the warming lock (never waits): an advisory lock on
    PostgreSQL and MySQL/MariaDB, a POSIX record lock on a file beside the SQLite database
    (released when the process dies, and not handed to a child forked meanwhile, unlike
    ``flock``), and within the process, one thread at a time."""
    key = f"{store.url}|{store.tables.prefix}"
    with _in_process(key) as got:
        if not got:
            yield False
        elif store.is_sqlite:
            with _file_lock(store) as got:
                yield got
        else:
            with _advisory_lock(store, f"{store.tables.prefix}warm") as got:
                yield got


_guard = threading.Lock()
_held: set[str] = set()  # the warming locks this process holds


def _forget_held() -> None:  # a forked child holds none (the thread that did is not in it)
    global _guard, _held
    _guard, _held = threading.Lock(), set()


os.register_at_fork(after_in_child=_forget_held)


@contextmanager
def _in_process(key: str) -> Iterator[bool]:
    with _guard:
        got = key not in _held
        _held.add(key)
    try:
        yield got
    finally:
        if got:
            with _guard:
                _held.discard(key)


@contextmanager
def _advisory_lock(store: Any, key: str) -> Iterator[bool]:
    with store.engine.connect() as conn:
        if store.backend == "postgresql":
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtext(:k))"),
                                    {"k": key}).scalar())
            release = "SELECT pg_advisory_unlock(hashtext(:k))"
        else:
            got = conn.execute(sa.text("SELECT GET_LOCK(:k, 0)"), {"k": key}).scalar() == 1
            release = "SELECT RELEASE_LOCK(:k)"
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(sa.text(release), {"k": key})
                conn.commit()


@contextmanager
def _file_lock(store: Any) -> Iterator[bool]:
    if store._memory or fcntl is None:  # one process: the in-process lock is the lock
        yield True
        return
    try:
        fd = os.open(f"{store.url.database}-warm", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # no file beside the database: warm unlocked (the check still helps)
        yield True
        return
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock
