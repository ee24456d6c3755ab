"""Dashboard protection: authentication, CSRF and the security headers of every page.

Auth order (inventory §3.1): HTTP Basic when ``basic_auth`` is set; else the ``auth``
callable; else open only when ``allow_open_dashboard``; else 403 (fail closed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
from typing import Any

from werkzeug.wrappers import Request, Response

from sentiero.privacy import audit
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
HOST_REQUEST_KEY = "sentiero.host_request"
"""WSGI environ key under which a framework integration puts its own request object, so the
``auth`` callable receives e.g. the Django or Flask request instead of Werkzeug's."""

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


# --- CSRF (signed double-submit token) --------------------------------------------------------
#
# The token is ``<nonce>.<mac>``: 32 random hex digits and an HMAC-SHA256, under the server's
# secret, of the nonce and the dashboard identity (the Basic user, or the host's user from the
# environ). A state-changing request must carry it both in the cookie and in the form field
# (or the ``X-CSRF-Token`` header), and the MAC must verify: someone who can plant a cookie for
# the host (a sibling subdomain, plain http) cannot make a token that passes without the
# secret, and a token minted for one user does not pass for another.

CSRF_COOKIE = "sentiero_csrf"
CSRF_SECURE_COOKIE = "__Host-sentiero_csrf"
"""The cookie's name on https: the ``__Host-`` prefix makes the browser refuse it unless it is
Secure, host-only and ``Path=/``, so neither a subdomain nor plain http can set it."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_VERIFIED_KEY = "sentiero.csrf_verified"
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_TOKEN = re.compile(r"^[0-9a-f]{32}\.[0-9a-f]{64}\Z")
_MAC_CONTEXT = b"sentiero-csrf-v1"


def resolve_secret(configured: str | None) -> bytes:
    """The CSRF signing key: ``secret_key`` when set, else 32 random bytes for this process
    (forked workers share it; separate servers and restarts do not, see
    docs/configuration.md)."""
    if configured:
        return configured.encode("utf-8")
    return secrets.token_bytes(32)


def dashboard_identity(request: Request, settings: Settings) -> str:
    """Who the token is minted for: the Basic user, else the host's user (``sentiero.user``
    or ``REMOTE_USER`` in the environ), else '' (one identity for everyone allowed in)."""
    if settings.basic_auth is not None:
        creds = basic_credentials(request.headers.get("Authorization"))
        if creds is not None:
            return "basic:" + creds[0].decode("utf-8", "replace")
    user = audit.request_user(request.environ)
    return f"user:{user}" if user else ""


def _mac(secret: bytes, nonce: str, identity: str) -> str:
    message = b"\0".join((_MAC_CONTEXT, identity.encode("utf-8"), nonce.encode("ascii")))
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def token_valid(token: str, secret: bytes, identity: str) -> bool:
    """Well formed and signed for ``identity`` with ``secret``."""
    if not _TOKEN.match(token):
        return False
    nonce, _, mac = token.partition(".")
    return hmac.compare_digest(mac, _mac(secret, nonce, identity))


def new_token(secret: bytes, identity: str) -> str:
    nonce = secrets.token_hex(16)
    return f"{nonce}.{_mac(secret, nonce, identity)}"


def csrf_cookie_name(request: Request) -> str:
    return CSRF_SECURE_COOKIE if request.scheme == "https" else CSRF_COOKIE


def csrf_token_for(request: Request, settings: Settings, secret: bytes) -> str:
    """The browser's current token when it is still valid for this user, else a fresh one.

    Reusing it keeps forms in several open tabs valid; the cookie is HttpOnly and
    SameSite=Strict, so another site can neither read nor send it.
    """
    current = request.cookies.get(csrf_cookie_name(request), "")
    identity = dashboard_identity(request, settings)
    if token_valid(current, secret, identity):
        return current
    return new_token(secret, identity)


def cookie_path(request: Request) -> str:
    return request.script_root.rstrip("/") + "/"


def set_csrf_cookie(response: Response, request: Request, token: str) -> None:
    https = request.scheme == "https"
    response.set_cookie(
        csrf_cookie_name(request),
        token,
        path="/" if https else cookie_path(request),  # __Host- requires Path=/
        httponly=True,
        samesite="Strict",
        secure=https,
    )


def check_csrf(request: Request, settings: Settings, secret: bytes) -> bool:
    """A state-changing request's token: the cookie's, signed for this user, and the same
    value in the POST body's ``csrf_token`` (never the query string) or ``X-CSRF-Token``."""
    cookie = request.cookies.get(csrf_cookie_name(request), "")
    submitted = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if not cookie or not submitted:
        return False
    if not hmac.compare_digest(cookie.encode("utf-8"), submitted.encode("utf-8")):
        return False
    if not token_valid(cookie, secret, dashboard_identity(request, settings)):
        return False
    request.environ[CSRF_VERIFIED_KEY] = True
    return True


def csrf_ok(request: Request) -> bool:
    """Whether the central dispatch verified this request's CSRF token (it does so for every
    dashboard request that is not GET/HEAD/OPTIONS, before the handler runs)."""
    return request.environ.get(CSRF_VERIFIED_KEY) is True


def csrf_refusal() -> Response:
    return _text("Invalid CSRF token", 403)


# --- headers --------------------------------------------------------------------------------


def apply_page_headers(response: Response) -> Response:
    """Security headers of every dashboard page (and of 404s and errors)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def apply_dashboard_headers(response: Response) -> Response:
    """Every dashboard answer (redirects and refusals included) and every 404 or error: the
    page security headers and ``Cache-Control: no-store``, since any of them may show or
    point at recorded data and must stay out of browser, proxy and shared caches."""
    response.headers["Cache-Control"] = "no-store"
    return apply_page_headers(response)


def apply_nosniff(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
