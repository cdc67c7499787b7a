"""Run a backfill: each planned file through ``process_file``, audited like any run.

The streaming checkpoint is bypassed (re-processing is the point) and so is the skip of files
already ingested; every write stays idempotent, so the result converges:
- bronze and quarantine appends are guarded per file content (app transactions per SHA-256);
- the silver merge drops rows equal to the stored ones, and rows older (creation date,
  sequence) than the stored ones, so a backfill never overwrites newer data.
A second identical backfill therefore commits nothing to bronze, quarantine or silver; the
audit gets one row per file with ``run_id`` ``backfill-...`` and reason ``backfill``.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lakehouse.audit import AuditRecord, Status, append_audit, safe_error
from lakehouse.backfill.bronze_source import rebuild_from_bronze
from lakehouse.backfill.plan import BACKFILL_REASON, BackfillFile, BackfillPlan
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.errors import LakehouseError, LandingFileError
from lakehouse.lock import ClientLock
from lakehouse.pii.keys import KeyRing
from lakehouse.process import Job, process_file
from lakehouse.run import RunFailed, alert_for, build_job, new_run_id

__all__ = ["BackfillResult", "run_backfill"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackfillResult:
    run_id: str
    plan: BackfillPlan
    records: list[AuditRecord]

    @property
    def failed(self) -> list[AuditRecord]:
        return [r for r in self.records if r.status == Status.FAILED]

    def raise_for_failures(self) -> None:
        """Raises: RunFailed: a file failed (its audit row says why)."""
        if self.failed:
            raise RunFailed(self.failed)


def _record(job: Job, file: BackfillFile) -> AuditRecord:
    return AuditRecord(
        client_id=file.landing.client_id,
        file_name=file.name,
        run_id=job.run_id,
        engine=job.engine.name,
        started_at=dt.datetime.now(dt.UTC),
        file_sha256=file.sha256,
        file_size=file.size,
        creation_date=file.landing.creation_date,
        sequence=file.landing.sequence,
    )


def _process(job: Job, file: BackfillFile, staging: Path) -> AuditRecord:
    record = _record(job, file)
    if file.duplicate_of is not None:
        record.status = Status.DUPLICATE
        record.reason = f"duplicate_of:{file.duplicate_of}"
        return record
    try:
        path = file.path
        if path is None:
            client = job.clients[file.landing.client_id]
            path = rebuild_from_bronze(
                job.engine,
                job.settings,
                client,
                job.keys,
                file_name=file.name,
                file_sha256=file.sha256,
                target_dir=staging,
            )
        process_file(job, file.landing, path, record, release=file.released, reprocess=True)
        if record.status == Status.SUCCESS:
            record.reason = BACKFILL_REASON
    except LandingFileError as error:
        record.status = Status.REJECTED
        record.reason, record.error = error.reason, error.message
    except Exception as exc:  # noqa: BLE001 - audited; other files go on, exit status is 1
        record.status = Status.FAILED
        record.error = safe_error(exc)
    record.finished_at = record.finished_at or dt.datetime.now(dt.UTC)
    return record


def run_backfill(
    settings: Settings,
    clients: Mapping[str, ClientConfig],
    keys: KeyRing,
    plan: BackfillPlan,
    *,
    run_id: str | None = None,
) -> BackfillResult:
    """Re-process ``plan.files`` in order; a failing file does not stop the others.

    Raises:
        LakehouseError: an audit row that does not add up (a bug, never bad data).
    """
    job = build_job(settings, dict(clients), keys, run_id=run_id or f"backfill-{new_run_id()}")
    staging = settings.staging_dir / "backfill" / job.run_id
    log.info(
        "backfill started",
        extra={
            "run_id": job.run_id,
            "client": plan.client_id,
            "from": plan.start.isoformat(),
            "to": plan.end.isoformat(),
            "source": plan.source,
            "files": len(plan.files),
        },
    )
    records: list[AuditRecord] = []
    # One run per client at a time: an ingest of this client waits for the backfill or skips.
    with ClientLock(settings.lock_dir, plan.client_id, run_id=job.run_id):
        _run_files(job, plan, staging, records)
    return BackfillResult(run_id=job.run_id, plan=plan, records=records)


def _run_files(job: Job, plan: BackfillPlan, staging: Path, records: list[AuditRecord]) -> None:
    total = len(plan.files)
    try:
        for index, file in enumerate(plan.files, 1):
            record = _process(job, file, staging)
            if not record.conserved():
                raise LakehouseError(
                    "audit counts do not add up", client=plan.client_id, file=file.name
                )
            append_audit(job.engine, job.settings.audit_path, [record])
            alert_for(job, record)
            records.append(record)
            log.log(
                logging.ERROR if record.status == Status.FAILED else logging.INFO,
                "backfill file",
                extra={
                    "progress": f"{index}/{total}",
                    "client": plan.client_id,
                    "file": file.name,
                    "status": record.status.value,
                    "read": record.rows_read,
                    "inserted": record.rows_inserted,
                    "updated": record.rows_updated,
                    "unchanged": record.rows_unchanged,
                    "stale": record.rows_stale,
                    **({"error": record.error} if record.error else {}),
                },
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
