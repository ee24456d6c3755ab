"""The shared case table: the recorder's redaction.js must give the same answers (see
frontend/test/redaction.test.js)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiero.privacy.redaction import RedactionConfig, Redactor

TABLE = Path(__file__).resolve().parents[1] / "fixtures" / "redaction_cases.json"
CASES = json.loads(TABLE.read_text(encoding="utf-8"))["cases"]


def test_table_is_big_enough_and_covers_every_kind() -> None:
    assert len(CASES) >= 40
    assert {c["kind"] for c in CASES} == {"text", "url", "event", "metadata"}
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict) -> None:
    redactor = Redactor(RedactionConfig(**case["config"]))
    run = {
        "text": redactor.redact_text,
        "url": redactor.redact_url,
        "event": redactor.redact_event,
        "metadata": redactor.redact_metadata,
    }[case["kind"]]
    before = json.dumps(case["input"], sort_keys=True)
    assert run(case["input"]) == case["expected"]
    assert json.dumps(case["input"], sort_keys=True) == before, "input was mutated"
    # redacting twice changes nothing more
    assert run(case["expected"]) == case["expected"]
