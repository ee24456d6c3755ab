"""Helpers shared by the web tests."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client

from sentiero.stores.base import Batch, SessionQuery

PREFIX = "/sentiero"
FAKE_MANIFEST = {
    "recorder": "recorder-ABCD1234.js",
    "dashboard": "dashboard-EFGH5678.js",
    "dashboard.css": "dashboard-IJKL9012.css",
}


class MountedClient(Client):
    """A test client for an app mounted at /sentiero (SCRIPT_NAME), like a real host."""

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("environ_overrides", {})
        kwargs["environ_overrides"].setdefault("SCRIPT_NAME", PREFIX)
        return super().open(*args, **kwargs)


def stored_sessions(store: Any) -> list[Any]:
    return store.list_sessions(SessionQuery(limit=100))


def save(store: Any, session_id: str, window_id: str, events: list[dict[str, Any]],
         **kwargs: Any) -> None:
    store.save_batch(Batch(session_id=session_id, window_id=window_id, events=events, **kwargs))


def csrf_from(client: Client, path: str = "/") -> str:
    """Load a page so the client holds the CSRF cookie; return the token."""
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    cookie = client.get_cookie("sentiero_csrf", path=PREFIX + "/")
    assert cookie is not None
    return cookie.value
