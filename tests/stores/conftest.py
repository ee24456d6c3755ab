"""Fixtures for the store tests. The helpers themselves live in ``contract.py`` (import them
from there: ``from contract import require_server, POSTGRES_URL, load_fixture``), because
several ``conftest.py`` files cannot be imported by name reliably."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import sentiero  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import pytest

pytest.register_assert_rewrite("contract", "test_sql_common", "tracking_contract")

from contract import (  # noqa: E402
    MYSQL_URL,
    POSTGRES_URL,
    REDIS_URL,
    fixture_batches,
    load_fixture,
    require_server,
)

__all__ = [
    "MYSQL_URL",
    "POSTGRES_URL",
    "REDIS_URL",
    "fixture_batches",
    "load_fixture",
    "require_server",
]


@pytest.fixture
def rrweb_fixture():
    """``rrweb_fixture(name)`` -> the recorded session dict (a fresh copy)."""
    return load_fixture


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_server(POSTGRES_URL)


@pytest.fixture(scope="session")
def mysql_url() -> str:
    return require_server(MYSQL_URL)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_server(REDIS_URL)
