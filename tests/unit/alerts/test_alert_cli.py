"""``lakehouse alerts [--json] [--open]`` and ``lakehouse alerts test --sink NAME``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alert_support import SLACK_URL_ENV, alerter_for, settings_with

from lakehouse.alerts import Alert, AlertKind
from lakehouse.cli import main


def _conf(tmp_path: Path) -> Path:
    conf = tmp_path / "lakehouse.yaml"
    conf.write_text(
        f"lake_root: {tmp_path / 'lake'}\n"
        f"landing_dir: {tmp_path / 'landing'}\n"
        "alerts:\n"
        "  sinks:\n"
        f"    - {{name: file, type: jsonl, path: {tmp_path / 'alerts.jsonl'}}}\n"
        f"    - {{name: team, type: slack, url_secret: {SLACK_URL_ENV}}}\n",
        encoding="utf-8",
    )
    return conf


def test_alerts_test_sends_a_test_alert_and_its_resolve_to_one_sink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SLACK_URL_ENV, "https://hooks.example.invalid/x")  # built, never used
    assert main(["alerts", "test", "--sink", "file", "--conf", str(_conf(tmp_path))]) == 0
    assert "test alert delivered to file" in capsys.readouterr().out
    lines = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [(x["kind"], x["action"]) for x in lines] == [("test", "trigger"), ("test", "resolve")]
    assert main(["alerts", "--json", "--conf", str(_conf(tmp_path))]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["sink"], r["action"], r["status"]) for r in rows} == {
        ("file", "trigger", "DELIVERED"),
        ("file", "resolve", "DELIVERED"),
        ("log", "trigger", "DELIVERED"),
        ("log", "resolve", "DELIVERED"),
    }


def test_alerts_open_lists_the_conditions_still_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_with(tmp_path, [])
    alerter = alerter_for(settings, {})
    alerter.emit(Alert(AlertKind.FILE_HELD, "acme", "acme_2026-03-01.csv", "r1", "held"))
    alerter.emit(Alert(AlertKind.FILE_FAILED, "acme", "acme_2026-03-02.csv", "r1", "failed"))
    alerter.emit(
        Alert(AlertKind.FILE_FAILED, "acme", "acme_2026-03-02.csv", "r2", "ok", action="resolve")
    )
    alerter.close()
    conf = tmp_path / "empty.yaml"
    conf.write_text(f"lake_root: {tmp_path / 'lake'}\n", encoding="utf-8")
    assert main(["alerts", "--open", "--conf", str(conf)]) == 0
    out = capsys.readouterr().out
    assert "file_held" in out and "acme_2026-03-01.csv" in out
    assert "file_failed" not in out


def test_a_missing_secret_stops_the_command_naming_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SLACK_URL_ENV, raising=False)
    monkeypatch.delenv("LAKEHOUSE_KEY_FILE", raising=False)
    assert main(["alerts", "test", "--sink", "team", "--conf", str(_conf(tmp_path))]) == 1
    assert f"needs secret {SLACK_URL_ENV}" in capsys.readouterr().err
