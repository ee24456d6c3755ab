"""Private database servers for the reliability suite, and its figures.

PostgreSQL and Redis here are our own instances (a temporary folder, a free port), never the
machine's shared servers: the outage tests stop them, and the load tests fill them.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.harness import PrivatePostgres, PrivateRedis, private_folder

pytestmark = pytest.mark.reliability


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crash_backend" in metafunc.fixturenames:
        long_run = metafunc.config.getoption("--long")
        metafunc.parametrize("crash_backend", ["sqlite", "postgresql"] if long_run
                             else ["sqlite"])


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder of our own instead of pytest's: pytest prunes all but the newest three
    basetemp folders of a user whenever a run starts, so on a machine where other pytest runs
    start meanwhile, a long test's databases and logs would vanish under it."""
    with private_folder("test") as folder:
        yield folder


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    with private_folder("postgres") as folder:
        yield from _postgres(folder)


def _postgres(folder: Path) -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres(folder)
    pg.init()
    pg.start()
    yield pg
    pg.remove()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    with private_folder("redis") as folder:
        server = PrivateRedis(folder)
        server.start()
        yield server
        server.stop()


def new_database(pg: PrivatePostgres) -> str:
    """A fresh database on ``pg`` with Sentiero's schema; its URL."""
    import psycopg

    from sentiero.stores.sql import SQLStore

    name = f"rel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:{pg.port}/{name}"
    store = SQLStore(url)
    store.migrate()
    store.close()
    return url


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store URL of the backend the test is parametrized with (``backend``)."""
    backend = request.param if hasattr(request, "param") else request.getfixturevalue("backend")
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/sentiero.db"
    if backend == "postgresql":
        return new_database(request.getfixturevalue("private_postgres"))
    if backend == "redis":
        server = request.getfixturevalue("private_redis")
        import redis

        redis.Redis(port=server.port).flushall()
        return server.url
    raise ValueError(backend)


@pytest.fixture
def report(request: pytest.FixtureRequest, long_run: bool) -> Any:
    """Print a test's figures (pytest -s shows them) and, with SENTIERO_RELIABILITY_REPORT
    set to a file, append them there as one JSON line."""

    def emit(**figures: Any) -> None:
        line = {"test": request.node.name, "long": long_run,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
        print("\nFIGURES " + json.dumps(line))
        target = os.environ.get("SENTIERO_RELIABILITY_REPORT")
        if target:
            with open(target, "a") as f:
                f.write(json.dumps(line) + "\n")

    return emit
