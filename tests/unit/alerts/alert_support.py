"""Helpers for alert tests, which deliver to real servers on 127.0.0.1: pytest-httpserver
(Slack, PagerDuty), aiosmtpd (e-mail), a file (jsonl). Delivery bounds are shrunk so that
failures cost milliseconds."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

from lakehouse.alerts import Alerter
from lakehouse.alerts.ledger import ledger_path
from lakehouse.config.models import Settings
from lakehouse.engine.deltars import DeltaRsEngine

FAST = {
    "timeout_seconds": 0.5,
    "attempts": 3,
    "backoff_seconds": 0.01,
    "alert_budget_seconds": 3,
    "run_budget_seconds": 10,
}
SLACK_URL_ENV = "LAKEHOUSE_SLACK_WEBHOOK_URL"
PD_KEY_ENV = "LAKEHOUSE_PAGERDUTY_ROUTING_KEY"
SMTP_PASSWORD_ENV = "LAKEHOUSE_SMTP_PASSWORD"
PD_KEY = "R0UT1NGKEY0123456789abcdef012345"
SMTP_PASSWORD = "smtp-pa55word-xyz"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_with(tmp_path: Path, sinks: list[dict[str, Any]], **delivery: Any) -> Settings:
    return Settings.model_validate(
        {
            "lake_root": tmp_path / "lake",
            "landing_dir": tmp_path / "landing",
            "alerts": {"sinks": sinks, "delivery": {**FAST, **delivery}},
        }
    )


def alerter_for(settings: Settings, environ: Mapping[str, str]) -> Alerter:
    return Alerter.from_settings(settings, DeltaRsEngine(), environ=environ)


def ledger_rows(settings: Settings) -> list[dict[str, Any]]:
    engine = DeltaRsEngine()
    path = ledger_path(settings.lake_root)
    return engine.read(path).to_pylist() if engine.exists(path) else []


@dataclass
class Inbox:
    """What the SMTP server received: (from, to, message text)."""

    messages: list[tuple[str, list[str], str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), text))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login == b"lakehouse" and auth_data.password == SMTP_PASSWORD.encode()
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def record_text(record: logging.LogRecord) -> str:
    """A record's message and every field, as the log formatter would write them."""
    return record.getMessage() + " " + " ".join(f"{k}={v}" for k, v in vars(record).items())
