"""Replay quarantined rows after a config fix (``lakehouse quarantine replay``).

A client's config was too strict (an ``isin`` list missing a new plan code, a date format
not declared): rows were quarantined that the fixed config accepts. A replay takes the
client's *open* quarantined rows (no resolution names them), file by file:

1. decrypts their raw values (``reveal_raw``: a PII access, recorded in ``pii_events``) and
   rebuilds the raw frame the validate stage takes (raw columns + lineage, the file's own
   creation date and sequence);
2. standardises and validates it exactly as ``ingest.file`` does, with the *current* config
   (all open rows of the file together, so ``duplicate_key_in_file`` is checked again);
3. merges the rows that now pass into silver (``merge_silver``: the late-data rule holds, a
   row from an older file never overwrites a newer silver row, it is ``stale``);
4. audits the file at the commit point (``ingest.outcome.commit``: SUCCESS, reason
   ``replay``; rows_read = rows re-validated, rows_valid = now passing, rows_quarantined =
   still failing);
5. marks the merged rows resolved (``lakehouse.resolutions``), never touching quarantine.

Rows that still fail stay open (their current reasons are reported). Malformed records
(``_record:malformed``) have no fields a config could fix: they stay open and are counted.

Idempotent and crash-safe, with one content id per file batch, ``replay_id`` (a hash of the
file, the record numbers and the row hashes that now pass). The batch's run id is
``replay-<replay_id[:16]>``; the silver commit's app id is ``lakehouse:replay:<replay_id>``
(a rerun gets the committed counts back instead of merging again), the audit row is skipped
when one with that run id exists, and the resolutions are appended with app id
``lakehouse:resolve:<replay_id>``. The order silver -> audit -> resolutions means a crash
anywhere leaves the rows open, and the rerun converges on exactly one silver commit, one
audit row and one set of resolutions. Once resolved, the rows are no longer open: a second
replay finds nothing to do and commits nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.audit import AuditRecord, PiiEvent, Status, append_pii_event, safe_error
from lakehouse.bronze import LINEAGE_COLUMNS
from lakehouse.config.models import ClientConfig
from lakehouse.engine.base import TableEngine
from lakehouse.errors import KeyMissingError, LakehouseError
from lakehouse.evolution.compat import refuse_breaking
from lakehouse.evolution.registry import accepted_silver_columns
from lakehouse.ingest.job import Job
from lakehouse.ingest.lock import ClientLock
from lakehouse.ingest.outcome import FileAttempt, FileOutcome, StageClock, commit, outcome_record
from lakehouse.landing.reader import CORRUPT_COLUMN
from lakehouse.pii.export import check_reason
from lakehouse.pii.key_check import commit_key_metadata
from lakehouse.pii.policies import (
    KEY_TOKEN,
    prepare_silver,
    reveal_raw,
    row_hash,
    split_phi_counts,
)
from lakehouse.resolutions import (
    MALFORMED,
    REPLAY_REASON,
    QuarantinedRow,
    append_resolutions,
    quarantined_rows,
    resolutions_path,
)
from lakehouse.silver import HASH, STATE, _classify, merge_silver, silver_columns, silver_rows
from lakehouse.spark import FILE_CACHE
from lakehouse.transform import standardise
from lakehouse.validation import REASONS, raw_copies, validate

__all__ = [
    "PII_EVENT",
    "REPLAY_REASON",
    "FileReplay",
    "ReplayFile",
    "ReplayReport",
    "plan_replay",
    "replay_quarantine",
]

log = logging.getLogger(__name__)

PII_EVENT = "quarantine_replay"  # the pii_events row's event
_BEFORE = "__reasons_before"
_SELECTED = "__selected"
_LINEAGE = [c for c in LINEAGE_COLUMNS if c != "client_id"]  # client_id: the partition
_KEY_ID = r"^(?:gcm[12]):([^:]+):"


@dataclass(frozen=True)
class ReplayFile:
    """One landing file's open quarantined rows that a replay selects."""

    name: str
    sha256: str
    creation_date: dt.date
    sequence: int
    file_size: int | None
    open_rows: int  # selected open rows, malformed included
    malformed: int  # of which malformed: left open, a config cannot fix them


@dataclass
class FileReplay:
    """What a replay did (or, dry, would do) with one file's open rows."""

    file: ReplayFile
    revalidated: int = 0
    passing: int = 0
    still_failing: dict[str, int] = field(default_factory=dict)  # current reason -> rows
    run_id: str | None = None
    replay_id: str | None = None
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    silver_version: int | None = None
    resolved: int = 0
    record: AuditRecord | None = None
    recovered: list[str] = field(default_factory=list)  # steps an earlier attempt committed
    key_ids: set[str] = field(default_factory=set)

    @property
    def failing(self) -> int:
        return self.revalidated - self.passing

    def as_row(self) -> dict[str, Any]:
        return {
            "file": self.file.name,
            "file_sha256": self.file.sha256,
            "open_rows": self.file.open_rows,
            "malformed_left_open": self.file.malformed,
            "revalidated": self.revalidated,
            "now_passing": self.passing,
            "still_failing": self.failing,
            "still_failing_reasons": dict(sorted(self.still_failing.items())),
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "silver_version": self.silver_version,
            "resolved": self.resolved,
            "run_id": self.run_id,
            "replay_id": self.replay_id,
            "recovered": self.recovered,
        }


@dataclass
class ReplayReport:
    client_id: str
    dry_run: bool
    event_id: str
    files: list[FileReplay] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why it was not replayed

    @property
    def resolved(self) -> int:
        return sum(f.resolved for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "dry_run": self.dry_run,
            "pii_event_id": self.event_id,
            "files": [f.as_row() for f in self.files],
            "skipped": self.skipped,
        }


def matches_code(reasons: tuple[str, ...] | list[str], code: str | None) -> bool:
    """``code`` names a reason as ``column:code`` (exact) or ``code`` (any column)."""
    if code is None:
        return True
    if ":" in code:
        return code in reasons
    return any(r.split(":", 1)[-1] == code for r in reasons)


def _code_column(code: str | None) -> Column:
    if code is None:
        return F.lit(True)
    if ":" in code:
        return F.array_contains(F.col(REASONS), code)
    return F.exists(F.col(REASONS), lambda r: F.substring_index(r, ":", -1) == F.lit(code))


# --- planning: which files have open rows (Arrow, no values) --------------------------------


def _successful_files(engine: TableEngine, audit_path: Any, client_id: str) -> dict[str, int]:
    """SHA-256 -> file size of the client's files with a SUCCESS audit row (their valid rows
    are in silver); a file only ever HELD has none."""
    if not engine.exists(audit_path):
        return {}
    table = engine.read(audit_path, columns=["client_id", "file_sha256", "status", "file_size"])
    table = table.filter(pc.equal(table.column("client_id").cast(pa.string()), client_id))
    return {
        str(r["file_sha256"]): r["file_size"]
        for r in table.to_pylist()
        if r["status"] == Status.SUCCESS and r["file_sha256"]
    }


def plan_replay(
    job: Job, client: ClientConfig, *, file: str | None = None, reason_code: str | None = None
) -> tuple[list[ReplayFile], dict[str, str]]:
    """The files whose open quarantined rows a replay takes, and the files it must skip.

    Raises:
        LakehouseError: nothing to replay, naming client, file and what to do.
    """
    settings, engine, cid = job.settings, job.engine, client.client_id
    rows = quarantined_rows(settings, engine, client, files=[file] if file else None)
    listing = f"`lakehouse quarantine --client {cid}` lists reasons, open and resolved rows"
    if not rows:
        if file:
            raise LakehouseError(
                "no quarantined rows from this file",
                client=cid,
                file=file,
                fix=f"check the landing file name (as in `lakehouse audit --client {cid}`); "
                + listing,
            )
        raise LakehouseError("the client has no quarantined rows", client=cid, fix=listing)
    chosen = [r for r in rows if matches_code(r.reasons, reason_code)]
    if not chosen:
        codes = sorted({reason for r in rows for reason in r.reasons})
        raise LakehouseError(
            f"no quarantined row has reason code '{reason_code}'",
            client=cid,
            file=file,
            fix=f"use one of {', '.join(codes)} (or a bare code such as "
            f"'{codes[0].split(':', 1)[-1]}' for any column)",
        )
    no_lineage = [r for r in chosen if r.file_sha256 is None or r.record_number is None]
    if no_lineage:
        raise LakehouseError(
            f"{len(no_lineage)} quarantined row(s) have no file checksum or record number "
            "(written before lineage was recorded): they cannot be replayed row by row",
            client=cid,
            file=file or no_lineage[0].source_file,
            fix="backfill their files instead (`lakehouse backfill`)",
        )
    open_rows = [r for r in chosen if not r.resolved]
    if not open_rows:
        raise LakehouseError(
            f"no open quarantined rows to replay ({len(chosen)} already resolved)",
            client=cid,
            file=file,
            fix="nothing to do: a replay of resolved rows changes nothing; " + listing,
        )
    by_file: dict[str, list[QuarantinedRow]] = {}
    for row in open_rows:
        by_file.setdefault(str(row.file_sha256), []).append(row)
    succeeded = _successful_files(engine, settings.audit_path, cid)
    plans: list[ReplayFile] = []
    skipped: dict[str, str] = {}
    for sha, mine in by_file.items():
        first = mine[0]
        if sha not in succeeded:
            skipped[first.source_file] = (
                "its file has no SUCCESS audit row (HELD: its valid rows are not in silver "
                f"either): release it first (`lakehouse release --file {first.source_file}`)"
            )
            continue
        if all(r.malformed for r in mine):
            skipped[first.source_file] = (
                f"its {len(mine)} open row(s) are malformed records ({MALFORMED}): no config "
                "change can replay them; ask the client to send the records again in a new file"
            )
            continue
        assert first.creation_date is not None and first.sequence is not None
        plans.append(
            ReplayFile(
                name=first.source_file,
                sha256=sha,
                creation_date=first.creation_date,
                sequence=int(first.sequence),
                file_size=succeeded[sha],
                open_rows=len(mine),
                malformed=sum(1 for r in mine if r.malformed),
            )
        )
    if not plans:
        name, why = next(iter(skipped.items()))
        raise LakehouseError(
            "no file with open quarantined rows can be replayed", client=cid, file=name, fix=why
        )
    plans.sort(key=lambda p: (p.creation_date, p.sequence, p.name))  # ingest order
    return plans, skipped


# --- one file --------------------------------------------------------------------------------


def _open_frame(job: Job, client: ClientConfig, plan: ReplayFile, code: str | None) -> DataFrame:
    """The file's open, well-formed quarantined rows as stored (PII still encrypted), with
    ``__selected`` (the reason code filter) and ``__reasons_before``."""
    settings, engine, cid = job.settings, job.engine, client.client_id
    path = settings.table_path("quarantine", client.dataset)
    names = [c.name for c in client.columns]
    present = set(
        engine.read(
            path, partition=("client_id", cid), key_filter=("_source_file", [])
        ).schema.names
    )
    missing = [n for n in names if n not in present]
    if missing:
        raise LakehouseError(
            f"the client config declares column(s) {', '.join(missing)} that quarantined rows "
            "do not hold (added after they were quarantined): a replay cannot supply values",
            client=cid,
            file=plan.name,
            fix="backfill the file to read it again from its source with the current config",
        )
    stored = engine.read_frame(
        job.spark,
        path,
        columns=[*names, CORRUPT_COLUMN, REASONS, KEY_TOKEN, *_LINEAGE],
        partition=("client_id", cid),
    )
    assert stored is not None  # the plan found rows
    rows = stored.where(F.col("_file_sha256") == plan.sha256)
    done_path = resolutions_path(settings)
    if engine.exists(done_path):
        done = engine.read_frame(
            job.spark,
            done_path,
            columns=["file_sha256", "record_number"],
            partition=("client_id", cid),
        )
        if done is not None:
            resolved = done.where(F.col("file_sha256") == plan.sha256).select(
                F.col("record_number").alias("_record_number")
            )
            rows = rows.join(resolved, on="_record_number", how="left_anti")
    # Malformed records: only their encrypted raw text is kept, no field to re-validate.
    rows = rows.where(F.col(CORRUPT_COLUMN).isNull())
    return rows.select(
        F.lit(cid).alias("client_id"),
        *names,
        CORRUPT_COLUMN,
        *_LINEAGE,
        KEY_TOKEN,
        F.col(REASONS).alias(_BEFORE),
        _code_column(code).alias(_SELECTED),
    )


def _key_ids(frame: DataFrame, client: ClientConfig) -> set[str]:
    """Ids of the keys the frame's encrypted values need (read from their prefixes)."""
    pii = [c.name for c in client.columns if c.is_pii and c.name in frame.columns]
    if not pii:
        return set()
    found = F.explode(F.array(*[F.regexp_extract(F.col(n), _KEY_ID, 1) for n in pii]))
    ids = frame.select(found.alias("k")).where(F.col("k") != "").distinct().collect()
    return {str(row["k"]) for row in ids}


def _check_keys(job: Job, client: ClientConfig, plan: ReplayFile, key_ids: set[str]) -> None:
    for key_id in sorted(key_ids):
        try:
            job.keys.decryption_key(key_id, "encrypt")
        except KeyMissingError as missing:
            raise KeyMissingError(
                f"quarantined rows are encrypted with encrypt key '{key_id}', which this key "
                "ring does not hold: they cannot be decrypted for replay",
                client=client.client_id,
                file=plan.name,
                fix=missing.fix,
            ) from None


def _replay_id(client: ClientConfig, sha256: str, passing: list[tuple[int, str]]) -> str:
    digest = hashlib.sha256(f"{client.client_id}\n{client.dataset}\n{sha256}\n".encode())
    for number, row_digest in sorted(passing):
        digest.update(f"{number}:{row_digest}\n".encode())
    return digest.hexdigest()


def _audited(engine: TableEngine, audit_path: Any, run_id: str) -> bool:
    if not engine.exists(audit_path):
        return False
    ids = engine.read(audit_path, columns=["run_id"]).column("run_id").cast(pa.string())
    return bool(pc.any(pc.equal(ids, run_id)).as_py())


def _predict(job: Job, client: ClientConfig, silver: DataFrame) -> Counter[str]:
    """Dry run: how the rows would classify against silver now (insert, update, ...)."""
    keys = list(client.merge_key)
    target = job.engine.read_frame(
        job.spark,
        job.settings.table_path("silver", client.dataset),
        columns=[*keys, HASH, "_creation_date", "_sequence"],
        partition=("client_id", client.client_id),
    )
    classified = _classify(silver, target, keys)
    return Counter(
        {
            str(r[STATE]): int(r["n"])
            for r in classified.groupBy(STATE).agg(F.count(F.lit(1)).alias("n")).collect()
        }
    )


def _replay_file(
    job: Job,
    client: ClientConfig,
    result: FileReplay,
    *,
    code: str | None,
    reason: str,
    user: str,
    host: str,
    dry_run: bool,
) -> FileReplay:
    """Fill ``result`` (its file's plan) as the work goes: a failure keeps what was done."""
    plan = result.file
    clock = StageClock()
    settings, engine, keys = job.settings, job.engine, job.keys
    with ExitStack() as stack:
        with clock.stage("read"):
            stored = _open_frame(job, client, plan, code).persist(FILE_CACHE)
            stack.callback(stored.unpersist)
            result.key_ids = _key_ids(stored, client)
            _check_keys(job, client, plan, result.key_ids)
        with clock.stage("validate"):
            now = dt.datetime.now(dt.UTC)
            raw = (
                reveal_raw(stored, client, keys, corrupt=CORRUPT_COLUMN)
                .drop(KEY_TOKEN)
                .withColumns(
                    {
                        "_run_id": F.lit(""),  # set below, once the batch's id is known
                        "_ingested_at": F.lit(now).cast("timestamp"),
                    }
                )
            )
            standardised = standardise(raw_copies(raw, client), client.columns, client.phone_region)
            validated = validate(standardised, client, corrupt_column=CORRUPT_COLUMN).persist(
                FILE_CACHE
            )
            stack.callback(validated.unpersist)
            selected = validated.where(F.col(_SELECTED))
            # One job: rows per distinct set of current reasons (few sets; empty = passes).
            outcomes = selected.groupBy(REASONS).agg(F.count(F.lit(1)).alias("n")).collect()
            still: Counter[str] = Counter()
            for row in outcomes:
                result.revalidated += int(row["n"])
                if not row[REASONS]:
                    result.passing += int(row["n"])
                for current in row[REASONS] or ():
                    still[str(current)] += int(row["n"])
            result.still_failing = dict(still)
        if result.passing == 0:
            return result  # nothing passes: nothing is committed, the rows stay open
        passing = selected.where(F.size(REASONS) == 0)
        with clock.stage("silver"):
            business = silver_columns(client)
            pairs = (
                prepare_silver(passing, client, keys)
                .select("_record_number", _BEFORE, row_hash(business, keys, client).alias(HASH))
                .collect()
            )
            result.replay_id = _replay_id(
                client, plan.sha256, [(int(r["_record_number"]), str(r[HASH])) for r in pairs]
            )
            result.run_id = f"replay-{result.replay_id[:16]}"
            silver = silver_rows(passing.withColumn("_run_id", F.lit(result.run_id)), client, keys)
            if any(c.free_text for c in client.columns):
                silver = silver.persist(FILE_CACHE)
                stack.callback(silver.unpersist)
            rows, phi_redactions = split_phi_counts(silver)
            if dry_run:
                predicted = _predict(job, client, rows)
                result.inserted, result.updated = predicted["insert"], predicted["update"]
                result.unchanged, result.stale = predicted["unchanged"], predicted["stale"]
                return result
            job.faults.reach("before_merge")
            # Main's schema-evolution guard, as before every silver merge (ingest.file).
            refuse_breaking(
                client,
                engine.schema(settings.table_path("silver", client.dataset)),
                {f.name: f.dataType.simpleString() for f in rows.schema.fields},
                accepted=accepted_silver_columns(engine, settings.lake_root, client.client_id),
            )
            app_id = f"lakehouse:replay:{result.replay_id}"
            if engine.exists(settings.table_path("silver", client.dataset)) and engine.committed(
                settings.table_path("silver", client.dataset), app_id
            ):
                result.recovered.append("silver")
            counts = merge_silver(
                engine,
                settings.table_path("silver", client.dataset),
                rows,
                client,
                file_sha256=plan.sha256,
                app_id=app_id,
                retries=settings.merge_retries,
                metadata={
                    "run_id": result.run_id,
                    "source_file": plan.name,
                    "reason": REPLAY_REASON,
                    "replay_id": result.replay_id,
                    **commit_key_metadata(keys),
                },
            )
            job.faults.reach("after_merge")
    result.inserted, result.updated = counts.inserted, counts.updated
    result.unchanged, result.stale = counts.unchanged, counts.stale
    result.silver_version = counts.version
    file_job = replace(job, run_id=result.run_id)
    if _audited(engine, settings.audit_path, result.run_id):
        result.recovered.append("audit")  # the commit point was passed by an earlier attempt
    else:
        attempt = FileAttempt(
            client_id=client.client_id,
            file_name=plan.name,
            file_size=plan.file_size,
            file_sha256=plan.sha256,
            creation_date=plan.creation_date,
            sequence=plan.sequence,
        )
        outcome = FileOutcome(
            Status.SUCCESS,
            reason=REPLAY_REASON,
            rows_read=result.revalidated,
            rows_valid=result.passing,
            rows_quarantined=result.failing,
            rows_inserted=counts.inserted,
            rows_updated=counts.updated,
            rows_unchanged=counts.unchanged,
            rows_stale=counts.stale,
            silver_version=counts.version,
            phi_redactions=phi_redactions,
        )
        result.record = outcome_record(file_job, attempt, outcome, clock)
        commit(file_job, [result.record])
    resolved_at = dt.datetime.now(dt.UTC)
    resolutions = [
        {
            "client_id": client.client_id,
            "dataset": client.dataset,
            "file_sha256": plan.sha256,
            "source_file": plan.name,
            "record_number": int(r["_record_number"]),
            "status": "resolved",
            "resolution": "replayed",
            "reasons_before": list(r[_BEFORE] or []),
            "run_id": result.run_id,
            "replay_id": result.replay_id,
            "silver_version": counts.version,
            "resolved_at": resolved_at,
            "user": user,
            "host": host,
            "reason": reason,
        }
        for r in sorted(pairs, key=lambda r: int(r["_record_number"]))
    ]
    append_resolutions(
        engine, settings, resolutions, app_id=f"lakehouse:resolve:{result.replay_id}"
    )
    result.resolved = len(resolutions)
    log.info(
        "quarantined rows replayed",
        extra={
            "client": client.client_id,
            "file": plan.name,
            "run_id": result.run_id,
            "resolved": result.resolved,
            "still_failing": result.failing,
        },
    )
    return result


# --- the command -----------------------------------------------------------------------------


@contextmanager
def _pii_event(
    job: Job, client: ClientConfig, reason: str, user: str, host: str
) -> Iterator[PiiEvent]:
    """Decrypting quarantined PII is a PII access: one ``pii_events`` row, SUCCESS or
    FAILED (with a safe error), whatever happens."""
    event = PiiEvent(
        event=PII_EVENT,
        client_id=client.client_id,
        started_at=dt.datetime.now(dt.UTC),
        user=user,
        host=host,
        event_id=uuid.uuid4().hex,
        reason=reason,
        tables="quarantine",
    )
    try:
        yield event
        event.status = "SUCCESS"
    except BaseException as exc:
        event.status = "FAILED"
        event.error = safe_error(exc)
        raise
    finally:
        event.finished_at = dt.datetime.now(dt.UTC)
        append_pii_event(job.engine, job.settings.lake_root, event)


def replay_quarantine(
    job: Job,
    client_id: str,
    *,
    reason: str,
    user: str,
    file: str | None = None,
    reason_code: str | None = None,
    dry_run: bool = False,
    host: str | None = None,
) -> ReplayReport:
    """Re-validate the client's open quarantined rows with the current config and merge the
    rows that now pass into silver (see the module docstring). Under the client's lock,
    like every silver writer (a dry run writes nothing and takes no lock).

    ``reason``: the operator's (ticket, sentence), kept with every resolution and in
    ``pii_events``; ``user``: who runs it (``lakehouse.cli.pii.user_name``).

    Raises:
        LakehouseError: unknown client, nothing open to replay, a file that cannot be
            replayed (``--file`` of a HELD file), a missing key; each names client and file.
    """
    if client_id not in job.clients:
        raise LakehouseError(
            f"unknown client '{client_id}'", fix=f"choose from {', '.join(sorted(job.clients))}"
        )
    reason = check_reason(reason)  # as for `lakehouse decrypt`: a ticket or a sentence
    client = job.clients[client_id]
    host = host or socket.gethostname()
    with _pii_event(job, client, reason, user, host) as event:
        report = ReplayReport(client_id=client_id, dry_run=dry_run, event_id=event.event_id)
        lock = (
            nullcontext()
            if dry_run
            else ClientLock(job.settings.lock_dir, client_id, run_id=f"replay-{event.event_id}")
        )
        try:
            with lock:
                plans, report.skipped = plan_replay(job, client, file=file, reason_code=reason_code)
                if file is not None and report.skipped:
                    name, why = next(iter(report.skipped.items()))
                    raise LakehouseError(
                        "this file cannot be replayed", client=client_id, file=name, fix=why
                    )
                for plan in plans:
                    report.files.append(FileReplay(file=plan))
                    _replay_file(
                        job,
                        client,
                        report.files[-1],
                        code=reason_code,
                        reason=reason,
                        user=user,
                        host=host,
                        dry_run=dry_run,
                    )
        finally:
            event.columns = (
                ",".join(c.name for c in client.columns if c.is_pii) if report.files else None
            )
            event.rows = sum(f.revalidated for f in report.files)
            event.key_ids = ",".join(sorted(set().union(*[f.key_ids for f in report.files])))
            event.detail = {
                "dry_run": dry_run,
                "file": file,
                "reason_code": reason_code,
                "files": {
                    f.file.name: {
                        "run_id": f.run_id,
                        "revalidated": f.revalidated,
                        "resolved": f.resolved,
                        "still_failing": f.still_failing,
                        "malformed_left_open": f.file.malformed,
                    }
                    for f in report.files
                },
                "skipped": report.skipped,
            }
    return report
