"""The streaming run of the ingest job: discover new files, route them, process in order.

Within a micro-batch a client's files are processed in (creation_date, sequence) order, never
by modification time. Files that cannot be processed are audited with a reason. Every file
ends at the commit point in ``ingest.outcome``, as it does in ``release`` and ``backfill``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

from lakehouse.alerts import Alerter
from lakehouse.audit import (
    AuditRecord,
    Status,
    delivered_sequences,
    ingested_files,
    latest_outcomes,
    safe_error,
)
from lakehouse.config.datasets import feed_of, feeds_of
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError, LandingFileError, LockBusyError, RunFailed
from lakehouse.ingest.file import process_file
from lakehouse.ingest.job import Job, build_job, new_run_id
from lakehouse.ingest.lock import ClientLock
from lakehouse.ingest.outcome import (
    FileAttempt,
    FileOutcome,
    StageClock,
    commit,
    failed,
    outcome_record,
    rejected,
    settle,
)
from lakehouse.ingest.run_alerts import alerting_run, run_failed, run_resolved
from lakehouse.landing.checksum import FileScan, scan_file, sha256_file
from lakehouse.landing.discovery import UNROUTED, DiscoveredFile, discover
from lakehouse.landing.filenames import LandingFile, RejectReason, feed_prefix, parse_file_name
from lakehouse.landing.reader import HeaderReject
from lakehouse.landing.sequences import gap_reason, missing_sequences
from lakehouse.pii.keys import KeyRing

__all__ = ["RunResult", "run_ingest"]

log = logging.getLogger(__name__)


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


@dataclass
class _Run:
    job: Job
    ingested: dict[str, str]
    # (client, creation date) -> sequence numbers of that day's files seen (audit + this run)
    delivered: dict[tuple[str, dt.date], set[int]] = field(default_factory=dict)
    records: list[AuditRecord] = field(default_factory=list)

    def _finish(self, records: list[AuditRecord]) -> None:
        commit(self.job, records)
        self.records.extend(records)

    def _reject(self, file: DiscoveredFile, error: LandingFileError) -> AuditRecord:
        return rejected(self.job, _attempt(file, error.client), error)

    def handle(self, stream: str, files: list[DiscoveredFile]) -> None:
        """foreachBatch handler: one micro-batch of new files from one stream."""
        clients = self.job.clients
        if stream == UNROUTED:
            # Every file shows up here; only names no feed's stream will pick up are ours.
            stray = [f for f in files if feed_prefix(f.name, clients) is None]
            self._finish([self._reject(f, _routing_error(f, clients)) for f in stray])
            return
        parsed: list[tuple[LandingFile, DiscoveredFile]] = []
        refused: list[AuditRecord] = []
        # The glob ``acme_*`` also lists ``acme_readings_*``: that feed's stream has them.
        files = [f for f in files if feed_prefix(f.name, clients) == stream]
        for file in files:
            try:
                _require_regular_file(file)
                parsed.append((parse_file_name(file.name, clients), file))
            except LandingFileError as error:
                refused.append(self._reject(file, error))
        self._finish(refused)
        for landing, _ in parsed:  # files that arrive together are not missing either
            day = (landing.feed, landing.creation_date)
            self.delivered.setdefault(day, set()).add(landing.sequence)
        failures = []
        for landing, file in sorted(parsed, key=lambda pair: pair[0]):
            day = (landing.feed, landing.creation_date)
            missing = missing_sequences(landing.sequence, self.delivered[day])
            record = self._process(landing, file)
            if record is None:
                continue
            if missing and record.status not in (Status.DUPLICATE, Status.REJECTED):
                record = replace(record, reason=gap_reason(missing, record.reason))
            self._finish([record])
            if record.status == Status.FAILED:
                failures.append(record)
        self.job.faults.reach("batch_end")
        if failures:
            # Failing the micro-batch keeps it out of the checkpoint: the next run replays it,
            # and the idempotent writes make the replay safe.
            raise RunFailed(failures)

    def sweep_landing(self, streams: Sequence[str]) -> None:
        """Audit what Spark's file source never reports, once each: 0-byte files (it does not
        list them) and files replaced after ingest (same path, new bytes: it tracks paths)."""
        landing = self.job.settings.landing_dir
        if not landing.is_dir():
            return
        latest = latest_outcomes(self.job.engine, self.job.settings.audit_path)
        records = []
        clients = self.job.clients
        for path in sorted(landing.iterdir()):
            feed = feed_prefix(path.name, clients)
            if (
                not path.is_file()
                or path.is_symlink()
                or path.name.startswith((".", "_"))
                or (feed is not None and feed not in streams)
            ):
                continue
            stat, seen = path.stat(), latest.get(path.name)
            client = clients[feed].client_id if feed is not None else None
            file = DiscoveredFile(path=path, size=stat.st_size, modified=dt.datetime.now(dt.UTC))
            if stat.st_size == 0 and seen is None:
                error = LandingFileError(
                    "file is empty (0 bytes)",
                    reason=HeaderReject.EMPTY,
                    client=client,
                    file=path.name,
                )
                records.append(self._reject(file, error))
            elif (
                seen is not None
                and seen["file_sha256"]
                and seen["finished_at"] is not None
                and stat.st_mtime > seen["finished_at"].timestamp()
            ):
                sha = sha256_file(path)
                if sha != seen["file_sha256"]:
                    error = LandingFileError(
                        "file replaced after ingest (same name, other bytes); the new bytes "
                        "are not ingested: send them under a new _N",
                        reason=RejectReason.REPLACED,
                        client=client,
                        file=path.name,
                    )
                    records.append(rejected(self.job, _attempt(file, client, sha256=sha), error))
        self._finish(records)

    def _process(self, landing: LandingFile, file: DiscoveredFile) -> AuditRecord | None:
        """Process one file; None when this very file (name and content) is already
        ingested: a micro-batch replayed after a crash, which the audit already covers."""
        self.job.faults.reach("file_start")
        config = self.job.clients[landing.feed]
        attempt = _attempt(file, landing.client_id, landing=landing, dataset=config.dataset)
        extra = {"client": landing.client_id, "dataset": config.dataset, "file": landing.name}
        encoding = config.file.encoding
        try:
            scan = scan_file(file.path, encoding)
        except Exception as exc:  # noqa: BLE001 - audited as the file's outcome
            return failed(self.job, attempt, exc)
        attempt = attempt.with_sha256(scan.sha256)
        original = self.ingested.get(scan.sha256)
        if original == landing.name:
            log.info("already ingested: skipped (replayed batch)", extra=extra)
            return None
        if original is not None:
            log.warning("duplicate file skipped", extra={**extra, "original": original})
            duplicate = FileOutcome(Status.DUPLICATE, reason=f"duplicate_of:{original}")
            return outcome_record(self.job, attempt, duplicate)
        record = settle(
            self.job, attempt, lambda clock: self._ingest(landing, file, attempt, clock, scan)
        )
        if record.status == Status.SUCCESS:
            self.ingested[scan.sha256] = landing.name
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
        return record

    def _ingest(
        self,
        landing: LandingFile,
        file: DiscoveredFile,
        attempt: FileAttempt,
        clock: StageClock,
        scan: FileScan,
    ) -> FileOutcome:
        if scan.bad_byte_offset is not None:
            encoding = self.job.clients[landing.feed].file.encoding
            raise LandingFileError(
                f"not valid {encoding} at byte {scan.bad_byte_offset}",
                reason=RejectReason.BAD_ENCODING,
                client=landing.client_id,
                file=landing.name,
            )
        return process_file(self.job, landing, file.path, attempt, clock, scan=scan)


def _attempt(
    file: DiscoveredFile,
    client_id: str | None,
    *,
    landing: LandingFile | None = None,
    sha256: str | None = None,
    dataset: str | None = None,
) -> FileAttempt:
    return FileAttempt(
        client_id=client_id,
        file_name=file.name,
        file_size=file.size,
        file_sha256=sha256,
        creation_date=landing.creation_date if landing else None,
        sequence=landing.sequence if landing else None,
        dataset=dataset,
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


def run_ingest(
    settings: Settings,
    clients: dict[str, ClientConfig],
    keys: KeyRing,
    *,
    only: Sequence[str] = (),
    run_id: str | None = None,
    alerter: Alerter | None = None,
) -> RunResult:
    """Ingest every new landing file (of ``only`` clients, if given: each of their datasets).

    A failing file does not stop other files or clients; see ``RunResult.raise_for_failures``.
    ``alerter``: default, built from ``settings`` and the environment before Spark starts.

    Raises:
        ConfigError: an alert sink is misconfigured or its secret is missing (before Spark).
    """
    client_ids = sorted({c.client_id for c in clients.values()})
    unknown = sorted(set(only) - set(client_ids))
    if unknown:
        raise LakehouseError(
            f"unknown client(s): {', '.join(unknown)}",
            fix=f"choose from {', '.join(client_ids)} or add clients/<id>.yaml",
        )
    if alerter is None:
        alerter = Alerter.from_settings(settings, get_engine(settings))
    run_id = run_id or new_run_id()
    scope = only[0] if len(only) == 1 else None
    with alerting_run(alerter, mode="ingest", client_id=scope, run_id=run_id):
        job = build_job(settings, clients, keys, run_id=run_id, alerter=alerter)
        result = _ingest(job, only)
        for stream in [*_feeds(clients, only), UNROUTED]:
            client = clients[stream].client_id if stream in clients else None
            subject = f"ingest/{stream}"
            if stream in result.stream_errors:
                error = LakehouseError(
                    f"landing stream '{stream}' failed: {result.stream_errors[stream]}",
                    step="discover",
                )
                alerter.emit(run_failed("ingest", client, run_id, error, subject=subject))
            elif stream not in result.skipped:
                alerter.emit(run_resolved("ingest", client, run_id, subject=subject))
    return result


def _feeds(clients: dict[str, ClientConfig], only: Sequence[str]) -> list[str]:
    """The landing streams of a run: one per feed (dataset) of the ``only`` clients, or of
    every client."""
    return feeds_of(only, clients) if only else sorted(clients)


def _ingest(job: Job, only: Sequence[str]) -> RunResult:
    settings, clients, engine = job.settings, job.clients, job.engine
    with ExitStack() as locks:
        streams, skipped = [], {}
        for stream in [*_feeds(clients, only), UNROUTED]:
            try:
                locks.enter_context(ClientLock(settings.lock_dir, stream, run_id=job.run_id))
                streams.append(stream)
            except LockBusyError as busy:
                log.error("client skipped: %s", busy.message, extra={"stream": stream})
                skipped[stream] = busy.message
        run = _Run(
            job=job,
            ingested=ingested_files(engine, settings.audit_path),
            delivered=delivered_sequences(engine, settings.audit_path, clients),
        )
        log.info("run started", extra={"run_id": job.run_id, "streams": ",".join(streams)})
        errors = discover(job.spark, settings, streams, run.handle)
        run.sweep_landing(streams)
    failed_streams = {
        feed_of(r.client_id, r.dataset, clients)
        for r in run.records
        if r.status == Status.FAILED and r.client_id is not None
    }
    return RunResult(
        run_id=job.run_id,
        records=run.records,
        # A stream that failed because one of its files failed is already in the audit.
        stream_errors={s: safe_error(e) for s, e in errors.items() if s not in failed_streams},
        skipped=skipped,
    )
