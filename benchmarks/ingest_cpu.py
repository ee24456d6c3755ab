"""CPU per batch of the ingest pipeline beside the bare parse, in one process.

For each fixture, recorder-size batches (as ``http_ingest.py`` cuts them) go through: the bare
parse (gunzip + ``orjson.loads``), then ``build_batch`` (validation, password scrubbing and
DOM redaction in one walk, event redaction, facts) on a fresh parse, then that plus the chunk
encoding a store does (``validate_batch``: JSON + zstandard). CPU time (``process_time``), best
of the rounds; the ratio is to the bare parse.

    python benchmarks/ingest_cpu.py                   # todo-a and dashboard-b, 7 rounds
    python benchmarks/ingest_cpu.py --quick
    python benchmarks/ingest_cpu.py --profile dashboard-b   # pyinstrument profile of build_batch
    python benchmarks/ingest_cpu.py --stores sqlite,memory  # and the store's save per batch

``--stores``: each batch's ``store.save_batch`` too, serially, as the events endpoint calls it
(its window state read first), on a fresh SQLite file or memory store; fresh sessions every
round (a saved batch cannot be saved again; at least 100 batches each), CPU and wall time per
batch, best of the rounds.
Wall minus CPU on SQLite is mostly the commit's fsync (``synchronous=FULL``).

``--route``: CPU per request of the whole events route, serially, on the WSGI app that
``sentiero serve`` mounts (request parsing, gunzip, the window state read, the pipeline, the
save, the answer), each request an environ as gunicorn builds it; no socket and no server, so
it is the request's own CPU without the HTTP server's and the load generator's.

    python benchmarks/ingest_cpu.py --route --stores sqlite,memory --live-times
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, os.environ.get("SENTIERO_BENCH_SRC") or str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import http_ingest  # noqa: E402
from http_ingest import build_sessions  # noqa: E402

from sentiero.ingest.pipeline import build_batch  # noqa: E402
from sentiero.settings import Settings  # noqa: E402
from sentiero.stores.base import validate_batch  # noqa: E402


def bodies_of(fixture: str, tag: str = "cpu") -> list[bytes]:
    sessions, _ = build_sessions(fixture, 1, tag)
    return [body for body, _ in sessions[0].bodies]


SAVES_PER_ROUND = 100
"""Batches saved per round at least (whole sessions: todo-a has 2 batches, dashboard-b 26)."""


def save_ms(store_kind: str, fixture: str, settings: Settings, rounds: int
            ) -> tuple[float, float]:
    """(CPU ms, wall ms) of ``save_batch`` per batch, best of the rounds."""
    from sentiero.stores import open_store

    with tempfile.TemporaryDirectory(prefix="sentiero-cpu-") as folder:
        store = open_store(f"sqlite:///{folder}/s.db" if store_kind == "sqlite" else "memory://")
        store.setup()
        best = (float("inf"), float("inf"))
        for n in range(rounds + 1):  # the first round warms up
            cpu = wall = 0.0
            sessions, _ = build_sessions(fixture, SAVES_PER_ROUND, f"save{n}")
            bodies = [body for session in sessions for body, _ in session.bodies]
            for body in bodies:
                batch = build_batch(orjson.loads(gzip.decompress(body)), settings, "bench",
                                    load_window_state=store.get_window_state)
                started, started_cpu = time.perf_counter(), time.process_time()
                store.save_batch(batch)
                cpu += time.process_time() - started_cpu
                wall += time.perf_counter() - started
            if n:
                best = min(best, (cpu * 1000 / len(bodies), wall * 1000 / len(bodies)))
        store.close()
    return best


ROUTE_REQUESTS = 600
"""Requests per round of ``--route`` (fresh sessions each round)."""


def route_ms(store_kind: str, fixture: str, rounds: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per request of the events route on the WSGI app, best of the
    rounds (the first warms up)."""
    import io

    from sentiero.app import Sentiero

    def environ(body: bytes) -> dict[str, object]:
        return {
            "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/sentiero", "PATH_INFO": "/events",
            "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "HTTP_CONTENT_ENCODING": "gzip",
            "HTTP_USER_AGENT": "Python-urllib/3.11", "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }

    def start_response(status: str, _headers: object, _exc_info: object = None) -> None:
        if not status.startswith("200"):
            raise SystemExit(f"the events route answered {status}")

    with tempfile.TemporaryDirectory(prefix="sentiero-route-") as folder:
        url = f"sqlite:///{folder}/s.db" if store_kind == "sqlite" else "memory://"
        app = Sentiero(settings=Settings(store_url=url, prefix="/sentiero",
                                         allow_open_dashboard=True)).wsgi_app
        best = (float("inf"), float("inf"))
        for n in range(rounds + 1):
            sessions, _ = build_sessions(fixture, ROUTE_REQUESTS, f"route{n}")
            environs = [environ(body) for session in sessions for body, _ in session.bodies]
            started, started_cpu = time.perf_counter(), time.process_time()
            for env in environs:
                for _ in app(env, start_response):
                    pass
            cpu = (time.process_time() - started_cpu) * 1000 / len(environs)
            wall = (time.perf_counter() - started) * 1000 / len(environs)
            if n:
                best = min(best, (cpu, wall))
        app.web.store.close()
    return best


def best_ms(work, bodies: list[bytes], rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        started = time.process_time()
        for body in bodies:
            work(body)
        times.append(time.process_time() - started)
    return min(times) * 1000 / len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--fixtures", default="todo-a,dashboard-b")
    parser.add_argument("--profile", metavar="FIXTURE")
    parser.add_argument("--stores", default="", help="also time save_batch: sqlite,memory")
    parser.add_argument("--live-times", action="store_true",
                        help="event times shifted to now (http_ingest.py --live-times)")
    parser.add_argument("--route", action="store_true",
                        help="only the events route's CPU per request (WSGI app, serial)")
    args = parser.parse_args()
    http_ingest.LIVE_TIMES = http_ingest.LIVE_TIMES or args.live_times
    settings = Settings(allow_open_dashboard=True)

    def parse(body: bytes) -> object:
        return orjson.loads(gzip.decompress(body))

    def pipeline(body: bytes) -> object:
        return build_batch(orjson.loads(gzip.decompress(body)), settings, "bench")

    def stored(body: bytes) -> object:
        return validate_batch(pipeline(body))

    if args.profile:
        from pyinstrument import Profiler

        bodies = bodies_of(args.profile)
        profiler = Profiler(interval=0.0005)
        with profiler:
            for _ in range(5):
                for body in bodies:
                    pipeline(body)
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return
    rounds = 3 if args.quick else 7
    fixtures = [f.strip() for f in args.fixtures.split(",") if f.strip()]
    if args.route:
        print(f"{'fixture':<13}{'store':<8}{'route CPU ms':>13}{'route wall ms':>14}")
        for fixture in fixtures:
            for kind in [s.strip() for s in (args.stores or "sqlite").split(",") if s.strip()]:
                cpu_ms, wall_ms = route_ms(kind, fixture, rounds)
                print(f"{fixture:<13}{kind:<8}{cpu_ms:>13.2f}{wall_ms:>14.2f}")
        return
    print(f"{'fixture':<13}{'batches':>8}{'raw KB':>8}{'bare ms':>9}{'build ms':>10}"
          f"{'x bare':>8}{'+chunk ms':>11}{'x bare':>8}")
    for fixture in [f.strip() for f in args.fixtures.split(",") if f.strip()]:
        bodies = bodies_of(fixture)
        raw = sum(len(gzip.decompress(b)) for b in bodies) / len(bodies) / 1000
        best_ms(pipeline, bodies, 1)  # warm-up
        bare = best_ms(parse, bodies, rounds)
        built = best_ms(pipeline, bodies, rounds)
        chunk = best_ms(stored, bodies, rounds)
        print(f"{fixture:<13}{len(bodies):>8}{raw:>8.0f}{bare:>9.2f}{built:>10.2f}"
              f"{built / bare:>8.2f}{chunk:>11.2f}{chunk / bare:>8.2f}")
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if stores:
        print(f"\n{'fixture':<13}{'store':<8}{'save CPU ms':>12}{'save wall ms':>13}")
    for fixture in [f.strip() for f in args.fixtures.split(",") if f.strip()]:
        for kind in stores:
            cpu_ms, wall_ms = save_ms(kind, fixture, settings, rounds)
            print(f"{fixture:<13}{kind:<8}{cpu_ms:>12.2f}{wall_ms:>13.2f}")


if __name__ == "__main__":
    main()
