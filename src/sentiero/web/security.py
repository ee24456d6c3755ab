"""Dashboard protection: authentication, CSRF and the security headers of every page.

Auth order (inventory §3.1): HTTP Basic when ``basic_auth`` is set; else the ``auth``
callable; else open only when ``allow_open_dashboard``; else 403 (fail closed).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import secrets
from typing import Any

from werkzeug.wrappers import Request, Response

from sentiero.settings import Settings

logger = logging.getLogger("sentiero.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self' blob:"
)
REPLAY_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline' https: http:; "
    "img-src 'self' data: blob: https: http:; font-src 'self' data: https: http:; "
    "media-src 'self' blob: https: http:; frame-src 'self' blob:"
)
"""The replay page's policy: scripts stay our own, but the replayed page may show images, fonts
and stylesheets from the recorded site's origin."""
CSRF_COOKIE = "sentiero_csrf"
CSRF_FIELD = "csrf_token"
HOST_REQUEST_KEY = "sentiero.host_request"
"""WSGI environ key under which a framework integration puts its own request object, so the
``auth`` callable receives e.g. the Django or Flask request instead of Werkzeug's."""

_TOKEN = re.compile(r"^[0-9a-f]{64}\Z")
NO_AUTH_MESSAGE = (
    "Forbidden: the Sentiero dashboard has no authentication configured. Pass "
    "basic_auth=(user, password) or auth=callable(request) to Sentiero(...) "
    "(standalone: set SENTIERO_BASIC_AUTH=user:password), or allow_open_dashboard=True "
    "for a trusted local setup."
)


def _text(body: str, status: int) -> Response:
    response = Response(body, status=status, content_type="text/plain; charset=utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- authentication -------------------------------------------------------------------------


def basic_credentials(header: str | None) -> tuple[bytes, bytes] | None:
    """(user, password) from an ``Authorization: Basic`` header with strict base64, or None."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user, password


def basic_auth_ok(header: str | None, expected: tuple[str, str]) -> bool:
    creds = basic_credentials(header)
    want_user, want_password = (part.encode("utf-8") for part in expected)
    user, password = creds if creds is not None else (b"", b"")
    # both compared every time, so timing says nothing about which field was wrong
    user_ok = hmac.compare_digest(user, want_user)
    password_ok = hmac.compare_digest(password, want_password)
    return creds is not None and user_ok and password_ok


def check_auth(request: Request, settings: Settings) -> Response | None:
    """None when the request may see the dashboard, else the refusal to send."""
    if settings.basic_auth is not None:
        if basic_auth_ok(request.headers.get("Authorization"), settings.basic_auth):
            return None
        response = _text("Unauthorized", 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="Sentiero"'
        return response
    if settings.auth is not None:
        subject: Any = request.environ.get(HOST_REQUEST_KEY, request)
        try:
            allowed = settings.auth(subject)
        except Exception:
            logger.exception("Sentiero auth callable raised; refusing the request (403)")
            return _text("Forbidden", 403)
        return None if allowed else _text("Forbidden", 403)
    if settings.allow_open_dashboard:
        return None
    return _text(NO_AUTH_MESSAGE, 403)


# --- CSRF (double-submit cookie) ------------------------------------------------------------


def csrf_token_for(request: Request) -> str:
    """The browser's current token when it has a well-formed one, else a fresh one.

    Reusing it keeps forms in several open tabs valid; the cookie is HttpOnly and
    SameSite=Strict, so another site can neither read nor send it.
    """
    current = request.cookies.get(CSRF_COOKIE, "")
    return current if _TOKEN.match(current) else secrets.token_hex(32)


def cookie_path(request: Request) -> str:
    return request.script_root.rstrip("/") + "/"


def set_csrf_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        path=cookie_path(request),
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
    )


def csrf_ok(request: Request) -> bool:
    """The POST body's ``csrf_token`` equals the cookie (never read from the query string)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    submitted = request.form.get(CSRF_FIELD, "")
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode("utf-8"), submitted.encode("utf-8"))


def csrf_refusal() -> Response:
    return _text("Invalid CSRF token", 403)


# --- headers --------------------------------------------------------------------------------


def apply_page_headers(response: Response) -> Response:
    """Headers of every dashboard HTML page."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def apply_nosniff(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
