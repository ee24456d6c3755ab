"""Fixtures for the web layer: a Sentiero app on a MemoryStore with fake built assets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.app import Sentiero
from sentiero.stores.memory import MemoryStore
from tests.web.support import FAKE_MANIFEST, MountedClient


@pytest.fixture
def assets_dir(tmp_path: Path) -> Path:
    """A stand-in for the frontend build: a manifest and the three hashed files."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "manifest.json").write_bytes(orjson.dumps(FAKE_MANIFEST))
    (dist / "recorder-ABCD1234.js").write_text("/* recorder */\n")
    (dist / "dashboard-EFGH5678.js").write_text("/* dashboard */\n")
    (dist / "dashboard-IJKL9012.css").write_text("body{}\n")
    return dist


@pytest.fixture
def make_app(assets_dir: Path) -> Callable[..., Sentiero]:
    def make(store: Any = None, **options: Any) -> Sentiero:
        options.setdefault("assets_dir", str(assets_dir))
        return Sentiero(store=store if store is not None else MemoryStore(), **options)

    return make


@pytest.fixture
def client_for() -> Callable[[Sentiero], MountedClient]:
    def make(app: Sentiero) -> MountedClient:
        return MountedClient(app.wsgi_app)

    return make
