"""The part-2 analytics pages over HTTP: they render with data and empty, every incident links
to its replay moment, bad parameters are a message and never a 500 nor echoed."""

from __future__ import annotations

import re

import orjson
import pytest

from sentiero.stores.memory import MemoryStore
from tests.analytics.dataset import fill

HOST = "http://127.0.0.1:39711"
PAGES = ["/analytics/frustration", "/analytics/scroll",
         "/analytics/frustration?url=" + HOST + "/todo.html",
         "/analytics/scroll?url=" + HOST + "/landing.html", "/analytics/forms",
         "/analytics/forms?url=" + HOST + "/todo.html", "/analytics/forms?url=nope",
         "/analytics/funnel", "/analytics/conversions", "/analytics/engagement",
         "/analytics/engagement?sort=duration", "/analytics/heatmap",
         "/analytics/heatmap?url=" + HOST + "/pricing.html&viewport=tablet&spot=9-9",
         "/analytics/heatmap.json"]


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
    assert client.get(path).status_code == 200
    assert client_for(make_app(allow_open_dashboard=True)).get(path).status_code == 200


def test_frustration_incidents_open_their_replay_moment(client, filled) -> None:
    html = client.get("/analytics/frustration").get_data(as_text=True)
    assert "4 clicks within 10 px of the first" in html
    assert html.count("a JS error followed") == 2
    rage = next(f for f in filled.iter_facts(kind="rage_click"))
    link = f"/sessions/{rage.session_id}/windows/{rage.window_id}?t={rage.ts_ms}"
    assert link in html
    replay = client.get(link).get_data(as_text=True)
    assert str(rage.ts_ms) in replay  # the player starts at the incident
    # 15 incidents over 4 pages, every one listed (20 per page at most)
    assert html.count("Replay at this moment") == 15


def test_scroll_page_shows_the_folds(client) -> None:
    html = client.get("/analytics/scroll").get_data(as_text=True)
    assert "landing.html" in html and "dashboard.html" in html
    assert html.count('class="chart fold-lines"') == 2
    assert "p50/p75/p90 100%" in html  # one sample each: every fold at the bottom
    assert "Replay the deepest scroll" in html


@pytest.mark.parametrize("query", ["url=" + "y" * 5000, "url=%3Cscript%3E", "range=abc",
                                   "since=garbage"])
def test_bad_parameters_are_no_500_nor_echoed(query, client) -> None:
    for path in ("/analytics/frustration", "/analytics/scroll", "/analytics/forms",
                 "/analytics/funnel", "/analytics/conversions", "/analytics/engagement",
                 "/analytics/heatmap", "/analytics/heatmap.json"):
        response = client.get(path + "?" + query)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "<script>" not in html and "y" * 3000 not in html and "garbage" not in html


@pytest.fixture(scope="module")
def shop_store() -> MemoryStore:
    from tests.analytics.test_funnel_conversions import fill_shop

    store = MemoryStore()
    fill_shop(store)
    return store


@pytest.fixture
def shop(make_app, client_for, shop_store):
    return client_for(make_app(store=shop_store, allow_open_dashboard=True))


FOUR_STEPS = ("step1=%2Fcart&type1=url&step2=checkout&step3=pay&step4=done&since=2026-01-01")


def test_funnel_page_counts_and_drop_off_replays(shop) -> None:
    html = shop.get("/analytics/funnel?" + FOUR_STEPS).get_data(as_text=True)
    assert re.findall(r'class="num funnel-sessions">(\d+)<', html) == ["6", "4", "3", "2"]
    assert html.count('class="drop-off"') == 4  # f4, f5 at step 1, f3 at 2, f2 at 3
    assert "/sessions/f2/windows/f2-w0?t=" in html
    within = shop.get("/analytics/funnel?" + FOUR_STEPS + "&within=30").get_data(as_text=True)
    assert re.findall(r'class="num funnel-sessions">(\d+)<', within) == ["6", "4", "3", "1"]


@pytest.mark.parametrize(("query", "message"), [
    ("step1=checkout", "at least 2 steps"),
    ("&".join(f"step{i}=t{i}" for i in range(1, 51)), "at most 10 steps; this one has 50"),
    ("step1=checkout&step2=__click", "Sentiero&#39;s own"),
    ("step1=checkout&step2=refund", "Nothing in this range matched the step “refund”"),
    ("step1=a&type1=%3Cscript%3E&step2=b", "not &#39;&lt;script"),
])
def test_funnel_bad_parameters_are_a_message(query, message, shop) -> None:
    response = shop.get("/analytics/funnel?" + query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html and "<script>" not in html


def test_conversions_page(shop) -> None:
    html = shop.get("/analytics/conversions?tag=done&since=2026-01-01").get_data(as_text=True)
    assert 'class="kpi-value">33.3%<' in html
    assert "search.example" in html and "low volume" in html
    assert ">converted</a>" in html and ">did not</a>" in html
    missing = shop.get("/analytics/conversions?tag=refund&since=2026-01-01")
    assert "No session in this range reached refund" in missing.get_data(as_text=True)
    assert shop.get("/analytics/conversions?url=" + "z" * 5000).status_code == 200


def test_a_funnel_is_saved_listed_and_deleted_with_csrf(make_app, client_for) -> None:
    from tests.analytics.test_funnel_conversions import fill_shop
    from tests.web.support import csrf_from

    store = MemoryStore()
    fill_shop(store)
    client = client_for(make_app(store=store, allow_open_dashboard=True))
    token = csrf_from(client, "/analytics/funnel?" + FOUR_STEPS)
    form = {"step1": "/cart", "type1": "url", "step2": "checkout", "step3": "pay",
            "step4": "done", "within": "30", "since": "2026-01-01", "name": "Checkout"}
    assert client.post("/analytics/funnel/save", data=form).status_code == 403
    assert store.list_funnels() == []
    saved = client.post("/analytics/funnel/save", data={**form, "csrf_token": token})
    assert saved.status_code == 303
    (funnel,) = store.list_funnels()
    assert funnel.name == "Checkout" and funnel.within_ms == 30 * 60_000
    assert funnel.steps == (("url", "/cart"), ("tag", "checkout"), ("tag", "pay"),
                            ("tag", "done"))
    listed = client.get(saved.headers["Location"].split("/sentiero", 1)[-1]).get_data(
        as_text=True)
    assert "Funnel saved." in listed and ">Checkout</a>" in listed
    assert re.findall(r'class="num funnel-sessions">(\d+)<', listed) == ["6", "4", "3", "1"]
    bad = client.post("/analytics/funnel/save", data={"step1": "x", "csrf_token": token})
    assert bad.status_code == 400 and len(store.list_funnels()) == 1
    delete = f"/analytics/funnel/{funnel.funnel_id}/delete"
    assert client.post(delete).status_code == 403 and store.list_funnels()
    assert client.post(delete, data={"csrf_token": token}).status_code == 303
    assert store.list_funnels() == []
    assert client.post("/analytics/funnel/nope/delete",
                       data={"csrf_token": token}).status_code == 404


def test_forms_page_names_fields_and_links_drop_offs(client, filled) -> None:
    html = client.get("/analytics/forms?url=" + HOST + "/signup.html").get_data(as_text=True)
    assert "Email" in html and "signup" in html and "Where people left the form" in html
    field = next(f for f in filled.iter_facts(kind="form_field") if f.key == "30")
    assert f"/sessions/{field.session_id}/windows/{field.window_id}?t={field.ts_ms}" in html
    unknown = client.get("/analytics/forms?url=https://nowhere.example/").get_data(
        as_text=True)
    assert "Nobody typed on that page in this range" in unknown


def test_engagement_table_sorts_and_opens_replays(client, filled) -> None:
    html = client.get("/analytics/engagement").get_data(as_text=True)
    scores = re.findall(r'class="score-badge [a-z-]+">(\d+)<', html)
    assert scores == ["32", "25", "10", "5", "3", "0"]
    assert "Open in player" in html and "Dead clicks 7" in html
    by_duration = client.get("/analytics/engagement?sort=duration").get_data(as_text=True)
    first = re.search(r'class="mono truncate">([^<]+)<', by_duration)
    assert first is not None and first.group(1) == "sess-dashboard-a"  # 15.0 s, the longest


def test_heatmap_json_has_the_snapshot_and_spots(client) -> None:
    import orjson

    url = HOST + "/frustration.html"
    data = orjson.loads(client.get("/analytics/heatmap.json?url=" + url).get_data())
    assert (data["total_clicks"], data["viewport"], data["width"]) == (12, "desktop", 1280)
    assert [e["type"] for e in data["snapshot"]] == [4, 2]
    hottest = data["spots"][0]
    assert (hottest["x"], hottest["y"], hottest["count"]) == (383.0, 197.0, 6)
    listing = client.get(hottest["href"].split("/sentiero", 1)[1]).get_data(as_text=True)
    assert listing.count("Replay this click") == 6
    assert "6 clicks at this spot" in listing
    empty = orjson.loads(client.get("/analytics/heatmap.json?url=nope").get_data())
    assert empty["total_clicks"] == 0 and empty["snapshot"] is None
    desktop = client.get("/analytics/heatmap?viewport=desktop&url=" + HOST + "/pricing.html")
    assert "No clicks recorded for this page at desktop size" in desktop.get_data(as_text=True)
    unknown = client.get("/analytics/heatmap?url=https://nowhere.example/&viewport=%3Cx%3E")
    assert unknown.status_code == 200
    assert "was not recorded in this range" in unknown.get_data(as_text=True)


def test_scroll_json_puts_the_folds_over_the_deepest_page_view(client) -> None:
    import orjson

    data = orjson.loads(client.get("/analytics/scroll.json?url=" + HOST + "/landing.html")
                        .get_data())
    # landing-a's one sample reached 1200 + 800 px of a 2000 px page: every fold at 2000
    assert [(f["p"], f["y"]) for f in data["folds"]] == [(50, 2000.0)]  # one line for all
    assert data["folds"][0]["label"].startswith("p50/p75/p90 (100.0%)")
    assert [e["type"] for e in data["snapshot"]] == [4, 2] and data["width"] == 1280
    assert orjson.loads(client.get("/analytics/scroll.json?url=x").get_data())["folds"] == []


def test_the_replay_page_explains_the_incident_it_was_opened_at(client, filled) -> None:
    rage = next(f for f in filled.iter_facts(kind="rage_click"))
    base = f"/sessions/{rage.session_id}/windows/{rage.window_id}"
    html = client.get("/analytics/frustration").get_data(as_text=True)
    assert f"{base}?t={rage.ts_ms}&amp;incident=rage" in html
    replay = client.get(f"{base}?t={rage.ts_ms}&incident=rage")
    assert replay.status_code == 200
    text = replay.get_data(as_text=True)
    assert "Why this counted as a rage click" in text
    assert text.count('data-seek-ms="') == 4  # the fixture's four clicks on "Pay now"
    assert '"incident":{"subtype":"rage"' in text  # the markers' data for the script
    assert "script-src 'self'" in replay.headers["Content-Security-Policy"]
    missing = client.get(f"{base}?t={rage.ts_ms + 1}&incident=rage").get_data(as_text=True)
    assert "No rage click was recorded at this moment of this tab." in missing
    for query in ("incident=rage", "t=abc&incident=dead", f"t={rage.ts_ms}&incident=x<y"):
        page = client.get(f"{base}?{query}")
        assert page.status_code == 200
        assert "Why this counted" not in page.get_data(as_text=True)


def test_the_heatmap_has_a_mouse_move_mode(client) -> None:
    import orjson

    url = HOST + "/frustration.html"
    page = client.get(f"/analytics/heatmap?url={url}&mode=moves")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "mouse-move samples from" in html and 'aria-current="page">Mouse moves' in html
    assert "mode=moves" in html  # the map's data and the viewport tabs stay in this mode
    data = orjson.loads(client.get(f"/analytics/heatmap.json?url={url}&mode=moves").data)
    assert data["mode"] == "moves" and data["total_samples"] > 0
    assert data["snapshot"] and data["width"] == 1280
    assert sum(s["count"] for s in data["spots"]) == data["total_samples"]
    assert all("href" not in s for s in data["spots"])  # nothing to list behind a cell
    clicks = client.get(f"/analytics/heatmap?url={url}").get_data(as_text=True)
    assert 'aria-current="page">Clicks' in clicks
    for bad in ("/analytics/heatmap?mode=moves&url=https://never.test/",
                "/analytics/heatmap.json?mode=moves&url=https://never.test/"):
        assert client.get(bad).status_code == 200


def test_mouse_move_grids_are_no_activity_items(client, filled) -> None:
    import orjson

    move = next(filled.iter_facts(kind="move"))
    body = client.get(f"/api/sessions/{move.session_id}/windows/{move.window_id}/activity")
    assert body.status_code == 200
    kinds = {item["kind"] for item in orjson.loads(body.data)["items"]}
    assert "move" not in kinds and "click" in kinds


def test_conversions_export_takes_the_pages_goal(shop) -> None:
    from tests.web.support import csrf_from

    html = shop.get("/analytics/export").get_data(as_text=True)
    form = html[html.index('/analytics/export/conversions.csv" class="export-goal"'):]
    form = form[:form.index("</form>")]
    assert 'name="tag"' in form and 'name="url"' in form
    assert '/analytics/export/conversions.json">Download JSON' in form
    assert '<option value="done">' in form  # the range's custom event tags to pick from
    token = csrf_from(shop, "/analytics/export")
    csv = shop.post("/analytics/export/conversions.csv",
                    data={"csrf_token": token, "tag": "done"})
    assert csv.status_code == 200
    assert csv.headers["Content-Disposition"] == 'attachment; filename="conversions.csv"'
    lines = csv.get_data(as_text=True).split("\r\n")
    assert lines[0].startswith("facet,value,sessions,conversions,rate_pct,low_volume")
    assert lines[1] == "all,,6,2,33.3,false,,"
    data = orjson.loads(shop.post("/analytics/export/conversions.json",
                                  data={"csrf_token": token, "url": "/cart"}).get_data())
    assert data["rows"][0][:5] == ["all", None, 6, 6, 100.0]


@pytest.mark.parametrize(("form", "message"), [
    ({}, "Give a custom event tag or a page URL pattern."),
    ({"tag": "   "}, "Give a custom event tag or a page URL pattern."),
    ({"tag": "__click"}, "Sentiero&#39;s own"),
    ({"url": "z" * 5000}, "at most 200 characters"),
])
def test_a_conversions_export_without_a_good_goal_is_a_message(form, message, shop) -> None:
    from tests.web.support import csrf_from

    token = csrf_from(shop, "/analytics/export")
    response = shop.post("/analytics/export/conversions.csv",
                         data={"csrf_token": token, **form})
    assert response.status_code == 400
    assert "text/html" in response.content_type and "Content-Disposition" not in response.headers
    html = response.get_data(as_text=True)
    assert "Conversions not exported. " in html and message in html
    assert "z" * 300 not in html
