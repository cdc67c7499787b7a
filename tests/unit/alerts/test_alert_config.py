"""The ``alerts:`` section and its secrets: typed, refused early, never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alert_support import PD_KEY, PD_KEY_ENV, SLACK_URL_ENV, alerter_for, settings_with

from lakehouse.alerts import Alerter
from lakehouse.config import load_settings
from lakehouse.errors import ConfigError
from lakehouse.pii.keys import KEY_FILE_ENV

SLACK = {"name": "team", "type": "slack", "url_secret": SLACK_URL_ENV}
URL = "https://hooks.example.org/services/T0/B0/s3cr3tT0k3n"


def _key_file(tmp_path: Path, secrets: dict[str, str], mode: int = 0o600) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {}, "secrets": secrets}), encoding="utf-8")
    path.chmod(mode)
    return path


def test_conf_yaml_alerts_section_loads_typed_and_refuses_unknown_keys(tmp_path: Path) -> None:
    conf = tmp_path / "lakehouse.yaml"
    conf.write_text(
        "alerts:\n"
        "  delivery: {timeout_seconds: 2, suppress_minutes: 30}\n"
        "  sinks:\n"
        "    - {name: ops, type: jsonl, path: lake/alerts.jsonl, clients: [acme]}\n"
        "    - {name: oncall, type: pagerduty, routing_key_secret: PD, min_severity: critical}\n",
        encoding="utf-8",
    )
    settings = load_settings(conf, environ={})
    ops, oncall = settings.alerts.sinks
    assert ops.clients == ("acme",) and oncall.min_severity == "critical"
    assert oncall.url == "https://events.pagerduty.com/v2/enqueue"  # type: ignore[union-attr]
    assert settings.alerts.delivery.timeout_seconds == 2
    conf.write_text("alerts:\n  sinks:\n    - {name: x, type: slack, url: y}\n", "utf-8")
    with pytest.raises(ConfigError, match=r"alerts\.sinks\[x\]\.url': unknown key"):
        load_settings(conf, environ={})


@pytest.mark.parametrize(
    ("sinks", "message"),
    [
        ([{**SLACK, "name": "log"}], "built-in log sink"),
        ([SLACK, SLACK], "unique: team"),
        (
            [
                {
                    "name": "m",
                    "type": "email",
                    "host": "h",
                    "sender": "a@b",
                    "to": ["c@d"],
                    "user": "u",
                }
            ],
            "both or neither",
        ),
    ],
)
def test_bad_sink_configs_are_refused(
    tmp_path: Path, sinks: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        settings_with(tmp_path, sinks)


def test_a_missing_secret_refuses_the_run_naming_the_sink_and_the_variable(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path, [SLACK])
    with pytest.raises(ConfigError) as error:
        alerter_for(settings, {})
    text = str(error.value)
    assert "alert sink 'team' needs secret LAKEHOUSE_SLACK_WEBHOOK_URL" in text
    assert "alerts.sinks.team.url_secret" in text and KEY_FILE_ENV in text


def test_a_secret_pasted_into_yaml_is_refused_without_repeating_it(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, [{**SLACK, "url_secret": URL}])
    with pytest.raises(ConfigError) as error:
        alerter_for(settings, {})
    assert "must name an environment variable" in str(error.value)
    assert "s3cr3t" not in str(error.value)


def test_a_webhook_secret_that_is_not_a_url_is_refused_without_showing_it(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path, [SLACK])
    with pytest.raises(ConfigError) as error:
        alerter_for(settings, {SLACK_URL_ENV: "s3cr3tT0k3n"})
    assert "not an http(s) URL" in str(error.value) and "s3cr3t" not in str(error.value)


def test_secrets_come_from_the_key_file_when_not_in_the_environment(tmp_path: Path) -> None:
    sinks = [SLACK, {"name": "pager", "type": "pagerduty", "routing_key_secret": PD_KEY_ENV}]
    settings = settings_with(tmp_path, sinks)
    key_file = _key_file(tmp_path, {SLACK_URL_ENV: URL, PD_KEY_ENV: PD_KEY})
    alerter = alerter_for(settings, {KEY_FILE_ENV: str(key_file)})
    assert alerter.sink_names == ["log", "team", "pager"]
    shown = repr(vars(alerter))
    assert "s3cr3t" not in shown and PD_KEY not in shown
    assert "<secret LAKEHOUSE_SLACK_WEBHOOK_URL>" in shown
    # The environment wins over the file.
    env = {KEY_FILE_ENV: str(key_file), SLACK_URL_ENV: "https://other.example.org/x"}
    assert alerter_for(settings, env).sink_names == ["log", "team", "pager"]


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, [SLACK])
    key_file = _key_file(tmp_path, {SLACK_URL_ENV: URL}, mode=0o644)
    with pytest.raises(ConfigError, match="readable or writable by other users") as error:
        alerter_for(settings, {KEY_FILE_ENV: str(key_file)})
    assert "chmod 600" in str(error.value) and "s3cr3t" not in str(error.value)


def test_without_sinks_only_the_log_sink_is_on(tmp_path: Path) -> None:
    alerter = Alerter.from_settings(
        settings_with(tmp_path, []),
        engine=None,
        environ={},  # type: ignore[arg-type]
    )
    assert alerter.sink_names == ["log"]


def test_alert_secrets_are_kept_out_of_sparks_jvm_and_workers(tmp_path: Path) -> None:
    from lakehouse.pii.keys import key_environment_removed
    from lakehouse.spark import security_conf

    settings = settings_with(tmp_path, [SLACK])
    assert settings.alerts.secret_names == (SLACK_URL_ENV,)
    assert security_conf(settings, local_dir=None)[f"spark.executorEnv.{SLACK_URL_ENV}"] == ""
    env = {SLACK_URL_ENV: URL, "PATH": "/bin"}
    with key_environment_removed(env, also=settings.alerts.secret_names):
        assert env == {"PATH": "/bin"}  # while the JVM starts
    assert env[SLACK_URL_ENV] == URL
