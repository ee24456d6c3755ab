"""Seek to the end of a recording in real Chromium: a 60-minute window against a 1-minute one.

    python benchmarks/replay_seek.py [--repeat 5]

Each window is stored through the events endpoint as one chunk per recorded minute with a full
snapshot every 10 minutes (rrweb's checkoutEveryNms), served by the dashboard on 127.0.0.1,
and opened paused at the start (?t=0). The figure is the time from ``seek(end)`` to the
replayed page showing the last minute's text, plus the events requests that seek made.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from playwright.sync_api import sync_playwright  # noqa: E402
from tests.e2e.conftest import CHROMIUM_FLAGS, _chromium_path  # noqa: E402
from tests.e2e.replay_support import long_recording, mounted, post_batches  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from sentiero.app import Sentiero  # noqa: E402
from sentiero.stores.memory import MemoryStore  # noqa: E402

T0 = 1_750_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    app = mounted(sentiero)
    windows = {"1 min": ("w1", 1), "60 min": ("w60", 60)}
    for wid, minutes in windows.values():
        post_batches(app, "bench", wid, long_recording(T0, minutes))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/sentiero/sessions/bench/windows"
    print(f"{'window':>8} {'seek to end, median ms':>24} {'min ms':>8} {'requests':>9}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium_path(),
                                             args=CHROMIUM_FLAGS)
        for name, (wid, minutes) in windows.items():
            timings, requests = [], []
            for _ in range(args.repeat):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                seen: list[str] = []
                page.goto(f"{base}/{wid}?t=0")
                page.wait_for_function("() => document.body.dataset.replayState === 'paused'")
                frame = page.frame_locator("#sentiero-player iframe")
                frame.locator("#where").wait_for()
                page.on("request", lambda r, s=seen: s.append(r.url) if "/events?" in r.url
                        else None)
                start = time.perf_counter()
                page.evaluate("() => window.__sentieroPlayer.player.seek("
                              "window.__sentieroPlayer.totalMs, false)")
                frame.locator("#where").filter(has_text=f"minute {minutes - 1}").wait_for()
                timings.append((time.perf_counter() - start) * 1000)
                requests.append(len(seen))
                page.close()
            print(f"{name:>8} {statistics.median(timings):>24.0f} {min(timings):>8.0f} "
                  f"{max(requests):>9}")
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
