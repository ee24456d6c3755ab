"""Downloads of a window or session, the shareable HTML file and the import page."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from html import unescape
from typing import Any

import orjson
import pytest

from sentiero.privacy.audit import AuditRecord
from sentiero.stores.memory import MemoryStore
from sentiero.transfer import import_sessions
from sentiero.web.share import inline_script, share_filename
from tests.web.support import save

HOSTILE = "</script><script>window.__pwned=1</script><!--"


def events(start: int, count: int = 3) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"type": 4, "timestamp": start,
                                  "data": {"href": "https://a.test/" + HOSTILE, "width": 800,
                                           "height": 600}}]
    out += [{"type": 5, "timestamp": start + 100 * i,
             "data": {"tag": HOSTILE, "payload": {"x": HOSTILE}}} for i in range(1, count)]
    return out


@pytest.fixture
def records() -> list[AuditRecord]:
    return []


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save(store, "s1", "wa", events(1000, 3), metadata={"plan": HOSTILE})
    save(store, "s1", "wb", events(5000, 5))
    return store


def test_window_download_is_the_rrweb_array(make_app, client_for, store, records):
    client = client_for(make_app(store, allow_open_dashboard=True, audit=records.append))
    response = client.get("/sessions/s1/windows/wa/events.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="sentiero-s1-wa.json"'
    assert orjson.loads(response.data) == events(1000, 3)
    assert records[-1].action == "export" and records[-1].window_id == "wa"
    assert client.get("/sessions/s1/windows/nope/events.json").status_code == 404
    assert client.get("/sessions/a.b/windows/wa/events.json").status_code == 400


def test_session_download_is_a_sentiero_export_that_imports(make_app, client_for, store,
                                                             records):
    client = client_for(make_app(store, allow_open_dashboard=True, audit=records.append))
    response = client.get("/sessions/s1/export.jsonl")
    assert response.status_code == 200
    header = orjson.loads(response.data.split(b"\n", 1)[0])
    assert header["format"] == "sentiero-export" and header["sessions"] == 1
    target = MemoryStore()
    assert import_sessions(target, io.BytesIO(response.data)) == 1
    assert sorted(target.get_session("s1").window_ids) == ["wa", "wb"]
    assert records[-1].action == "export" and records[-1].dataset == "session"
    missing = client.get("/sessions/nope/export.jsonl")
    assert missing.status_code == 404 and "Session not found" in missing.get_data(as_text=True)


def test_share_is_off_by_default_and_the_replay_page_does_not_offer_it(make_app, client_for,
                                                                      store):
    client = client_for(make_app(store, allow_open_dashboard=True))
    assert client.get("/analytics/share/s1").status_code == 404
    assert client.get("/analytics/import").status_code == 404
    assert "Shareable HTML" not in client.get("/sessions/s1/windows/wa").get_data(as_text=True)


def test_share_file_is_self_contained_and_escaped(make_app, client_for, store, records):
    client = client_for(make_app(store, allow_open_dashboard=True, shareable_replays=True,
                                 audit=records.append))
    assert "Shareable HTML" in client.get("/sessions/s1/windows/wa").get_data(as_text=True)
    response = client.get("/analytics/share/s1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="session-s1.html"'
    html = response.get_data(as_text=True)
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"',
                             html).group(1))
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1, "one inline script: the dashboard bundle"
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "/* dashboard */" in scripts[0]
    assert "<script src" not in html and "<link" not in html, "nothing loaded from outside"
    # recorded strings never close the data island or open a script
    assert html.count("</script>") == 2
    assert "window.__pwned=1</script>" not in html
    island = re.search(r'id="sentiero-share-data">(.*?)</script>', html, re.S).group(1)
    data = orjson.loads(island)
    assert [w["id"] for w in data["windows"]] == ["wb", "wa"] and data["mainWindow"] == "wb"
    assert data["events"]["wa"] == events(1000, 3)
    assert records[-1].action == "share" and records[-1].session_ids == ("s1",)
    assert client.get("/analytics/share/nope").status_code == 404
    assert client.get("/analytics/share/a.b").status_code == 400


def test_share_helpers():
    assert inline_script("a='</script>';b='<!--'") == "a='<\\/script>';b='<\\!--'"
    assert share_filename("abc-DEF_1") == "session-abc-DEF_1.html"
    assert share_filename('x"; rm -rf') == "session-xrm-rf.html"


def test_import_page(make_app, client_for, store):
    client = client_for(make_app(store, allow_open_dashboard=True, shareable_replays=True))
    body = client.get("/analytics/import").get_data(as_text=True)
    assert 'id="import-form"' in body and 'type="file"' in body and "<textarea" in body
    assert "nothing is uploaded" in body
    assert 'method="post"' not in body.split('id="import-form"')[1].split(">")[0]
