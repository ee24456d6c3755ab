"""Sentiero.script_tag(): the recorder config element and the hashed recorder script."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiero.app import Sentiero
from sentiero.stores.memory import MemoryStore
from sentiero.web.assets import AssetsNotBuiltError

CONFIG = re.compile(
    r'^<script type="application/json" id="sentiero-config">(?P<json>.*?)</script>\n'
    r'<script src="(?P<src>[^"]*)" defer></script>$',
    re.S,
)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "manifest.json").write_bytes(orjson.dumps({"recorder": "recorder-ABCD1234.js"}))
    (tmp_path / "recorder-ABCD1234.js").write_text("//")
    return tmp_path


def tag_parts(app: Sentiero, prefix: str | None = None) -> tuple[dict[str, Any], str, str]:
    tag = str(app.script_tag(prefix))
    match = CONFIG.match(tag)
    assert match, tag
    return orjson.loads(match["json"]), html.unescape(match["src"]), match["json"]


def make(dist: Path, **options: Any) -> Sentiero:
    return Sentiero(store=MemoryStore(), assets_dir=str(dist), **options)


def test_default_tag(dist: Path) -> None:
    config, src, _ = tag_parts(make(dist))
    assert src == "/sentiero/assets/recorder-ABCD1234.js"
    assert config == {
        "eventsUrl": "/sentiero/events",
        "flushIntervalMs": 10_000,
        "flushEventThreshold": 50,
        "recorderOptions": {
            "maskAllInputs": True,
            "maskInputOptions": {"password": True},
            "blockSelector": "[data-rr-block]",
            "maskTextSelector": "[data-rr-mask]",
            "ignoreSelector": "[data-rr-ignore]",
            "sampling": {"scroll": 150, "input": "last"},
        },
        "crossTabSessions": True,
        "sessionIdleTimeoutMs": 21_600_000,
        "sessionMaxAgeMs": 604_800_000,
        "respectGpc": True,
        # Settings.redaction's client half (RedactionConfig.to_client), default config
        "redaction": {
            "urlMode": "strip",
            "urlParamAllowlist": [],
            "urlParamDenylist": [],
            "disabledPatterns": [],
            "customPatterns": [],
            "scanDom": True,
        },
    }


def test_optional_flags_appear_only_when_on(dist: Path) -> None:
    config, _, _ = tag_parts(make(
        dist, capture_errors=True, capture_metadata=True, track_navigation=True,
        track_custom_events=True, capture_clicks=True, track_forms=True, capture_web_vitals=True,
        user_opt_out=True, opt_out_cookie_name="no_rec", respect_gpc=False,
    ))
    for key in ("captureErrors", "captureMetadata", "trackNavigation", "trackCustomEvents",
                "captureClicks", "trackForms", "captureWebVitals"):
        assert config[key] is True, key
    assert config["optOutCookieName"] == "no_rec"
    assert config["respectGpc"] is False
    assert "optOutCookieName" not in tag_parts(make(dist))[0]


def test_prefix_argument_and_public_url(dist: Path) -> None:
    config, src, _ = tag_parts(make(dist), prefix="/rec/")
    assert (config["eventsUrl"], src) == ("/rec/events", "/rec/assets/recorder-ABCD1234.js")
    config, src, _ = tag_parts(make(dist, public_url="https://rec.test/sentiero/"))
    assert config["eventsUrl"] == "https://rec.test/sentiero/events"
    assert src == "https://rec.test/sentiero/assets/recorder-ABCD1234.js"
    # a public URL without a path gets the mount prefix
    config, _, _ = tag_parts(make(dist, public_url="https://rec.test", prefix="/r"))
    assert config["eventsUrl"] == "https://rec.test/r/events"


def test_json_is_escaped_for_a_script_context(dist: Path) -> None:
    nasty = "</script><script>alert(1)</script>&\u2028\u2029"
    config, _, raw = tag_parts(make(dist, block_selector=nasty))
    assert config["recorderOptions"]["blockSelector"] == nasty
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in raw
    assert "\\u003c/script\\u003e" in raw


def test_recorder_url_is_html_escaped(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_bytes(orjson.dumps({"recorder": 'r"x<y>.js'}))
    tag = str(make(tmp_path).script_tag())
    assert 'src="/sentiero/assets/r&#34;x&lt;y&gt;.js"' in tag


def test_missing_build_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(AssetsNotBuiltError, match=r"npm ci && npm run build"):
        make(tmp_path / "nowhere").script_tag()


def test_tag_is_markup(dist: Path) -> None:
    assert hasattr(make(dist).script_tag(), "__html__")
