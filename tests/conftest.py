"""Options of the whole suite."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long", action="store_true", default=False,
        help="run the reliability suite at full size (tests/reliability: 200 recorders for "
             "5 minutes, 20 kills, a 30 s outage, 100,000 fuzz cases); tens of minutes",
    )


@pytest.fixture(scope="session")
def long_run(request: pytest.FixtureRequest) -> bool:
    """True under ``--long``: reliability tests use their full-size figures."""
    return bool(request.config.getoption("--long"))


@pytest.fixture(autouse=True)
def _no_background_warming(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built on SQL stores start a cache-warming thread (``warm_cache_interval_s``),
    its first pass a minute later: never during a test that did not ask for one (a pass
    would add day-cache rows under the test, or reach a store the test closed)."""
    from sentiero.analytics import warm

    monkeypatch.setattr(warm, "START_DELAY_S", 1e9)
