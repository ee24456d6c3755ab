"""The floor of any ingest, as a WSGI app for gunicorn: read the body, gunzip it, parse the
JSON with orjson, answer 200. ``http_ingest.py`` serves it beside ``sentiero serve``."""

from __future__ import annotations

import gzip
from typing import Any

import orjson

_OK = b'{"status":"ok"}'


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["REQUEST_METHOD"] == "POST":  # anything else: the benchmark's readiness probe
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        orjson.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(_OK)))])
    return [_OK]
