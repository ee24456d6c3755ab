"""The demo's /boom error appears as a problem linked to the visitor's replay, through
sentry-sdk when installed and without it otherwise."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
import sentry_sdk
from werkzeug.serving import make_server

from sentiero.app import Sentiero
from sentiero.demo import reporting
from sentiero.demo.site import build_demo_app
from sentiero.stores.memory import MemoryStore
from sentiero.tracking.models import ProblemQuery


@pytest.fixture
def demo() -> Iterator[tuple[Sentiero, Any]]:
    previous = sentry_sdk.get_client()
    sentiero = Sentiero(store=MemoryStore(), allow_open_dashboard=True)
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    def start() -> str:
        holder["app"] = build_demo_app(sentiero, base + "/sentiero")
        return base

    try:
        yield sentiero, start
    finally:
        server.shutdown()
        server.server_close()
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(previous)


def boom(base: str) -> None:
    cookies = "sentiero_sid=demo-s; sentiero_wid=demo-w"
    request = Request(base + "/boom", headers={"Cookie": cookies})
    with pytest.raises(HTTPError) as failed:
        urlopen(request, timeout=10)
    assert failed.value.code == 500


def wait_for_problem(store: MemoryStore) -> Any:
    deadline = time.monotonic() + 10
    while not store.list_problems(ProblemQuery()):
        assert time.monotonic() < deadline, "the /boom error never arrived"
        sentry_sdk.flush(1)
        time.sleep(0.05)
    return store.list_problems(ProblemQuery())[0]


def test_boom_is_reported_through_sentry_sdk(demo) -> None:
    sentiero, start = demo
    base = start()
    assert [k.project for k in sentiero.store.list_ingest_keys()] == ["demo"]
    boom(base)
    problem = wait_for_problem(sentiero.store)
    assert problem.exception_class == "DemoError" and problem.project == "demo"
    [occ] = sentiero.store.list_occurrences(problem_id=problem.id)
    assert (occ.session_id, occ.window_id, occ.path) == ("demo-s", "demo-w", "/boom")
    assert occ.replay_ms is not None
    start()  # a restart revokes the old demo key
    assert [k.active for k in sentiero.store.list_ingest_keys()] == [False, True]


def test_boom_is_stored_without_sentry_sdk(demo, monkeypatch) -> None:
    monkeypatch.setattr(reporting, "sentry_available", lambda: False)
    sentiero, start = demo
    boom(start())
    problem = wait_for_problem(sentiero.store)
    [occ] = sentiero.store.list_occurrences(problem_id=problem.id)
    assert (problem.exception_class, occ.session_id, occ.window_id) == ("DemoError", "demo-s",
                                                                        "demo-w")
