"""Every analytics test runs on every store: memory, files, SQLite, PostgreSQL, MariaDB,
Redis and the Django ORM on SQLite and PostgreSQL (the same suite, as the store contract
does), each filled through the real ingest path with the fixture recordings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sentiero.stores.base import Store
from tests.stores.contract import MYSQL_URL, POSTGRES_URL, REDIS_URL, require_server

BACKENDS = ["memory", "files", "sqlite", "postgres", "mysql", "redis", "django-sqlite",
            "django-postgres"]


def make_store(backend: str, tmp: Path) -> tuple[Store, Callable[[], None]]:
    """A fresh, empty store of ``backend`` and the function that removes what it wrote."""
    if backend == "memory":
        from sentiero.stores.memory import MemoryStore

        return MemoryStore(), lambda: None
    if backend == "files":
        from sentiero.stores.files import FileStore

        store: Any = FileStore(tmp / f"files-{uuid.uuid4().hex[:6]}")
        store.setup()
        return store, lambda: None
    if backend.startswith("django-"):
        pytest.importorskip("django")
        from tests.contrib.django_setup import fresh_django_store

        if backend == "django-postgres":
            require_server(POSTGRES_URL)
        return fresh_django_store(backend.removeprefix("django-"), str(tmp))
    if backend == "redis":
        import redis

        from sentiero.stores.redis import RedisStore

        url = require_server(REDIS_URL)
        prefix = f"sentiero-analytics-{uuid.uuid4().hex[:10]}:"
        store = RedisStore(url, prefix=prefix)

        def drop() -> None:
            client = redis.Redis.from_url(url)
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()

        return store, drop
    from sentiero.stores.sql import SQLStore

    url = {"sqlite": f"sqlite:///{tmp}/a-{uuid.uuid4().hex[:6]}.db",
           "postgres": POSTGRES_URL, "mysql": MYSQL_URL}[backend]
    if backend != "sqlite":
        require_server(url)
    store = SQLStore(url, auto_migrate=True, prefix=f"a{uuid.uuid4().hex[:8]}_")
    store.setup()
    return store, store.drop_tables


@pytest.fixture(params=BACKENDS)
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param in ("postgres", "mysql", "redis", "django-postgres"):
        request.applymarker(pytest.mark.backend)
    store, drop = make_store(request.param, tmp_path)
    yield store
    drop()
    store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def filled_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Store]:
    """A store of each backend filled once with the dataset (tests/analytics/dataset.py); the
    tests that use it only read."""
    from tests.analytics.dataset import fill

    if request.param in ("postgres", "mysql", "redis", "django-postgres"):
        request.applymarker(pytest.mark.backend)
    store, drop = make_store(request.param, tmp_path_factory.mktemp("analytics"))
    fill(store)
    yield store
    drop()
    store.close()
