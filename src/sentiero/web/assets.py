"""The built frontend: manifest lookup, asset URLs, and serving the files.

``manifest.json`` (written by the frontend build) maps logical names (``recorder``,
``dashboard``, ``dashboard.css``) to content-hashed file names. It is cached and re-read when
its modification time changes, so a rebuild during development needs no restart.

The build writes a brotli (``.br``) and a gzip (``.gz``) twin of every file; a request is
answered with the best twin its ``Accept-Encoding`` allows (``Vary: Accept-Encoding`` always),
the plain file otherwise. Twins are never served under their own names.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import orjson
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

DEFAULT_ASSETS_DIR = Path(__file__).resolve().parent / "static" / "dist"
BUILD_HINT = "run `npm ci && npm run build` in frontend/ or reinstall sentiero"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=86400"
ALIAS_CACHE = "public, max-age=300"
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
}
# name-HASH.ext, the hash being 8+ characters of the build's content hash.
_HASHED = re.compile(r"^[A-Za-z0-9_.]+-[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
# Precompressed twins the build writes beside each file, best first: (suffix, Content-Encoding).
TWINS = ((".br", "br"), (".gz", "gzip"))
_TWIN_SUFFIXES = tuple(suffix for suffix, _ in TWINS)


def accepted_twin(request: Request, path: Path) -> tuple[Path, str] | None:
    """The best precompressed twin of ``path`` that the request accepts, if it was built."""
    accept = request.accept_encodings
    for suffix, encoding in TWINS:
        if accept.quality(encoding) <= 0:
            continue
        twin = path.with_name(path.name + suffix)
        if twin.is_file():
            return twin, encoding
    return None


class AssetsNotBuiltError(RuntimeError):
    """The frontend build output is missing or lacks a file; the message says how to fix it."""


class Assets:
    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else DEFAULT_ASSETS_DIR
        self._lock = threading.Lock()
        self._manifest: dict[str, str] | None = None
        self._mtime: float | None = None

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def manifest(self) -> dict[str, str]:
        """The logical-name -> file-name map; raises AssetsNotBuiltError when missing."""
        try:
            mtime = self.manifest_path.stat().st_mtime_ns
        except OSError:
            raise AssetsNotBuiltError(
                f"Sentiero's frontend assets are not built ({self.manifest_path} is missing): "
                f"{BUILD_HINT}"
            ) from None
        with self._lock:
            if self._manifest is None or self._mtime != mtime:
                try:
                    data = orjson.loads(self.manifest_path.read_bytes())
                except (OSError, orjson.JSONDecodeError) as exc:
                    raise AssetsNotBuiltError(
                        f"Sentiero's asset manifest {self.manifest_path} is unreadable ({exc}): "
                        f"{BUILD_HINT}"
                    ) from None
                if not isinstance(data, dict):
                    raise AssetsNotBuiltError(
                        f"Sentiero's asset manifest {self.manifest_path} is not an object: "
                        f"{BUILD_HINT}"
                    )
                self._manifest = {str(k): str(v) for k, v in data.items()}
                self._mtime = mtime
            return self._manifest

    def filename(self, name: str) -> str:
        manifest = self.manifest()
        try:
            return manifest[name]
        except KeyError:
            raise AssetsNotBuiltError(
                f"Sentiero's asset manifest has no {name!r} entry: {BUILD_HINT}"
            ) from None

    def url(self, name: str, base: str) -> str:
        """``<base>/assets/<hashed file>`` for a logical name (base has no trailing slash)."""
        return f"{base}/assets/{self.filename(name)}"

    def resolve(self, filename: str) -> Path | None:
        """The file for a request path segment, or None when it is not a servable asset."""
        if (not _SAFE_NAME.match(filename) or filename.endswith(".erb")
                or filename.endswith(_TWIN_SUFFIXES)):
            return None
        root = self.directory.resolve()
        try:
            path = (root / filename).resolve()
        except (OSError, RuntimeError):
            return None
        if path.parent != root or not path.is_file():
            return None
        return path

    def file_response(self, request: Request, filename: str, cache_control: str | None = None
                      ) -> Response:
        path = self.resolve(filename)
        if path is None:
            return not_found()
        ctype = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        if cache_control is None:
            cache_control = IMMUTABLE if _HASHED.match(filename) else SHORT_CACHE
        twin = accepted_twin(request, path)
        body = twin[0] if twin else path
        handle = body.open("rb")
        response = Response(
            wrap_file(request.environ, handle), content_type=ctype, direct_passthrough=True
        )
        response.content_length = body.stat().st_size
        if twin:
            response.headers["Content-Encoding"] = twin[1]
        response.headers["Vary"] = "Accept-Encoding"
        response.headers["Cache-Control"] = cache_control
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def serve(self, request: Request, filename: str) -> Response:
        """GET /assets/<file>: public, immutable when the name is content-hashed."""
        return self.file_response(request, filename)

    def serve_recorder(self, request: Request) -> Response:
        """GET /recorder.js: the current recorder bundle under a stable URL (max-age=300)."""
        try:
            filename = self.filename("recorder")
        except AssetsNotBuiltError:
            return not_found()
        return self.file_response(request, filename, ALIAS_CACHE)


def not_found() -> Response:
    response = Response("Not Found", status=404, content_type="text/plain; charset=utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
