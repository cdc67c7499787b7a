"""A run of the ingest job: discover new files, route them, process in order, audit all.

Within a micro-batch a client's files are processed in (creation_date, sequence) order, never
by modification time. Files that cannot be processed are audited with a reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from lakehouse.alerts import Alert, AlertKind, send
from lakehouse.archive import archive_outcomes
from lakehouse.audit import (
    AuditRecord,
    Status,
    append_audit,
    ingested_files,
    latest_outcomes,
    safe_error,
)
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError, LandingFileError
from lakehouse.faults import reach
from lakehouse.landing.checksum import scan_file, sha256_file
from lakehouse.landing.discovery import UNROUTED, DiscoveredFile, discover
from lakehouse.landing.filenames import LandingFile, RejectReason, parse_file_name
from lakehouse.landing.reader import HeaderReject
from lakehouse.lock import ClientLock, LockBusyError
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import needed_purposes
from lakehouse.process import Job, process_file
from lakehouse.spark import build_spark

__all__ = ["RunFailed", "RunResult", "alert_for", "build_job", "new_run_id", "run_ingest"]

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
    skipped: dict[str, str] = field(default_factory=dict)  # stream -> why (lock held)

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
        reach("before_audit")
        append_audit(self.job.engine, self.job.settings.audit_path, records)
        reach("after_audit")
        for record in records:
            alert_for(self.job, record)
        # The audit row is the commit point: from here each file's outcome is final.
        archive_outcomes(self.job.settings, records)
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
                _require_regular_file(file)
                parsed.append((parse_file_name(file.name, clients), file))
            except LandingFileError as error:
                rejected.append(self._reject(file, error))
        self._finish(rejected)
        failed = []
        for landing, file in sorted(parsed, key=lambda pair: pair[0]):
            record = self._process(landing, file)
            if record is None:
                continue
            self._finish([record])
            if record.status == Status.FAILED:
                failed.append(record)
        reach("batch_end")
        if failed:
            # Failing the micro-batch keeps it out of the checkpoint: the next run replays it,
            # and the idempotent writes make the replay safe.
            raise RunFailed(failed)

    def sweep_landing(self, streams: Sequence[str]) -> None:
        """Audit what Spark's file source never reports, once each: 0-byte files (it does not
        list them) and files replaced after ingest (same path, new bytes: it tracks paths)."""
        landing = self.job.settings.landing_dir
        if not landing.is_dir():
            return
        latest = latest_outcomes(self.job.engine, self.job.settings.audit_path)
        records = []
        for path in sorted(landing.iterdir()):
            prefix = path.name.split("_", 1)[0]
            if (
                not path.is_file()
                or path.is_symlink()
                or path.name.startswith((".", "_"))
                or (prefix in self.job.clients and prefix not in streams)
            ):
                continue
            stat, seen = path.stat(), latest.get(path.name)
            client = prefix if prefix in self.job.clients else None
            file = DiscoveredFile(path=path, size=stat.st_size, modified=dt.datetime.now(dt.UTC))
            if stat.st_size == 0 and seen is None:
                records.append(
                    self._reject(
                        file,
                        LandingFileError(
                            "file is empty (0 bytes)",
                            reason=HeaderReject.EMPTY,
                            client=client,
                            file=path.name,
                        ),
                    )
                )
            elif (
                seen is not None
                and seen["file_sha256"]
                and seen["finished_at"] is not None
                and stat.st_mtime > seen["finished_at"].timestamp()
            ):
                sha = sha256_file(path)
                if sha != seen["file_sha256"]:
                    record = self._reject(
                        file,
                        LandingFileError(
                            "file replaced after ingest (same name, other bytes); the new bytes "
                            "are not ingested: send them under a new _N",
                            reason=RejectReason.REPLACED,
                            client=client,
                            file=path.name,
                        ),
                    )
                    record.file_sha256 = sha
                    records.append(record)
        self._finish(records)

    def _process(self, landing: LandingFile, file: DiscoveredFile) -> AuditRecord | None:
        """Process one file; None when this very file (name and content) is already
        ingested: a micro-batch replayed after a crash, which the audit already covers."""
        reach("file_start")
        record = self._record(file, landing.client_id)
        record.creation_date = landing.creation_date
        record.sequence = landing.sequence
        extra = {"client": landing.client_id, "file": landing.name}
        try:
            scan = scan_file(file.path, self.job.clients[landing.client_id].file.encoding)
            record.file_sha256 = scan.sha256
            original = self.ingested.get(record.file_sha256)
            if original == landing.name:
                log.info("already ingested: skipped (replayed batch)", extra=extra)
                return None
            if original is not None:
                record.status = Status.DUPLICATE
                record.reason = f"duplicate_of:{original}"
                log.warning("duplicate file skipped", extra={**extra, "original": original})
                return record
            if scan.bad_byte_offset is not None:
                raise LandingFileError(
                    f"not valid {self.job.clients[landing.client_id].file.encoding} at byte "
                    f"{scan.bad_byte_offset}",
                    reason=RejectReason.BAD_ENCODING,
                    client=landing.client_id,
                    file=landing.name,
                )
            process_file(self.job, landing, file.path, record, scan=scan)
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


def alert_for(job: Job, record: AuditRecord) -> None:
    """Tell operators about outcomes that need a person: HELD and FAILED files."""
    if record.status == Status.HELD:
        kind, message = AlertKind.FILE_HELD, "file held: invalid ratio above threshold"
    elif record.status == Status.FAILED:
        kind, message = AlertKind.FILE_FAILED, "file failed; it is retried on the next run"
    else:
        return
    figures: dict[str, float | int | str] = {"reason": record.reason or record.error or ""}
    if record.rows_read:
        figures.update(rows_read=record.rows_read, rows_quarantined=record.rows_quarantined or 0)
    send(
        job.alerts,
        Alert(kind, record.client_id, record.file_name, job.run_id, message, figures),
    )


def _require_regular_file(file: DiscoveredFile) -> None:
    """Refuse symlinks: a link could point anywhere (another client's file, /etc/...)."""
    if file.path.is_symlink() or not file.path.is_file():
        raise LandingFileError(
            "not a regular file (symlinks are not followed)",
            reason=RejectReason.NOT_A_FILE,
            client=None,
            file=file.name,
        )


def _routing_error(file: DiscoveredFile, clients: dict[str, ClientConfig]) -> LandingFileError:
    try:
        parse_file_name(file.name, clients)
    except LandingFileError as error:
        return error
    raise AssertionError("routing error for a routable file")  # pragma: no cover


def build_job(
    settings: Settings, clients: dict[str, ClientConfig], keys: KeyRing, *, run_id: str | None
) -> Job:
    """Everything the files of one run share (starts Spark, once the keys are known to be
    there: a missing key fails in milliseconds, not after Spark's start)."""
    keys.require(needed_purposes(clients.values()))
    return Job(
        spark=build_spark(settings),
        settings=settings,
        clients=clients,
        keys=keys,
        engine=get_engine(settings.engine),
        run_id=run_id or new_run_id(),
    )


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
    job = build_job(settings, clients, keys, run_id=run_id)
    engine = job.engine
    with ExitStack() as locks:
        streams, skipped = [], {}
        for stream in [*(only or sorted(clients)), UNROUTED]:
            try:
                locks.enter_context(ClientLock(settings.lock_dir, stream, run_id=job.run_id))
                streams.append(stream)
            except LockBusyError as busy:
                log.error("client skipped: %s", busy.message, extra={"stream": stream})
                skipped[stream] = busy.message
        run = _Run(job=job, ingested=ingested_files(engine, settings.audit_path))
        log.info("run started", extra={"run_id": job.run_id, "streams": ",".join(streams)})
        errors = discover(job.spark, settings, streams, run.handle)
        run.sweep_landing(streams)
    failed_streams = {r.client_id for r in run.records if r.status == Status.FAILED}
    return RunResult(
        run_id=job.run_id,
        records=run.records,
        # A stream that failed because one of its files failed is already in the audit.
        stream_errors={s: safe_error(e) for s, e in errors.items() if s not in failed_streams},
        skipped=skipped,
    )
