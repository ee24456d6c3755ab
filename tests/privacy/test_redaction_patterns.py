"""Builtin patterns: properties (hypothesis), linear time, and parity with the recorder."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiero.privacy.patterns import luhn_valid
from sentiero.privacy.redaction import RedactionConfig, Redactor

ROOT = Path(__file__).resolve().parents[2]
REDACTOR = Redactor()

# Reference definitions, written the obvious (backtracking) way: fine for the short strings
# hypothesis makes, and independent of the linear-time implementation under test.
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
JWT = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
LONG_HEX = re.compile(r"(?<![A-Za-z0-9_])[0-9A-Fa-f]{32,}(?![A-Za-z0-9_])")
CARD_SHAPE = re.compile(r"[0-9]+(?:[ \-][0-9]+)*")
WORD = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def luhn_cards(text: str) -> list[str]:
    """Every bounded 13-19 digit span (single space/hyphen separators) passing Luhn."""
    found = []
    n = len(text)
    for i in range(n):
        if not text[i].isascii() or not text[i].isdigit() or (i and text[i - 1] in WORD):
            continue
        for j in range(i + 1, min(n, i + 40) + 1):
            if j < n and text[j] in WORD:
                continue
            span = text[i:j]
            if not CARD_SHAPE.fullmatch(span):
                continue
            digits = span.replace(" ", "").replace("-", "")
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                found.append(span)
    return found


FRAGMENTS = [
    "4111 1111 1111 1111",
    "4111111111111111",
    "378282246310005",
    "5555-5555-5555-4444",
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9",
    ".",
    "..",
    "@",
    "a@b.co",
    "ex.org",
    "0123456789abcdef",
    "deadbeef",
    " ",
    "-",
    "_",
    "Bearer ",
    "bearer\t",
    "http://",
    "https://x.io/",
    "?",
    "#",
    "[redacted]",
    "é",
    "1",
    "12",
    "x",
    "Z",
    "%40",
]
ALPHABET = "aeyJbcdefBDFxz0123456789.@-_ +%:/?#[]"
texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet=ALPHABET, max_size=6)), max_size=14
).map("".join) | st.text(max_size=60)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_output_holds_no_builtin_match(text: str) -> None:
    out = REDACTOR.redact_text(text)
    assert not EMAIL.search(out), out
    assert not JWT.search(out), out
    assert not LONG_HEX.search(out), out
    assert not luhn_cards(out), out


@settings(max_examples=400, deadline=None)
@given(texts)
def test_redaction_is_idempotent(text: str) -> None:
    once = REDACTOR.redact_text(text)
    assert REDACTOR.redact_text(once) == once


URL_ALPHABET = "aAe@.=&?#%/:Z09+-_ "
urls = st.tuples(
    st.sampled_from(["https://", "http://u:p@", "/", "", "HTTP://"]),
    st.lists(
        st.one_of(
            st.sampled_from(
                ["token=", "q=", "&", "?", "#", "%40", "%zz", "%E0%A4", "a@b.co", "eyJa.b.c", "="]
            ),
            st.text(alphabet=URL_ALPHABET, max_size=5),
        ),
        max_size=10,
    ).map("".join),
).map("".join)


@pytest.mark.parametrize("mode", ["strip", "keep_filtered", "keep_all"])
def test_url_redaction_is_idempotent(mode: str) -> None:
    redactor = Redactor(RedactionConfig(url_mode=mode))

    @settings(max_examples=300, deadline=None)
    @given(urls)
    def check(url: str) -> None:
        once = redactor.redact_url(url)
        assert redactor.redact_url(once) == once

    check()


ADVERSARIAL = {
    "email": "a" * 50_000 + "@" + "b" * 50_000,
    "email dots": "a@" + "a." * 50_000,
    "many ats": "a@" * 50_000,
    "jwt": "eyJ" * 34_000,
    "jwt dots": "eyJa." * 20_000,
    "url": "http://" * 15_000,
    "hex": ("a" * 31 + "g") * 3_200,
    "card": "1 " * 50_000,
    "card hyphens": "4-" * 50_000,
    "digits": "1" * 100_000,
    "bearer": "Bearer " * 15_000,
    "bearer spaces": "bearer" + " " * 100_000,
    "percent url": "https://a.io/?" + "q=%" * 30_000,
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_linear_time_on_100kb(name: str) -> None:
    """Redaction time grows linearly with hostile input: four times the text costs far less
    than the sixteen times a quadratic pattern would (a ratio, so a loaded machine that is
    slow on both sizes does not fail it; CPU time, best of five runs of each)."""
    text = ADVERSARIAL[name]
    redactor = Redactor(RedactionConfig(url_mode="keep_filtered"))

    def cost(sample: str) -> float:
        best = float("inf")
        for _ in range(5):  # CPU time of this process: other processes' load does not count
            start = time.process_time()
            redactor.redact_text(sample)
            redactor.redact_url(sample)
            best = min(best, time.process_time() - start)
        return best

    small, large = cost(text[: len(text) // 4]), cost(text)
    assert large < 10 * max(small, 1e-3)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_random_inputs_match_the_recorder() -> None:
    """Beyond the case table: 2,000 random strings through both engines must agree."""
    rng = random.Random(20240601)
    pieces = FRAGMENTS + ["token=", "&", "=", "%zz", "#/r?token=1", "://"]
    inputs = []
    for _ in range(2000):
        parts = [
            rng.choice(pieces) if rng.random() < 0.6 else rng.choice(ALPHABET)
            for _ in range(rng.randint(0, 12))
        ]
        inputs.append("".join(parts))
    modes = {"strip": "strip", "keep_filtered": "keepFiltered", "keep_all": "keepAll"}
    expected = {
        mode: [
            [
                Redactor(RedactionConfig(url_mode=mode)).redact_text(s),
                Redactor(RedactionConfig(url_mode=mode)).redact_url(s),
            ]
            for s in inputs
        ]
        for mode in modes
    }
    module = (ROOT / "frontend" / "src" / "recorder" / "redaction.js").as_uri()
    script = f"""
import {{ createRedactor }} from {json.dumps(module)};
import {{ readFileSync }} from "node:fs";
const {{ inputs, modes }} = JSON.parse(readFileSync(0, "utf8"));
const out = {{}};
for (const [mode, client] of Object.entries(modes)) {{
  const r = createRedactor({{ urlMode: client }});
  out[mode] = inputs.map((s) => [r.redactText(s), r.redactUrl(s)]);
}}
process.stdout.write(JSON.stringify(out));
"""
    proc = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=json.dumps({"inputs": inputs, "modes": modes}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    got = json.loads(proc.stdout)
    for mode in modes:
        for s, want, have in zip(inputs, expected[mode], got[mode], strict=True):
            assert have == want, (mode, s)
