"""FastAPI: Sentiero mounted as an ASGI app (a2wsgi runs the WSGI core in a thread pool)."""

import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from sentiero import Sentiero

sentiero = Sentiero(
    store_url=os.environ.get("SENTIERO_STORE_URL", "sqlite:///sentiero-fastapi-example.db"),
    basic_auth=("admin", os.environ.get("SENTIERO_PASSWORD", "change-me-please")),
)

app = FastAPI()
app.mount("/sentiero", sentiero.asgi_app)


@app.get("/", response_class=HTMLResponse)
def home() -> str:
    return (f"<!doctype html><html><head><title>FastAPI shop</title>{sentiero.script_tag()}"
            "</head><body><h1>FastAPI shop</h1></body></html>")
