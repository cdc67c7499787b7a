"""Drift at the commit point: a file that drifts and goes on raises ``dq_drift`` per finding;
a held file raises one ``file_held`` carrying every drift figure (no ``dq_drift`` beside it);
the client's next file within tolerance resolves the condition."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

from alert_support import alerter_for, ledger_rows, settings_with

from lakehouse.alerts import Alerter, AlertKind
from lakehouse.audit import Status
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.ingest.job import Job
from lakehouse.ingest.outcome import FileAttempt, FileOutcome, alerts_for, commit, outcome_record
from lakehouse.pii.keys import KeyRing

ROWS = {
    "check": "row_count",
    "column": None,
    "observed": 3.0,
    "baseline": 40.0,
    "tolerance": 0.5,
    "low": 20.0,
    "high": 80.0,
    "action": "hold",
    "history": 5,
}
PHONE = {
    "check": "null_share",
    "column": "phone",
    "observed": 1.0,
    "baseline": 0.05,
    "tolerance": 0.1,
    "low": 0.0,
    "high": 0.15,
    "action": "alert",
    "history": 5,
}
CHECKED = ["row_count", "null_share:phone"]


def _job(tmp_path: Path, alerter: Alerter) -> Job:
    return Job(
        spark=cast(Any, None),  # the commit point never touches Spark
        settings=settings_with(tmp_path, []),
        clients={},
        keys=KeyRing(token_key_id="t", keys={"t": bytes([7]) * 32}),
        engine=DeltaRsEngine(),
        run_id="run",
        alerter=alerter,
    )


def _outcome(status: Status, findings: list[dict[str, Any]], reason: str | None = None) -> Any:
    merged = (3, 0, 0, 0) if status == Status.SUCCESS else (None, None, None, None)
    return FileOutcome(
        status,
        reason,
        3,
        3,
        0,
        *merged,
        column_stats={"phone": {"null": 3, "invalid": 0}},
        drift={"checked": CHECKED, "findings": findings},
    )


def _attempt(day: int) -> FileAttempt:
    return FileAttempt("acme", f"acme_2026-03-0{day}.csv", 1, creation_date=dt.date(2026, 3, day))


def test_a_drifting_file_that_goes_on_alerts_and_the_next_good_file_resolves(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path, [])
    alerter = alerter_for(settings, {})
    job = _job(tmp_path, alerter)
    alert_only = {**ROWS, "action": "alert"}
    record = outcome_record(job, _attempt(1), _outcome(Status.SUCCESS, [alert_only, PHONE]))
    triggers = [a for a in alerts_for(job, record) if a.kind == AlertKind.DQ_DRIFT]
    assert [(a.subject, a.action) for a in triggers] == [
        ("row_count", "trigger"),
        ("null_share:phone", "trigger"),
    ]
    rows = triggers[0]
    assert rows.figures == {
        "reason": "dq_drift:row_count",
        "row_count.observed": 3.0,
        "row_count.baseline": 40.0,
        "row_count.tolerance": 0.5,
        "row_count.allowed": "20..80",
    }
    assert "row count 3 outside 20..80 (baseline 40, the median of 5 files)" in rows.message
    assert rows.severity == "warning" and "clients/acme.yaml" in rows.next_command
    assert rows.dedup_key == "lakehouse:dq_drift:acme:row_count"
    commit(job, [record])
    assert alerter.is_open(AlertKind.DQ_DRIFT, "acme", "null_share:phone")
    # The next file: rows back to normal, phone still empty; then phone back too.
    commit(job, [outcome_record(job, _attempt(2), _outcome(Status.SUCCESS, [PHONE]))])
    assert not alerter.is_open(AlertKind.DQ_DRIFT, "acme", "row_count")
    assert alerter.is_open(AlertKind.DQ_DRIFT, "acme", "null_share:phone")
    commit(job, [outcome_record(job, _attempt(3), _outcome(Status.SUCCESS, []))])
    assert not alerter.is_open(AlertKind.DQ_DRIFT, "acme", "null_share:phone")
    alerter.close()
    sent = [
        (r["kind"], r["action"], r["dedup_key"].rsplit(":acme:", 1)[1])
        for r in sorted(ledger_rows(settings), key=lambda r: r["raised_at"])
        if r["status"] == "DELIVERED" and r["kind"] == "dq_drift"
    ]
    assert sent == [
        ("dq_drift", "trigger", "row_count"),
        ("dq_drift", "trigger", "null_share:phone"),
        ("dq_drift", "resolve", "row_count"),
        ("dq_drift", "resolve", "null_share:phone"),
    ]


def test_a_held_file_raises_one_file_held_with_every_drift_figure(tmp_path: Path) -> None:
    job = _job(tmp_path, alerter_for(settings_with(tmp_path, []), {}))
    reason = "invalid_ratio:0.3000>0.2;dq_drift:row_count"
    record = outcome_record(job, _attempt(1), _outcome(Status.HELD, [ROWS, PHONE], reason))
    alerts = alerts_for(job, record)
    assert not [a for a in alerts if a.kind == AlertKind.DQ_DRIFT and a.action == "trigger"]
    (held,) = [a for a in alerts if a.kind == AlertKind.FILE_HELD]
    assert held.message == (
        "file held: invalid ratio above threshold and data-quality drift "
        "(row_count, null_share:phone)"
    )
    assert held.figures["reason"] == reason
    assert held.figures["row_count.observed"] == 3.0
    assert held.figures["null_share:phone.allowed"] == "0..0.15"
    assert held.figures["rows_read"] == 3
    # The held file's audit row keeps the figures and the counts behind them.
    row = record.as_row()
    assert '"baseline": 40.0' in str(row["drift"]) and '"null": 3' in str(row["column_stats"])
