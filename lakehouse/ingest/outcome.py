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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from lakehouse.alerts import Alert, AlertKind
from lakehouse.archive import archive_outcomes
from lakehouse.audit import AuditRecord, Status, append_audit, delivered_sequences, safe_error
from lakehouse.errors import ConservationError, LandingFileError
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
    day = record.creation_date.isoformat() if record.creation_date else ""
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
    figures: dict[str, float | int | str] = {"reason": record.reason or record.error or ""}
    if record.rows_read:
        figures.update(rows_read=record.rows_read, rows_quarantined=record.rows_quarantined or 0)
    if record.status == Status.HELD:
        alerts.append(
            Alert(
                AlertKind.FILE_HELD,
                client,
                name,
                run_id,
                "file held: invalid ratio above threshold",
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


def _day_complete(job: Job, record: AuditRecord, batch: Sequence[AuditRecord]) -> bool:
    """True when the record's day has an open gap alert and now no number below its highest
    is missing (the audit so far plus ``batch``). Reads the audit only for an open gap."""
    day, client = record.creation_date, record.client_id
    if day is None or not job.alerter.is_open(AlertKind.SEQUENCE_GAP, client, day.isoformat()):
        return False
    seen = set(
        delivered_sequences(job.engine, job.settings.audit_path).get((client or "", day), ())
    )
    seen |= {
        r.sequence
        for r in (record, *batch)
        if r.sequence is not None and r.client_id == client and r.creation_date == day
    }
    return not missing_sequences(max(seen, default=0) + 1, seen)
