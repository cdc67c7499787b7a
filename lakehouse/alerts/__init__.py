"""Alerts: what operators must hear about (held files, failures), sent through sinks.

Sinks implement ``AlertSink``; the log sink is always on. Alerts carry identifiers and
figures only, never data values.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

__all__ = ["Alert", "AlertKind", "AlertSink", "LogAlertSink", "send"]

log = logging.getLogger(__name__)


class AlertKind(StrEnum):
    FILE_HELD = "file_held"
    FILE_FAILED = "file_failed"
    SEQUENCE_GAP = "sequence_gap"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    client_id: str | None
    file_name: str
    run_id: str
    message: str
    figures: dict[str, float | int | str] = field(default_factory=dict)
    raised_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class AlertSink(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


class LogAlertSink:
    """Writes each alert as one structured WARNING line (logger ``lakehouse.alerts``)."""

    name = "log"

    def send(self, alert: Alert) -> None:
        log.warning(
            "ALERT %s: %s",
            alert.kind.value,
            alert.message,
            extra={
                "client": alert.client_id,
                "file": alert.file_name,
                "run_id": alert.run_id,
                **{f"figure_{k}": v for k, v in alert.figures.items()},
            },
        )


def send(sinks: Sequence[AlertSink], alert: Alert) -> None:
    """Deliver to every sink; a failing sink is logged and never stops ingestion."""
    for sink in sinks:
        try:
            sink.send(alert)
        except Exception as exc:  # noqa: BLE001 - one broken sink must not lose the others
            log.error("alert sink failed", extra={"sink": sink.name, "error": type(exc).__name__})
