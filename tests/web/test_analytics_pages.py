"""The analytics pages over HTTP: every page renders, bad parameters never cost a 500 and are
not echoed, links land on the sessions they count, exports are CSRF-checked downloads."""

from __future__ import annotations

import re

import orjson
import pytest

from sentiero.stores.memory import MemoryStore
from tests.analytics.dataset import fill
from tests.web.support import csrf_from

PAGES = ["/analytics", "/analytics?range=14", "/analytics?range=90", "/analytics/segments",
         "/analytics/pages", "/analytics/page",
         "/analytics/page?url=http://127.0.0.1:39711/pricing.html",
         "/analytics/vitals", "/analytics/export", "/issues?source=client"]


@pytest.fixture(scope="module")
def filled() -> MemoryStore:
    store = MemoryStore()
    fill(store)
    return store


@pytest.fixture
def client(make_app, client_for, filled):
    return client_for(make_app(store=filled, allow_open_dashboard=True))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_data_and_empty(path, client, make_app, client_for) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "text/html" in response.content_type
    empty = client_for(make_app(allow_open_dashboard=True)).get(path)
    assert empty.status_code == 200


def test_overview_shows_the_numbers_and_charts_with_a_table(client) -> None:
    html = client.get("/analytics").get_data(as_text=True)
    assert 'class="kpi-value">6<' in html
    assert html.count("<svg") >= 2 and "Show as a table" in html
    assert "Chrome" in html and "Firefox" in html


@pytest.mark.parametrize("query", [
    "since=garbage&until=2026-99-99", "range=7", "range=%3Cscript%3E", "browser=%3Cscript%3E",
    "min_duration=-5&max_duration=abc", "country=ZZZ", "metadata_key=a%22b&metadata_value=x",
    "page=0&per_page=-1", "page=99999999&per_page=9999", "url_pattern=" + "x" * 5000,
    "url=" + "y" * 5000, "sort_by=nope&source=client", "metadata_match=regex",
])
def test_bad_parameters_never_cost_a_500_nor_come_back(query, client) -> None:
    for path in ("/analytics", "/analytics/segments", "/analytics/page", "/analytics/vitals",
                 "/issues?source=client&x=1", "/"):
        sep = "&" if "?" in path else "?"
        response = client.get(path + sep + query)
        assert response.status_code == 200, (path, query)
        html = response.get_data(as_text=True)
        assert "garbage" not in html and "<script>" not in html
        assert "x" * 300 not in html and "y" * 3000 not in html


def test_a_number_links_to_the_sessions_it_counts(client) -> None:
    html = client.get("/analytics").get_data(as_text=True)
    link = re.search(r'href="/sentiero(/analytics/segments\?[^"]*browser=Safari[^"]*)"', html)
    assert link is not None
    listed = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "sess-sig" in listed and "sess-fru" not in listed
    assert "<strong>1</strong> session matches" in listed


def test_sessions_list_takes_the_segment_filters(client) -> None:
    html = client.get("/?device=Mobile&url_pattern=signup").get_data(as_text=True)
    assert "sess-sig" in html and "sess-fru" not in html and "sess-lan" not in html
    assert client.get("/?browser=Firefox").get_data(as_text=True).count('class="session-id') == 1


def test_client_error_group_detail_links_to_the_replay_moment(client) -> None:
    html = client.get("/issues?source=client").get_data(as_text=True)
    gid = re.search(r"/issues/client/([0-9a-f]{40})", html).group(1)
    detail = client.get(f"/issues/client/{gid}").get_data(as_text=True)
    assert re.search(r"/sessions/sess-frustration-a/windows/[^\"?]+\?t=\d{13}", detail)
    assert client.get("/issues/client/" + "0" * 40).status_code == 404
    assert client.get("/issues/client/not-an-id").status_code == 404


def test_export_is_a_csrf_checked_post(client) -> None:
    assert client.get("/analytics/export/sessions.csv").status_code == 405
    assert client.post("/analytics/export/sessions.csv", data={}).status_code == 403
    token = csrf_from(client, "/analytics/export")
    assert client.post("/analytics/export/nope.csv",
                       data={"csrf_token": token}).status_code == 404
    assert client.post("/analytics/export/sessions.xml",
                       data={"csrf_token": token}).status_code == 404
    token = csrf_from(client, "/analytics/export")
    response = client.post("/analytics/export/sessions.csv",
                           data={"csrf_token": token, "since": "2020-01-01",
                                 "until": "2099-12-31"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="sessions_2020-01-01_to_2099-12-31.csv"')
    body = response.get_data(as_text=True)
    assert body.startswith("session_id,created_at,") and body.count("\r\n") == 7
    token = csrf_from(client, "/analytics/export")
    data = orjson.loads(client.post("/analytics/export/web_vitals.json",
                                    data={"csrf_token": token}).get_data())
    assert data["headers"][:2] == ["url", "metric"] and len(data["rows"]) == 1


def test_an_empty_range_exports_a_valid_empty_file(client) -> None:
    token = csrf_from(client, "/analytics/export")
    body = client.post("/analytics/export/errors.csv",
                       data={"csrf_token": token, "since": "2001-01-01",
                             "until": "2001-01-02"}).get_data(as_text=True)
    assert body == ("message,source,line,count,last_seen_at,session_id,window_id,"
                    "timestamp_ms\r\n")
    token = csrf_from(client, "/analytics/export")
    empty = orjson.loads(client.post("/analytics/export/sessions.json",
                                     data={"csrf_token": token, "since": "2001-01-01",
                                           "until": "2001-01-02"}).get_data())
    assert empty["rows"] == []


def test_csv_cells_cannot_start_a_formula() -> None:
    from sentiero.analytics.export import csv_cell

    assert csv_cell("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\""
    for bad in ("+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(bad).lstrip('"').startswith("'")
    assert csv_cell(None) == "" and csv_cell(True) == "true" and csv_cell("a,b") == '"a,b"'
    assert csv_cell(-3) == "'-3"  # a negative number reads as text rather than a formula
