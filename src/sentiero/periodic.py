"""A background job of the app: a daemon thread running ``run_once`` every
``interval_seconds`` (the first time ``delay_seconds`` after it starts), restarted in every
child forked later (gunicorn's workers: threads do not survive a fork). The thread holds its
job weakly, so it ends once the app that owns the job is gone. Compaction
(``compaction.BackgroundCompactor``) and cache warming (``analytics.warm.BackgroundWarmer``)
are the two.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from typing import Any

log = logging.getLogger(__name__)


class PeriodicJob:
    """Subclasses name the thread (``thread_name``) and do one pass in ``run_once``."""

    thread_name = "sentiero-job"

    def __init__(self, interval_seconds: float, delay_seconds: float | None = None) -> None:
        self.interval_seconds = interval_seconds
        self.delay_seconds = interval_seconds if delay_seconds is None else delay_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread, and again in every child forked later."""
        if self._thread is None:
            os.register_at_fork(after_in_child=functools.partial(_restart, weakref.ref(self)))
            self._restart()

    def _restart(self) -> None:
        if self._stop.is_set():
            return
        self._thread = threading.Thread(
            target=_loop, args=(weakref.ref(self), self._stop, self.delay_seconds,
                                self.interval_seconds), name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread, waiting up to ``timeout`` seconds for a pass under way."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def _restart(ref: weakref.ref[PeriodicJob]) -> None:
    job = ref()
    if job is not None:
        job._restart()


def _waited(ref: weakref.ref[PeriodicJob], stop: threading.Event, seconds: float) -> bool:
    """Sleep ``seconds``; False once stopped or once the job is gone (looked at every
    minute, so a dropped app's thread ends)."""
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0:
        if stop.wait(min(left, 60.0)) or ref() is None:
            return False
    return not stop.is_set()


def _loop(ref: weakref.ref[PeriodicJob], stop: threading.Event, delay: float,
          interval: float) -> None:
    if not _waited(ref, stop, delay):
        return
    while True:
        job = ref()
        if job is None:
            return
        try:
            job.run_once()
        except Exception:  # noqa: BLE001 - a failed pass must not end the thread
            log.exception("%s: the pass failed; retrying at the next one", job.thread_name)
        del job
        if not _waited(ref, stop, interval):
            return
