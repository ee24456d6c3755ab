"""Events endpoint throughput: Sentiero's /events beside a bare endpoint, in one run.

The bare endpoint reads the body, gunzips it and parses the JSON, then answers 200 — the floor
any ingest must pay. Sentiero adds validation, redaction, facts, compression and the store
write. Both run in-process through the WSGI interface (no sockets), on real fixture batches.

    python benchmarks/ingest.py            # SQLite file and memory stores
    python benchmarks/ingest.py --quick
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import orjson
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "rrweb"


def fixture_batches(size: int = 50) -> list[tuple[bytes, int]]:
    """(gzipped payload, event count) per 50-event batch of every small fixture recording."""
    batches: list[tuple[bytes, int]] = []
    for path in sorted(FIXTURES.glob("*.json.gz")):
        if path.name.startswith("dashboard"):
            continue  # 10 MB of mutations; batches exceed the 512 KiB request limit
        recording = orjson.loads(gzip.decompress(path.read_bytes()))
        for window in recording["windows"]:
            events = window["events"]
            for seq, start in enumerate(range(0, len(events), size)):
                chunk = events[start:start + size]
                payload = {"sessionId": recording["session_id"], "windowId": window["window_id"],
                           "seq": seq, "events": chunk}
                batches.append((gzip.compress(orjson.dumps(payload)), len(chunk)))
    return batches


def bare_app(environ, start_response):  # type: ignore[no-untyped-def]
    request = Request(environ)
    body = request.get_data()
    orjson.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
    return Response(b'{"status":"ok"}', content_type="application/json")(environ, start_response)


def measure(app, batches) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    client = Client(app)
    total_events = 0
    started = time.perf_counter()
    for body, count in batches:
        response = client.post("/events", data=body, headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip"})
        assert response.status_code == 200, response.get_data()
        total_events += count
    elapsed = time.perf_counter() - started
    return len(batches) / elapsed, total_events / elapsed


def rewrite_sessions(batches, round_no: int, with_seq: bool = True):
    """A new session id per round, so the store really writes instead of deduplicating;
    without ``with_seq`` the batches are the original recorder's (no ``seq``: deduplicated by
    a digest of their events)."""  # type: ignore[no-untyped-def]
    out = []
    for body, count in batches:
        payload = orjson.loads(gzip.decompress(body))
        payload["sessionId"] = f"{payload['sessionId'][:100]}-r{round_no}"
        if not with_seq:
            del payload["seq"]
        out.append((gzip.compress(orjson.dumps(payload)), count))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-seq", action="store_true",
                        help="batches without seq, as the original recorder sends them")
    args = parser.parse_args()
    from sentiero.app import Sentiero
    from sentiero.privacy.redaction import RedactionConfig
    from sentiero.stores.memory import MemoryStore
    from sentiero.stores.sql import SQLStore

    rounds, repeats = (5, 3) if args.quick else (20, 5)
    base = fixture_batches()
    batches = [b for r in range(rounds) for b in rewrite_sessions(base, r, not args.no_seq)]
    events = sum(c for _, c in batches)
    print(f"{len(batches)} {'seq-less ' if args.no_seq else ''}requests of real fixture batches "
          f"({events} events)"
          f", median of {repeats} runs, each on a fresh store after a warm-up")
    print(f"{'endpoint':<36}{'requests/s':>12}{'events/s':>12}{'ms/request':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        contenders = [
            ("bare (gunzip + parse)", lambda run: bare_app),
            ("sentiero, MemoryStore, no DOM scan",
             lambda run: Sentiero(store=MemoryStore(), allow_open_dashboard=True,
                                  redaction=RedactionConfig(scan_dom=False)).wsgi_app),
            ("sentiero, MemoryStore",
             lambda run: Sentiero(store=MemoryStore(), allow_open_dashboard=True).wsgi_app),
            ("sentiero, SQLite file",
             lambda run: Sentiero(store=SQLStore(f"sqlite:///{tmp}/bench-{run}.db"),
                                  allow_open_dashboard=True).wsgi_app),
        ]
        for name, make in contenders:
            measure(make("warm"), batches[:20])
            results = sorted(measure(make(run), batches) for run in range(repeats))
            rps, eps = results[len(results) // 2]
            print(f"{name:<36}{rps:>12.0f}{eps:>12.0f}{1000 / rps:>12.2f}")


if __name__ == "__main__":
    main()
