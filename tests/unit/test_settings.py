"""Settings: defaults, validation of the options, and SENTIERO_* environment parsing."""

from __future__ import annotations

from typing import Any

import pytest

from sentiero.privacy.redaction import RedactionConfig
from sentiero.settings import (
    DEFAULT_SESSION_IDLE_TIMEOUT_S,
    DEFAULT_SESSION_MAX_AGE_S,
    ConfigurationError,
    Settings,
)


def test_defaults() -> None:
    s = Settings()
    assert s.prefix == "/sentiero"
    assert s.max_body_bytes == 524_288
    assert s.respect_gpc is True and s.user_opt_out is False
    assert s.allow_open_dashboard is False and s.auth is None and s.basic_auth is None
    assert s.cors_origins == []
    for name in ("capture_errors", "capture_metadata", "track_navigation", "track_custom_events",
                 "capture_clicks", "track_forms", "capture_web_vitals"):
        assert getattr(s, name) is False, name
    assert s.assets_dir is None and s.public_url is None


@pytest.mark.parametrize("prefix", ["sentiero", "/sentiero/", "/a b", "/a//b"])
def test_bad_prefix(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        Settings(prefix=prefix)


def test_empty_and_nested_prefixes_are_fine() -> None:
    assert Settings(prefix="").prefix == ""
    assert Settings(prefix="/admin/rec").prefix == "/admin/rec"


@pytest.mark.parametrize("value", [("", "p"), ("u", ""), ("u",), "u:p", ("u", 1)])
def test_bad_basic_auth(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="basic_auth"):
        Settings(basic_auth=value)


def test_repr_does_not_show_the_basic_auth_password() -> None:
    assert "s3cret" not in repr(Settings(basic_auth=("admin", "s3cret")))


def test_basic_auth_list_becomes_tuple() -> None:
    assert Settings(basic_auth=["u", "p"]).basic_auth == ("u", "p")


def test_auth_must_be_callable() -> None:
    with pytest.raises(ConfigurationError, match="auth"):
        Settings(auth="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("origin", ["*", "https://a.test/", "a.test", "https://a.test/path",
                                    "null", ""])
def test_bad_cors_origin(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="cors_origins"):
        Settings(cors_origins=[origin])


@pytest.mark.parametrize("name", ["flush_interval_ms", "flush_event_threshold", "max_body_bytes",
                                  "max_events_per_request", "max_sessions",
                                  "max_events_per_session", "max_events_per_page"])
@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True])
def test_positive_integers(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings(**{name: value})


@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf"), "x", None])
def test_invalid_session_timings_fall_back_to_defaults(value: Any) -> None:
    s = Settings(session_idle_timeout_s=value, session_max_age_s=value)
    assert s.session_idle_timeout_s == DEFAULT_SESSION_IDLE_TIMEOUT_S
    assert s.session_max_age_s == DEFAULT_SESSION_MAX_AGE_S


def test_public_url_is_validated_and_normalized() -> None:
    assert Settings(public_url="https://rec.test/sentiero/").public_url == (
        "https://rec.test/sentiero")
    assert Settings(public_url="http://127.0.0.1:8000").public_url == "http://127.0.0.1:8000"
    for bad in ("rec.test", "ftp://rec.test", "https://rec.test/?x=1", "https://rec.test/#a", 5):
        with pytest.raises(ConfigurationError, match="public_url"):
            Settings(public_url=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["capture_clicks", "track_forms", "capture_web_vitals",
                                  "allow_open_dashboard", "respect_gpc"])
def test_flags_must_be_booleans(name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings(**{name: "yes"})


def test_assets_dir_accepts_paths(tmp_path: Any) -> None:
    assert Settings(assets_dir=tmp_path).assets_dir == str(tmp_path)
    with pytest.raises(ConfigurationError, match="assets_dir"):
        Settings(assets_dir=5)  # type: ignore[arg-type]


def test_opt_out_cookie_name() -> None:
    assert Settings(opt_out_cookie_name="my_opt-out").opt_out_cookie_name == "my_opt-out"
    with pytest.raises(ConfigurationError, match="opt_out_cookie_name"):
        Settings(opt_out_cookie_name="bad name")


def test_password_masking_cannot_be_turned_off() -> None:
    s = Settings(mask_input_options={"password": False},
                 recorder_options={"maskInputOptions": {"password": False}})
    assert s.effective_recorder_options()["maskInputOptions"]["password"] is True


def test_from_env() -> None:
    env = {
        "SENTIERO_STORE_URL": "memory://",
        "SENTIERO_CORS_ORIGINS": "https://a.test, https://b.test",
        "SENTIERO_BASIC_AUTH": "admin:s3cret:with-colon",
        "SENTIERO_MAX_SESSIONS": "100",
        "SENTIERO_RESPECT_GPC": "false",
        "SENTIERO_CAPTURE_CLICKS": "yes",
        "SENTIERO_PUBLIC_URL": "https://rec.test",
    }
    s = Settings.from_env(env, prefix="/rec")
    assert s.store_url == "memory://"
    assert s.cors_origins == ["https://a.test", "https://b.test"]
    assert s.basic_auth == ("admin", "s3cret:with-colon")
    assert s.max_sessions == 100
    assert s.respect_gpc is False and s.capture_clicks is True
    assert s.public_url == "https://rec.test" and s.prefix == "/rec"


def test_from_env_rejects_malformed_values() -> None:
    with pytest.raises(ConfigurationError, match="SENTIERO_MAX_SESSIONS"):
        Settings.from_env({"SENTIERO_MAX_SESSIONS": "lots"})
    with pytest.raises(ConfigurationError, match="SENTIERO_BASIC_AUTH"):
        Settings.from_env({"SENTIERO_BASIC_AUTH": "nocolon"})


# --- privacy options ----------------------------------------------------------------------


def test_privacy_defaults() -> None:
    s = Settings()
    assert s.redaction == RedactionConfig()
    assert s.retention_period_s is None
    assert s.anonymize_ip is True and s.trust_forwarded_for is False
    assert s.geo_source is None and s.audit is None
    assert s.max_decompressed_bytes == 4 * 1024 * 1024
    assert s.max_body_bytes == 512 * 1024


def test_redaction_accepts_a_config_or_its_arguments() -> None:
    config = RedactionConfig(url_mode="keep_all")
    assert Settings(redaction=config).redaction is config
    assert Settings(redaction={"url_mode": "keep_filtered"}).redaction.url_mode == "keep_filtered"
    with pytest.raises(ConfigurationError, match="RedactionConfig"):
        Settings(redaction="strip")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="url_mode"):
        Settings(redaction={"url_mode": "nope"})


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "30d", True])
def test_bad_retention_period(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="retention_period_s"):
        Settings(retention_period_s=value)


def test_retention_period_accepts_numbers() -> None:
    assert Settings(retention_period_s=86_400).retention_period_s == 86_400
    assert Settings(retention_period_s=0.5).retention_period_s == 0.5


@pytest.mark.parametrize("value", ["maxmind", "", 42, ["cloudflare"]])
def test_bad_geo_source(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="geo_source"):
        Settings(geo_source=value)


def test_geo_source_choices() -> None:
    assert Settings(geo_source="cloudflare").geo_source == "cloudflare"
    resolver = lambda environ: {}  # noqa: E731
    assert Settings(geo_source=resolver).geo_source is resolver


def test_audit_must_be_callable() -> None:
    with pytest.raises(ConfigurationError, match="audit"):
        Settings(audit="log")  # type: ignore[arg-type]
    assert Settings(audit=print).audit is print


@pytest.mark.parametrize("name", ["anonymize_ip", "trust_forwarded_for"])
def test_privacy_flags_must_be_booleans(name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings(**{name: "yes"})


@pytest.mark.parametrize("value", [0, -5, 1.5, True])
def test_bad_max_decompressed_bytes(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_decompressed_bytes"):
        Settings(max_decompressed_bytes=value)


def test_from_env_reads_privacy_options_and_skips_callables() -> None:
    env = {
        "SENTIERO_RETENTION_PERIOD_S": "2592000",
        "SENTIERO_ANONYMIZE_IP": "false",
        "SENTIERO_TRUST_FORWARDED_FOR": "1",
        "SENTIERO_GEO_SOURCE": "Cloudflare",
        "SENTIERO_MAX_DECOMPRESSED_BYTES": "8388608",
        "SENTIERO_REDACTION": '{"url_mode": "keep_filtered", "url_param_allowlist": ["plan"]}',
        "SENTIERO_AUDIT": "print",  # never read: a callable cannot come from the environment
        "SENTIERO_AUTH": "x",
    }
    s = Settings.from_env(env)
    assert s.retention_period_s == 2_592_000.0
    assert s.anonymize_ip is False and s.trust_forwarded_for is True
    assert s.geo_source == "cloudflare"
    assert s.max_decompressed_bytes == 8 * 1024 * 1024
    assert s.redaction == RedactionConfig(url_mode="keep_filtered", url_param_allowlist=["plan"])
    assert s.audit is None and s.auth is None


def test_from_env_rejects_malformed_privacy_values() -> None:
    with pytest.raises(ConfigurationError, match="SENTIERO_RETENTION_PERIOD_S"):
        Settings.from_env({"SENTIERO_RETENTION_PERIOD_S": "30d"})
    with pytest.raises(ConfigurationError, match="SENTIERO_REDACTION"):
        Settings.from_env({"SENTIERO_REDACTION": "[1]"})
    with pytest.raises(ConfigurationError, match="geo_source"):
        Settings.from_env({"SENTIERO_GEO_SOURCE": "maxmind"})


def test_privacy_levels_reach_the_recorder_only_when_on() -> None:
    default = Settings().effective_recorder_options()
    assert "maskAllText" not in default and "preserveInputLength" not in default
    strict = Settings(mask_all_text=True, mask_preserve_length=True).effective_recorder_options()
    assert strict["maskAllText"] is True and strict["preserveInputLength"] is True
    with pytest.raises(ConfigurationError, match="mask_all_text"):
        Settings(mask_all_text="yes")  # type: ignore[arg-type]
