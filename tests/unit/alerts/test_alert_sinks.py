"""Each sink delivers to its real local receiver; the bodies are checked field by field."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

from alert_support import (
    PD_KEY,
    PD_KEY_ENV,
    SLACK_URL_ENV,
    SMTP_PASSWORD,
    SMTP_PASSWORD_ENV,
    Inbox,
    alerter_for,
    ledger_rows,
    settings_with,
)
from pytest_httpserver import HTTPServer

from lakehouse.alerts import Alert, AlertKind

HELD = Alert(
    AlertKind.FILE_HELD,
    "acme",
    "acme_2026-03-01.csv",
    "run-1",
    "file held: invalid ratio above threshold",
    {"reason": "invalid_ratio:0.4000>0.2", "rows_read": 10, "rows_quarantined": 4},
)
KEY = "lakehouse:file_held:acme:acme_2026-03-01.csv"


def _resolve(alert: Alert) -> Alert:
    return Alert(
        alert.kind, alert.client_id, alert.file_name, "run-2", "released", action="resolve"
    )


def test_slack_gets_blocks_with_client_file_reason_counts_run_and_next_command(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook/T000/B000", method="POST").respond_with_data("ok")
    settings = settings_with(
        tmp_path, [{"name": "team", "type": "slack", "url_secret": SLACK_URL_ENV}]
    )
    alerter = alerter_for(settings, {SLACK_URL_ENV: httpserver.url_for("/hook/T000/B000")})
    alerter.emit(HELD)
    summary = alerter.close()
    assert (summary.delivered, summary.pending) == (2, 0)  # log + slack
    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    body = request.get_json()
    assert body["text"].startswith("[lakehouse] WARNING file_held acme acme_2026-03-01.csv")
    header, message, fields, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "[lakehouse] WARNING file_held acme acme_2026-03-01.csv",
        },
    }
    assert message["text"]["text"] == "file held: invalid ratio above threshold"
    texts = [f["text"] for f in fields["fields"]]
    assert texts == [
        "*Client*\nacme",
        "*File*\nacme_2026-03-01.csv",
        "*Reason*\ninvalid_ratio:0.4000>0.2",
        "*Counts*\nrows_read=10, rows_quarantined=4",
        "*Run id*\nrun-1",
        "*Severity*\nwarning",
    ]
    assert "lakehouse release --file acme_2026-03-01.csv" in context["elements"][0]["text"]


def test_pagerduty_triggers_then_resolves_the_same_dedup_key(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_json(
        {"status": "success"}, status=202
    )
    sinks = [
        {
            "name": "oncall",
            "type": "pagerduty",
            "routing_key_secret": PD_KEY_ENV,
            "url": httpserver.url_for("/v2/enqueue"),
        }
    ]
    settings = settings_with(tmp_path, sinks)
    alerter = alerter_for(settings, {PD_KEY_ENV: PD_KEY})
    alerter.emit(HELD)
    alerter.close()
    assert alerter_for(settings, {PD_KEY_ENV: PD_KEY}).is_open(
        AlertKind.FILE_HELD, "acme", "acme_2026-03-01.csv"
    )
    later = alerter_for(settings, {PD_KEY_ENV: PD_KEY})  # the next run: reads the ledger
    later.emit(_resolve(HELD))
    later.close()
    trigger, resolve = (request.get_json() for request, _ in httpserver.log)
    assert trigger["routing_key"] == PD_KEY and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == KEY
    payload = trigger["payload"]
    assert payload["severity"] == "warning" and payload["source"] == "lakehouse"
    assert payload["summary"].startswith("[lakehouse] WARNING file_held acme")
    assert payload["class"] == "file_held" and payload["component"] == "acme"
    details = payload["custom_details"]
    assert details["client_id"] == "acme" and details["file_name"] == "acme_2026-03-01.csv"
    assert details["run_id"] == "run-1" and details["figures"]["rows_quarantined"] == 4
    assert resolve == {"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": KEY}
    assert not later.is_open(AlertKind.FILE_HELD, "acme", "acme_2026-03-01.csv")


def test_email_is_sent_over_smtp_with_login(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    sinks = [
        {
            "name": "mail",
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "user": "lakehouse",
            "password_secret": SMTP_PASSWORD_ENV,
            "sender": "lakehouse@example.org",
            "to": ["ops@example.org", "oncall@example.org"],
        }
    ]
    settings = settings_with(tmp_path, sinks)
    alerter = alerter_for(settings, {SMTP_PASSWORD_ENV: SMTP_PASSWORD})
    alerter.emit(HELD)
    assert alerter.close().pending == 0
    assert inbox.logins == ["lakehouse"]
    ((sender, recipients, text),) = inbox.messages
    assert sender == "lakehouse@example.org"
    assert recipients == ["ops@example.org", "oncall@example.org"]
    message = email.message_from_string(text, policy=email.policy.default)
    assert message["Subject"] == "[lakehouse] WARNING file_held acme acme_2026-03-01.csv"
    body = message.get_content()  # type: ignore[attr-defined]
    for line in (
        "client: acme",
        "file: acme_2026-03-01.csv",
        "reason: invalid_ratio:0.4000>0.2",
        "counts: rows_read=10, rows_quarantined=4",
        "run id: run-1",
        f"dedup key: {KEY}",
    ):
        assert line in body.splitlines()
    assert SMTP_PASSWORD not in text


def test_jsonl_appends_one_owner_only_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "alerts" / "alerts.jsonl"
    settings = settings_with(
        tmp_path, [{"name": "file", "type": "jsonl", "path": str(path), "min_severity": "info"}]
    )
    alerter = alerter_for(settings, {})
    alerter.emit(HELD)
    alerter.emit(_resolve(HELD))
    alerter.close()
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert (first["action"], first["kind"], first["severity"]) == (
        "trigger",
        "file_held",
        "warning",
    )
    assert first["dedup_key"] == second["dedup_key"] == KEY
    assert first["figures"] == {
        "reason": "invalid_ratio:0.4000>0.2",
        "rows_read": 10,
        "rows_quarantined": 4,
    }
    assert (second["action"], second["severity"]) == ("resolve", "info")
    assert path.stat().st_mode & 0o777 == 0o600
    statuses = sorted((r["sink"], r["action"], r["status"]) for r in ledger_rows(settings))
    assert statuses == [
        ("file", "resolve", "DELIVERED"),
        ("file", "resolve", "PENDING"),
        ("file", "trigger", "DELIVERED"),
        ("file", "trigger", "PENDING"),
        ("log", "resolve", "DELIVERED"),
        ("log", "resolve", "PENDING"),
        ("log", "trigger", "DELIVERED"),
        ("log", "trigger", "PENDING"),
    ]
