"""Group commit: concurrent writes of one process committed together, in one transaction.

SQLite has one writer at a time and pays a commit (a WAL append, an fsync with
``synchronous=FULL``) per transaction. With one transaction per batch, eight request threads
queue on the write lock and each pays its own commit. :class:`GroupCommit` lets them share:
the first thread to arrive becomes the *leader* and writes every batch waiting at that moment
in one transaction, each batch inside its own savepoint; threads that arrive meanwhile wait,
and the next of them leads the next group as soon as the leader has committed. There is no
background thread (nothing to restart after a fork, nothing to stop at exit).

With a ``gate`` (SQLite: the writer lock that the processes of a server share), the leader
takes the gate first and forms its group only then: batches that arrive while it waits for
another process's transaction join this group instead of waiting for the next one. Under
load that is what makes groups: the wait for the other process is the time they gather in.

Each caller gets its own batch's outcome, and only after the transaction holding it has
committed: an acknowledged batch is on disk (as durable as the ``synchronous`` setting makes
a commit, see docs/storage.md). A batch that fails inside its savepoint (a duplicate seq, a
value the database refuses) is rolled back alone; the others in its group are still
committed. A failure of the transaction itself (the commit, the lock) fails every batch of the
group, and none of them is acknowledged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Work = Callable[[Any], T]

MAX_GROUP = 64
"""Batches per transaction at most (a recorder batch is at most 512 KiB)."""


class Pending(Generic[T]):
    """One caller's write, waiting for its group."""

    __slots__ = ("work", "_done", "_lead", "result", "error")

    def __init__(self, work: Work[T]) -> None:
        self.work = work
        self._done = threading.Event()
        self._lead = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit(Generic[T]):
    """``commit_group(items)`` writes every item's ``work`` in one transaction, setting each
    item's ``result`` or ``error``; an exception it raises becomes every unfinished item's
    error. ``submit(work)`` returns this caller's result (or raises its error) once its
    group is committed."""

    def __init__(self, commit_group: Callable[[Sequence[Pending[T]]], None],
                 max_group: int = MAX_GROUP,
                 gate: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self._commit_group = commit_group
        self._max_group = max_group
        self._gate = gate or nullcontext
        self._lock = threading.Lock()
        self._queue: list[Pending[T]] = []
        self._busy = False

    def reset(self) -> None:
        """Forget waiting writes (a forked child: their threads do not exist in it)."""
        self._lock = threading.Lock()
        self._queue = []
        self._busy = False

    def submit(self, work: Work[T]) -> T:
        item: Pending[T] = Pending(work)
        with self._lock:
            self._queue.append(item)
            lead = not self._busy
            self._busy = True
        if not lead:
            item._done.wait()
            if not item._lead:
                return item.outcome()
        self._lead_one_group()
        return item.outcome()

    def _lead_one_group(self) -> None:
        group: list[Pending[T]] = []
        try:
            with self._gate():
                with self._lock:  # formed once the gate is held: latecomers join it
                    group = self._queue[: self._max_group]
                    del self._queue[: self._max_group]
                self._commit_group(group)
        except BaseException as error:  # noqa: BLE001 - handed to every caller of the group
            if not group:  # the gate failed: the leader's batch is the first waiting
                with self._lock:
                    group = self._queue[:1]
                    del self._queue[:1]
            for item in group:
                item.result, item.error = None, error
        finally:
            with self._lock:
                if self._queue:  # hand over: the longest waiting caller leads the next group
                    following = self._queue[0]
                    following._lead = True
                    following._done.set()
                else:
                    self._busy = False
            for item in group:
                item._done.set()
