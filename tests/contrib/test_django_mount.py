"""The Django app serves the whole mount through a Django view, under WSGI and ASGI: the page's
template tag, the CSRF-exempt events endpoint, the dashboard for staff users (login redirect
for anonymous users, 403 for others), custom auth receiving the Django request, and Django's
sessions and CSRF beside Sentiero's own."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client, RequestFactory, override_settings

from sentiero.contrib.django import get_sentiero
from sentiero.stores.base import SessionQuery
from tests.contrib.conftest import empty_tables

EVENTS = orjson.dumps({"sessionId": "dj-session", "windowId": "w1", "seq": 0,
                       "events": [{"type": 4, "timestamp": 1_700_000_000_000,
                                   "data": {"href": "https://shop.example/", "width": 800,
                                            "height": 600}}]})


@pytest.fixture
def users(sqlite_db: str) -> Iterator[dict[str, User]]:
    empty_tables("default")
    User.objects.all().delete()
    made = {
        "staff": User.objects.create_user("staff", password="pw-staff", is_staff=True),
        "visitor": User.objects.create_user("visitor", password="pw-visitor"),
    }
    yield made
    User.objects.all().delete()
    empty_tables("default")


def post_events(client: Client) -> Any:
    return client.post("/sentiero/events", data=EVENTS, content_type="application/json")


def test_page_tag_points_at_the_mount(users: dict[str, User]) -> None:
    page = Client().get("/").content.decode()
    assert '<script type="application/json" id="sentiero-config">' in page
    assert re.search(r'<script src="/sentiero/assets/recorder-[0-9A-Za-z]+\.js" defer>', page)
    assert '"eventsUrl":"/sentiero/events"' in page


def test_events_endpoint_is_csrf_exempt_and_stores_in_the_django_database(
        users: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    answer = post_events(client)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert answer["X-Content-Type-Options"] == "nosniff"
    from sentiero.contrib.django.models import RecordedSession

    assert list(RecordedSession.objects.values_list("session_id", flat=True)) == ["dj-session"]
    assert post_events(client).json() == {"status": "ok", "duplicate": True}  # stored once
    assert get_sentiero().store.get_session("dj-session").event_count == 1


def test_bad_events_are_refused_not_crashed(users: dict[str, User]) -> None:
    answer = Client().post("/sentiero/events", data=b"{not json", content_type="application/json")
    assert answer.status_code == 400 and "error" in answer.json()


def test_anonymous_users_are_sent_to_the_login_page(users: dict[str, User]) -> None:
    answer = Client().get("/sentiero/sessions/x?t=5")
    assert answer.status_code == 302
    assert answer["Location"] == "/accounts/login/?next=/sentiero/sessions/x%3Ft%3D5"


def test_non_staff_users_get_403(users: dict[str, User]) -> None:
    client = Client()
    client.force_login(users["visitor"])
    assert client.get("/sentiero/").status_code == 403


def test_staff_users_see_the_dashboard_and_delete_with_both_csrf_schemes_on(
        users: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    assert post_events(client).status_code == 200
    assert client.login(username="staff", password="pw-staff")
    listing = client.get("/sentiero/")
    assert listing.status_code == 200 and "dj-session" in listing.content.decode()
    assert listing["Content-Security-Policy"].startswith("default-src 'self'")
    assert listing["X-Frame-Options"] == "DENY"
    cookie = listing.cookies["sentiero_csrf"]
    assert cookie["path"] == "/sentiero/" and cookie["httponly"]
    token = re.search(r'name="csrf_token" value="([^"]{20,})"', listing.content.decode())
    assert token, "the listing carries Sentiero's CSRF token"
    # without Sentiero's token the core refuses, whatever Django's middleware says
    assert client.post("/sentiero/sessions/dj-session/delete").status_code == 403
    deleted = client.post("/sentiero/sessions/dj-session/delete",
                          {"csrf_token": token.group(1)})
    assert deleted.status_code in (302, 303)
    assert get_sentiero().store.get_session("dj-session") is None
    # the Django session survived: still logged in
    assert client.get("/sentiero/").status_code == 200


def test_replay_page_and_api_under_the_mount(users: dict[str, User]) -> None:
    client = Client()
    post_events(client)
    client.force_login(users["staff"])
    page = client.get("/sentiero/sessions/dj-session/windows/w1")
    assert page.status_code == 200
    assert '"eventsUrl":"/sentiero/api/sessions/dj-session/windows/w1/events"' in \
        page.content.decode()
    events = client.get("/sentiero/api/sessions/dj-session/windows/w1/events")
    assert events.status_code == 200 and len(events.json()["events"]) == 1


def test_custom_auth_receives_the_django_request(users: dict[str, User]) -> None:
    seen: list[Any] = []

    def only_visitor(request: Any) -> bool:
        seen.append(request)
        return request.user.username == "visitor"

    with override_settings(SENTIERO={"auth": only_visitor}):
        client = Client()
        assert client.get("/sentiero/").status_code == 403  # anonymous: the callable says no
        client.force_login(users["visitor"])
        assert client.get("/sentiero/").status_code == 200
        client.force_login(users["staff"])
        assert client.get("/sentiero/").status_code == 403
    from django.http import HttpRequest

    assert seen and all(isinstance(r, HttpRequest) for r in seen)


def test_basic_auth_answers_401_with_a_prompt(users: dict[str, User]) -> None:
    with override_settings(SENTIERO={"basic_auth": ("admin", "s3cret")}):
        answer = Client().get("/sentiero/")
        assert answer.status_code == 401
        assert answer["WWW-Authenticate"] == 'Basic realm="Sentiero"'
        ok = Client().get("/sentiero/", HTTP_AUTHORIZATION="Basic YWRtaW46czNjcmV0")
        assert ok.status_code == 200


def test_under_security_middleware_with_https_redirects(users: dict[str, User]) -> None:
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600):
        answer = Client().post("/sentiero/events", data=EVENTS, content_type="application/json",
                               secure=True)
        assert answer.status_code == 200
        assert answer["Strict-Transport-Security"] == "max-age=3600"
        preflight = Client().options("/sentiero/events", secure=True)
        assert preflight.status_code in (200, 204)


def test_template_tag_honours_the_csp_nonce(users: dict[str, User]) -> None:
    from django.template import engines

    request = RequestFactory().get("/")
    request.csp_nonce = "n0nce-123"
    html = engines["django"].from_string(
        "{% load sentiero %}{% sentiero_script_tag %}").render({}, request)
    assert html.count('nonce="n0nce-123"') == 2


def test_under_asgi(users: dict[str, User]) -> None:
    async def scenario() -> None:
        client = AsyncClient()
        answer = await client.post("/sentiero/events", data=EVENTS,
                                   content_type="application/json")
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        anonymous = await client.get("/sentiero/")
        assert anonymous.status_code == 302 and anonymous["Location"].startswith(
            "/accounts/login/")
        await client.aforce_login(users["staff"])
        listing = await client.get("/sentiero/")
        assert listing.status_code == 200 and "dj-session" in listing.content.decode()
        asset = await client.get(re.search(r"/sentiero/assets/dashboard-[0-9A-Za-z]+\.js",
                                           listing.content.decode()).group(0))
        assert asset.status_code == 200 and "immutable" in asset["Cache-Control"]

    asyncio.run(scenario())
    assert len(get_sentiero().store.list_sessions(SessionQuery())) == 1


def test_body_limit_is_sentieros_not_djangos(users: dict[str, User]) -> None:
    """Bodies beyond max_body_bytes get the core's 413 (JSON), whatever Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE says."""
    with override_settings(SENTIERO={"max_body_bytes": 1000}, DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        small = Client().post("/sentiero/events", data=EVENTS, content_type="application/json")
        assert small.status_code == 200
        big = Client().post("/sentiero/events", data=b"x" * 5000,
                            content_type="application/json")
        assert big.status_code == 413 and "error" in big.json()


def test_under_a_script_prefix(users: dict[str, User]) -> None:
    """A project served under /shop (SCRIPT_NAME, through Django's real WSGI handler): the tag,
    the dashboard's links and its cookie carry the prefix."""
    from django.core.handlers.wsgi import WSGIHandler
    from werkzeug.test import Client as WSGIClient

    client = WSGIClient(WSGIHandler())
    shop = "http://localhost/shop/"
    page = client.get("/", base_url=shop).get_data(as_text=True)
    assert '"eventsUrl":"/shop/sentiero/events"' in page
    assert client.post("/sentiero/events", base_url=shop, data=EVENTS,
                       content_type="application/json").status_code == 200
    anonymous = client.get("/sentiero/", base_url=shop)
    assert anonymous.status_code == 302 and anonymous.location.endswith("?next=/shop/sentiero/")
    with override_settings(SENTIERO={"basic_auth": ("admin", "s3cret")}):
        listing = client.get("/sentiero/", base_url=shop,
                             headers={"Authorization": "Basic YWRtaW46czNjcmV0"})
        assert 'href="/shop/sentiero/sessions/dj-session"' in listing.get_data(as_text=True)
        assert "Path=/shop/sentiero/" in listing.headers["Set-Cookie"]


def test_analytics_and_issues_pages_on_the_django_store(users: dict[str, User]) -> None:
    """A real recording ingested into DjangoStore: every analytics page and the issues page
    answer through the Django mount (the store's generic facts queries)."""
    from tests.analytics.support import ingest_recording

    sid = ingest_recording(get_sentiero().store, "frustration-a")
    client = Client()
    client.force_login(users["staff"])
    for path in ("/sentiero/analytics", "/sentiero/analytics/segments",
                 "/sentiero/analytics/pages", "/sentiero/analytics/vitals",
                 "/sentiero/analytics/export", "/sentiero/issues?source=client"):
        answer = client.get(path)
        assert answer.status_code == 200, path
    assert sid in client.get("/sentiero/").content.decode()
