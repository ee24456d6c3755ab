"""The recorder in the browser: bytes it costs a page, and main-thread time while it records.

Bytes: every file of the frontend build as served (the brotli twin; gzip beside it), grouped by
what a visitor loads, next to `@rrweb/record` alone and the whole `rrweb` package's `record`
(what the recorder was built on before), both bundled by the same esbuild settings.

Main thread: Chromium records a fixture page (tests/fixtures/pages, default `dashboard.html`, a
300-row table re-rendered twice a second) for N seconds per variant, each in a fresh context of
one browser; every round runs the variants back to back (order reversed every other round):

* `page only`: no recorder (with --floors),
* `rrweb record`: plain `@rrweb/record` with the same record() options as ours, events kept in
  an array (the floor: rrweb's own work),
* `rrweb + JSON` (with --floors): the same, each event kept as `JSON.stringify(event)` (the
  floor of any recorder that sends what rrweb emits),
* `sentiero`: our script tag (loader, then the recorder chunk when idle), sending to a real
  Sentiero on loopback (memory store).

Measured from the moment recording runs, over the window: CDP `Performance.getMetrics`
TaskDuration (wall time of all main-thread tasks), ScriptDuration and ThreadTime (the main
thread's CPU time). The ratios sentiero / rrweb record (task time and CPU time) are taken within
each round (runs next to each other in time, so the shared machine's load drifts
less between them) and printed as the median over the rounds with its min-max spread.

    python benchmarks/recorder.py                    # dashboard.html, 20 s, 5 rounds
    python benchmarks/recorder.py --quick            # 5 s, 1 round
    python benchmarks/recorder.py --pages dashboard.html,todo.html --seconds 10
    python benchmarks/recorder.py --bytes-only       # no browser
    python benchmarks/recorder.py --floors           # + page only, rrweb + JSON each round
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import brotli
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
FRONTEND = ROOT / "frontend"
PAGES = ROOT / "tests" / "fixtures" / "pages"

BUNDLE = """
const esbuild = require("esbuild");
esbuild.build({stdin: {contents: process.argv[1], resolveDir: process.cwd(), loader: "js"},
  bundle: true, format: "iife", minify: true, target: "es2020", platform: "browser",
  write: false, legalComments: "eof", logLevel: "error"})
  .then((r) => process.stdout.write(r.outputFiles[0].contents));
"""


def bundle(source: str) -> bytes:
    """``source`` bundled like the recorder (esbuild from frontend/node_modules)."""
    return subprocess.run(["node", "-e", BUNDLE, source], cwd=FRONTEND, check=True,
                          capture_output=True).stdout


def compressed(data: bytes) -> tuple[int, int, int]:
    return len(data), len(gzip.compress(data, 9)), len(brotli.compress(data, quality=11))


def bytes_table() -> None:
    from sentiero.web.assets import DEFAULT_ASSETS_DIR, Assets

    assets = Assets(DEFAULT_ASSETS_DIR)
    manifest = assets.manifest()
    size: dict[str, tuple[int, int, int]] = {}
    for name in ("recorder", "recorder.core", "recorder.features", "vitals"):
        path = DEFAULT_ASSETS_DIR / manifest[name]
        raw = path.stat().st_size
        gz = (DEFAULT_ASSETS_DIR / f"{manifest[name]}.gz").stat().st_size
        br = (DEFAULT_ASSETS_DIR / f"{manifest[name]}.br").stat().st_size
        size[name] = (raw, gz, br)

    def total(*names: str) -> tuple[int, int, int]:
        return tuple(sum(size[n][i] for n in names) for i in range(3))  # type: ignore[return-value]

    rows = [
        ("loader (on every page)", size["recorder"]),
        ("  + recorder chunk = recorded visitor", total("recorder", "recorder.core")),
        ("  + features chunk (a capture flag on)", total("recorder", "recorder.core",
                                                         "recorder.features")),
        ("  + web-vitals = every feature on", total(*size)),
        ("visitor not recorded (GPC, opt-out)", size["recorder"]),
        ("@rrweb/record alone", compressed(bundle(
            'import { record } from "@rrweb/record"; window.__r = record;'))),
        ("rrweb package record (before)", compressed(bundle(
            'import { record } from "rrweb"; window.__r = record;'))),
    ]
    print(f"{'what the page loads':<42} {'raw':>9} {'gzip -9':>9} {'brotli':>9}  (bytes; "
          "brotli is what browsers get)")
    for label, (raw, gz, br) in rows:
        print(f"{label:<42} {raw:>9,} {gz:>9,} {br:>9,}")


# --- main-thread time ---------------------------------------------------------------------

PLAIN = """import { record } from "@rrweb/record";
window.__events = [];
window.__stop = record(Object.assign({ emit: (e) => window.__events.push(e) }, OPTIONS));
window.__recording = true;
"""
PLAIN_JSON = PLAIN.replace("window.__events.push(e)", "window.__events.push(JSON.stringify(e))")


def page_app(sentiero: Any, plain_js: bytes, plain_json_js: bytes = b"") -> Any:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.wrappers import Request, Response

    def site(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path in ("/plain-rrweb.js", "/plain-rrweb-json.js"):
            body = plain_js if request.path == "/plain-rrweb.js" else plain_json_js
            response = Response(body, content_type="application/javascript")
            return response(environ, start_response)
        variant, _, name = request.path.strip("/").removeprefix("as-").partition("/")
        path = PAGES / name
        if not name or "/" in name or not path.is_file():
            return Response("Not Found", status=404)(environ, start_response)
        tags = {"none": "", "plain": '<script src="/plain-rrweb.js" defer></script>',
                "json": '<script src="/plain-rrweb-json.js" defer></script>',
                "sentiero": str(sentiero.script_tag())}
        if variant not in tags:
            return Response("Not Found", status=404)(environ, start_response)
        tag = tags[variant]
        html = path.read_text().replace("</head>", tag + "</head>", 1)
        return Response(html, content_type="text/html; charset=utf-8")(environ, start_response)

    return DispatcherMiddleware(site, {sentiero.settings.prefix: sentiero.wsgi_app})


READY = {
    "none": "() => document.readyState === 'complete'",
    "plain": "() => window.__recording === true",
    "json": "() => window.__recording === true",
    "sentiero": "() => window.Sentiero && window.Sentiero.isRecording()",
}
VARIANTS = [("none", "page only"), ("plain", "rrweb record"), ("json", "rrweb + JSON"),
            ("sentiero", "sentiero")]


def metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


# TaskDuration is wall time of main-thread tasks: on a busy shared machine a starved renderer's
# tasks stretch, and a page that keeps its main thread busy saturates it at the window's length
# whatever the recorder does. ThreadTime is the main thread's CPU time, which neither affects.
KEYS = ("TaskDuration", "ScriptDuration", "ThreadTime")


def measure(browser: Any, base: str, page_name: str, variant: str,
            seconds: float) -> dict[str, float]:
    """One recording window in a fresh context: main-thread TaskDuration / ScriptDuration (s)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(f"{base}/as-{variant}/{page_name}")
        page.wait_for_function(READY[variant], timeout=30_000)
        before = metrics(cdp)
        page.wait_for_timeout(seconds * 1000)
        after = metrics(cdp)
        return {k: after[k] - before[k] for k in KEYS}
    finally:
        context.close()


def pair_order(index: int, variants: list[str]) -> list[str]:
    """Round ``index``'s order: reversed every other round, so drift in the machine's load
    (the container is shared) does not always favour the variant that runs first."""
    return list(variants) if index % 2 == 0 else list(reversed(variants))


def main_thread_table(pages: list[str], seconds: float, rounds: int, floors: bool) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    from sentiero.app import Sentiero
    from sentiero.stores.memory import MemoryStore

    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    options = orjson.dumps(sentiero.settings.effective_recorder_options()).decode()
    plain_js = bundle(PLAIN.replace("OPTIONS", options))
    plain_json_js = bundle(PLAIN_JSON.replace("OPTIONS", options))
    server = make_server("127.0.0.1", 0, page_app(sentiero, plain_js, plain_json_js), threaded=True,
                         request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    variants = [v for v, _ in VARIANTS if floors or v in ("plain", "sentiero")]
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--disable-gpu", "--disable-background-networking"])
            for index in range(rounds):
                for page_name in pages:
                    for variant in pair_order(index, variants):
                        results.setdefault((page_name, variant), []).append(
                            measure(browser, base, page_name, variant, seconds))
            browser.close()
    finally:
        server.shutdown()

    print(f"main thread while recording {seconds:g} s (CDP Performance.getMetrics; {rounds} "
          f"rounds, variants alternating in one browser; median ms; ratios vs rrweb record are "
          f"per round, median [min-max])")
    print(f"{'page':<16} {'variant':<13} {'Task':>7} {'busy':>5} {'Script':>7} {'CPU':>7} "
          f"{'task ratio':>19} {'CPU ratio':>19}")
    labels = dict(VARIANTS)
    window_ms = seconds * 1000

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"

    for page_name in pages:
        plain = results[(page_name, "plain")]
        for variant in variants:
            runs = results[(page_name, variant)]
            med = {k: statistics.median(r[k] for r in runs) * 1000 for k in KEYS}
            # Each round's ratio is taken within the round (neighbours in time).
            ratio = {k: [r[k] / p[k] for r, p in zip(runs, plain, strict=True)]
                     for k in ("TaskDuration", "ThreadTime")}
            print(f"{page_name:<16} {labels[variant]:<13} {med['TaskDuration']:>7.0f} "
                  f"{med['TaskDuration'] / window_ms:>5.0%} {med['ScriptDuration']:>7.0f} "
                  f"{med['ThreadTime']:>7.0f} {spread(ratio['TaskDuration']):>19} "
                  f"{spread(ratio['ThreadTime']):>19}")
    print("busy = TaskDuration / window; near 100% the task ratio says nothing (the thread is "
          "saturated) and the CPU ratio is the one to read")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s, 1 round")
    parser.add_argument("--pages", default="dashboard.html")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--bytes-only", action="store_true")
    parser.add_argument("--floors", action="store_true",
                        help="also run the page without a recorder and rrweb + JSON each round")
    args = parser.parse_args()
    bytes_table()
    if args.bytes_only:
        return
    print()
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    rounds = args.rounds or (1 if args.quick else 5)
    main_thread_table([p.strip() for p in args.pages.split(",") if p.strip()], seconds, rounds,
                      args.floors)


if __name__ == "__main__":
    main()
