"""Alerts: what operators must hear about (held and failed files, failed runs, sequence gaps,
late data), and when it has cleared.

``Alerter`` routes each alert to the log (always) and the sinks of ``conf/lakehouse.yaml``
(``alerts:``), records it in the ledger ``<lake_root>/audit/alerts`` before sending, and
retries what was not delivered on the next run. Alerts carry identifiers, counts and reason
codes only, never data values or secrets.
"""

from __future__ import annotations

from lakehouse.alerts.alerter import Alerter, DeliverySummary, Route
from lakehouse.alerts.config import AlertSettings
from lakehouse.alerts.event import Alert, AlertKind, Severity
from lakehouse.alerts.ledger import DeliveryStatus, ledger_path
from lakehouse.alerts.sinks import LogSink, Sink

__all__ = [
    "Alert",
    "AlertKind",
    "AlertSettings",
    "Alerter",
    "DeliveryStatus",
    "DeliverySummary",
    "LogSink",
    "Route",
    "Severity",
    "Sink",
    "ledger_path",
]
