"""The one commit point of a file, for every way a file is processed.

The streaming run, ``release`` and ``backfill`` all end a file here, in the same order:

1. ``settle``: the file's work (``ingest.file.process_file``) becomes an ``AuditRecord``;
   an exception becomes a status: ``LandingFileError`` -> REJECTED (final, with its reason),
   anything else -> FAILED (retried; the error is kept without data values).
2. ``commit``: conserve (the counts must add up, or nothing is audited) -> audit (the commit
   point: from the audit row on, the outcome is final) -> alert -> archive. The alerts are
   recorded in the alert ledger just before the audit row and delivered just after it, so a
   crash at the commit point never loses one (the next run delivers what is PENDING).

The fault points ``before_audit`` and ``after_audit`` sit here, so the crash harness covers
all three ways alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from lakehouse.alerts import Alert, AlertKind
from lakehouse.alerts.event import Figures
from lakehouse.archive import archive_outcomes
from lakehouse.audit import AuditRecord, Status, append_audit, delivered_sequences, safe_error
from lakehouse.config.datasets import feed_of
from lakehouse.errors import ConservationError, LandingFileError
from lakehouse.evolution.plan import DRIFT_REASON
from lakehouse.landing.sequences import GAP_REASON, missing_sequences

if TYPE_CHECKING:
    from lakehouse.ingest.job import Job

__all__ = [
    "FileAttempt",
    "FileOutcome",
    "StageClock",
    "alert_for",
    "alerts_for",
    "commit",
    "failed",
    "outcome_record",
    "rejected",
    "settle",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileAttempt:
    """One attempt at one file: what its audit row says whatever the outcome."""

    client_id: str | None
    file_name: str
    file_size: int | None
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    file_sha256: str | None = None
    creation_date: dt.date | None = None
    sequence: int | None = None
    dataset: str | None = None  # None: no dataset was found for the file (misnamed, ...)

    def with_sha256(self, sha256: str) -> FileAttempt:
        return replace(self, file_sha256=sha256)


@dataclass(frozen=True)
class FileOutcome:
    """What the stages did with a file (counts are None for files that were not read)."""

    status: Status
    reason: str | None = None
    rows_read: int | None = None
    rows_valid: int | None = None
    rows_quarantined: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_unchanged: int | None = None
    rows_stale: int | None = None
    silver_version: int | None = None
    phi_redactions: dict[str, int] | None = None
    # What an operator must read about the outcome (e.g. the new columns of a schema_drift
    # hold): names and counts, never values. Kept in the audit row's ``error`` column.
    error: str | None = None
    column_stats: dict[str, dict[str, int]] | None = None
    drift: dict[str, Any] | None = None  # DriftReport.as_json()


@dataclass
class StageClock:
    """Seconds spent per stage of one attempt; kept on the audit row, failed or not."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            spent = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.seconds[name] = round(spent, 3)


def _record(job: Job, attempt: FileAttempt, clock: StageClock | None) -> AuditRecord:
    return AuditRecord(
        client_id=attempt.client_id,
        file_name=attempt.file_name,
        run_id=job.run_id,
        engine=job.engine.name,
        started_at=attempt.started_at,
        file_sha256=attempt.file_sha256,
        file_size=attempt.file_size,
        creation_date=attempt.creation_date,
        sequence=attempt.sequence,
        stage_seconds=dict(clock.seconds) if clock else {},
        dataset=attempt.dataset,
    )


def outcome_record(
    job: Job, attempt: FileAttempt, outcome: FileOutcome, clock: StageClock | None = None
) -> AuditRecord:
    record = _record(job, attempt, clock)
    for item in fields(FileOutcome):  # every outcome field is an audit column of that name
        setattr(record, item.name, getattr(outcome, item.name))
    record.finished_at = dt.datetime.now(dt.UTC)
    return record


def rejected(
    job: Job, attempt: FileAttempt, error: LandingFileError, clock: StageClock | None = None
) -> AuditRecord:
    """The audit row of a file that cannot be processed; its outcome is final."""
    record = _record(job, attempt, clock)
    record.client_id = record.client_id or error.client
    record.status = Status.REJECTED
    record.reason = error.reason
    record.error = error.message
    record.finished_at = dt.datetime.now(dt.UTC)
    log.warning("file rejected", extra={"file": attempt.file_name, "reason": error.reason})
    return record


def failed(
    job: Job, attempt: FileAttempt, exc: Exception, clock: StageClock | None = None
) -> AuditRecord:
    """An exception as an audit row: REJECTED for a ``LandingFileError``, else FAILED."""
    if isinstance(exc, LandingFileError):
        return rejected(job, attempt, exc, clock)
    record = _record(job, attempt, clock)
    record.status = Status.FAILED
    record.error = safe_error(exc)
    record.finished_at = dt.datetime.now(dt.UTC)
    log.error(
        "file failed",
        extra={"client": attempt.client_id, "file": attempt.file_name, "error": record.error},
    )
    return record


def settle(
    job: Job, attempt: FileAttempt, work: Callable[[StageClock], FileOutcome]
) -> AuditRecord:
    """Run ``work`` for ``attempt``; its outcome or its exception becomes the audit row."""
    clock = StageClock()
    try:
        outcome = work(clock)
    except Exception as exc:  # noqa: BLE001 - audited with its status; the caller decides
        return failed(job, attempt, exc, clock)
    return outcome_record(job, attempt, outcome, clock)


def commit(job: Job, records: Sequence[AuditRecord]) -> None:
    """Conserve -> audit -> alert -> archive, for final audit rows of one run.

    Raises:
        ConservationError: a row's counts do not add up (a bug, never bad data); nothing of
            ``records`` is audited, so their files are processed again.
    """
    if not records:
        return
    for record in records:
        record.finished_at = record.finished_at or dt.datetime.now(dt.UTC)
        if not record.conserved():
            raise ConservationError(
                "audit counts do not add up: read != valid + quarantined, or valid != "
                "inserted + updated + unchanged + stale",
                client=record.client_id,
                file=record.file_name,
                step="audit",
                fix="this is a bug in lakehouse, please report it; nothing was audited and the "
                "file is processed again by the next run",
            )
    for record in records:
        alert_for(job, record, records)
    # Durable before the commit point: a crash from here on never loses an alert.
    job.alerter.record()
    job.faults.reach("before_audit")
    append_audit(job.engine, job.settings.audit_path, list(records))
    job.baselines.observe(records)  # later files of this run see these in their baseline
    job.faults.reach("after_audit")
    job.alerter.deliver()  # bounded in time; what is not delivered waits for the next run
    # The audit row is the commit point: from here each file's outcome is final.
    archive_outcomes(job.settings, records)


_RETRY = {
    "ingest": "it is retried on the next run",
    "release": "release it again once the cause is fixed",
    "backfill": "run the backfill again once the cause is fixed",
    "replay": "run the quarantine replay again once the cause is fixed",
}


def alert_for(job: Job, record: AuditRecord, batch: Sequence[AuditRecord] = ()) -> None:
    """Hand ``record``'s alerts (``alerts_for``) to the run's Alerter."""
    for alert in alerts_for(job, record, batch):
        job.alerter.emit(alert)


def alerts_for(job: Job, record: AuditRecord, batch: Sequence[AuditRecord] = ()) -> list[Alert]:
    """What operators must hear about a final audit row: HELD and FAILED files, files whose
    day is missing earlier sequence numbers; and the resolves of what it clears (a file that
    succeeds, a day whose numbers are now all there). ``batch``: rows committed with it."""
    alerts: list[Alert] = []
    client, name, run_id = record.client_id, record.file_name, job.run_id
    gap = next((p for p in (record.reason or "").split(";") if p.startswith(GAP_REASON)), None)
    day = _gap_subject(job, record)
    if gap is not None:
        alerts.append(
            Alert(
                AlertKind.SEQUENCE_GAP,
                client,
                name,
                run_id,
                "sequence gap: earlier files of this day have not arrived; ask the client "
                "for them (they ingest in (date, N) order whenever they come)",
                {"reason": gap},
                subject=day,
            )
        )
    elif day and client and _day_complete(job, record, batch):
        alerts.append(
            Alert(
                AlertKind.SEQUENCE_GAP,
                client,
                name,
                run_id,
                "sequence gap closed: every earlier file of this day has arrived",
                action="resolve",
                subject=day,
            )
        )
    reason = record.reason or record.error or ""
    figures: dict[str, float | int | str] = {"reason": reason}
    if record.rows_read:
        figures.update(rows_read=record.rows_read, rows_quarantined=record.rows_quarantined or 0)
    findings = list((record.drift or {}).get("findings", ()))
    if record.status == Status.HELD:
        # One alert per held file, with every drift figure: no dq_drift trigger beside it.
        causes = ["invalid ratio above threshold"] if "invalid_ratio:" in reason else []
        if findings:
            causes.append(f"data-quality drift ({', '.join(_key(f) for f in findings)})")
        figures.update(_drift_figures(findings))
        alerts.append(
            Alert(
                AlertKind.FILE_HELD,
                client,
                name,
                run_id,
                _held_text(record, causes),
                figures,
            )
        )
    elif record.status == Status.FAILED:
        alerts.append(
            Alert(
                AlertKind.FILE_FAILED,
                client,
                name,
                run_id,
                f"file failed; {_RETRY[job.mode]}",
                figures,
            )
        )
    if record.status == Status.SUCCESS:
        alerts += [_drift_alert(record, run_id, f) for f in findings]
    if record.drift is not None:
        # Every check this file passed clears its condition (a no-op where none is open).
        failed = {_key(f) for f in findings}
        for key in record.drift.get("checked", ()):
            if key not in failed:
                message = f"data-quality drift cleared: {key} within tolerance"
                alerts.append(
                    Alert(
                        AlertKind.DQ_DRIFT,
                        client,
                        name,
                        run_id,
                        message,
                        action="resolve",
                        subject=key,
                    )
                )
    if record.status != Status.FAILED:
        cleared = f"file {record.status.value.lower()}: the earlier failure has cleared"
        alerts.append(Alert(AlertKind.FILE_FAILED, client, name, run_id, cleared, action="resolve"))
    if record.status == Status.SUCCESS:
        alerts.append(
            Alert(
                AlertKind.FILE_HELD,
                client,
                name,
                run_id,
                f"held file now ingested ({record.reason or 'success'})",
                action="resolve",
            )
        )
    return alerts


def _held_text(record: AuditRecord, causes: Sequence[str]) -> str:
    if (record.reason or "").startswith(DRIFT_REASON):
        return (
            "file held: its header has columns the config does not declare (schema_drift); "
            f"run `lakehouse schema diff --client {record.client_id}`, approve, then release"
        )
    return f"file held: {' and '.join(causes) or 'see the reason'}"


# Drift findings named in one alert's figures (the audit row holds them all).
_LISTED_FINDINGS = 10


def _key(finding: Mapping[str, Any]) -> str:
    column = finding.get("column")
    return str(finding["check"]) + (f":{column}" if column else "")


def _drift_figures(findings: Sequence[Mapping[str, Any]]) -> Figures:
    figures: Figures = {}
    for finding in findings[:_LISTED_FINDINGS]:
        key = _key(finding)
        figures[f"{key}.observed"] = finding["observed"]
        figures[f"{key}.baseline"] = finding["baseline"]
        figures[f"{key}.tolerance"] = finding["tolerance"]
        figures[f"{key}.allowed"] = f"{finding['low']:g}..{finding['high']:g}"
    if len(findings) > _LISTED_FINDINGS:
        figures["drift_findings"] = len(findings)
    return figures


def _drift_alert(record: AuditRecord, run_id: str, finding: Mapping[str, Any]) -> Alert:
    """The dq_drift trigger of one finding of a file that went on (action ``alert``)."""
    key = _key(finding)
    what = "row count" if finding["check"] == "row_count" else key.replace(":", " of ", 1)
    message = (
        f"data-quality drift: {what} {finding['observed']:g} outside "
        f"{finding['low']:g}..{finding['high']:g} (baseline {finding['baseline']:g}, the "
        f"median of {finding['history']} files); the file was ingested"
    )
    figures: Figures = {"reason": f"dq_drift:{key}", **_drift_figures([finding])}
    return Alert(
        AlertKind.DQ_DRIFT,
        record.client_id,
        record.file_name,
        run_id,
        message,
        figures,
        subject=key,
    )


def _day_complete(job: Job, record: AuditRecord, batch: Sequence[AuditRecord]) -> bool:
    """True when the record's day has an open gap alert and now no number below its highest
    is missing (the audit so far plus ``batch``). Reads the audit only for an open gap."""
    day, client = record.creation_date, record.client_id
    if day is None or not job.alerter.is_open(
        AlertKind.SEQUENCE_GAP, client, _gap_subject(job, record)
    ):
        return False
    feed = feed_of(client or "", record.dataset, job.clients)
    delivered = delivered_sequences(job.engine, job.settings.audit_path, job.clients)
    seen = set(delivered.get((feed, day), ()))
    seen |= {
        r.sequence
        for r in (record, *batch)
        if r.sequence is not None
        and r.client_id == client
        and r.dataset == record.dataset
        and r.creation_date == day
    }
    return not missing_sequences(max(seen, default=0) + 1, seen)


def _gap_subject(job: Job, record: AuditRecord) -> str:
    """A sequence gap's alert subject: the day (``2026-01-15``), with the dataset for a
    client's other datasets (``readings/2026-01-15``): each dataset numbers its own files."""
    if record.creation_date is None:
        return ""
    day = record.creation_date.isoformat()
    feed = feed_of(record.client_id or "", record.dataset, job.clients)
    return day if feed == record.client_id else f"{record.dataset}/{day}"
