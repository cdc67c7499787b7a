"""Release a HELD file: an operator accepts it, and its valid rows are merged into silver.

The file is found in landing or in the archive and must still have the checksum the audit
recorded for it. Bronze and quarantine already hold its rows (their appends are idempotent), so
releasing only adds the silver merge and a new audit row with ``reason=released``. The file
ends at the same commit point as in a streaming run (``ingest.outcome``): a release that fails
is audited FAILED (reason ``release``) and the file can be released again.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.compute as pc

from lakehouse.alerts import Alerter
from lakehouse.archive import archive_target
from lakehouse.audit import AuditRecord, Status
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError, RunFailed
from lakehouse.ingest.lock import ClientLock
from lakehouse.ingest.outcome import FileAttempt, commit, settle
from lakehouse.ingest.run_alerts import alerting_run
from lakehouse.landing.filenames import parse_file_name
from lakehouse.pii.keys import KeyRing
from lakehouse.safe_files import is_regular, sha256_regular

__all__ = ["RELEASE_FAILED", "release_file"]

# Reason of the FAILED audit row of a release attempt: the file stays releasable.
RELEASE_FAILED = "release"

log = logging.getLogger(__name__)


def _last_audit_row(settings: Settings, file_name: str) -> dict[str, object]:
    engine = get_engine(settings)
    if not engine.exists(settings.audit_path):
        raise LakehouseError("no audit table yet", file=file_name, fix="run the ingest job first")
    audit = engine.read(settings.audit_path)
    rows = audit.filter(pc.equal(audit.column("file_name"), file_name)).to_pylist()
    if not rows:
        raise LakehouseError("file is not in the audit", file=file_name, fix="check the name")
    # Scan order is not commit order: the latest attempt is the one that started last.
    latest: dict[str, object] = sorted(rows, key=lambda r: str(r["started_at"]))[-1]
    return latest


def _locate(settings: Settings, client_id: str, name: str, sha256: str) -> Path:
    candidates = [
        settings.landing_dir / name,
        archive_target(settings, client_id, name, Status.HELD),
    ]
    for path in candidates:
        # Never through a link: a link in landing could point at anything.
        if is_regular(path) and sha256_regular(path) == sha256:
            return path
    raise LakehouseError(
        "held file not found with its audited checksum in landing or the archive",
        client=client_id,
        file=name,
        fix="put the original file back into landing (same bytes) and release again",
    )


def _refuse_undeclared(path: Path, client: ClientConfig) -> None:
    """A file held for schema drift is released once its columns are declared (approved) or
    ignored: releasing it as is would hold it again.

    Raises:
        LakehouseError: headers of the file still fail the file (``failOnNewColumns``).
    """
    from lakehouse.evolution.plan import plan_file
    from lakehouse.landing.reader import check_header  # imports pyspark

    if client.file.format != "csv":
        return  # no header line: the modes apply to CSV headers only
    held = plan_file(client, check_header(path, client)[1]).held
    if held:
        raise LakehouseError(
            f"file still has {len(held)} column(s) the config does not declare: {', '.join(held)}",
            client=client.client_id,
            file=path.name,
            fix=f"`lakehouse schema diff --client {client.client_id}`, then `lakehouse schema "
            "approve --column NAME ...` for each (or set schema_evolution.columns.<header>: "
            "none to ignore it), then release again",
        )


def _releasable(last: dict[str, object]) -> bool:
    return last["status"] == Status.HELD or (
        last["status"] == Status.FAILED and last["reason"] == RELEASE_FAILED
    )


def release_file(
    settings: Settings,
    clients: dict[str, ClientConfig],
    keys: KeyRing,
    file_name: str,
    *,
    alerter: Alerter | None = None,
) -> AuditRecord:
    """Merge a HELD file into silver; returns the new audit row (its SUCCESS resolves the
    file's ``file_held`` alert).

    ``alerter``: default, built from ``settings`` and the environment before Spark starts.

    Raises:
        ConfigError: an alert sink is misconfigured or its secret is missing.
        LakehouseError: the file is not held, cannot be found unchanged, or its client's
            lock is taken by a running job.
        RunFailed: the release failed; its FAILED audit row says why, and the file can be
            released again once the cause is fixed.
    """
    from lakehouse.ingest.file import process_file  # starts Spark: only when releasing
    from lakehouse.ingest.job import build_job, new_run_id

    if alerter is None:
        alerter = Alerter.from_settings(settings, get_engine(settings))
    last = _last_audit_row(settings, file_name)
    if not _releasable(last):
        raise LakehouseError(
            f"file is not held (last status {last['status']})",
            file=file_name,
            fix="only files audited HELD can be released",
        )
    landing = parse_file_name(file_name, clients)
    sha256 = str(last["file_sha256"])
    path = _locate(settings, landing.client_id, file_name, sha256)
    _refuse_undeclared(path, clients[landing.feed])
    run_id = new_run_id()
    # From here a failure is the release run failing (run_failed), not an operator's typo.
    with alerting_run(alerter, mode="release", client_id=landing.client_id, run_id=run_id):
        job = build_job(settings, clients, keys, run_id=run_id, alerter=alerter, mode="release")
        attempt = FileAttempt(
            client_id=landing.client_id,
            file_name=file_name,
            file_size=path.stat().st_size,
            file_sha256=sha256,
            creation_date=landing.creation_date,
            sequence=landing.sequence,
            dataset=clients[landing.feed].dataset,
        )
        # The lock of the dataset's landing stream: an ingest of the same feed waits.
        with ClientLock(settings.lock_dir, landing.feed, run_id=job.run_id):
            record = settle(
                job,
                attempt,
                lambda clock: process_file(job, landing, path, attempt, clock, release=True),
            )
            if record.status == Status.FAILED:
                record.reason = RELEASE_FAILED
            commit(job, [record])
    if record.status == Status.FAILED:
        raise RunFailed([record])
    log.info(
        "held file released",
        extra={
            "client": landing.client_id,
            "file": file_name,
            "inserted": record.rows_inserted,
            "updated": record.rows_updated,
        },
    )
    return record
