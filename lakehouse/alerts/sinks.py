"""Sinks: one delivery attempt of one alert (log, JSON lines, Slack, PagerDuty, e-mail).

A sink's ``deliver`` raises on failure (``DeliveryError``, ``OSError``, ...); retries, time
bounds and the ledger are the ``Alerter``'s job. Bodies are built from ``Alert.payload()``:
identifiers, counts and reason codes only. Secrets go on the wire and nowhere else.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from lakehouse.alerts.config import (
    EmailSinkConfig,
    JsonlSinkConfig,
    PagerDutySinkConfig,
    SinkConfig,
    SlackSinkConfig,
)
from lakehouse.alerts.event import Alert
from lakehouse.alerts.secrets import Secret, SecretSource
from lakehouse.errors import ConfigError, LakehouseError

__all__ = [
    "DeliveryError",
    "EmailSink",
    "JsonlSink",
    "LogSink",
    "PagerDutySink",
    "Sink",
    "SlackSink",
    "build_sink",
    "pagerduty_body",
    "slack_body",
]

log = logging.getLogger("lakehouse.alerts")


class DeliveryError(LakehouseError):
    """A sink answered but refused the alert; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, sink: str, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(f"alert sink '{sink}': {message}", step="alert")


class Sink(Protocol):
    name: str

    def deliver(self, alert: Alert, *, timeout: float) -> None: ...


class LogSink:
    """The built-in sink: one structured line per alert (logger ``lakehouse.alerts``)."""

    name = "log"

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        level = {"critical": logging.ERROR, "warning": logging.WARNING}.get(
            alert.severity.value, logging.INFO
        )
        prefix = "RESOLVED" if alert.action == "resolve" else "ALERT"
        log.log(
            level,
            "%s %s: %s",
            prefix,
            alert.kind.value,
            alert.message,
            extra={
                "client": alert.client_id,
                "file": alert.file_name,
                "run_id": alert.run_id,
                "dedup_key": alert.dedup_key,
                "severity": alert.severity.value,
                **{f"figure_{k}": v for k, v in alert.figures.items()},
            },
        )


class JsonlSink:
    """Appends ``Alert.payload()`` as one JSON line; the file is created owner-only."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(alert.payload(), sort_keys=True) + "\n"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        fd = os.open(self.path, flags, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line)


def _post_json(sink: str, url: str, body: Mapping[str, Any], timeout: float) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "lakehouse-alerts"},
    )
    try:
        # The URL's scheme is checked when the sink is built (http/https only).
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(4096)
    except urllib.error.HTTPError as exc:
        # Only the status: the error's URL and body may carry the secret (webhook token).
        retry = exc.code == 429 or exc.code >= 500
        raise DeliveryError(f"HTTP {exc.code}", sink=sink, permanent=not retry) from None


def _counts(alert: Alert) -> str:
    counts = [f"{k}={v}" for k, v in alert.figures.items() if k != "reason"]
    return ", ".join(counts) or "-"


def slack_body(alert: Alert) -> dict[str, Any]:
    """Slack blocks: title, message, client/file/reason/counts/run id, the next command."""
    fields = [
        ("Client", alert.client_id or "-"),
        ("File", alert.file_name or alert.subject or "-"),
        ("Reason", str(alert.figures.get("reason", "-")) or "-"),
        ("Counts", _counts(alert)),
        ("Run id", alert.run_id or "-"),
        ("Severity", alert.severity.value),
    ]
    return {
        "text": f"{alert.title}: {alert.message}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.message}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Next: `{alert.next_command}`"}],
            },
        ],
    }


class SlackSink:
    def __init__(self, name: str, url: Secret) -> None:
        self.name = name
        self._url = url

    def __repr__(self) -> str:
        return f"SlackSink({self.name!r}, url={self._url})"

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        _post_json(self.name, self._url.reveal(), slack_body(alert), timeout)


def pagerduty_body(alert: Alert, routing_key: str) -> dict[str, Any]:
    """Events API v2: ``trigger`` with a payload, or ``resolve`` of the same ``dedup_key``."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": alert.action,
        "dedup_key": alert.dedup_key,
    }
    if alert.action == "trigger":
        body["payload"] = {
            "summary": f"{alert.title}: {alert.message}"[:1024],
            "severity": alert.severity.value,
            "source": "lakehouse",
            "component": alert.client_id or "lakehouse",
            "class": alert.kind.value,
            "timestamp": alert.raised_at.isoformat(),
            "custom_details": {
                "client_id": alert.client_id,
                "file_name": alert.file_name,
                "subject": alert.subject,
                "run_id": alert.run_id,
                "figures": dict(alert.figures),
                "next_command": alert.next_command,
            },
        }
    return body


class PagerDutySink:
    def __init__(self, name: str, url: str, routing_key: Secret) -> None:
        self.name = name
        self.url = url
        self._routing_key = routing_key

    def __repr__(self) -> str:
        return f"PagerDutySink({self.name!r}, url={self.url!r}, routing_key={self._routing_key})"

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        _post_json(self.name, self.url, pagerduty_body(alert, self._routing_key.reveal()), timeout)


def email_message(alert: Alert, sender: str, to: tuple[str, ...]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = alert.title
    message["From"] = sender
    message["To"] = ", ".join(to)
    lines = [
        alert.message,
        "",
        f"kind: {alert.kind.value} ({alert.action}, {alert.severity.value})",
        f"client: {alert.client_id or '-'}",
        f"file: {alert.file_name or alert.subject or '-'}",
        f"reason: {alert.figures.get('reason', '-')}",
        f"counts: {_counts(alert)}",
        f"run id: {alert.run_id or '-'}",
        f"dedup key: {alert.dedup_key}",
        f"next: {alert.next_command}",
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


class EmailSink:
    def __init__(self, config: EmailSinkConfig, password: Secret | None) -> None:
        self.name = config.name
        self._config = config
        self._password = password

    def __repr__(self) -> str:
        return f"EmailSink({self.name!r}, host={self._config.host!r}, password={self._password})"

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        config = self._config
        message = email_message(alert, config.sender, config.to)
        with smtplib.SMTP(config.host, config.port, timeout=timeout) as smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.user and self._password is not None:
                smtp.login(config.user, self._password.reveal())
            smtp.send_message(message, from_addr=config.sender, to_addrs=list(config.to))


def _checked_url(secret: Secret, sink: str, key: str) -> Secret:
    if not secret.reveal().startswith(("https://", "http://")):
        raise ConfigError(
            f"alert sink '{sink}': the value of {secret.name} is not an http(s) URL "
            "(value withheld)",
            path="conf/lakehouse.yaml",
            key=f"alerts.sinks.{sink}.{key}",
            fix=f"set {secret.name} to the webhook's https:// URL",
        )
    return secret


def build_sink(config: SinkConfig, secrets: SecretSource) -> Sink:
    """The sink ``config`` describes, with its secrets resolved.

    Raises:
        ConfigError: a secret is missing or malformed; names the sink and the variable.
    """
    if isinstance(config, JsonlSinkConfig):
        return JsonlSink(config.name, config.path)
    if isinstance(config, SlackSinkConfig):
        url = secrets.get(config.url_secret, sink=config.name, key="url_secret")
        return SlackSink(config.name, _checked_url(url, config.name, "url_secret"))
    if isinstance(config, PagerDutySinkConfig):
        key = secrets.get(config.routing_key_secret, sink=config.name, key="routing_key_secret")
        return PagerDutySink(config.name, config.url, key)
    password = None
    if config.password_secret is not None:
        password = secrets.get(config.password_secret, sink=config.name, key="password_secret")
    return EmailSink(config, password)
