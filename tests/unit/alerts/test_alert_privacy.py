"""No PII and no secret in any alert: a member's quoted name inside an exception reaches
none of the sinks' received bodies, the log records or the ledger; neither do the secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, cast

import pytest
from alert_support import (
    PD_KEY,
    PD_KEY_ENV,
    SLACK_URL_ENV,
    SMTP_PASSWORD,
    SMTP_PASSWORD_ENV,
    Inbox,
    alerter_for,
    ledger_rows,
    record_text,
    settings_with,
)
from pytest_httpserver import HTTPServer

from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.ingest.job import Job
from lakehouse.ingest.outcome import FileAttempt, FileOutcome, StageClock, commit, settle
from lakehouse.ingest.run_alerts import alerting_run
from lakehouse.pii.keys import KeyRing

NAME = "O'Brien, Mary"
PII = ("O'Brien", "Brien", "Mary")
HOOK_TOKEN = "T0/B0/s3cr3tT0k3n"


def test_a_quoted_name_in_an_exception_reaches_no_sink_log_or_ledger(
    tmp_path: Path,
    httpserver: HTTPServer,
    smtp_server: tuple[Inbox, int],
    lakehouse_logs: list[logging.LogRecord],
) -> None:
    inbox, port = smtp_server
    httpserver.expect_request(f"/hook/{HOOK_TOKEN}").respond_with_data("ok")
    httpserver.expect_request("/v2/enqueue").respond_with_data("", status=202)
    jsonl = tmp_path / "alerts.jsonl"
    sinks: list[dict[str, Any]] = [
        {"name": "team", "type": "slack", "url_secret": SLACK_URL_ENV},
        {
            "name": "pager",
            "type": "pagerduty",
            "routing_key_secret": PD_KEY_ENV,
            "url": httpserver.url_for("/v2/enqueue"),
        },
        {
            "name": "mail",
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "user": "lakehouse",
            "password_secret": SMTP_PASSWORD_ENV,
            "sender": "lakehouse@example.org",
            "to": ["ops@example.org"],
        },
        {"name": "file", "type": "jsonl", "path": str(jsonl)},
    ]
    settings = settings_with(tmp_path, sinks)
    env = {
        SLACK_URL_ENV: httpserver.url_for(f"/hook/{HOOK_TOKEN}"),
        PD_KEY_ENV: PD_KEY,
        SMTP_PASSWORD_ENV: SMTP_PASSWORD,
    }
    alerter = alerter_for(settings, env)
    engine = DeltaRsEngine()
    job = Job(
        spark=cast(Any, None),  # the commit point never touches Spark
        settings=settings,
        clients={},
        keys=KeyRing(token_key_id="t", keys={"t": bytes([7]) * 32}),
        engine=engine,
        run_id="run-1",
        alerter=alerter,
    )
    attempt = FileAttempt(client_id="acme", file_name="acme_2026-03-01.csv", file_size=10)

    def broken(clock: StageClock) -> FileOutcome:
        raise ValueError(f'cannot parse DOB of member "{NAME}" as a date')

    with (
        pytest.raises(RuntimeError),
        alerting_run(alerter, mode="ingest", client_id="acme", run_id="run-1"),
    ):
        commit(job, [settle(job, attempt, broken)])  # file_failed
        raise RuntimeError(f"the stream stopped at row '{NAME}'")  # run_failed

    slack = [r.get_data(as_text=True) for r, _ in httpserver.log if r.path.startswith("/hook")]
    bodies = [*slack]
    bodies += [text for _, _, text in inbox.messages]
    bodies.append(jsonl.read_text(encoding="utf-8"))
    kinds = sorted(json.loads(line)["kind"] for line in jsonl.read_text().splitlines())
    assert kinds == ["file_failed", "run_failed"]
    assert len(httpserver.log) == 4 and len(inbox.messages) == 2  # each sink got both
    assert "<withheld>" in slack[1]  # the redacted error text is what is sent
    ledger = [json.dumps(row, default=str) for row in ledger_rows(settings)]
    logs = [record_text(record) for record in lakehouse_logs]
    assert any("ALERT run_failed" in line for line in logs)
    for text in bodies:
        for value in PII:
            assert value not in text, (value, text[:300])
    pager = [r.get_json() for r, _ in httpserver.log if r.path == "/v2/enqueue"]
    assert [body.pop("routing_key") for body in pager] == [PD_KEY, PD_KEY]  # on the wire only
    for text in [*bodies, *map(json.dumps, pager), *ledger, *logs]:
        for value in (*PII, "s3cr3t", PD_KEY, SMTP_PASSWORD):
            assert value not in text, (value, text[:300])
