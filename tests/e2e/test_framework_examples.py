"""The Django and Flask examples end to end in real Chromium: a visitor's page records, an
anonymous user asking for the dashboard gets the framework's login, and after logging in as an
authorised user the dashboard replays the visit."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def visit_shop(page: Any, url: str) -> None:
    page.goto(url + "/")
    page.wait_for_function("() => window.Sentiero !== undefined")
    page.locator("#q").press_sequentially("kettle", delay=20)
    page.locator("#go").click()
    page.mouse.wheel(0, 400)
    page.wait_for_timeout(1500)  # past the example's 1 s flush interval


def replay_first_session(page: Any, url: str, intro: str) -> None:
    """On the dashboard listing: wait for the visit, open it, see the recorded page replay."""
    link = page.locator("a[href*='/sentiero/sessions/']").first
    for _ in range(20):
        if link.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    link.click()
    page.wait_for_selector("#sentiero-player iframe", timeout=15_000)
    frame = page.frame_locator("#sentiero-player iframe")
    frame.locator("#intro").wait_for(state="attached", timeout=15_000)
    assert intro in frame.locator("#intro").inner_text()
    assert page.evaluate("document.body.dataset.replayState") in ("playing", "paused")


def test_django_example_records_and_staff_replay(tmp_path: Path, browser: Any) -> None:
    pytest.importorskip("django")
    from tests import django_example as project

    env = project.prepare(tmp_path)
    with project.serve(env, "wsgi") as url:
        visitor = browser.new_context(viewport={"width": 1280, "height": 800})
        visit_shop(visitor.new_page(), url)
        visitor.close()

        staff = browser.new_context(viewport={"width": 1280, "height": 800})
        page = staff.new_page()
        page.goto(url + "/sentiero/")
        assert page.url == url + "/accounts/login/?next=/sentiero/"
        page.fill("#id_username", project.STAFF[0])
        page.fill("#id_password", project.STAFF[1])
        page.click("button[type=submit]")
        page.wait_for_url(url + "/sentiero/")
        replay_first_session(page, url, "Blue teapots")
        staff.close()

        other = browser.new_context()
        page = other.new_page()
        page.goto(url + "/accounts/login/?next=/sentiero/")
        page.fill("#id_username", project.VISITOR[0])
        page.fill("#id_password", project.VISITOR[1])
        with page.expect_response(lambda r: r.url == url + "/sentiero/") as refused:
            page.click("button[type=submit]")
        assert refused.value.status == 403
        other.close()


def test_flask_example_records_and_admin_replay(tmp_path: Path, browser: Any,
                                                live_server: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("flask_login")
    monkeypatch.setenv("SENTIERO_STORE_URL", f"sqlite:///{tmp_path / 'flask.db'}")
    monkeypatch.setenv("SHOP_ADMIN_PASSWORD", "admin-pw-for-tests")
    monkeypatch.setenv("SENTIERO_FLUSH_INTERVAL_MS", "1000")
    example = importlib.reload(importlib.import_module("examples.flask_app"))
    url = live_server(example.app).url

    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    visit_shop(visitor.new_page(), url)
    visitor.close()

    admin = browser.new_context(viewport={"width": 1280, "height": 800})
    page = admin.new_page()
    page.goto(url + "/sentiero/")
    assert page.url == url + "/login?next=%2Fsentiero%2F"
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "Wrong user or password."
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/sentiero/")
    replay_first_session(page, url, "Green kettles")
    admin.close()
