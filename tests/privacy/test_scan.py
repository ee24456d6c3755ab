"""`sentiero scan`: candidate personal data in what a store holds, masked, with links."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sentiero.cli import main
from sentiero.ingest.pipeline import build_batch
from sentiero.privacy.redaction import BUILTIN_PATTERNS, RedactionConfig
from sentiero.privacy.scan import Scanner, excerpt, scan_store
from sentiero.settings import Settings
from sentiero.stores.sql import SQLStore
from tests.fixtures import RRWEB_DIR

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLXNlZWQ"
SEEDED = {
    "email": "ann.seeded@example.org",
    "card": "4111 1111 1111 1111",
    "phone": "+49 30 1234 5678",
    "jwt": JWT,
    "bearer": "Bearer abcDEF123456ghiJKL789",
    "iban": "DE89 3704 0044 0532 0130 00",
    "long_hex": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "custom": "EMP-004711",
}
UNSCRUBBED = Settings(mask_all_inputs=False, redaction=RedactionConfig(
    scan_dom=False, disabled_patterns=list(BUILTIN_PATTERNS)))


def store_fixtures(store: SQLStore, settings: Settings) -> None:
    for path in sorted(RRWEB_DIR.glob("*.json.gz")):
        recording = json.loads(gzip.decompress(path.read_bytes()))
        for window in recording["windows"]:
            events = window["events"]
            for seq, start in enumerate(range(0, len(events), 50)):
                payload = {"sessionId": recording["session_id"], "windowId": window["window_id"],
                           "seq": seq, "events": events[start:start + 50]}
                store.save_batch(build_batch(payload, settings, None))


def store_seeded(store: SQLStore, settings: Settings) -> None:
    text = " | ".join(f"{kind}: {value}" for kind, value in SEEDED.items())
    node = {"type": 0, "id": 1, "childNodes": [{"type": 2, "id": 2, "tagName": "p",
            "attributes": {"title": SEEDED["email"]},
            "childNodes": [{"type": 3, "id": 3, "textContent": text}]}]}
    events = [
        {"type": 4, "timestamp": 1_700_000_000_000, "data": {"href": "https://a.test/", "width": 1,
                                                              "height": 1}},
        {"type": 2, "timestamp": 1_700_000_000_100, "data": {"node": node}},
        {"type": 5, "timestamp": 1_700_000_000_200,
         "data": {"tag": "signup", "payload": {"who": SEEDED["email"]}}},
    ]
    payload = {"sessionId": "seeded-1", "windowId": "w1", "seq": 0, "events": events,
               "metadata": {"owner": SEEDED["phone"]}}
    store.save_batch(build_batch(payload, settings, None))
    if payload.get("metadata"):
        store.save_metadata("seeded-1", build_batch(payload, settings, None).metadata)


@pytest.fixture()
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/scan.db"


def run_scan(db: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["scan", "--store", db, "--pattern", r"EMP-\d{6}", *args],
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_every_fixture_recording_stored_with_defaults_has_no_findings(db: str) -> None:
    store = SQLStore(db)
    store_fixtures(store, Settings())
    store.close()
    code, output = run_scan(db)
    assert "Scanned 5 sessions" in output
    assert "No candidate personal data found." in output
    assert code == 0


def test_defaults_remove_what_the_engine_knows_phone_and_iban_need_custom_patterns(
    db: str,
) -> None:
    store = SQLStore(db)
    store_seeded(store, Settings())
    store.close()
    code, output = run_scan(db, "--json")
    assert code == 1
    assert set(json.loads(output[output.index("{"):])["counts"]) == {"phone", "iban", "custom"}


def test_seeded_pii_in_an_unscrubbed_store_is_found_masked_and_linked(db: str) -> None:
    store = SQLStore(db)
    store_seeded(store, UNSCRUBBED)
    store.close()
    code, output = run_scan(db, "--json", "--base-url", "https://rec.example/sentiero/")
    assert code == 1
    report = json.loads(output[output.index("{"):])
    assert set(report["counts"]) == set(SEEDED), report["counts"]
    assert set(report["sessions"]) == {"seeded-1"}
    places = {f["place"] for f in report["findings"]}
    assert {"events", "metadata"} <= places
    snapshot = next(f for f in report["findings"] if "textContent" in f["path"])
    assert snapshot["link"] == ("https://rec.example/sentiero/sessions/seeded-1/windows/w1"
                                "?t=1700000000100")
    code, text = run_scan(db)
    for value in SEEDED.values():  # never a value in full, in either report
        assert value not in output
        assert value not in text
    assert code == 1 and "Found" in text and "seeded-1" in text and "email" in text


def test_scan_store_reports_progress(db: str) -> None:
    store = SQLStore(db)
    store_seeded(store, UNSCRUBBED)
    calls: list[tuple[int, int]] = []
    report = scan_store(store, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 1)]
    assert report.sessions == 1 and report.events == 3


@pytest.mark.parametrize(("text", "kinds"), [
    ("call +44 20 7946 0958 now", ["phone"]),
    ("(555) 123-4567", ["phone"]),
    ("GB82 WEST 1234 5698 7654 32", ["iban"]),
    ("GB82 WEST 1234 5698 7654 33", []),  # fails mod 97
    ("order 2024-05-01 12:00:00, 1,234 items, v2.11.0", []),
    ("4111 1111 1111 1112", []),  # fails Luhn
])
def test_detectors(text: str, kinds: list[str]) -> None:
    assert [kind for kind, _ in Scanner().scan_text(text)] == kinds


def test_excerpts_never_hold_the_value() -> None:
    assert excerpt("ann.seeded@example.org") == "an…rg"
    assert excerpt("abcdefg") == "a…g"
    assert excerpt("abc") == "…"


def test_bad_pattern_is_a_clear_error(db: str) -> None:
    result = CliRunner().invoke(main, ["scan", "--store", db, "--pattern", "(unclosed"])
    assert result.exit_code == 2 and "invalid regex" in result.output
