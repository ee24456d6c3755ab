"""FastAPI: Sentiero mounted at /sentiero, the recorder tag in a page, HTTP Basic for the
dashboard (browsers prompt for it).

    pip install sentiero fastapi uvicorn
    SENTIERO_PASSWORD='a long password' uvicorn examples.fastapi_app:app
"""

import os

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from sentiero import Sentiero
from sentiero.contrib.asgi import mount

app = FastAPI()
recorder = mount(app, Sentiero(
    store_url=os.environ.get("SENTIERO_STORE_URL", "sqlite:///sentiero-fastapi-example.db"),
    basic_auth=("admin", os.environ["SENTIERO_PASSWORD"]),
))


@app.get("/", response_class=HTMLResponse)
def home(request: Request) -> str:
    return ("<!doctype html><html><head><title>FastAPI shop</title>"
            f"{recorder.script_tag(request)}</head><body><h1>FastAPI shop</h1></body></html>")
