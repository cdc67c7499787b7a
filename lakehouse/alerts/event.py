"""What an alert is: a kind, who and what it is about, a trigger or its resolve.

Alerts carry identifiers (client, file, run id), counts and reason codes only, never data
values. ``dedup_key`` names the condition (kind, client, subject), so a trigger and its
resolve meet at every sink, and repeats of one condition are recognised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "Action",
    "Alert",
    "AlertKind",
    "Figures",
    "Severity",
    "dedup_key",
    "severity_rank",
]

Action = Literal["trigger", "resolve"]
Figures = dict[str, float | int | str]


class AlertKind(StrEnum):
    FILE_HELD = "file_held"
    FILE_FAILED = "file_failed"
    RUN_FAILED = "run_failed"
    SEQUENCE_GAP = "sequence_gap"
    DATA_DELAY = "data_delay"
    DQ_DRIFT = "dq_drift"  # a file's figures outside its client's drift tolerance (alert)
    TEST = "test"  # `lakehouse alerts test --sink NAME`


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_TRIGGER_SEVERITY = {
    AlertKind.FILE_HELD: Severity.WARNING,
    AlertKind.FILE_FAILED: Severity.CRITICAL,
    AlertKind.RUN_FAILED: Severity.CRITICAL,
    AlertKind.SEQUENCE_GAP: Severity.WARNING,
    AlertKind.DATA_DELAY: Severity.WARNING,
    AlertKind.DQ_DRIFT: Severity.WARNING,
    AlertKind.TEST: Severity.INFO,
}
# What an operator runs next, by kind ({client} and {file} filled in).
_NEXT = {
    AlertKind.FILE_HELD: "lakehouse quarantine --client {client} --file {file}, then "
    "lakehouse release --file {file}",
    AlertKind.FILE_FAILED: "lakehouse audit --client {client} --status FAILED",
    AlertKind.RUN_FAILED: "lakehouse audit --client {client}; fix the cause and rerun",
    AlertKind.SEQUENCE_GAP: "ask the client for the missing files; lakehouse audit --client "
    "{client}",
    AlertKind.DATA_DELAY: "lakehouse status",
    AlertKind.DQ_DRIFT: "lakehouse drift --client {client} (the baseline) and lakehouse "
    "quarantine --client {client} --file {file}; ask the client whether the change is "
    "intended (if so, adjust drift: in clients/{client}.yaml: the baseline follows new files "
    "within its window)",
    AlertKind.TEST: "nothing (a test alert)",
}


def severity_rank(severity: Severity) -> int:
    return _RANK[severity]


def dedup_key(kind: AlertKind, client_id: str | None, subject: str) -> str:
    """The condition's stable name: the same for its trigger, repeats and resolve."""
    return f"lakehouse:{kind.value}:{client_id or '-'}:{subject or '-'}"


@dataclass(frozen=True)
class Alert:
    """One trigger or resolve of a condition.

    ``subject`` is what the condition is about when that is not ``file_name`` (a day for a
    sequence gap, a run's scope for ``run_failed``); ``next_step`` overrides the command the
    kind suggests.
    """

    kind: AlertKind
    client_id: str | None
    file_name: str
    run_id: str
    message: str
    figures: Figures = field(default_factory=dict)
    raised_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    action: Action = "trigger"
    subject: str = ""
    next_step: str = ""

    @property
    def severity(self) -> Severity:
        """critical: failures; warning: held, gap, delay, drift; info: every resolve."""
        return Severity.INFO if self.action == "resolve" else _TRIGGER_SEVERITY[self.kind]

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.kind, self.client_id, self.subject or self.file_name)

    @property
    def next_command(self) -> str:
        if self.action == "resolve":
            return "nothing: the condition has cleared"
        template = self.next_step or _NEXT[self.kind]
        return template.format(client=self.client_id or "<client>", file=self.file_name)

    @property
    def title(self) -> str:
        verb = "RESOLVED" if self.action == "resolve" else self.severity.value.upper()
        where = " ".join(p for p in (self.client_id, self.file_name or self.subject) if p)
        return f"[lakehouse] {verb} {self.kind.value}" + (f" {where}" if where else "")

    def payload(self) -> dict[str, Any]:
        """Identifiers, counts and reason codes: what every sink and the ledger receive."""
        return {
            "kind": self.kind.value,
            "action": self.action,
            "severity": self.severity.value,
            "dedup_key": self.dedup_key,
            "client_id": self.client_id,
            "file_name": self.file_name,
            "subject": self.subject,
            "run_id": self.run_id,
            "message": self.message,
            "figures": dict(self.figures),
            "next_step": self.next_step,
            "next_command": self.next_command,
            "raised_at": self.raised_at.isoformat(),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Alert:
        """The alert a ledger row recorded (to retry it in a later run)."""
        return cls(
            kind=AlertKind(data["kind"]),
            client_id=data.get("client_id"),
            file_name=str(data.get("file_name") or ""),
            run_id=str(data.get("run_id") or ""),
            message=str(data.get("message") or ""),
            figures=dict(data.get("figures") or {}),
            raised_at=dt.datetime.fromisoformat(data["raised_at"]),
            action="resolve" if data.get("action") == "resolve" else "trigger",
            subject=str(data.get("subject") or ""),
            next_step=str(data.get("next_step") or ""),
        )
