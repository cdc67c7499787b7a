"""The ``alerts:`` section of ``conf/lakehouse.yaml``: sinks, routing and delivery bounds.

Secrets (webhook URLs, PagerDuty routing keys, SMTP passwords) are never in YAML: a sink
names the variable (``url_secret: LAKEHOUSE_SLACK_WEBHOOK_URL``) and ``Alerter.from_settings``
resolves it from the environment, then from the key file's ``"secrets"`` object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lakehouse.alerts.event import Severity

__all__ = [
    "PAGERDUTY_EVENTS_URL",
    "AlertSettings",
    "Delivery",
    "EmailSinkConfig",
    "JsonlSinkConfig",
    "PagerDutySinkConfig",
    "SinkConfig",
    "SlackSinkConfig",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_SINK_NAME = r"^[a-z][a-z0-9_-]{0,39}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Delivery(_Frozen):
    """How hard delivery tries, and how long it may hold a run up.

    One alert at one sink takes at most ``alert_budget_seconds``; a sink that fails an alert
    is not tried again in the same run (its alerts wait for the next run), and delivery stops
    for the run once ``run_budget_seconds`` are spent: what is left stays in the ledger.
    """

    timeout_seconds: float = Field(5.0, gt=0, le=60, description="Per attempt.")
    attempts: int = Field(3, ge=1, le=10, description="Per alert and sink, in one run.")
    backoff_seconds: float = Field(
        0.5, ge=0, le=30, description="Wait before the 2nd attempt; doubles for each next."
    )
    alert_budget_seconds: float = Field(20.0, gt=0, le=300)
    run_budget_seconds: float = Field(60.0, gt=0, le=3600)
    suppress_minutes: float = Field(
        60.0, ge=0, description="A repeat of an open alert within this window is not sent."
    )


class _Sink(_Frozen):
    name: str = Field(pattern=_SINK_NAME, description="Unique; 'log' is the built-in sink.")
    clients: tuple[str, ...] | None = Field(
        None, description="Only these clients' alerts (default: all, and client-less ones)."
    )
    min_severity: Severity = Field(
        Severity.WARNING,
        description="Triggers below it are not sent here; a resolve follows its trigger.",
    )


class JsonlSinkConfig(_Sink):
    """One JSON object per line, appended to ``path`` (mode 0600)."""

    type: Literal["jsonl"]
    path: Path


class SlackSinkConfig(_Sink):
    """A Slack-compatible incoming webhook; the URL is a secret."""

    type: Literal["slack"]
    url_secret: str = Field(description="Variable (or key-file secret) holding the URL.")


class PagerDutySinkConfig(_Sink):
    """PagerDuty Events API v2 (or a compatible endpoint)."""

    type: Literal["pagerduty"]
    routing_key_secret: str = Field(description="Variable (or key-file secret): routing key.")
    url: str = Field(PAGERDUTY_EVENTS_URL, pattern=r"^https?://")


class EmailSinkConfig(_Sink):
    """SMTP: one message per alert."""

    type: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    user: str | None = None
    password_secret: str | None = Field(None, description="Variable holding the password.")
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    to: tuple[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _password_with_user(self) -> EmailSinkConfig:
        if (self.user is None) != (self.password_secret is None):
            raise ValueError("user and password_secret go together (both or neither)")
        return self


SinkConfig = Annotated[
    JsonlSinkConfig | SlackSinkConfig | PagerDutySinkConfig | EmailSinkConfig,
    Field(discriminator="type"),
]


class AlertSettings(_Frozen):
    """Where alerts go besides the log (always on), and how delivery is bounded."""

    sinks: tuple[SinkConfig, ...] = ()
    delivery: Delivery = Delivery()

    @property
    def secret_names(self) -> tuple[str, ...]:
        """Variables the sinks take secrets from: kept out of Spark's JVM and workers."""
        names = []
        for sink in self.sinks:
            for key in ("url_secret", "routing_key_secret", "password_secret"):
                value = getattr(sink, key, None)
                if value:
                    names.append(str(value))
        return tuple(sorted(set(names)))

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSettings:
        names = [sink.name for sink in self.sinks]
        if "log" in names:
            raise ValueError("sink name 'log' is the built-in log sink; choose another name")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"sink names must be unique: {', '.join(duplicates)}")
        return self
