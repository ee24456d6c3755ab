"""The replay page's events pages in real Chromium: the stored zstd chunks travel as they are
stored (``layout=chunks``, ``Content-Encoding: zstd``) and decode to the recorded events."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.app import Sentiero
from sentiero.stores.base import Batch, WindowRef
from sentiero.stores.sql import SQLStore
from tests.e2e.site import make_site

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rrweb" / "todo-a.json.gz"
PAGE = "/sentiero/api/sessions/{sid}/windows/{wid}/events?layout=chunks&chunks=50"

FETCH = """async (url) => {
    const response = await fetch(url);
    const data = await response.json();
    await new Promise((resolve) => setTimeout(resolve, 50));  // the resource entry lands
    const entry = performance.getEntriesByName(new URL(url, location.href).href).pop();
    return {data, encoding: response.headers.get("content-encoding"),
            wire: entry.encodedBodySize, decoded: entry.decodedBodySize};
}"""


def test_stored_chunks_reach_chromium_as_stored_and_decode(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path}/t.db"), allow_open_dashboard=True)
    window = orjson.loads(gzip.decompress(FIXTURE.read_bytes()))["windows"][0]
    events = window["events"]
    ref = WindowRef("s" * 8, "w" * 8)
    for seq, start in enumerate(range(0, len(events), 40)):
        sentiero.store.save_batch(Batch(ref.session_id, ref.window_id, events[start:start + 40],
                                        seq=seq))
    stored = sentiero.store.get_chunks(ref)
    server = live_server(make_site(sentiero))
    page.goto(server.url + "/")

    got = page.evaluate(FETCH, PAGE.format(sid=ref.session_id, wid=ref.window_id))

    assert got["encoding"] == "zstd"
    assert got["data"]["chunks"] == [chunk.events() for chunk in stored]
    assert got["data"]["next_cursor"] is None
    stored_bytes = sum(len(chunk.data) for chunk in stored)
    assert got["wire"] <= stored_bytes * 1.05, (got["wire"], stored_bytes)
    assert got["decoded"] > 4 * got["wire"], "the browser inflated it, not the server"
