"""Simulated recorders posting real batch sequences, and the check that what the server
stored equals what it acknowledged, event for event.

A recorder behaves like the browser's: it sends its window's batches in order, keeps a batch
until the server acknowledges it (200), retries on a refused connection, a reset, a 503 or a
timeout with a short backoff, and sometimes sends an acknowledged batch again (the answer was
lost on the way back). Half of them send no ``seq`` (the original recorder never does).

The expected content is not the events as sent (the server scrubs and redacts them) but what
the same app stores when it receives the acknowledged batches once each, in order: an
in-process reference app with a MemoryStore. A window's stored chunks, concatenated in chunk
order, must equal the reference's: nothing lost, nothing twice, nothing out of order.
"""

from __future__ import annotations

import gzip
import http.client
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from werkzeug.test import Client

from sentiero.app import Sentiero
from sentiero.stores.base import Store, WindowRef
from sentiero.stores.memory import MemoryStore
from tests.reliability.harness import PREFIX
from tests.stores.contract import load_fixture

FIXTURES = ("frustration-a", "landing-a", "signup-b", "todo-a")
BATCH_EVENTS = 10


@dataclass
class Window:
    session_id: str
    window_id: str
    payloads: list[dict[str, Any]]


def recorder_windows(recorder: int, with_seq: bool, run: str, windows: int = 1
                     ) -> Iterator[Window]:
    """``windows`` fixture sessions cut into batches, under ids unique to this recorder
    (made as they are needed: a long run's recorders go through thousands)."""
    for n in range(windows):
        name = FIXTURES[(recorder + n) % len(FIXTURES)]
        fixture = load_fixture(name)
        sid = f"{run}-r{recorder}-{n}"
        for window in fixture["windows"]:
            events = window["events"]
            payloads = []
            for seq, start in enumerate(range(0, len(events), BATCH_EVENTS)):
                payload: dict[str, Any] = {"sessionId": sid, "windowId": window["window_id"],
                                           "events": events[start:start + BATCH_EVENTS]}
                if with_seq:
                    payload["seq"] = seq
                if seq == 0:
                    payload["metadata"] = {"url": window["url"], "recorder": recorder}
                payloads.append(payload)
            yield Window(sid, window["window_id"], payloads)


@dataclass
class Stats:
    """What the recorders saw, shared between their threads."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    acknowledged: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    acked_events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: str, latency_ms: float | None = None) -> None:
        with self.lock:
            self.statuses[status] += 1
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)

    def p99_ms(self) -> float:
        values = sorted(self.latencies_ms)
        return values[int(len(values) * 0.99)] if values else 0.0


class Recorder(threading.Thread):
    """Posts its windows' batches in order to one of ``servers`` (chosen per batch) until
    each is acknowledged."""

    def __init__(self, ports: Callable[[], Sequence[int]], windows: Iterable[Window], stats: Stats,
                 seed: int, resend_rate: float = 0.1, deadline: float | None = None) -> None:
        super().__init__(daemon=True)
        self.ports = ports
        self.windows = windows
        self.stats = stats
        self.random = random.Random(seed)
        self.resend_rate = resend_rate
        self.deadline = deadline
        self.failure: str | None = None

    def run(self) -> None:
        try:
            for window in self.windows:
                if self.deadline is not None and time.monotonic() > self.deadline:
                    return
                for payload in window.payloads:
                    self._deliver(payload)
                    with self.stats.lock:
                        self.stats.acknowledged.setdefault(
                            (window.session_id, window.window_id), []).append(payload)
                        self.stats.acked_events += len(payload["events"])
                    if self.random.random() < self.resend_rate:
                        self._deliver(payload)  # the answer was lost: the browser sends it again
        except Exception as exc:  # reported by the test
            self.failure = f"{type(exc).__name__}: {exc}"

    def _deliver(self, payload: dict[str, Any]) -> None:
        body = orjson.dumps(payload)
        headers = {"Content-Type": "application/json"}
        if self.random.random() < 0.5:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        backoff = 0.05
        give_up = time.monotonic() + 300
        while True:
            port = self.random.choice(list(self.ports()))
            started = time.perf_counter()
            status = self._post(port, body, headers)
            elapsed = (time.perf_counter() - started) * 1000
            self.stats.record(status, elapsed if status == "200" else None)
            if status == "200":
                return
            if status not in ("503", "refused", "reset", "timeout", "502"):
                raise AssertionError(f"unexpected answer {status} to a valid batch")
            if time.monotonic() > give_up:
                raise TimeoutError("a batch was never acknowledged in 300 s")
            time.sleep(backoff * (0.5 + self.random.random()))
            backoff = min(backoff * 2, 1.0)

    @staticmethod
    def _post(port: int, body: bytes, headers: dict[str, str]) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", PREFIX + "/events", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status == 503 and response.getheader("Retry-After") is None:
                return "503-without-retry-after"
            if response.status == 200:
                parsed = orjson.loads(answer)
                if parsed.get("status") != "ok":
                    return f"200-{parsed!r}"
            return str(response.status)
        except ConnectionRefusedError:
            return "refused"
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                http.client.IncompleteRead):
            return "reset"
        except TimeoutError:
            return "timeout"
        finally:
            conn.close()


def run_recorders(ports: Callable[[], Sequence[int]], count: int, run: str, stats: Stats,
                  windows_per_recorder: int = 1, seed: int = 0,
                  duration_s: float | None = None) -> list[Recorder]:
    """Start ``count`` recorders, half with seq and half without; with ``duration_s`` each
    goes on with new windows until then (``windows_per_recorder`` at most)."""
    deadline = None if duration_s is None else time.monotonic() + duration_s
    recorders = [
        Recorder(ports, recorder_windows(n, n % 2 == 0, run, windows_per_recorder), stats,
                 seed=seed * 100_003 + n, deadline=deadline)
        for n in range(count)
    ]
    for recorder in recorders:
        recorder.start()
    return recorders


def join_all(recorders: list[Recorder], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    for recorder in recorders:
        recorder.join(max(0.1, deadline - time.monotonic()))
    stuck = [r for r in recorders if r.is_alive()]
    failures = [r.failure for r in recorders if r.failure]
    assert not stuck, f"{len(stuck)} recorders never finished"
    assert not failures, failures[:5]


@dataclass
class Comparison:
    windows: int
    events: int
    lost: int
    duplicated: int
    reordered: int
    differing_windows: list[str]


def compare(store: Store, acknowledged: dict[tuple[str, str], list[dict[str, Any]]]
            ) -> Comparison:
    """The stored windows against what a fresh app stores for the acknowledged batches."""
    reference = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    client = Client(reference.wsgi_app)
    lost = duplicated = reordered = events = 0
    differing = []
    for (sid, wid), payloads in acknowledged.items():
        for payload in payloads:
            answer = client.post("/events", data=orjson.dumps(payload),
                                 content_type="application/json")
            assert answer.status_code == 200, answer.get_data(as_text=True)
        ref = WindowRef(sid, wid)
        want = [orjson.dumps(e) for c in reference.store.get_chunks(ref) for e in c.events()]
        got = [orjson.dumps(e) for c in store.get_chunks(ref) for e in c.events()]
        events += len(want)
        if got == want:
            continue
        differing.append(f"{sid}/{wid}")
        want_count, got_count = Counter(want), Counter(got)
        lost += sum((want_count - got_count).values())
        duplicated += sum((got_count - want_count).values())
        if want_count == got_count:
            reordered += 1
    return Comparison(len(acknowledged), events, lost, duplicated, reordered, differing)


def peak_rss_mib(pids: Sequence[int]) -> float:
    """The largest peak resident set (VmHWM) among ``pids`` and their children, in MiB."""
    peak = 0
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return peak / 1024
