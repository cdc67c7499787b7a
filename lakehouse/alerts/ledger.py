"""The alert ledger ``<lake_root>/audit/alerts``: append-only, one row per event, sink and
status change (PENDING -> DELIVERED / FAILED, or SUPPRESSED).

An alert is recorded PENDING before it is sent, so a crash never loses it: the next run's
``Alerter`` delivers every (event, sink) whose latest row is not DELIVERED or SUPPRESSED.
Open conditions (a trigger with no later resolve, per dedup key and sink) are derived from
the same rows. Rows hold identifiers, counts and reason codes; the payload is
``Alert.payload()``, never a secret.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import pyarrow as pa

from lakehouse.alerts.event import Alert
from lakehouse.engine.base import TableEngine

__all__ = [
    "LEDGER_SCHEMA",
    "DeliveryStatus",
    "LedgerRow",
    "LedgerState",
    "append_rows",
    "ledger_path",
    "ledger_view",
    "read_rows",
]


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # recorded, not yet sent
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # every attempt of a run failed; retried by the next run
    SUPPRESSED = "SUPPRESSED"  # a repeat of an open alert within the window: not sent


_DONE = (DeliveryStatus.DELIVERED, DeliveryStatus.SUPPRESSED)

LEDGER_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("sink", pa.string()),
        ("status", pa.string()),
        ("action", pa.string()),
        ("kind", pa.string()),
        ("severity", pa.string()),
        ("dedup_key", pa.string()),
        ("client_id", pa.string()),
        ("file_name", pa.string()),
        ("run_id", pa.string()),  # the run that raised the alert
        ("raised_at", pa.timestamp("us", tz="UTC")),
        ("recorded_at", pa.timestamp("us", tz="UTC")),
        ("attempts", pa.int32()),  # attempts behind this row (0 for PENDING/SUPPRESSED)
        ("error", pa.string()),  # the last attempt's error class (never its message)
        ("payload", pa.string()),  # JSON of Alert.payload()
    ]
)


def ledger_path(lake_root: Path) -> Path:
    return lake_root / "audit" / "alerts"


@dataclass(frozen=True)
class LedgerRow:
    event_id: str
    sink: str
    status: DeliveryStatus
    alert: Alert
    recorded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    attempts: int = 0
    error: str | None = None

    def as_row(self) -> dict[str, object]:
        alert = self.alert
        return {
            "event_id": self.event_id,
            "sink": self.sink,
            "status": self.status.value,
            "action": alert.action,
            "kind": alert.kind.value,
            "severity": alert.severity.value,
            "dedup_key": alert.dedup_key,
            "client_id": alert.client_id,
            "file_name": alert.file_name,
            "run_id": alert.run_id,
            "raised_at": alert.raised_at,
            "recorded_at": self.recorded_at,
            "attempts": self.attempts,
            "error": self.error,
            "payload": json.dumps(alert.payload(), sort_keys=True),
        }

    def settled(self, status: DeliveryStatus, attempts: int, error: str | None) -> LedgerRow:
        return replace(
            self,
            status=status,
            attempts=attempts,
            error=error,
            recorded_at=dt.datetime.now(dt.UTC),
        )


def read_rows(engine: TableEngine, path: Path) -> list[LedgerRow]:
    """Every ledger row (one read per run); [] when there is no ledger yet."""
    if not engine.exists(path):
        return []
    rows = []
    for row in engine.read(path).to_pylist():
        rows.append(
            LedgerRow(
                event_id=row["event_id"],
                sink=row["sink"],
                status=DeliveryStatus(row["status"]),
                alert=Alert.from_payload(json.loads(row["payload"])),
                recorded_at=row["recorded_at"],
                attempts=int(row["attempts"] or 0),
                error=row["error"],
            )
        )
    return rows


def append_rows(engine: TableEngine, path: Path, rows: Iterable[LedgerRow]) -> None:
    """One commit for a batch of rows (nothing when the batch is empty)."""
    batch = [row.as_row() for row in rows]
    if batch:
        engine.append(path, pa.Table.from_pylist(batch, schema=LEDGER_SCHEMA))


@dataclass
class LedgerState:
    """What the ledger says now, kept up to date as a run adds rows."""

    # (event id, sink) -> its latest row
    latest: dict[tuple[str, str], LedgerRow] = field(default_factory=dict)
    # (dedup key, sink) -> the latest trigger or resolve recorded there
    last_action: dict[tuple[str, str], LedgerRow] = field(default_factory=dict)
    # (dedup key, sink) -> when a trigger was last sent (not suppressed)
    last_sent: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[LedgerRow]) -> LedgerState:
        state = cls()
        # Scan order is not commit order: replay in time order.
        for row in sorted(rows, key=lambda r: (r.alert.raised_at, r.recorded_at)):
            state.apply(row)
        return state

    def apply(self, row: LedgerRow) -> None:
        event = (row.event_id, row.sink)
        previous = self.latest.get(event)
        # A delivered event stays delivered, whatever a late retry row says.
        if previous is None or previous.status not in _DONE:
            self.latest[event] = row
        condition = (row.alert.dedup_key, row.sink)
        last = self.last_action.get(condition)
        if last is None or last.alert.raised_at <= row.alert.raised_at:
            self.last_action[condition] = row
        if row.alert.action == "trigger" and row.status != DeliveryStatus.SUPPRESSED:
            sent = self.last_sent.get(condition)
            if sent is None or sent < row.alert.raised_at:
                self.last_sent[condition] = row.alert.raised_at

    def open_at(self, key: str, sink: str) -> bool:
        last = self.last_action.get((key, sink))
        return last is not None and last.alert.action == "trigger"

    def open_sinks(self, key: str) -> list[str]:
        return sorted(s for (k, s) in self.last_action if k == key and self.open_at(k, s))

    def undelivered(self) -> list[LedgerRow]:
        """(event, sink) pairs still to send, oldest first (a trigger before its resolve)."""
        todo = [r for r in self.latest.values() if r.status not in _DONE]
        return sorted(todo, key=lambda r: (r.alert.raised_at, r.event_id))

    def open_rows(self) -> list[LedgerRow]:
        """The trigger rows of every open condition, per sink."""
        return [row for row in self.last_action.values() if row.alert.action == "trigger"]


def ledger_view(
    engine: TableEngine, path: Path, *, open_only: bool = False
) -> list[dict[str, object]]:
    """One row per event and sink, its latest status (identifiers, counts, reason codes);
    ``open_only``: the triggers of conditions still open. Newest first."""
    state = LedgerState.of(read_rows(engine, path))
    rows = state.open_rows() if open_only else list(state.latest.values())
    if open_only:  # an open trigger's own delivery status, not its key's last action row
        rows = [state.latest.get((r.event_id, r.sink), r) for r in rows]
    view: list[dict[str, object]] = []
    for row in sorted(rows, key=lambda r: (r.alert.raised_at, r.sink), reverse=True):
        alert = row.alert
        view.append(
            {
                "raised_at": alert.raised_at,
                "kind": alert.kind.value,
                "action": alert.action,
                "severity": alert.severity.value,
                "client_id": alert.client_id,
                "subject": alert.file_name or alert.subject,
                "sink": row.sink,
                "status": row.status.value,
                "attempts": row.attempts,
                "error": row.error,
                "run_id": alert.run_id,
                "dedup_key": alert.dedup_key,
                "reason": alert.figures.get("reason"),
            }
        )
    return view
