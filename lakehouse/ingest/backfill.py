"""Run a backfill: each planned file through ``process_file``, ending at the same commit point
as a streaming run (``ingest.outcome``: conserve -> audit -> alert -> archive).

The streaming checkpoint is bypassed (re-processing is the point) and so is the skip of files
already ingested; every write stays idempotent, so the result converges:
- bronze and quarantine appends are guarded per file content (app transactions per SHA-256);
- the silver merge drops rows equal to the stored ones, and rows older (creation date,
  sequence) than the stored ones, so a backfill never overwrites newer data.
A second identical backfill therefore commits nothing to bronze, quarantine or silver; the
audit gets one row per file with ``run_id`` ``backfill-...`` and reason ``backfill``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from lakehouse.alerts import Alerter
from lakehouse.audit import AuditRecord, Status
from lakehouse.backfill.bronze_source import rebuild_from_bronze
from lakehouse.backfill.plan import BACKFILL_REASON, BackfillFile, BackfillPlan
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine import get_engine
from lakehouse.errors import RunFailed
from lakehouse.ingest.file import process_file
from lakehouse.ingest.job import Job, build_job, new_run_id
from lakehouse.ingest.lock import ClientLock
from lakehouse.ingest.outcome import (
    FileAttempt,
    FileOutcome,
    StageClock,
    commit,
    outcome_record,
    settle,
)
from lakehouse.ingest.run_alerts import alerting_run
from lakehouse.pii.keys import KeyRing

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


def _process(job: Job, file: BackfillFile, staging: Path) -> AuditRecord:
    attempt = FileAttempt(
        client_id=file.landing.client_id,
        file_name=file.name,
        file_size=file.size,
        file_sha256=file.sha256,
        creation_date=file.landing.creation_date,
        sequence=file.landing.sequence,
        dataset=job.clients[file.landing.feed].dataset,
    )
    if file.duplicate_of is not None:
        duplicate = FileOutcome(Status.DUPLICATE, reason=f"duplicate_of:{file.duplicate_of}")
        return outcome_record(job, attempt, duplicate)

    def work(clock: StageClock) -> FileOutcome:
        path = file.path
        if path is None:
            path = rebuild_from_bronze(
                job.engine,
                job.settings,
                job.clients[file.landing.feed],
                job.keys,
                file_name=file.name,
                file_sha256=file.sha256,
                target_dir=staging,
            )
        outcome = process_file(
            job, file.landing, path, attempt, clock, release=file.released, reprocess=True
        )
        if outcome.status == Status.SUCCESS:
            outcome = replace(outcome, reason=BACKFILL_REASON)
        return outcome

    return settle(job, attempt, work)


def run_backfill(
    settings: Settings,
    clients: Mapping[str, ClientConfig],
    keys: KeyRing,
    plan: BackfillPlan,
    *,
    run_id: str | None = None,
    alerter: Alerter | None = None,
) -> BackfillResult:
    """Re-process ``plan.files`` in order; a failing file does not stop the others.

    ``alerter``: default, built from ``settings`` and the environment before Spark starts.

    Raises:
        ConfigError: an alert sink is misconfigured or its secret is missing.
        ConservationError: an audit row that does not add up (a bug, never bad data).
    """
    if alerter is None:
        alerter = Alerter.from_settings(settings, get_engine(settings))
    run_id = run_id or f"backfill-{new_run_id()}"
    records: list[AuditRecord] = []
    with alerting_run(alerter, mode="backfill", client_id=plan.client_id, run_id=run_id):
        job = build_job(
            settings, dict(clients), keys, run_id=run_id, alerter=alerter, mode="backfill"
        )
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
        # One run per client at a time: an ingest of this client waits for the backfill or
        # skips.
        with ClientLock(settings.lock_dir, plan.client_id, run_id=job.run_id):
            _run_files(job, plan, staging, records)
    return BackfillResult(run_id=job.run_id, plan=plan, records=records)


def _run_files(job: Job, plan: BackfillPlan, staging: Path, records: list[AuditRecord]) -> None:
    total = len(plan.files)
    try:
        for index, file in enumerate(plan.files, 1):
            record = _process(job, file, staging)
            commit(job, [record])
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
