"""Analytics pages at scale: every analytics page and an export, timed over HTTP, on stores
holding 1,000 / 10,000 / 100,000 sessions (and 1,000,000 on PostgreSQL with --long).

Sessions are drawn from the fixture recordings: each small recording goes through the real
ingest pipeline once (validation, scrubbing, redaction, fact extraction), then every
generated session is a copy of one of them under a new id, shifted to a day of the last 90,
with one of several user agents, countries and plans, stored with ``save_batch`` (the store's
one write path). Each page is requested over a real socket (werkzeug's threaded server on
127.0.0.1); the table shows the median of 3 requests after one warm-up.

    python benchmarks/analytics.py                    # SQLite and PostgreSQL: 1k, 10k, 100k
    python benchmarks/analytics.py --sizes 1000 --backends sqlite     # a quick look
    python benchmarks/analytics.py --long             # adds 1,000,000 on PostgreSQL
                                      # (the 100,000 sessions copied in SQL under new ids)
    python benchmarks/analytics.py --sizes 100000 --sqlite-path big.db   # keep the SQLite store
    python benchmarks/analytics.py --sizes 100000 --backends postgres --copy-from big.db
                                      # PostgreSQL gets the rows the SQLite fill wrote
    python benchmarks/analytics.py --sizes 100000 --sqlite-path big.db --warm
                                      # first requests after `sentiero warm-cache`
"""

from __future__ import annotations

import argparse
import copy
import http.client
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from tests.analytics.support import load_recording  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from sentiero.app import Sentiero  # noqa: E402
from sentiero.ingest.pipeline import build_batch  # noqa: E402
from sentiero.settings import Settings  # noqa: E402
from sentiero.stores.base import DAY_MS, Batch, Fact, Store  # noqa: E402
from sentiero.stores.memory import MemoryStore  # noqa: E402
from sentiero.stores.sql import SQLStore  # noqa: E402

POSTGRES_URL = os.environ.get("SENTIERO_BENCH_POSTGRES_URL", os.environ.get(
    "SENTIERO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
RECORDINGS = ("frustration-a", "landing-a", "signup-b", "todo-a")
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36 Edg/120.0",
)
COUNTRIES = ("DE", "FR", "US", "IT", "GB", "ES", "NL", "BR", "JP", "IN")
PLANS = ("free", "pro", "team")
ONLY: set[str] = set()  # --only
WARM: list[bool] = []  # --warm
PAGES = [
    ("overview 30d", "/analytics"),
    ("overview 90d", "/analytics?range=90"),
    ("segments", "/analytics/segments?browser=Chrome&device=Desktop&url_pattern=todo"),
    ("segments meta", "/analytics/segments?metadata_key=plan&metadata_value=pro"),
    ("pages", "/analytics/pages"),
    ("page report", "/analytics/page?url=http://127.0.0.1:39711/frustration.html"),
    ("web vitals", "/analytics/vitals"),
    ("client errors", "/issues?source=client"),
    ("sessions+filter", "/?browser=Safari&url_pattern=pricing"),
    ("heatmap", "/analytics/heatmap?url=http://127.0.0.1:39711/frustration.html"),
    ("heatmap.json", "/analytics/heatmap.json?url=http://127.0.0.1:39711/frustration.html"),
    ("scroll", "/analytics/scroll"),
    ("forms", "/analytics/forms?url=http://127.0.0.1:39711/signup.html"),
    ("frustration", "/analytics/frustration"),
    ("funnel 3 steps", "/analytics/funnel?step1=%2Flanding&type1=url&step2=%2Fpricing"
                       "&type2=url&step3=%2Fsignup&type3=url"),
    ("conversions", "/analytics/conversions?url=%2Fsignup"),
    ("engagement", "/analytics/engagement"),
]


def templates() -> list[list[Batch]]:
    """Each small recording as the batches ingest made of it (facts included)."""
    settings = Settings(allow_open_dashboard=True, capture_errors=True)
    out = []
    for name in RECORDINGS:
        recording = load_recording(name)
        store = MemoryStore()
        batches = []
        for window in recording["windows"]:
            events = window["events"]
            payload = {"sessionId": "tpl", "windowId": "w", "events": events, "seq": 0}
            batch = build_batch(payload, settings, None, load_window_state=store.get_window_state)
            batches.append(batch)
        out.append(batches)
    return out


def clone(batch: Batch, sid: str, shift_ms: int, ua: str, metadata: dict[str, Any],
          received_at: datetime) -> Batch:
    events = [dict(e, timestamp=e["timestamp"] + shift_ms) for e in batch.events]
    facts = [Fact(f.kind, sid, "w", f.ts_ms + shift_ms, f.url,
                  {k: (v + shift_ms if k == "pv" and isinstance(v, int) else v)
                   for k, v in f.data.items()}, f.key, f.value) for f in batch.facts]
    return Batch(session_id=sid, window_id="w", events=events, seq=0, metadata=metadata,
                 facts=facts, user_agent=ua, page_url=batch.page_url,
                 has_errors=batch.has_errors, received_at=received_at,
                 window_state=copy.deepcopy(batch.window_state))


def fill(store: SQLStore, count: int, start: int, tpl: list[list[Batch]]) -> None:
    rng = random.Random(start)
    now = datetime.now(timezone.utc)
    first_ts = min(e["timestamp"] for b in tpl[0] for e in b.events)
    began = time.perf_counter()
    pending: list[Batch] = []
    for n in range(start, start + count):
        batches = tpl[n % len(tpl)]
        day = rng.randrange(90)
        moment = now - timedelta(days=day, seconds=rng.randrange(86_000))
        shift = int(moment.timestamp() * 1000) - first_ts
        sid = f"b{n:08d}"
        metadata = {"plan": PLANS[n % 3], "geo_country": COUNTRIES[rng.randrange(10)]}
        ua = AGENTS[rng.randrange(len(AGENTS))]
        pending.extend(clone(batch, sid, shift, ua, metadata, moment) for batch in batches)
        if len(pending) >= 500:
            store.save_batches(pending)  # one transaction per 500 batches: the same writes
            pending.clear()
        if n and n % 20_000 == 0:
            rate = (n - start) / (time.perf_counter() - began)
            print(f"    ... {n:,} sessions ({rate:,.0f}/s)", flush=True)
    store.save_batches(pending)


def copy_rows(source: SQLStore, target: SQLStore) -> None:
    """Copy every row the SQLite fill wrote into ``target`` (a faster fill for a server
    database: the rows are the ones ingest produced, so the data is the same)."""
    src, dst = source.tables, target.tables
    tables = ("sessions", "windows", "chunks", "batches", "facts")
    with source.engine.connect() as read, target.engine.begin() as write:
        for name in tables:
            table_in, table_out = getattr(src, name), getattr(dst, name)
            columns = [c.name for c in table_in.columns]
            began = time.perf_counter()
            result = read.execution_options(yield_per=5000).execute(sa.select(table_in))
            copied = 0
            for part in result.partitions(5000):
                write.execute(sa.insert(table_out), [dict(zip(columns, r, strict=True))
                                                     for r in part])
                copied += len(part)
            print(f"    copied {copied:,} {name} rows in {time.perf_counter() - began:.0f} s",
                  flush=True)
        if target.backend == "postgresql":  # the facts id sequence continues after the copy
            seq = f"{dst.facts.name}_id_seq"
            write.execute(sa.text(f"SELECT setval('{seq}', (SELECT max(id) FROM "
                                  f"{dst.facts.name}))"))
    analyze(target)


def analyze(store: SQLStore) -> None:
    """What autovacuum does a while after a bulk load: planner statistics, and the visibility
    map that lets PostgreSQL answer from the covering index alone (index-only scans); without
    it every count visits the table's pages, 2-4x slower."""
    if store.backend != "postgresql":
        return
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("sessions", "windows", "chunks", "batches", "facts"):
            conn.execute(sa.text(f"VACUUM ANALYZE {getattr(store.tables, table).name}"))


SHIFTED_MS = {"sessions": ("first_ms", "last_ms", "last_url_ms", "eng_last_error_ms"),
              "windows": ("first_ms", "last_ms"), "chunks": ("first_ms", "last_ms"),
              "batches": (), "facts": ("ts_ms",)}
SHIFTED_US = {"sessions": ("created_us", "updated_us")}
COPY_SHIFT_MS = 7 * 60_000
LONG_SIZE = 1_000_000  # --long on PostgreSQL: the only size filled by replicate()


def replicate(store: SQLStore, have: int, size: int) -> None:
    """PostgreSQL's long mode: the ``have`` sessions ingest wrote, copied in SQL under new ids
    (``b00000042-3``) until there are ``size``, copy k moved k x 7 minutes earlier so the
    sessions spread over the day. Hours of ingest become minutes of INSERT ... SELECT, and
    every row is still one the ingest pipeline produced."""
    tables = store.tables
    for k in range(1, size // have):
        began = time.perf_counter()
        with store.engine.begin() as conn:
            for name in ("sessions", "windows", "chunks", "batches", "facts"):
                table = getattr(tables, name)
                columns = [c for c in table.columns if not (name == "facts" and c.name == "id")]
                values = []
                for c in columns:
                    if c.name == "session_id":
                        values.append(c + f"-{k}")
                    elif name == "sessions" and c.name == "multi_day":  # shifted: recomputed
                        first = table.c.first_ms - k * COPY_SHIFT_MS
                        last = table.c.last_ms - k * COPY_SHIFT_MS
                        values.append(first - first % DAY_MS != last - last % DAY_MS)
                    elif c.name in SHIFTED_MS[name]:
                        values.append(c - k * COPY_SHIFT_MS)
                    elif c.name in SHIFTED_US.get(name, ()):
                        values.append(c - k * COPY_SHIFT_MS * 1000)
                    else:
                        values.append(c)
                originals = sa.select(*values).where(~table.c.session_id.like("%-%"))
                conn.execute(sa.insert(table).from_select([c.name for c in columns],
                                                          originals))
        print(f"    copy {k}: {have * (k + 1):,} sessions "
              f"({time.perf_counter() - began:.0f} s)", flush=True)


def timed_get(port: int, path: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    began = time.perf_counter()
    conn.request("GET", "/sentiero" + path)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - began
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
    return elapsed


def timed_export(port: int, dataset: str) -> float:
    """POST an export with a CSRF token taken from the export page, read it whole."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", "/sentiero/analytics/export")
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
    token = cookie.split("=", 1)[1]
    began = time.perf_counter()
    conn.request("POST", f"/sentiero/analytics/export/{dataset}.csv",
                 body=f"csrf_token={token}",
                 headers={"Content-Type": "application/x-www-form-urlencoded",
                          "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - began
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"export {dataset}: {response.status}")
    return elapsed


def measure(store: Store) -> dict[str, tuple[float, float]]:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    # no background warming: the first requests are timed as they are
    app = Sentiero(store=store, allow_open_dashboard=True, warm_cache_interval_s=None)
    root = DispatcherMiddleware(lambda e, s: [], {"/sentiero": app.wsgi_app})
    server = make_server("127.0.0.1", 0, root, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    out: dict[str, tuple[float, float]] = {}
    if isinstance(store, SQLStore):  # the first request of each page finds no cached day
        with store.engine.begin() as conn:
            conn.execute(sa.delete(store.tables.day_cache))
        if WARM:  # --warm: then what `sentiero warm-cache` does, before the first requests
            from sentiero.analytics.warm import warm_cache

            began = time.perf_counter()
            report = warm_cache(store, force=True)
            print(report.describe().replace("\n", "\n  "), flush=True)
            print(f"  warm-cache from a cold cache: {time.perf_counter() - began:.1f} s",
                  flush=True)
    try:
        for label, path in PAGES:
            if ONLY and label not in ONLY:
                continue
            first = timed_get(server.server_port, path)
            out[label] = (first, statistics.median(timed_get(server.server_port, path)
                                                   for _ in range(3)))
        for dataset in ("sessions", "stats") if not ONLY else ():
            once = timed_export(server.server_port, dataset)
            out[f"export {dataset}"] = (once, once)
    finally:
        server.shutdown()
        server.server_close()
    return out


def stored_sessions(store: SQLStore) -> int:
    with store.engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(store.tables.sessions)
        return int(conn.execute(count).scalar_one())


def open_store(backend: str, folder: str, sqlite_path: str | None = None,
               pg_prefix: str | None = None) -> SQLStore:
    if backend == "sqlite":
        store = SQLStore(f"sqlite:///{sqlite_path or folder + '/bench.db'}", auto_migrate=True)
    else:
        prefix = pg_prefix or f"bench{uuid.uuid4().hex[:6]}_"
        store = SQLStore(POSTGRES_URL, auto_migrate=True, prefix=prefix)
    store.setup()
    return store


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--long", action="store_true", help="add 1,000,000 on PostgreSQL")
    parser.add_argument("--only", default="", help="time only these pages (comma-separated "
                        "labels of the table, e.g. 'overview 30d,pages'); no exports")
    parser.add_argument("--warm", action="store_true", help="after clearing the day cache, "
                        "warm it as `sentiero warm-cache` does, then time the first requests")
    parser.add_argument("--sqlite-path", help="keep the SQLite database in this file and reuse "
                        "the sessions already in it (fills only what is missing)")
    parser.add_argument("--copy-from", metavar="SQLITE_FILE",
                        help="fill PostgreSQL by copying the rows of a SQLite store this "
                        "script filled (with as many sessions as the largest size)")
    parser.add_argument("--pg-prefix", help="keep the PostgreSQL tables under this prefix "
                        "and reuse the sessions already in them")
    args = parser.parse_args()
    ONLY.update(x.strip() for x in args.only.split(",") if x.strip())
    if args.warm:
        WARM.append(True)
    sizes = [int(s) for s in args.sizes.split(",")]
    tpl = templates()
    results: dict[tuple[str, int], dict[str, tuple[float, float]]] = {}
    for backend in args.backends.split(","):
        backend_sizes = sizes + ([LONG_SIZE] if args.long and backend == "postgres" else [])
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(backend, folder, args.sqlite_path, args.pg_prefix)
            try:
                have = stored_sessions(store)
                for size in backend_sizes:
                    if size < have:
                        print(f"{backend}: {have:,} sessions stored already; skipping {size:,}")
                        continue
                    print(f"{backend}: filling to {size:,} sessions", flush=True)
                    began = time.perf_counter()
                    if args.copy_from and backend == "postgres" and have == 0:
                        source = open_store("sqlite", folder, args.copy_from)
                        copy_rows(source, store)
                        source.close()
                        have = stored_sessions(store)
                        if have >= size:
                            print(f"  copied in {time.perf_counter() - began:.0f} s")
                            results[(backend, size)] = measure(store)
                            continue
                    if backend == "postgres" and size == LONG_SIZE and have \
                            and size % have == 0:  # the ingested sessions, copied
                        replicate(store, have, size)
                    else:
                        fill(store, size - have, have, tpl)
                    analyze(store)
                    have = size
                    print(f"  filled in {time.perf_counter() - began:.0f} s; timing pages",
                          flush=True)
                    results[(backend, size)] = measure(store)
            finally:
                if backend != "sqlite" and not args.pg_prefix:
                    store.drop_tables()
                store.close()
    columns = list(results)
    labels = [label for label, _ in PAGES] + ["export sessions", "export stats"]
    header = "| page | " + " | ".join(f"{b} {n:,}" for b, n in columns) + " |"
    first = "after `sentiero warm-cache`" if WARM else "no day cached yet"
    print(f"\nSeconds per request: the first ({first}) / the median of the next 3 "
          "(closed days from the day cache); exports: one run\n")
    print(header)
    print("|" + "---|" * (len(columns) + 1))
    for label in labels:
        if not all(label in results[c] for c in columns):
            continue
        print(f"| {label} | " + " | ".join(
            f"{results[c][label][0]:.3f} / {results[c][label][1]:.3f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
