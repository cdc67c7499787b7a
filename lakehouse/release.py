"""Release a HELD file: an operator accepts it, and its valid rows are merged into silver.

The file is found in landing or in the archive and must still have the checksum the audit
recorded for it. Bronze and quarantine already hold its rows (their appends are idempotent), so
releasing only adds the silver merge and a new audit row with ``reason=released``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pyarrow.compute as pc

from lakehouse.audit import AuditRecord, Status, append_audit
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError
from lakehouse.landing.filenames import parse_file_name
from lakehouse.lock import ClientLock
from lakehouse.pii.keys import KeyRing
from lakehouse.process import process_file
from lakehouse.safe_files import is_regular, sha256_regular

__all__ = ["release_file"]

log = logging.getLogger(__name__)


def _last_audit_row(settings: Settings, file_name: str) -> dict[str, object]:
    engine = get_engine(settings.engine)
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
    candidates = [settings.landing_dir / name]
    try:
        from lakehouse.archive import archive_target

        candidates.append(archive_target(settings, client_id, name, Status.SUCCESS))
    except ImportError:  # pragma: no cover - archive is optional in this module's view
        pass
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


def release_file(
    settings: Settings, clients: dict[str, ClientConfig], keys: KeyRing, file_name: str
) -> AuditRecord:
    """Merge a HELD file into silver; returns the new audit row.

    Raises:
        LakehouseError: the file is not held, cannot be found unchanged, or its client's
            lock is taken by a running job.
    """
    from lakehouse.run import alert_for, build_job  # starts Spark: only when releasing

    last = _last_audit_row(settings, file_name)
    if last["status"] != Status.HELD:
        raise LakehouseError(
            f"file is not held (last status {last['status']})",
            file=file_name,
            fix="only files audited HELD can be released",
        )
    landing = parse_file_name(file_name, clients)
    sha256 = str(last["file_sha256"])
    path = _locate(settings, landing.client_id, file_name, sha256)
    job = build_job(settings, clients, keys, run_id=None)
    record = AuditRecord(
        client_id=landing.client_id,
        file_name=file_name,
        run_id=job.run_id,
        engine=job.engine.name,
        started_at=dt.datetime.now(dt.UTC),
        file_sha256=sha256,
        file_size=path.stat().st_size,
        creation_date=landing.creation_date,
        sequence=landing.sequence,
    )
    with ClientLock(settings.lock_dir, landing.client_id, run_id=job.run_id):
        process_file(job, landing, path, record, release=True)
        record.finished_at = record.finished_at or dt.datetime.now(dt.UTC)
        if not record.conserved():
            raise AssertionError(f"audit counts do not add up for {file_name}")
        append_audit(job.engine, settings.audit_path, [record])
    alert_for(job, record)
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
