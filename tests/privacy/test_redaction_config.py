from __future__ import annotations

import re

import pytest

from sentiero.privacy.redaction import RedactionConfig, Redactor
from sentiero.settings import ConfigurationError


def test_defaults() -> None:
    cfg = RedactionConfig()
    assert cfg.url_mode == "strip"
    assert cfg.to_client() == {
        "urlMode": "strip",
        "urlParamAllowlist": [],
        "urlParamDenylist": [],
        "disabledPatterns": [],
        "customPatterns": [],
        "scanDom": True,
    }


def test_to_client() -> None:
    cfg = RedactionConfig(
        url_mode="keep_filtered",
        url_param_allowlist=["Q"],
        url_param_denylist=["utm"],
        disabled_patterns=["card", "email"],
        custom_patterns=["x+"],
        scan_dom=False,
        server_hook=lambda e: e,
    )
    # Same literal as frontend/test/redaction.test.js ("to_client shape ..."); server-only
    # options (server_hook) never reach the browser.
    assert cfg.to_client() == {
        "urlMode": "keepFiltered",
        "urlParamAllowlist": ["q"],
        "urlParamDenylist": ["utm"],
        "disabledPatterns": ["email", "card"],
        "customPatterns": ["x+"],
        "scanDom": False,
    }


def test_compiled_patterns_are_accepted_and_sent_as_sources() -> None:
    cfg = RedactionConfig(custom_patterns=[re.compile(r"EMP\d+")])
    assert cfg.to_client()["customPatterns"] == [r"EMP\d+"]
    assert Redactor(cfg).redact_text("EMP42") == "[redacted]"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url_mode": "keepFiltered"}, "url_mode"),
        ({"url_mode": "nope"}, "url_mode"),
        ({"disabled_patterns": ["phone"]}, "unknown pattern"),
        ({"scan_dom": "yes"}, "scan_dom"),
        ({"disabled_patterns": "email"}, "list of strings"),
        ({"url_param_allowlist": "token"}, "list of strings"),
        ({"url_param_denylist": [1]}, "hold strings"),
        ({"custom_patterns": ["(unclosed"]}, "invalid"),
        ({"custom_patterns": ["a*"]}, "empty string"),
        ({"custom_patterns": "abc"}, "list of regex"),
        ({"custom_patterns": [42]}, "regex strings"),
        ({"server_hook": "not callable"}, "callable"),
    ],
)
def test_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RedactionConfig(**kwargs)


def test_config_is_normalized_and_frozen() -> None:
    cfg = RedactionConfig(url_param_denylist=["A", "b"], disabled_patterns=["card", "url"])
    assert cfg.url_param_denylist == ("a", "b")
    assert cfg.disabled_patterns == ("url", "card")
    with pytest.raises(AttributeError):
        cfg.url_mode = "keep_all"  # type: ignore[misc]
