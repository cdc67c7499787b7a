"""One landing file through every stage: landing -> bronze -> validate -> quarantine /
silver. Returns what happened (``FileOutcome``); the commit point (``ingest.outcome``) audits
it. Each write is idempotent, so a replayed file changes nothing."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path

from pyspark.sql import Row
from pyspark.sql import functions as F

from lakehouse.audit import Status
from lakehouse.bronze import Lineage, append_bronze, bronze_rows, with_lineage
from lakehouse.ingest.job import Job
from lakehouse.ingest.outcome import FileAttempt, FileOutcome, StageClock
from lakehouse.landing.checksum import FileScan
from lakehouse.landing.filenames import LandingFile
from lakehouse.landing.reader import CORRUPT_COLUMN, read_landing_csv
from lakehouse.pii.key_check import commit_key_metadata
from lakehouse.pii.policies import split_phi_counts
from lakehouse.quarantine import append_quarantine, quarantine_rows
from lakehouse.silver import merge_silver, silver_rows
from lakehouse.spark import FILE_CACHE
from lakehouse.transform import standardise
from lakehouse.validation import RAW_SUFFIX, REASONS, raw_copies, validate
from lakehouse.validation.drift import (
    ColumnCounts,
    DriftReport,
    FileFigures,
    column_stat_columns,
    column_stats,
    evaluate,
)

__all__ = ["process_file"]

log = logging.getLogger(__name__)


def process_file(
    job: Job,
    landing: LandingFile,
    path: Path,
    attempt: FileAttempt,
    clock: StageClock,
    *,
    release: bool = False,
    reprocess: bool = False,
    scan: FileScan | None = None,
) -> FileOutcome:
    """Run ``landing`` through the stages; returns counts and status (SUCCESS or HELD).

    A file whose share of invalid rows exceeds the client's ``max_invalid_ratio``, or that
    drifts from its client's baseline where the check's action is ``hold`` (``drift:``), is
    HELD: bronze and quarantine are written, nothing reaches silver. ``release=True`` (an operator
    accepted the file) merges it anyway. ``reprocess=True`` (backfills) merges against the
    current silver even when this file content was merged before, e.g. after a config change.

    ``attempt``: the file's identity (its checksum and start time become bronze lineage).
    ``clock``: seconds per stage go there. ``scan``: the checksum pass over ``path``; Spark's
    read must see the same bytes (a file rewritten in between raises
    ``FileChangedDuringReadError`` before anything is written).

    Raises whatever a stage raises; the commit point audits it. Bad *data* never raises: it is
    quarantined (rows) or rejected (``LandingFileError`` for the whole file).
    """
    client = job.clients[landing.client_id]
    settings = job.settings
    faults = job.faults
    lineage = Lineage(
        client_id=client.client_id,
        source_file=landing.name,
        file_sha256=attempt.file_sha256 or "",
        creation_date=landing.creation_date,
        sequence=landing.sequence,
        run_id=job.run_id,
        ingested_at=attempt.started_at,
    )
    with clock.stage("read"):
        endings = scan.line_endings if scan is not None else None
        read = read_landing_csv(job.spark, path, client, endings=endings)
        if scan is not None:
            # The read is materialised (cached) now: every later stage uses these rows.
            try:
                scan.verify_unchanged(path)
            except BaseException:
                read.release()
                raise
    if read.ignored_headers:
        log.warning(
            "file has columns the client config does not declare; they are not ingested",
            extra={
                "client": client.client_id,
                "file": landing.name,
                "columns": ",".join(read.ignored_headers),
            },
        )
    with ExitStack() as stack:
        stack.callback(read.release)
        raw = with_lineage(read.frame, lineage)
        faults.reach("before_bronze")
        with clock.stage("bronze"):
            append_bronze(
                job.engine,
                settings.table_path("bronze", client.dataset),
                bronze_rows(raw, client, job.keys, corrupt_column=CORRUPT_COLUMN),
                lineage,
                rows=read.rows,
            )
        faults.reach("after_bronze")
        with clock.stage("validate"):
            standardised = standardise(raw_copies(raw, client), client.columns, client.phone_region)
            validated = validate(standardised, client, corrupt_column=CORRUPT_COLUMN).persist(
                FILE_CACHE
            )
            stack.callback(validated.unpersist)
            # One aggregate: the counts and, for a client with drift checks, per column the
            # null and invalid counts its baseline is made of (no Spark job of their own;
            # other clients do not pay for the 2 x columns expressions: DesignDoc, "Drift").
            totals = validated.agg(
                F.count(F.lit(1)).alias("read"),
                F.coalesce(F.sum((F.size(REASONS) == 0).cast("long")), F.lit(0)).alias("valid"),
                *(column_stat_columns(client) if client.drift is not None else ()),
            ).first()
            assert totals is not None
            stats = column_stats(totals.asDict(), client) if client.drift is not None else None
            # The first file of a client with drift checks reads the audit here, once a run.
            drift = None if release or stats is None else _drift(job, landing, totals, stats)
        rows_read, rows_valid = int(totals["read"]), int(totals["valid"])
        rows_quarantined = rows_read - rows_valid
        faults.reach("before_quarantine")
        with clock.stage("quarantine"):
            if rows_quarantined:  # a file without invalid rows writes nothing here
                invalid = validated.where(F.size(REASONS) > 0).select(
                    "client_id",
                    *[F.col(c.name + RAW_SUFFIX).alias(c.name) for c in client.columns],
                    CORRUPT_COLUMN,
                    REASONS,
                    *[c for c in raw.columns if c.startswith("_") and c != CORRUPT_COLUMN],
                )
                append_quarantine(
                    job.engine,
                    settings.table_path("quarantine", client.dataset),
                    quarantine_rows(invalid, client, job.keys, corrupt_column=CORRUPT_COLUMN),
                    client_id=client.client_id,
                    file_sha256=lineage.file_sha256,
                    run_id=job.run_id,
                    rows=rows_quarantined,
                )
        faults.reach("after_quarantine")
        threshold = client.thresholds.max_invalid_ratio
        ratio = rows_quarantined / rows_read if rows_read else 0.0
        held = []
        if ratio > threshold and not release:
            # Circuit breaker: a file this bad is more likely a broken extract than bad rows.
            held.append(f"invalid_ratio:{ratio:.4f}>{threshold}")
        if drift is not None and drift.hold_reason:
            held.append(drift.hold_reason)
        if held:
            return FileOutcome(
                Status.HELD,
                reason=";".join(held),
                rows_read=rows_read,
                rows_valid=rows_valid,
                rows_quarantined=rows_quarantined,
                column_stats=stats,
                drift=drift.as_json() if drift is not None else None,
            )
        faults.reach("before_merge")
        with clock.stage("silver"):
            valid = validated.where(F.size(REASONS) == 0)
            silver = silver_rows(valid, client, job.keys)
            if any(c.free_text for c in client.columns):
                # The PHI totals take a pass of their own before the merge's: compute once.
                silver = silver.persist(FILE_CACHE)
                stack.callback(silver.unpersist)
            rows, phi_redactions = split_phi_counts(silver)
            counts = merge_silver(
                job.engine,
                settings.table_path("silver", client.dataset),
                rows,
                client,
                file_sha256=lineage.file_sha256,
                reuse_committed=not reprocess,
                retries=settings.merge_retries,
                metadata={
                    "run_id": job.run_id,
                    "source_file": landing.name,
                    # Key ids and the token key's fingerprint (pii.key_check reads them).
                    **commit_key_metadata(job.keys),
                },
            )
        faults.reach("after_merge")
    return FileOutcome(
        Status.SUCCESS,
        reason="released" if release else None,
        rows_read=rows_read,
        rows_valid=rows_valid,
        rows_quarantined=rows_quarantined,
        rows_inserted=counts.inserted,
        rows_updated=counts.updated,
        rows_unchanged=counts.unchanged,
        rows_stale=counts.stale,
        silver_version=counts.version,
        phi_redactions=phi_redactions,
        column_stats=stats,
        drift=drift.as_json() if drift is not None else None,
    )


def _drift(
    job: Job, landing: LandingFile, totals: Row, stats: dict[str, dict[str, int]]
) -> DriftReport | None:
    """The file against its client's baseline (None: no ``drift:``, or no check applies)."""
    client = job.clients[landing.client_id]
    if client.drift is None:
        return None
    observed = FileFigures(
        file_name=landing.name,
        creation_date=landing.creation_date,
        sequence=landing.sequence,
        rows=int(totals["read"]),
        columns={name: ColumnCounts(c["null"], c["invalid"]) for name, c in stats.items()},
    )
    names = [c.name for c in client.columns]
    return evaluate(client.drift, names, job.baselines.history(client.client_id), observed)
