"""Regenerate docs/images/replay.png: record a short visit to the demo site, then capture the
replay page. Needs Debian's chromium.   python scripts/screenshot_replay.py [out.png]"""

from __future__ import annotations

import sys
import tempfile
import threading
import time

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from sentiero.app import Sentiero
from sentiero.demo.site import build_demo_app
from sentiero.stores.base import SessionQuery
from sentiero.stores.sql import SQLStore

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp}/shot.db"), allow_open_dashboard=True,
                            flush_interval_ms=500)
        server = make_server("127.0.0.1", 0, build_demo_app(sentiero), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            visitor = browser.new_page(viewport={"width": 1100, "height": 700})
            visitor.goto(base + "/todo")
            for title in ("Water the plants", "Call the bank", "Book flights"):
                visitor.locator("#todo-title").press_sequentially(title, delay=30)
                visitor.keyboard.press("Enter")
                visitor.wait_for_timeout(300)
            visitor.locator("#todo-list input[type=checkbox]").first.click()
            visitor.wait_for_timeout(1500)
            visitor.goto("about:blank")
            time.sleep(1)
            session = sentiero.store.list_sessions(SessionQuery(limit=1))[0]
            viewer = browser.new_page(viewport={"width": 1280, "height": 860})
            viewer.goto(f"{base}/sentiero/sessions/{session.session_id}?t=2500")
            viewer.wait_for_selector("#sentiero-player iframe")
            viewer.wait_for_timeout(2500)
            viewer.screenshot(path=out, full_page=False)
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images/replay.png")
