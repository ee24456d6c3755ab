"""Litestar: Sentiero as a mounted route handler, the recorder tag in a page, HTTP Basic for
the dashboard.

    pip install sentiero litestar uvicorn
    SENTIERO_PASSWORD='a long password' uvicorn examples.litestar_app:app
"""

import os

from litestar import Litestar, MediaType, Request, get

from sentiero import Sentiero
from sentiero.contrib.asgi import litestar_mount

recorder = litestar_mount(Sentiero(
    store_url=os.environ.get("SENTIERO_STORE_URL", "sqlite:///sentiero-litestar-example.db"),
    basic_auth=("admin", os.environ["SENTIERO_PASSWORD"]),
))


@get("/", media_type=MediaType.HTML)
async def home(request: Request) -> str:
    return ("<!doctype html><html><head><title>Litestar shop</title>"
            f"{recorder.script_tag(request)}</head><body><h1>Litestar shop</h1></body></html>")


app = Litestar(route_handlers=[home, recorder.handler])
