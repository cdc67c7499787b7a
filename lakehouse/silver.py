"""Silver: SCD type 1 MERGE keyed by (client_id, tokenised key), Change Data Feed on.

The merge only ever sees rows that will change something: a pre-pass joins the incoming rows
with the stored (key, row hash, creation date, sequence) in Spark and drops unchanged and
stale rows first. A naive conditional merge over mostly-unchanged rows is ~20x slower and
uses ~14x the memory (see DesignDoc.md). The engine's merge still carries the same
conditions, so a concurrent writer cannot make it regress data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig
from lakehouse.engine.base import CDF_ON, MergeSpec, TableEngine
from lakehouse.memo import built_once, config_id
from lakehouse.pii.domains import domain_spec
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import PHI_COLUMNS, encrypt_silver, prepare_silver, row_hash
from lakehouse.spark import FILE_CACHE

__all__ = ["SilverCounts", "merge_silver", "silver_columns", "silver_rows"]

HASH = "_row_hash"
STATE = "_state"
ORDER = ("_creation_date", "_sequence")
_STATES = ("insert", "update", "unchanged", "stale")


@dataclass(frozen=True)
class SilverCounts:
    inserted: int
    updated: int
    unchanged: int
    stale: int
    version: int | None


def silver_columns(client: ClientConfig) -> list[str]:
    """Business columns that reach silver (every policy but ``drop``)."""
    return [c.name for c in client.columns if c.pii != "drop"]


def silver_rows(
    valid: DataFrame, client: ClientConfig, keys: KeyRing, *, extra: Sequence[str] = ()
) -> DataFrame:
    """Standardised valid rows -> silver rows: PHI redacted and deterministic policies
    applied, keyed hash of that content, then encryption (last, because an encrypted value
    differs on every write: the hash sees the plaintext, so equal rows stay unchanged).

    Clients with ``free_text`` columns also get ``_phi_<kind>`` finding counts per row; take
    them out with ``lakehouse.pii.policies.split_phi_counts`` before merging.

    ``extra``: derived columns of ``valid`` carried to silver as they are, outside the row
    hash (a measurement dataset's ``typical_flag``, ``member_known``).
    """
    business = silver_columns(client)
    prepared = prepare_silver(valid, client, keys)
    phi = tuple(c for c in PHI_COLUMNS if c in prepared.columns)
    columns = built_once(
        keys.spark_functions,
        ("silver_rows", config_id(client), tuple(extra), phi),
        lambda: [
            F.col("client_id"),
            *map(F.col, (*business, *extra)),
            row_hash(business, keys, client).alias(HASH),
            *map(F.col, (*ORDER, "_source_file", "_run_id")),
            F.col("_ingested_at").alias("_updated_at"),
            *map(F.col, phi),
        ],
    )
    return encrypt_silver(prepared.select(*columns), client, keys)


def _classify(source: DataFrame, target: DataFrame | None, keys: list[str]) -> DataFrame:
    """``source`` plus ``_state``: insert, update, unchanged or stale (older than stored)."""
    if target is None:
        return source.withColumn(STATE, F.lit("insert"))
    stored = target.select(*keys, *[F.col(c).alias(c + "__t") for c in (HASH, *ORDER)])
    s_date, s_seq = F.col(ORDER[0]), F.col(ORDER[1])
    t_date, t_seq = F.col(ORDER[0] + "__t"), F.col(ORDER[1] + "__t")
    not_older = (s_date > t_date) | ((s_date == t_date) & (s_seq >= t_seq))
    state = (
        F.when(F.col(HASH + "__t").isNull(), F.lit("insert"))
        .when(F.col(HASH) == F.col(HASH + "__t"), F.lit("unchanged"))
        .when(not_older, F.lit("update"))
        .otherwise(F.lit("stale"))
    )
    joined = source.join(stored, on=keys, how="left")
    return joined.select(*source.columns, state.alias(STATE))


def merge_silver(
    engine: TableEngine,
    path: Path,
    source: DataFrame,
    client: ClientConfig,
    *,
    file_sha256: str,
    reuse_committed: bool = True,
    retries: int,
    metadata: dict[str, str],
    app_id: str | None = None,
) -> SilverCounts:
    """Merge one file's silver rows; a replay commits nothing and creates no version.

    Rows are classified in Spark against the stored (key, hash, order) of this client's
    partition, and only inserts and updates go on. With no updates, the inserts are appended
    (executors write the files: no driver collect, cost independent of the table's size);
    otherwise the changes go through the engine's conditional MERGE. Either way the file is
    one commit. Appending inserts is safe because every silver writer holds the client's
    lock (``lakehouse.ingest.lock``): no other writer can insert the same key meanwhile.

    A file whose merge already committed (the process died before its audit row) gets the
    counts of that commit back, so the audit of a recovered run equals a clean run's
    (``reuse_committed=False``: merge against the current table regardless, for backfills).

    ``app_id``: the commit's idempotency id; default ``lakehouse:silver:<file_sha256>`` (one
    commit per file content). A quarantine replay names its batch instead.
    """
    keys = list(client.merge_key)
    app_id = app_id or f"lakehouse:silver:{file_sha256}"
    committed = _committed_counts(engine, path, app_id) if reuse_committed else None
    if committed is not None:
        return committed
    target = engine.read_frame(
        source.sparkSession,
        path,
        columns=[*keys, HASH, *ORDER],
        partition=("client_id", client.client_id),
    )
    classified = _classify(source, target, keys).persist(FILE_CACHE)
    try:
        found = {
            row[STATE]: int(row["n"])
            for row in classified.groupBy(STATE).agg(F.count(F.lit(1)).alias("n")).collect()
        }
        counts = {name: found.get(name, 0) for name in _STATES}
        planned = counts["insert"] + counts["update"]
        if planned == 0:
            return _counts(0, 0, 0, counts["unchanged"], counts["stale"], None)
        changes = classified.where(F.col(STATE).isin("insert", "update")).drop(STATE)
        metadata = {
            **metadata,
            # What the tokens of this commit depend on (lakehouse.pii.key_check reads it).
            "client_id": client.client_id,
            "token_domain": domain_spec(client),
            "file_sha256": file_sha256,
            "rows_planned": str(planned),
            "rows_unchanged": str(counts["unchanged"]),
            "rows_stale": str(counts["stale"]),
        }
        if counts["update"] == 0:
            engine.append_frame(
                path,
                changes,
                partition=("client_id", client.client_id),
                app_id=app_id,
                configuration=CDF_ON,
                metadata={**metadata, "rows_inserted": str(planned)},
                rows=planned,
            )
            inserted, updated, version = planned, 0, engine.version(path)
        else:
            result = engine.merge_scd1(
                path,
                changes,
                MergeSpec(
                    partition_column="client_id",
                    partition_value=client.client_id,
                    key_columns=keys,
                    hash_column=HASH,
                    order_columns=ORDER,
                    app_id=app_id,
                ),
                retries=retries,
                metadata=metadata,
            )
            inserted, updated, version = result.inserted, result.updated, result.version
    finally:
        classified.unpersist()
    return _counts(inserted, updated, planned, counts["unchanged"], counts["stale"], version)


def _counts(
    inserted: int, updated: int, planned: int, unchanged: int, stale: int, version: int | None
) -> SilverCounts:
    # Rows the merge's own conditions declined (a concurrent writer got there first) count
    # as unchanged, so inserted + updated + unchanged + stale always equals the input.
    declined = planned - inserted - updated
    return SilverCounts(inserted, updated, unchanged + declined, stale, version)


def _committed_counts(engine: TableEngine, path: Path, app_id: str) -> SilverCounts | None:
    """Counts of this file's earlier silver commit, if it has one (read from its record)."""
    commit = engine.committed(path, app_id)
    if commit is None:
        return None
    meta = commit.metadata
    # An all-insert file was appended: the engine may keep no counts for it, its own does.
    inserted = commit.inserted if commit.inserted is not None else int(meta["rows_inserted"])
    return _counts(
        inserted,
        commit.updated or 0,
        int(meta["rows_planned"]),
        int(meta["rows_unchanged"]),
        int(meta["rows_stale"]),
        commit.version,
    )
