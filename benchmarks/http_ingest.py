"""HTTP ingest under the production server: ``sentiero serve`` (gunicorn, 2 workers x 4
threads) on SQLite and on the memory store, beside a bare gunicorn endpoint (read, gunzip,
``orjson.loads``, 200) with the same workers and threads, in one run, on loopback.

Eight client threads post real gzipped batches cut from the fixture recordings the way the
recorder cuts them (at most 50 events and 480,000 bytes of JSON each): each client takes the
next fresh session from a shared list and posts its batches in order, with ``seq``, waiting for
each answer (a recorder has one batch in flight per window). Every contender gets the same
requests; each starts on an empty store.

    python benchmarks/http_ingest.py                    # todo-a and dashboard-b, full size
    python benchmarks/http_ingest.py --quick
    python benchmarks/http_ingest.py --workloads todo-a --stores sqlite,memory
    python benchmarks/http_ingest.py --stores sqlite-full,sqlite-normal   # SQLite's synchronous
    python benchmarks/http_ingest.py --live-times       # event times of today, not the fixture's

Columns: requests/s and events/s over the measured requests (after a warm-up), p50/p99 of
the request latency seen by the client, "x bare" the requests/s ratio to the bare endpoint
of the same workload, and "CPU ms/req": CPU time of the whole server (master and workers,
from /proc) per request.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("SENTIERO_BENCH_SRC") or HERE.parent / "src")
"""The ``src`` folder the servers import (override to measure a snapshot of older code)."""
MAX_BATCH_BYTES = 480_000  # frontend/src/recorder/transport.js
MAX_BATCH_EVENTS = 50
PREFIX = "/sentiero"
CLIENTS = 8
WORKERS, THREADS = 2, 4


def fixture_path(name: str) -> Path:
    for folder in (os.environ.get("SENTIERO_FIXTURES"), HERE.parent / "tests/fixtures/rrweb",
                   "/work/shared/fixtures/rrweb"):
        if folder and (Path(folder) / f"{name}.json.gz").exists():
            return Path(folder) / f"{name}.json.gz"
    raise SystemExit(f"fixture {name}.json.gz not found (set SENTIERO_FIXTURES)")


def recorder_batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Cut events as the recorder's transport does: <= 50 events, <= 480,000 bytes."""
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        n = len(orjson.dumps(event)) + 1
        if batches[-1] and (size + n > MAX_BATCH_BYTES or len(batches[-1]) >= MAX_BATCH_EVENTS):
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += n
    return batches


@dataclass
class Session:
    bodies: list[tuple[bytes, int]]  # (gzipped payload, events) in seq order


LIVE_TIMES = os.environ.get("SENTIERO_BENCH_LIVE_TIMES") == "1"
"""Shift the fixtures' event times to now (``--live-times``), as a recorder on a live page
sends them. Off, every batch is dated on the day the fixture was recorded, a closed UTC day:
each one is then a late batch to the SQL stores' day cache, which bumps that day's version
and drops its cached answers in the batch's transaction (two more tables written)."""


def live_times(recording: dict[str, Any]) -> None:
    """Move every event of ``recording`` by the same offset, its first event to now."""
    times = [e["timestamp"] for w in recording["windows"] for e in w["events"]
             if isinstance(e.get("timestamp"), (int, float))]
    if not times:
        return
    offset = int(time.time() * 1000) - int(min(times))
    for window in recording["windows"]:
        for event in window["events"]:
            if isinstance(event.get("timestamp"), (int, float)):
                event["timestamp"] += offset


def build_sessions(fixture: str, requests: int, tag: str) -> tuple[list[Session], int]:
    """Fresh sessions of ``fixture`` (every window of it, its batches with seq) until they
    hold ``requests`` requests. Returns the sessions and the mean raw batch size."""
    recording = orjson.loads(gzip.decompress(fixture_path(fixture).read_bytes()))
    if LIVE_TIMES:
        live_times(recording)
    windows = [(w["window_id"], recorder_batches(w["events"])) for w in recording["windows"]]
    raw = [orjson.dumps({"events": b}) for _, cut in windows for b in cut]
    sessions: list[Session] = []
    total = 0
    n = 0
    while total < requests:
        bodies = []
        for window_id, cut in windows:
            for seq, events in enumerate(cut):
                payload = {"sessionId": f"{tag}-{n}", "windowId": window_id, "seq": seq,
                           "events": events}
                bodies.append((gzip.compress(orjson.dumps(payload), 6), len(events)))
        sessions.append(Session(bodies))
        total += len(bodies)
        n += 1
    return sessions, sum(len(r) for r in raw) // len(raw)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process in its own session, ended through its process group."""

    def __init__(self, args: list[str], port: int, path: str, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIERO_")}
        env["PYTHONPATH"] = f"{SRC}{os.pathsep}{HERE}"
        self.port, self.path = port, path
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         cwd=log.parent, start_new_session=True)
        self.log = log

    def wait_ready(self, probe: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{probe}", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(self.log.read_text()[-2000:])

    def cpu_seconds(self) -> float:
        """utime + stime of every process in the server's group (master and workers)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == self.proc.pid:  # pgrp
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_contender(name: str, folder: Path) -> Server:
    port = free_port()
    if name == "bare":
        args = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                "--workers", str(WORKERS), "--threads", str(THREADS), "--worker-class",
                "gthread", "--log-level", "warning", "bare_endpoint:app"]
        server = Server(args, port, "/events", folder / "bare.log")
        server.wait_ready("/")
        return server
    kind, _, synchronous = name.partition("-")  # sqlite-full, sqlite-normal: that setting
    store = {"sqlite": f"sqlite:///{folder}/sentiero.db", "memory": "memory://"}[kind]
    if synchronous:
        store += f"?synchronous={synchronous}"
    args = [sys.executable, "-m", "sentiero", "serve", "--port", str(port), "--store", store,
            "--workers", str(WORKERS), "--threads", str(THREADS), "--open-dashboard"]
    server = Server(args, port, f"{PREFIX}/events", folder / f"{name}.log")
    server.wait_ready(f"{PREFIX}/recorder.js")
    return server


@dataclass
class Outcome:
    requests: int = 0
    events: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


def drive(port: int, path: str, sessions: list[Session], outcome: Outcome) -> float:
    """Post every session's batches from CLIENTS threads; returns the elapsed seconds."""
    queue = list(reversed(sessions))
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies, errors, requests, events = [], {}, 0, 0
        while True:
            with lock:
                if not queue:
                    break
                session = queue.pop()
            for body, count in session.bodies:
                started = time.perf_counter()
                try:
                    conn.request("POST", path, body, headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                latencies.append(time.perf_counter() - started)
                if status == 200:
                    requests += 1
                    events += count
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        conn.close()
        with lock:
            outcome.latencies.extend(latencies)
            outcome.requests += requests
            outcome.events += events
            for key, n in errors.items():
                outcome.errors[key] = outcome.errors.get(key, 0) + n

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(workloads: list[str], stores: list[str], sizes: dict[str, int], rounds: int) -> None:
    print(f"gunicorn {WORKERS} workers x {THREADS} threads, {CLIENTS} clients on loopback, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    header = (f"{'workload':<13}{'endpoint':<9}{'requests':>9}{'req/s':>9}{'events/s':>10}"
              f"{'p50 ms':>8}{'p99 ms':>8}{'x bare':>8}{'CPU ms/req':>11}")
    rows = []
    for workload in workloads:
        sessions, mean_raw = build_sessions(workload, sizes[workload], f"{workload}-m")
        warm, _ = build_sessions(workload, 16, f"{workload}-w")
        count = sum(len(s.bodies) for s in sessions)
        print(f"{workload}: {len(sessions)} sessions, {count} requests, mean raw batch "
              f"{mean_raw / 1000:.0f} KB, best of {rounds} round(s), event times "
              f"{'of now' if LIVE_TIMES else 'as recorded'}")
        results: dict[str, tuple[float, Outcome, float]] = {}
        for _ in range(rounds):
            for name in ["bare", *stores]:
                folder = Path(tempfile.mkdtemp(prefix=f"sentiero-http-{name}-"))
                server = start_contender(name, folder)
                try:
                    drive(server.port, server.path, warm, Outcome())
                    cpu_before = server.cpu_seconds()
                    outcome = Outcome()
                    elapsed = drive(server.port, server.path, sessions, outcome)
                    cpu = server.cpu_seconds() - cpu_before
                finally:
                    server.stop()
                    shutil.rmtree(folder, ignore_errors=True)
                best = results.get(name)
                if best is None or outcome.requests / elapsed > best[1].requests / best[0]:
                    results[name] = (elapsed, outcome, cpu)
        bare_rps = results["bare"][1].requests / results["bare"][0]
        for name in ["bare", *stores]:
            elapsed, outcome, cpu = results[name]
            rps = outcome.requests / elapsed
            errors = f"  errors {outcome.errors}" if outcome.errors else ""
            rows.append(f"{workload:<13}{name:<9}{outcome.requests:>9}{rps:>9.0f}"
                        f"{outcome.events / elapsed:>10.0f}"
                        f"{percentile(outcome.latencies, 0.5) * 1000:>8.1f}"
                        f"{percentile(outcome.latencies, 0.99) * 1000:>8.1f}"
                        f"{rps / bare_rps:>8.2f}"
                        f"{cpu * 1000 / max(1, outcome.requests):>11.2f}{errors}")
    print(header)
    print("\n".join(rows))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the servers' cleanup
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workloads", default="todo-a,dashboard-b")
    parser.add_argument("--stores", default="sqlite,memory")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--live-times", action="store_true",
                        help="event times shifted to now (else the fixture's recording day)")
    args = parser.parse_args()
    global LIVE_TIMES
    LIVE_TIMES = LIVE_TIMES or args.live_times
    sizes = {"todo-a": 1200, "dashboard-b": 160} if args.quick else \
        {"todo-a": 4000, "dashboard-b": 480}
    rounds = args.rounds or (1 if args.quick else 2)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    for workload in workloads:
        sizes.setdefault(workload, sizes["todo-a"])
    run(workloads, stores, sizes, rounds)


if __name__ == "__main__":
    main()
