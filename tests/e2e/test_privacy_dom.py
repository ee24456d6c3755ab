"""Page content in real Chromium: what the page itself shows (an email, a card number, a
reset-token link, a JWT in a fragment, signed asset URLs) reaches no byte of storage with the
default settings, neither from the full snapshot nor from later mutations; the recorder already
sends it redacted; ``keep_filtered`` keeps cache-busting asset queries; ``mask_all_text`` stores
no page text outside ``data-sentiero-unmask`` regions."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from sentiero.app import Sentiero
from sentiero.privacy.redaction import RedactionConfig
from sentiero.stores.base import SessionQuery
from sentiero.stores.sql import SQLStore
from tests.e2e.test_privacy_canary import canary_site, storage_texts, stored_windows
from tests.e2e.test_record_replay import wait_for

pytestmark = pytest.mark.e2e

LEAKS = ["ann.canary@example.org", "ann.later@example.org", "4111 1111 1111 1111",
         "ResetCanary123", "SgnCanaryJwt", "eyJhbGciOiJIUzI1NiJ9", "SigCanary5", "CodeCanary9",
         "StyleCanary3", "BgCanary7", "LaterCanary8"]


class Sent:
    """WSGI middleware keeping every events request body as the browser sent it."""

    def __init__(self, app: Any) -> None:
        self.app, self.bodies = app, []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").endswith("/events") and environ["REQUEST_METHOD"] == "POST":
            import io

            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            self.bodies.append(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


def record_account_page(tmp_path: Path, live_server: Any, page: Any, *,
                        wait: str = "mutation", **settings: Any) -> tuple[Sentiero, Sent]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    sentiero = Sentiero(store=SQLStore(f"sqlite:///{tmp_path}/canary.db"),
                        allow_open_dashboard=True, flush_interval_ms=300, **settings)
    sent = Sent(canary_site(sentiero, unmask=False))
    server = live_server(sent)
    page.goto(f"{server.url}/account.html")
    page.wait_for_function("() => window.Sentiero && window.Sentiero.isRecording()")
    wait_for(lambda: snapshot_stored(sentiero), timeout=30)
    if wait == "mutation":
        page.evaluate("() => window.addLater()")
        wait_for(lambda: mutations_stored(sentiero), timeout=30)  # sent while the page is open
    page.goto("about:blank")
    return sentiero, sent


def mutations_stored(sentiero: Sentiero) -> bool:
    events = [e for _r, chunks in stored_windows(sentiero.store) for ev in chunks for e in ev]
    return any(add["node"].get("tagName") == "a"  # the link window.addLater() adds
               for e in events if e["type"] == 3 and e["data"].get("source") == 0
               for add in e["data"].get("adds") or ())


def snapshot_stored(sentiero: Sentiero) -> bool:
    return any(e["type"] == 2 for _r, chunks in stored_windows(sentiero.store)
               for ev in chunks for e in ev)


def all_stored(sentiero: Sentiero, tmp_path: Path) -> dict[str, bytes]:
    return storage_texts(sentiero, tmp_path)


def test_page_text_and_links_are_stored_redacted_by_default(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero, sent = record_account_page(tmp_path, live_server, page)
    texts = all_stored(sentiero, tmp_path)
    for leak in LEAKS:
        for where, blob in texts.items():
            assert leak.encode() not in blob, f"{leak} stored in {where}"
        for body in sent.bodies:  # the recorder already sent it redacted
            assert leak.encode() not in body, f"{leak} sent by the recorder"
    events = texts["events"]
    # not vacuous: the page is there, its links and assets without their queries (strip mode)
    assert b"Signed in as [redacted]" in events and b"Reset your password" in events
    assert b"/reset\"" in events and b"/pixel.png\"" in events
    assert b"Bilby Street" in events and b"Wombat points" in events
    assert sentiero.store.list_sessions(SessionQuery(limit=5))


def test_keep_filtered_keeps_cache_busting_queries(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero, _sent = record_account_page(
        tmp_path, live_server, page, redaction=RedactionConfig(url_mode="keep_filtered"))
    texts = all_stored(sentiero, tmp_path)
    for leak in LEAKS:
        for where, blob in texts.items():
            assert leak.encode() not in blob, f"{leak} stored in {where}"
    events = texts["events"]
    assert b"/pixel.png?v=42\"" in events, "the asset query survives"
    assert b"/reset?lang=en" in events, "only the token is gone"


MASKED_TEXT = ["Your account", "Signed in as", "Card on file", "Reset your password",
               "Welcome link", "Wombat points", "Sent to", "reset for"]
UNMASKED_TEXT = ["Opening hours", "Bilby Street"]


def test_mask_all_text_stores_only_unmasked_regions(
    tmp_path: Path, live_server: Any, page: Any
) -> None:
    sentiero, sent = record_account_page(tmp_path, live_server, page, mask_all_text=True)
    texts = all_stored(sentiero, tmp_path)
    for text in MASKED_TEXT + LEAKS:
        for where, blob in texts.items():
            assert text.encode() not in blob, f"{text!r} stored in {where}"
    for text in MASKED_TEXT[:-1]:  # rrweb masked it before sending (titles: the server)
        assert all(text.encode() not in body for body in sent.bodies), text
    for text in UNMASKED_TEXT:  # data-sentiero-unmask reveals its region
        assert text.encode() in texts["events"], text
    assert b"**** ** ****" in texts["events"], "page text is there, masked"


def test_scan_finds_the_page_pii_only_when_scrubbing_is_off(
    tmp_path: Path, live_server: Any, page: Any, browser: Any
) -> None:
    from sentiero.privacy.redaction import BUILTIN_PATTERNS
    from sentiero.privacy.scan import scan_store

    defaults, _ = record_account_page(tmp_path / "defaults", live_server, page)
    assert scan_store(defaults.store).findings == []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        off, _ = record_account_page(
            tmp_path / "off", live_server, context.new_page(), wait="snapshot",
            redaction=RedactionConfig(scan_dom=False, url_mode="keep_all",
                                      disabled_patterns=list(BUILTIN_PATTERNS)))
    finally:
        context.close()
    report = scan_store(off.store)
    assert {"email", "card", "jwt"} <= set(report.counts()), report.counts()
    assert all("ann.canary" not in f.excerpt for f in report.findings)
