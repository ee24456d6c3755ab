"""``manage.py check`` says what is wrong with ``settings.SENTIERO`` and how to fix it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.test import override_settings


def problems(**overrides: Any) -> list[checks.CheckMessage]:
    with override_settings(**overrides):
        return checks.run_checks(tags=["sentiero"])


def test_a_valid_configuration_passes() -> None:
    assert problems(SENTIERO={"retention_period_s": 86400, "capture_clicks": True,
                              "cors_origins": ["https://shop.example"]}) == []


@pytest.mark.parametrize(("sentiero", "check_id", "says", "hint"), [
    ({"retention_priod_s": 10}, "sentiero.E002", "unknown option 'retention_priod_s'",
     "Did you mean 'retention_period_s'?"),
    ({"cors_origins": ["*"]}, "sentiero.E003", "cors_origins entry '*'", "settings.SENTIERO"),
    ({"retention_period_s": -1}, "sentiero.E003", "positive number of seconds", None),
    ({"database": "analytics"}, "sentiero.E004", "'analytics' is not a key", "'default'"),
    ({"auth": "myproject.nowhere.staff"}, "sentiero.E005", "cannot be imported", "dotted path"),
    (["not", "a", "dict"], "sentiero.E001", "must be a dict", "SENTIERO = {"),
])
def test_mistakes_are_named_with_their_fix(sentiero: Any, check_id: str, says: str,
                                           hint: str | None) -> None:
    found = problems(SENTIERO=sentiero)
    assert [p.id for p in found] == [check_id]
    assert says in found[0].msg
    if hint:
        assert hint in found[0].hint


def test_default_staff_auth_needs_the_auth_middleware() -> None:
    from django.conf import settings

    middleware = [m for m in settings.MIDDLEWARE if "AuthenticationMiddleware" not in m]
    found = problems(MIDDLEWARE=middleware, SENTIERO={})
    assert [p.id for p in found] == ["sentiero.E011"]
    assert "AuthenticationMiddleware" in found[0].hint
    # with an auth of its own, the project needs no auth middleware
    assert problems(MIDDLEWARE=middleware, SENTIERO={"basic_auth": ("a", "b")}) == []


def test_checks_run_with_manage_py_check() -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with override_settings(SENTIERO={"flush_interval_ms": 0}), \
            pytest.raises(SystemCheckError) as failure:
        call_command("check")
    assert "sentiero.E003" in str(failure.value)
    assert "flush_interval_ms must be a positive integer" in str(failure.value)


def test_a_project_without_the_mount_is_warned() -> None:
    found = problems(ROOT_URLCONF="tests.contrib.django_urls_without_mount")
    assert [p.id for p in found] == ["sentiero.W001"]
    assert 'include("sentiero.contrib.django.urls")' in found[0].hint
