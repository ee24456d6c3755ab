"""How the recorder reaches a page, in real Chromium: the loader alone on the critical path,
the recorder chunk fetched afterwards, batches gzipped in a worker, and the same batches from
the main thread where a Content-Security-Policy forbids blob: workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Response

from sentiero.app import Sentiero
from sentiero.stores.sql import SQLStore
from tests.e2e.site import FORM_PAGE, make_site
from tests.e2e.test_page_leave import wait_for, window_events

pytestmark = pytest.mark.e2e

RECORDING = "() => window.Sentiero && window.Sentiero.isRecording()"
# No blob: anywhere: a worker from a Blob URL is refused (worker-src falls back to script-src).
STRICT_CSP = "default-src 'self'; script-src 'self'; connect-src 'self'"


def start(tmp_path: Path, live_server: Any, csp: str | None = None) -> tuple[Sentiero, str]:
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path}/l.db"), allow_open_dashboard=True,
                        flush_interval_ms=500)
    site = make_site(sentiero, FORM_PAGE)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        response = Response.from_app(site, environ)
        if csp and response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = csp
        return response(environ, start_response)

    return sentiero, live_server(app).url


def gzip_posts(page: Any) -> list[Any]:
    posts: list[Any] = []
    page.on("request", lambda r: posts.append(r) if r.url.endswith("/sentiero/events") else None)
    return posts


def test_loader_first_then_the_recorder_chunk_and_gzip_in_a_worker(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero, url = start(tmp_path, live_server)
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    posts = gzip_posts(page)
    page.goto(url + "/")
    page.wait_for_function(RECORDING)
    page.locator("#go").click()
    wait_for(lambda: any(e.get("type") == 2 for e in window_events(sentiero)))

    page.wait_for_timeout(300)  # lets Playwright deliver its worker events
    manifest = sentiero.assets.manifest()
    names = [s.rsplit("/", 1)[-1] for s in scripts]
    assert names[:2] == [manifest["recorder"], manifest["recorder.core"]]
    assert manifest["recorder.features"] not in names, "no capture flag is on"
    assert len(page.workers) == 1, "batches are compressed off the main thread"
    assert posts and all(p.headers.get("content-encoding") == "gzip" for p in posts)


def test_a_csp_without_blob_workers_still_delivers_gzip_batches(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero, url = start(tmp_path, live_server, csp=STRICT_CSP)
    posts = gzip_posts(page)
    page.goto(url + "/")
    page.wait_for_function(RECORDING)
    page.locator("#go").click()
    events = wait_for(lambda: window_events(sentiero)
                      if any(e.get("type") == 2 for e in window_events(sentiero)) else None)
    page.wait_for_timeout(300)  # lets Playwright deliver its worker events
    assert page.workers == []
    assert posts and all(p.headers.get("content-encoding") == "gzip" for p in posts)
    assert [e["type"] for e in events[:2]] == [4, 2]
