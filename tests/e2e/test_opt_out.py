"""The recording gate in real Chromium (``user_opt_out=True``): GPC and an early ``optOut()``
mean no request at all, ``optOut()`` mid-recording stops and discards (only its one opt-out
report goes out), ``optIn()`` resumes on the next page load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.app import Sentiero
from sentiero.stores.base import SessionQuery
from sentiero.stores.sql import SQLStore
from tests.e2e.site import FORM_PAGE, make_site
from tests.e2e.test_record_replay import all_events, wait_for

pytestmark = pytest.mark.e2e

OPT_OUT_ON_LOAD = FORM_PAGE.replace(
    "</body>",
    "<script>document.addEventListener('DOMContentLoaded', function () {{"
    " window.Sentiero.optOut(); }});</script></body>",
)
STORAGE_KEYS = ["sentiero_session_id", "sentiero_window_id", "sentiero_session_created_at",
                "sentiero_session_last_seen", "sentiero_entry_url", "sentiero_entry_referrer"]


class Requests:
    """Requests the page makes to the recorder's endpoints, in order."""

    def __init__(self, page: Any) -> None:
        self.seen: list[Any] = []
        page.on("request", self._on_request)

    def _on_request(self, request: Any) -> None:
        if "/sentiero/events" in request.url or "/sentiero/opt-out" in request.url:
            self.seen.append(request)

    def events(self, since: int = 0) -> list[Any]:
        return [r for r in self.seen[since:] if r.url.endswith("/sentiero/events")]

    def opt_outs(self, since: int = 0) -> list[Any]:
        return [r for r in self.seen[since:] if r.url.endswith("/sentiero/opt-out")]


def start(tmp_path: Path, live_server: Any, body: str = FORM_PAGE, **options: Any
          ) -> tuple[Sentiero, str]:
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path}/optout.db"),
                        allow_open_dashboard=True, user_opt_out=True, **options)
    return sentiero, live_server(make_site(sentiero, body)).url


def interact(page: Any) -> None:
    page.locator("#name").press_sequentially("after the opt-out", delay=5)
    page.locator("#go").click()
    page.mouse.wheel(0, 800)


def sessions(sentiero: Sentiero) -> list[Any]:
    return sentiero.store.list_sessions(SessionQuery(limit=10))


def test_gpc_means_no_request(tmp_path: Path, live_server: Any, browser: Any) -> None:
    sentiero, url = start(tmp_path, live_server, flush_interval_ms=300)
    context = browser.new_context()
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    page = context.new_page()
    requests = Requests(page)
    page.goto(url + "/")
    page.wait_for_function("() => window.Sentiero !== undefined")
    assert page.evaluate("() => window.Sentiero.isRecording()") is False
    interact(page)
    page.evaluate("() => window.Sentiero.optOut()")  # nothing was recorded: nothing to report
    page.wait_for_timeout(1000)
    page.goto("about:blank")
    page.wait_for_timeout(300)
    context.close()
    assert requests.seen == []
    assert sessions(sentiero) == []


def test_opt_out_before_load_sends_no_event(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, OPT_OUT_ON_LOAD, flush_interval_ms=300)
    requests = Requests(page)
    page.goto(url + "/")
    page.wait_for_function("() => window.Sentiero && !window.Sentiero.isRecording()")
    interact(page)
    page.wait_for_timeout(800)
    page.reload()  # the choice persists: still nothing
    page.wait_for_function("() => window.Sentiero !== undefined")
    assert page.evaluate("() => window.Sentiero.isRecording()") is False
    interact(page)
    page.wait_for_timeout(800)
    page.goto("about:blank")
    page.wait_for_timeout(300)
    # Not even the opt-out report: nothing of this visit ever reached the server.
    assert requests.seen == []
    assert sessions(sentiero) == []


def test_opt_out_mid_recording_stops_and_discards(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    # A long flush interval leaves seconds between two batches to call optOut() in.
    sentiero, url = start(tmp_path, live_server, flush_interval_ms=2000)
    requests = Requests(page)
    page.goto(url + "/")
    page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")
    page.locator("#go").click()
    with page.expect_request_finished(lambda r: r.url.endswith("/sentiero/events")):
        pass
    wait_for(lambda: all_events(sentiero.store))
    session_id = sessions(sentiero)[0].session_id
    page.wait_for_timeout(50)  # sync Playwright delivers request events during its own calls
    mark = len(requests.seen)
    called_at = page.evaluate("() => { const t = Date.now(); window.Sentiero.optOut(); return t; }")

    interact(page)
    page.wait_for_timeout(2500)  # past the next flush
    state = page.evaluate("""() => ({
        recording: window.Sentiero.isRecording(), cookie: document.cookie,
        local: Object.keys(localStorage), session: Object.keys(sessionStorage)})""")
    page.goto("about:blank")  # page hide would beacon a buffer, if one were left
    page.wait_for_timeout(500)

    assert state["recording"] is False
    assert "sentiero_optout=1" in state["cookie"]
    assert "sentiero_sid" not in state["cookie"] and "sentiero_wid" not in state["cookie"]
    assert "sentiero_optout" in state["local"]
    assert not set(STORAGE_KEYS) & set(state["local"] + state["session"])
    after = requests.seen[mark:]
    assert [r.url.rsplit("/", 1)[1] for r in after] == ["opt-out"], [r.url for r in after]
    assert after[0].method == "POST"
    assert orjson.loads(after[0].post_data) == {"sessionId": session_id}
    assert all(e["timestamp"] <= called_at for e in all_events(sentiero.store))
    assert [s.session_id for s in sessions(sentiero)] == [session_id]


def test_opt_in_resumes_on_reload(tmp_path: Path, live_server: Any, page: Any) -> None:
    sentiero, url = start(tmp_path, live_server, OPT_OUT_ON_LOAD.replace(
        "window.Sentiero.optOut();", "if (!sessionStorage.done) {{ sessionStorage.done = 1;"
        " window.Sentiero.optOut(); }}"), flush_interval_ms=300)
    requests = Requests(page)
    page.goto(url + "/")
    page.wait_for_function("() => window.Sentiero && !window.Sentiero.isRecording()")
    page.reload()
    page.wait_for_function("() => window.Sentiero !== undefined")
    assert page.evaluate("() => window.Sentiero.isRecording()") is False, "still opted out"
    page.evaluate("() => window.Sentiero.optIn()")
    assert page.evaluate("() => window.Sentiero.isRecording()") is False, "from the next load on"
    assert "sentiero_optout" not in page.evaluate("() => document.cookie")
    page.reload()
    page.wait_for_function("() => window.Sentiero.isRecording()")
    page.locator("#go").click()
    wait_for(lambda: sessions(sentiero), timeout=10)
    page.wait_for_timeout(50)  # let Playwright deliver the request events
    assert requests.events(), "recording resumed"
    assert len(sessions(sentiero)) == 1
