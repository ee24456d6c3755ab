"""Replay transfer: what the replay page downloads for a long mutation-heavy window, in Chromium.

The window is the `dashboard-a` recording (a live table re-rendered twice a second) repeated
and shifted forward in time to 4.5 minutes, saved in batches the size the recorder cuts (at most
480 KB of JSON) into a SQLite file; gunicorn (1 worker, 4 threads) serves it on loopback. Chromium
fetches every page the way the player did until issue 14 (4 chunks per request, one at a time,
`response.json()`), for three ways of answering:

* `before`: the flat `{"events":[...]}` sent uncompressed (what the API answered before; the
  browser's Accept-Encoding is forced to `identity` through CDP),
* `events+zstd`: the flat layout, stitched JSON compressed for the wire at zstd level 1,
* `chunks+zstd`: `layout=chunks`, the stored zstd frames sent as they are (what the player uses),
* `chunks, no parse`: the same bytes, read with `arrayBuffer()` and never parsed (cursors from
  the chunk index): the server's, the network's and zstd decoding's share of the full load;
* `player, N in fl.`: the player's pattern of commit e27d17c: the chunk index and a one-chunk
  first page together, then pages of 4 chunks from the index's cursors, N requests at once,
  each parsed as it lands;
* `replay page`: the replay page itself (`?t=0`, opened paused at the start) with the real
  player, timed from its chunk index request: `1st page` is its first frame, `full load`
  until every chunk of the window is in the browser (a seek anywhere needs no request; since
  the worker fetches `wire=zstd`, the chunks are then here compressed as stored), `decoded`
  until every chunk is also JSON (decoded by the worker; an older player: as `in rrweb`), `in
  rrweb` until every event is also parsed and handed to the replayer (`loadingDone`). The
  player reads a window of up to 5 minutes whole in the background; a longer one only 30 s
  ahead of the playhead, so give `--minutes` at most 5 for this row.

Bytes on the wire are the pages' `encodedBodySize` (Resource Timing; for the replay page the
response bodies Chromium reports to Playwright, its worker's requests included); `full load`
is the time until the last page is parsed; `1st page` until the first one is.

    python benchmarks/replay_transfer.py            # 4.5-minute window, 3 rounds
    python benchmarks/replay_transfer.py --quick    # 1-minute window, 1 round
    python benchmarks/replay_transfer.py --compact  # the window compacted first
    python benchmarks/replay_transfer.py --only "replay page"   # that row only (repeatable)
    SENTIERO_BENCH_SRC=/copy/of/older/src python benchmarks/replay_transfer.py  # older code
"""

from __future__ import annotations

import argparse
import gzip
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(os.environ.get("SENTIERO_BENCH_SRC") or ROOT / "src")  # what the server runs
sys.path.insert(0, str(ROOT / "src"))

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FIXTURES = Path(os.environ.get("SENTIERO_FIXTURES", ROOT / "tests" / "fixtures" / "rrweb"))
MAX_BATCH_BYTES = 480_000  # the recorder's uncompressed cap per batch (transport.js)
SESSION, WINDOW = "benchreplay01", "benchwindow01"

LOAD_ALL = """async ({url, layout, parse}) => {
    performance.setResourceTimingBufferSize(100000);
    performance.clearResourceTimings();
    const t0 = performance.now();
    let cursor = 0, events = 0, pages = 0, first = null;
    // bytes only: the cursors come from the chunk index, the bodies are never parsed, so the
    // time is the server's and the network's (and the browser's zstd decoding)
    const cursors = parse ? null : (await (await fetch(url.replace(/events$/, "chunks"))).json())
        .chunks.map((c) => c.index).filter((_, i) => i % 4 === 0);
    while (cursor != null) {
        const query = "?cursor=" + cursor + "&chunks=4" + (layout ? "&layout=" + layout : "");
        const response = await fetch(url + query);
        pages++;
        if (parse) {
            const page = await response.json();
            const list = page.events || [].concat(...page.chunks);
            events += list.length;
            cursor = page.next_cursor;
        } else {
            await response.arrayBuffer();
            cursor = pages < cursors.length ? cursors[pages] : null;
        }
        if (first === null) first = performance.now() - t0;
    }
    const ms = performance.now() - t0;
    const entries = performance.getEntriesByType("resource")
        .filter((e) => e.name.includes("/events?"));
    const sum = (key) => entries.reduce((n, e) => n + e[key], 0);
    return {ms, first, events, pages, wire: sum("encodedBodySize"),
            decoded: sum("decodedBodySize")};
}"""

LOAD_PLAYER = """async ({url, inFlight}) => {
    // the player's pattern: the chunk index and a one-chunk first page together, then pages of
    // 4 chunks (cursors from the index), `inFlight` of them at once, each parsed as it lands
    performance.setResourceTimingBufferSize(100000);
    performance.clearResourceTimings();
    const t0 = performance.now();
    const get = (cursor, n) => fetch(url + "?cursor=" + cursor + "&chunks=" + n
        + "&layout=chunks").then((r) => r.json());
    const [index, firstPage] = await Promise.all([
        fetch(url.replace(/events$/, "chunks")).then((r) => r.json()), get(0, 1)]);
    const first = performance.now() - t0;
    let events = [].concat(...firstPage.chunks).length, pages = 1;
    const rest = index.chunks.map((c) => c.index).slice(1).filter((_, i) => i % 4 === 0);
    let next = 0;
    const worker = async () => {
        while (next < rest.length) {
            const page = await get(rest[next++], 4);
            events += [].concat(...page.chunks).length;
            pages++;
        }
    };
    await Promise.all(Array.from({length: inFlight}, worker));
    const ms = performance.now() - t0;
    const entries = performance.getEntriesByType("resource")
        .filter((e) => e.name.includes("/events?"));
    const sum = (key) => entries.reduce((n, e) => n + e[key], 0);
    return {ms, first, events, pages, wire: sum("encodedBodySize"),
            decoded: sum("decodedBodySize")};
}"""

VARIANTS = [("before", "events", True, True), ("events+zstd", "events", False, True),
            ("chunks+zstd", "chunks", False, True), ("chunks, no parse", "chunks", False, False),
            ("player, 1 in fl.", "player1", False, True),
            ("player, 3 in fl.", "player3", False, True),
            ("replay page", "page", False, True)]

# Timestamps of the replay page's first frame and full load, polled from the document's start.
PAGE_TIMES = """(() => {
    const times = window.__benchTimes = {};
    const poll = () => {
        const p = window.__sentieroPlayer;
        const now = performance.now();
        if (p && p.replayer && times.ready == null) times.ready = now;
        if (p && p.replayer && p.downloaded && times.here == null) times.here = now;
        if (p && p.replayer && (p.decoded || p.loadingDone) && times.decoded == null) {
            times.decoded = now;
        }
        if (p && p.loadingDone && p.replayer) { times.done = now; return; }
        setTimeout(poll, 1);
    };
    poll();
})()"""

PAGE_RESULT = """() => {
    const index = performance.getEntriesByType("resource").find((e) => e.name.includes("/chunks"));
    const t0 = index ? index.startTime : 0;
    const times = window.__benchTimes;
    const since = (t) => (t == null ? null : t - t0);
    return {first: since(times.ready), ms: since(times.here == null ? times.done : times.here),
            json: since(times.decoded), parsed: since(times.done),
            events: window.__sentieroPlayer.loadedEvents};
}"""


def replay_page(context: Any, base: str) -> dict[str, Any]:
    """Open the replay page paused at the start; wait until every chunk is in the player."""
    context.add_init_script(PAGE_TIMES)
    page = context.new_page()
    finished: list[Any] = []
    page.on("requestfinished", lambda r: finished.append(r) if "/events?" in r.url else None)
    page.goto(f"{base}/sessions/{SESSION}/windows/{WINDOW}?t=0")
    # an older player reads 30 s ahead only: its full load never comes (left blank)
    page.wait_for_function("() => window.__benchTimes.done != null"
                           " || (window.__benchTimes.ready != null && performance.now() > 30000)",
                           timeout=120_000, polling=100)
    result = page.evaluate(PAGE_RESULT)
    sizes = [r.sizes() for r in finished]
    result["pages"] = len(sizes)
    result["wire"] = sum(s["responseBodySize"] for s in sizes)
    result["decoded"] = None
    return result


def long_window(minutes: float) -> list[dict[str, Any]]:
    recording = orjson.loads(gzip.decompress((FIXTURES / "dashboard-a.json.gz").read_bytes()))
    base = recording["windows"][0]["events"]
    span = base[-1]["timestamp"] - base[0]["timestamp"] + 500
    events: list[dict[str, Any]] = []
    shift = 0
    while not events or events[-1]["timestamp"] - events[0]["timestamp"] < minutes * 60_000:
        for event in base if not events else base[2:]:  # Meta + full snapshot only once
            events.append({**event, "timestamp": event["timestamp"] + shift})
        shift += span
    return events


def recorder_batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        n = len(orjson.dumps(event))
        if batches[-1] and (size + n > MAX_BATCH_BYTES or len(batches[-1]) >= 50):
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += n + 1
    return batches


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVE = """
import sys
from sentiero.app import Sentiero
from sentiero.server import run_gunicorn
from sentiero.stores.sql import SQLStore
app = Sentiero(store=SQLStore(sys.argv[1]), allow_open_dashboard=True).wsgi_app
run_gunicorn(app, "127.0.0.1", int(sys.argv[2]), workers=1, threads=4)
"""


def wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1-minute window, 1 round")
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--compact", action="store_true",
                        help="compact the window (sentiero compact) before serving it")
    parser.add_argument("--only", action="append", default=None,
                        help="a variant to run (repeatable; default: all)")
    args = parser.parse_args()
    variants = [v for v in VARIANTS
                if args.only is None or v[0] in args.only]
    if not variants:
        raise SystemExit("--only: no such variant; variants: " + ", ".join(v[0] for v in VARIANTS))
    minutes = args.minutes or (1.0 if args.quick else 4.5)
    rounds = args.rounds or (1 if args.quick else 3)

    from playwright.sync_api import sync_playwright

    from sentiero.stores.base import Batch, WindowRef
    from sentiero.stores.sql import SQLStore

    events = long_window(minutes)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/replay.db"
        store = SQLStore(url)
        batches = recorder_batches(events)
        for seq, batch in enumerate(batches):
            store.save_batch(Batch(SESSION, WINDOW, batch, seq=seq))
        if args.compact:
            from sentiero.compaction import compact_store

            t0 = time.perf_counter()
            compact_store(store, 0, session_ids=[SESSION])
            print(f"compacted in {time.perf_counter() - t0:.1f} s")
        chunks = store.chunk_index(WindowRef(SESSION, WINDOW))
        stored = sum(len(c.data) for c in store.get_chunks(WindowRef(SESSION, WINDOW)))
        raw = len(orjson.dumps(events))
        store.close() if hasattr(store, "close") else None

        port = free_port()
        env = dict(os.environ, PYTHONPATH=str(SRC))
        server = subprocess.Popen([sys.executable, "-c", SERVE, url, str(port)], env=env)
        try:
            wait_listening(port)
            base = f"http://127.0.0.1:{port}"
            api = f"{base}/api/sessions/{SESSION}/windows/{WINDOW}/events"
            results: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in variants}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_FLAGS)
                for _ in range(rounds):
                    for name, layout, identity, parse in variants:
                        context = browser.new_context(viewport={"width": 1280, "height": 800})
                        if layout == "page":
                            results[name].append(replay_page(context, base))
                            context.close()
                            continue
                        page = context.new_page()
                        page.goto(base + "/")
                        if identity:
                            cdp = context.new_cdp_session(page)
                            cdp.send("Network.enable")
                            cdp.send("Network.setExtraHTTPHeaders",
                                     {"headers": {"Accept-Encoding": "identity"}})
                        if layout.startswith("player"):
                            results[name].append(page.evaluate(
                                LOAD_PLAYER, {"url": api, "inFlight": int(layout[6:])}))
                        else:
                            results[name].append(page.evaluate(
                                LOAD_ALL, {"url": api, "layout": layout, "parse": parse}))
                        context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)

    span_s = (events[-1]["timestamp"] - events[0]["timestamp"]) / 1000
    print(f"window: {span_s / 60:.1f} min, {len(events):,} events, {len(chunks)} chunks "
          f"({len(batches)} batches), raw JSON {raw / 1e6:.1f} MB, stored {stored / 1e6:.2f} MB; "
          f"median of {rounds} round(s), Chromium, gunicorn 1x4 on loopback")
    print(f"{'variant':<16} {'requests':>8} {'on the wire':>12} {'wire/stored':>11} "
          f"{'1st page':>9} {'full load':>10} {'decoded':>9} {'in rrweb':>9}")
    def ms(runs: list[dict[str, Any]], key: str, width: int) -> str:
        values = [r[key] for r in runs if r.get(key) is not None]
        return f"{statistics.median(values):>{width - 3}.0f} ms" if values else f"{'–':>{width}}"

    for name, layout, _, parse in variants:
        runs = results[name]
        complete = [r for r in runs if r.get("parsed", 0) is not None]
        assert not parse or all(r["events"] == len(events) for r in complete), "every event arrived"
        wire = statistics.median(r["wire"] for r in runs)
        print(f"{name:<16} {runs[0]['pages']:>8} {wire / 1e6:>9.2f} MB {wire / stored:>10.2f}x "
              f"{ms(runs, 'first', 9)} {ms(runs, 'ms', 10)} "
              f"{ms(runs, 'json', 9) if layout == 'page' else f'{chr(8211):>9}'} "
              f"{ms(runs, 'parsed', 9) if layout == 'page' else f'{chr(8211):>9}'}")

if __name__ == "__main__":
    main()
