"""FastAPI and Starlette mounts: the framework's request reaches auth, root_path is honoured
by the dashboard links and the page tag, and basic auth prompts with 401."""

from __future__ import annotations

import base64
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="FastAPI is a test dependency: pip install -e .[dev]")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import HTMLResponse  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.sessions import SessionMiddleware  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from sentiero import Sentiero  # noqa: E402
from sentiero.contrib.asgi import mount  # noqa: E402
from sentiero.stores.memory import MemoryStore  # noqa: E402

EVENTS = b'{"sessionId":"as-1","windowId":"w1","seq":0,"events":[{"type":4,"timestamp":1}]}'


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_fastapi_mount_behind_a_proxy_with_root_path() -> None:
    """As under ``uvicorn --root-path /shop`` behind a proxy that keeps the prefix."""
    app = FastAPI()
    recorder = mount(app, Sentiero(store=MemoryStore(), basic_auth=("admin", "pw")))

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> str:
        return f"<html><head>{recorder.script_tag(request)}</head></html>"

    with TestClient(app, root_path="/shop") as client:
        assert '"eventsUrl":"/shop/sentiero/events"' in client.get("/shop/").text
        posted = client.post("/shop/sentiero/events", content=EVENTS,
                             headers={"Content-Type": "application/json"})
        assert posted.status_code == 200 and posted.json() == {"status": "ok"}
        refused = client.get("/shop/sentiero/")
        assert refused.status_code == 401 and "Basic" in refused.headers["WWW-Authenticate"]
        page = client.get("/shop/sentiero/sessions/as-1/windows/w1", headers=basic("admin", "pw"))
        assert page.status_code == 200
        assert "/shop/sentiero/api/sessions/as-1/windows/w1/events" in page.text


def test_starlette_auth_gets_the_starlette_request_with_its_session() -> None:
    seen: list[Any] = []

    def auth(request: Any) -> bool:
        seen.append(request)
        return request.session.get("role") == "staff"

    async def login(request: Any) -> PlainTextResponse:
        request.session["role"] = request.query_params["role"]
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/login", login)],
                    middleware=[Middleware(SessionMiddleware, secret_key="tests")])
    mount(app, Sentiero(store=MemoryStore(), auth=auth))
    with TestClient(app) as client:
        assert client.get("/sentiero/").status_code == 403
        client.get("/login?role=visitor")
        assert client.get("/sentiero/").status_code == 403
        client.get("/login?role=staff")
        assert client.get("/sentiero/").status_code == 200
    from starlette.requests import Request as StarletteRequest

    assert seen and all(isinstance(r, StarletteRequest) for r in seen)


def test_mount_refuses_apps_it_cannot_mount_into() -> None:
    with pytest.raises(TypeError, match="ASGIMount"):
        mount(object(), Sentiero(store=MemoryStore(), allow_open_dashboard=True))


def test_litestar_mount() -> None:
    pytest.importorskip("litestar", reason="a test dependency: pip install -e .[dev]")
    from litestar import Litestar, MediaType, get
    from litestar import Request as LitestarRequest
    from litestar.testing import TestClient as LitestarClient

    from sentiero.contrib.asgi import litestar_mount

    seen: list[Any] = []

    def auth(request: Any) -> bool:
        seen.append(request)
        return request.headers.get("x-staff") == "yes"

    recorder = litestar_mount(Sentiero(store=MemoryStore(), auth=auth))

    async def page(request: Any) -> str:
        return f"<html><head>{recorder.script_tag(request)}</head></html>"

    # this module's annotations are strings; Litestar resolves them at registration
    page.__annotations__ = {"request": LitestarRequest, "return": str}
    home = get("/", media_type=MediaType.HTML)(page)
    app = Litestar(route_handlers=[home, recorder.handler])
    with LitestarClient(app) as client:
        assert '"eventsUrl":"/sentiero/events"' in client.get("/").text
        posted = client.post("/sentiero/events", content=EVENTS,
                             headers={"Content-Type": "application/json"})
        assert posted.status_code == 200 and posted.json() == {"status": "ok"}
        assert client.get("/sentiero/").status_code == 403
        staff = {"X-Staff": "yes"}
        listing = client.get("/sentiero/", headers=staff)
        assert listing.status_code == 200 and 'href="/sentiero/sessions/as-1"' in listing.text
        replay = client.get("/sentiero/sessions/as-1/windows/w1", headers=staff)
        assert replay.status_code == 200
        assert "/sentiero/api/sessions/as-1/windows/w1/events" in replay.text
        asset = client.get(re_asset(listing.text))
        assert asset.status_code == 200
    assert seen and all(isinstance(r, LitestarRequest) for r in seen)


def re_asset(html: str) -> str:
    import re

    found = re.search(r"/sentiero/assets/dashboard-\w+\.js", html)
    assert found, "the page links its script"
    return found.group(0)
