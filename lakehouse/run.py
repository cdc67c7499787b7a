"""A run of the ingest job: discover new files, route them, process in order, audit all.

Within a micro-batch a client's files are processed in (creation_date, sequence) order, never
by modification time. Files that cannot be processed are audited with a reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from lakehouse.audit import AuditRecord, Status, append_audit, ingested_files, safe_error
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError, LandingFileError
from lakehouse.landing.checksum import sha256_file
from lakehouse.landing.discovery import UNROUTED, DiscoveredFile, discover
from lakehouse.landing.filenames import LandingFile, parse_file_name
from lakehouse.pii.keys import KeyRing
from lakehouse.process import Job, process_file
from lakehouse.spark import build_spark

__all__ = ["RunFailed", "RunResult", "new_run_id", "run_ingest"]

log = logging.getLogger(__name__)


class RunFailed(LakehouseError):
    """Some files failed; their audit rows say why. They are retried on the next run."""

    def __init__(self, records: Sequence[AuditRecord]) -> None:
        self.records = list(records)
        names = ", ".join(r.file_name for r in records)
        super().__init__(
            f"{len(records)} file(s) failed: {names}",
            step="ingest",
            fix="read the error column of `lake/audit/files` for these files, fix the cause "
            "and rerun; processed files are not reprocessed",
        )


@dataclass(frozen=True)
class RunResult:
    """The audit rows a run wrote, and what went wrong (files and whole streams)."""

    run_id: str
    records: list[AuditRecord]
    stream_errors: dict[str, str]

    @property
    def failed(self) -> list[AuditRecord]:
        return [r for r in self.records if r.status == Status.FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.stream_errors

    def raise_for_failures(self) -> None:
        """Raises:
        RunFailed: a file failed. LakehouseError: a landing stream failed outside a file.
        """
        if self.failed:
            raise RunFailed(self.failed)
        if self.stream_errors:
            stream, error = next(iter(self.stream_errors.items()))
            raise LakehouseError(f"landing stream '{stream}' failed: {error}", step="discover")


def new_run_id(now: dt.datetime | None = None) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


@dataclass
class _Run:
    job: Job
    ingested: dict[str, str]
    records: list[AuditRecord] = field(default_factory=list)

    def _record(self, file: DiscoveredFile, client_id: str | None) -> AuditRecord:
        return AuditRecord(
            client_id=client_id,
            file_name=file.name,
            run_id=self.job.run_id,
            engine=self.job.engine.name,
            started_at=dt.datetime.now(dt.UTC),
            file_size=file.size,
        )

    def _finish(self, records: list[AuditRecord]) -> None:
        for record in records:
            record.finished_at = record.finished_at or dt.datetime.now(dt.UTC)
            if not record.conserved():
                raise AssertionError(f"audit counts do not add up for {record.file_name}")
        append_audit(self.job.engine, self.job.settings.audit_path, records)
        self.records.extend(records)

    def _reject(self, file: DiscoveredFile, error: LandingFileError) -> AuditRecord:
        record = self._record(file, error.client)
        record.status = Status.REJECTED
        record.reason = error.reason
        record.error = error.message
        log.warning("file rejected", extra={"file": file.name, "reason": error.reason})
        return record

    def handle(self, stream: str, files: list[DiscoveredFile]) -> None:
        """foreachBatch handler: one micro-batch of new files from one stream."""
        clients = self.job.clients
        if stream == UNROUTED:
            # Every file shows up here; only names no client stream will pick up are ours.
            stray = [
                f for f in files if f.name.split("_", 1)[0] not in clients or "_" not in f.name
            ]
            self._finish([self._reject(f, _routing_error(f, clients)) for f in stray])
            return
        parsed: list[tuple[LandingFile, DiscoveredFile]] = []
        rejected: list[AuditRecord] = []
        for file in files:
            try:
                parsed.append((parse_file_name(file.name, clients), file))
            except LandingFileError as error:
                rejected.append(self._reject(file, error))
        self._finish(rejected)
        failed = []
        for landing, file in sorted(parsed, key=lambda pair: pair[0]):
            record = self._process(landing, file)
            self._finish([record])
            if record.status == Status.FAILED:
                failed.append(record)
        if failed:
            # Failing the micro-batch keeps it out of the checkpoint: the next run replays it,
            # and the idempotent writes make the replay safe.
            raise RunFailed(failed)

    def _process(self, landing: LandingFile, file: DiscoveredFile) -> AuditRecord:
        record = self._record(file, landing.client_id)
        record.creation_date = landing.creation_date
        record.sequence = landing.sequence
        extra = {"client": landing.client_id, "file": landing.name}
        try:
            record.file_sha256 = sha256_file(file.path)
            original = self.ingested.get(record.file_sha256)
            if original is not None:
                record.status = Status.DUPLICATE
                record.reason = f"duplicate_of:{original}"
                log.warning("duplicate file skipped", extra={**extra, "original": original})
                return record
            process_file(self.job, landing, file.path, record)
            self.ingested[record.file_sha256] = landing.name
            log.info(
                "file ingested",
                extra={
                    **extra,
                    "read": record.rows_read,
                    "valid": record.rows_valid,
                    "quarantined": record.rows_quarantined,
                    "inserted": record.rows_inserted,
                    "updated": record.rows_updated,
                },
            )
        except LandingFileError as error:
            rejected = self._reject(file, error)
            rejected.file_sha256, rejected.creation_date = record.file_sha256, record.creation_date
            rejected.sequence = record.sequence
            return rejected
        except Exception as exc:  # noqa: BLE001 - audited; the batch fails and is replayed
            record.status = Status.FAILED
            record.error = safe_error(exc)
            log.error("file failed", extra={**extra, "error": record.error})
        return record


def _routing_error(file: DiscoveredFile, clients: dict[str, ClientConfig]) -> LandingFileError:
    try:
        parse_file_name(file.name, clients)
    except LandingFileError as error:
        return error
    raise AssertionError("routing error for a routable file")  # pragma: no cover


def run_ingest(
    settings: Settings,
    clients: dict[str, ClientConfig],
    keys: KeyRing,
    *,
    only: Sequence[str] = (),
    run_id: str | None = None,
) -> RunResult:
    """Ingest every new landing file (of ``only`` clients, if given).

    A failing file does not stop other files or clients; see ``RunResult.raise_for_failures``.
    """
    unknown = sorted(set(only) - set(clients))
    if unknown:
        raise LakehouseError(
            f"unknown client(s): {', '.join(unknown)}",
            fix=f"choose from {', '.join(sorted(clients))} or add clients/<id>.yaml",
        )
    engine = get_engine(settings.engine)
    job = Job(
        spark=build_spark(settings),
        settings=settings,
        clients=clients,
        keys=keys,
        engine=engine,
        run_id=run_id or new_run_id(),
    )
    run = _Run(job=job, ingested=ingested_files(engine, settings.audit_path))
    streams = [*(only or sorted(clients)), UNROUTED]
    log.info("run started", extra={"run_id": job.run_id, "streams": ",".join(streams)})
    errors = discover(job.spark, settings, streams, run.handle)
    failed_streams = {r.client_id for r in run.records if r.status == Status.FAILED}
    return RunResult(
        run_id=job.run_id,
        records=run.records,
        # A stream that failed because one of its files failed is already in the audit.
        stream_errors={s: safe_error(e) for s, e in errors.items() if s not in failed_streams},
    )
