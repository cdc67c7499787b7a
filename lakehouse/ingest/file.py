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
from lakehouse.evolution.compat import refuse_breaking
from lakehouse.evolution.plan import FilePlan, added_reason, drift_reason, plan_file
from lakehouse.evolution.registry import accepted_silver_columns
from lakehouse.evolution.rescue import rescue_frame
from lakehouse.ingest.job import Job
from lakehouse.ingest.outcome import FileAttempt, FileOutcome, StageClock
from lakehouse.ingest.readings import check_readings, flag_reading_outliers, validated_columns
from lakehouse.landing.checksum import FileScan
from lakehouse.landing.filenames import LandingFile
from lakehouse.landing.read import read_landing
from lakehouse.landing.reader import CORRUPT_COLUMN, check_header
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
    client = job.clients[landing.feed]
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
        # Every configured header is there once check_header returns: the first line is the
        # header line, so the undeclared names are header names (never a data row). JSON
        # lines and XML have no header: their undeclared fields are counted, not planned.
        unknown = (
            check_header(path, client, endings=endings)[1] if client.file.format == "csv" else ()
        )
        plan = plan_file(client, unknown)
        read = read_landing(
            job.spark, path, plan.client, endings=endings, extra=plan.extra_columns()
        )
        if scan is not None:
            # The read is materialised (cached) now: every later stage uses these rows.
            try:
                scan.verify_unchanged(path)
            except BaseException:
                read.release()
                raise
    with ExitStack() as stack:
        stack.callback(read.release)
        first_seen = _log_new_columns(job, plan, landing.name)
        frame = read.frame
        if plan.rescues:
            frame = rescue_frame(frame, plan, corrupt_column=CORRUPT_COLUMN)
        raw = with_lineage(frame, lineage)
        file_client = plan.client  # declared columns plus pending (addNewColumns) ones
        faults.reach("before_bronze")
        with clock.stage("bronze"):
            append_bronze(
                job.engine,
                settings.table_path("bronze", client.dataset),
                bronze_rows(raw, file_client, job.keys, corrupt_column=CORRUPT_COLUMN),
                lineage,
                rows=read.rows,
            )
        faults.reach("after_bronze")
        with clock.stage("validate"):
            standardised = standardise(
                raw_copies(raw, file_client),
                file_client.columns,
                client.phone_region,
                memo=job.plans,
            )
            checked = validate(
                standardised, file_client, corrupt_column=CORRUPT_COLUMN, memo=job.plans
            )
            if client.measurements is not None:  # units, ranges, the member lookup
                checked = check_readings(job, client, checked)
            validated = checked.persist(FILE_CACHE)
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
                    *[F.col(c.name + RAW_SUFFIX).alias(c.name) for c in file_client.columns],
                    CORRUPT_COLUMN,
                    REASONS,
                    *[c for c in raw.columns if c.startswith("_") and c != CORRUPT_COLUMN],
                )
                append_quarantine(
                    job.engine,
                    settings.table_path("quarantine", client.dataset),
                    quarantine_rows(invalid, file_client, job.keys, corrupt_column=CORRUPT_COLUMN),
                    client_id=client.client_id,
                    file_sha256=lineage.file_sha256,
                    run_id=job.run_id,
                    rows=rows_quarantined,
                )
        faults.reach("after_quarantine")
        if plan.held:
            # failOnNewColumns: an unclassified column may hold PII; nothing reaches silver
            # until `lakehouse schema approve` declares it and the file is released.
            return FileOutcome(
                Status.HELD,
                reason=drift_reason(len(plan.held)),
                rows_read=rows_read,
                rows_valid=rows_valid,
                rows_quarantined=rows_quarantined,
                column_stats=stats,
                error=f"{len(plan.held)} column(s) the config does not declare: "
                f"{', '.join(plan.held)}; run `lakehouse schema diff --client "
                f"{client.client_id}`, then `lakehouse schema approve`",
            )
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
            silver = silver_rows(valid, client, job.keys, extra=validated_columns(client))
            if client.measurements is not None:
                silver = flag_reading_outliers(job, client, silver)
            if any(c.free_text for c in client.columns):
                # The PHI totals take a pass of their own before the merge's: compute once.
                silver = silver.persist(FILE_CACHE)
                stack.callback(silver.unpersist)
            rows, phi_redactions = split_phi_counts(silver)
            silver_path = settings.table_path("silver", client.dataset)
            # New nullable columns are added by the merge; anything else is refused here.
            refuse_breaking(
                client,
                job.engine.schema(silver_path),
                {f.name: f.dataType.simpleString() for f in rows.schema.fields},
                accepted=accepted_silver_columns(job.engine, settings.lake_root, client.client_id),
            )
            counts = merge_silver(
                job.engine,
                silver_path,
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
    reasons = [r for r in ("released" if release else None, first_seen) if r]
    return FileOutcome(
        Status.SUCCESS,
        reason=";".join(reasons) or None,
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


def _log_new_columns(job: Job, plan: FilePlan, file_name: str) -> str | None:
    """Log what the plan does with undeclared headers; the audit reason for pending columns
    bronze does not have yet (the first run that sees them), else None.

    Header names are safe to log: they come from a header line (see ``plan_file``).
    """
    client_id = plan.client.client_id
    context = {"client": client_id, "file": file_name}
    if plan.ignored:
        log.warning(
            "file has columns the client config does not declare; they are not ingested",
            extra={**context, "columns": ",".join(plan.ignored)},
        )
    if plan.held:
        log.warning(
            "file held: columns the client config does not declare (schema_drift)",
            extra={**context, "columns": ",".join(plan.held)},
        )
    if plan.rescued:
        log.info(
            "undeclared columns go to _rescued_data (rescue)",
            extra={**context, "columns": ",".join(c.header for c in plan.rescued)},
        )
    if not plan.added:
        return None
    schema = job.engine.schema(job.settings.table_path("bronze", plan.client.dataset))
    known = set(schema.names) if schema is not None else set()
    new = [c for c in plan.added if c.name not in known]
    if not new:
        return None
    log.warning(
        "bronze gains pending columns (addNewColumns): encrypted as PII, kept out of silver "
        "until approved (`lakehouse schema approve`)",
        extra={**context, "columns": ",".join(f"{c.header}->{c.name}" for c in new)},
    )
    return added_reason(len(new))


def _drift(
    job: Job, landing: LandingFile, totals: Row, stats: dict[str, dict[str, int]]
) -> DriftReport | None:
    """The file against its client's baseline (None: no ``drift:``, or no check applies)."""
    client = job.clients[landing.feed]
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
    return evaluate(client.drift, names, job.baselines.history(client), observed)
