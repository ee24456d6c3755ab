"""The one Django view serving the mount: Django request in, the WSGI core, Django response out.

Django's CSRF check is off for the mount: the events endpoint is posted by the recorder from
every page (and other origins when ``cors_origins`` says so), and the dashboard's own forms
carry Sentiero's CSRF token (a double-submit cookie scoped to the mount), which the core checks.
"""

from __future__ import annotations

import io
from typing import IO, Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sentiero.contrib.django.conf import get_options, get_sentiero
from sentiero.contrib.embedding import mounted_environ, run_wsgi


def _body(request: HttpRequest) -> IO[bytes]:
    if getattr(request, "_body", None) is not None:  # a middleware already read it
        return io.BytesIO(request.body)
    # HttpRequest reads the body stream itself, without DATA_UPLOAD_MAX_MEMORY_SIZE: the
    # core enforces max_body_bytes and answers 413 beyond it
    return request  # type: ignore[return-value]


def mount_prefix(request: HttpRequest, path: str) -> str:
    """Where the URLconf mounted us: the request path minus the captured rest (with the
    project's SCRIPT_NAME / FORCE_SCRIPT_NAME)."""
    full = request.path
    return full[: len(full) - len(path)] if path and full.endswith(path) else full


@csrf_exempt
def mount(request: HttpRequest, path: str) -> HttpResponse:
    sentiero = get_sentiero()
    app = sentiero.wsgi_app
    environ = mounted_environ(
        request.META, script_name=mount_prefix(request, path), path_info=path,
        scheme=request.scheme or "http", body=_body(request), host_request=request)
    if get_options().default_auth and not app.is_public(environ):
        user: Any = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The Sentiero dashboard is for staff users.")
    return to_django_response(run_wsgi(app, environ))


def to_django_response(answer: Any) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status_code, reason=answer.reason or None)
    seen: dict[str, str] = {}
    for name, value in answer.headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)
            continue
        key = name.lower()
        seen[key] = f"{seen[key]}, {value}" if key in seen else value
        response.headers[name] = seen[key]
    return response
