"""Silver: SCD type 1 MERGE keyed by (client_id, tokenised key), Change Data Feed on.

The merge only ever sees rows that will change something: a pre-pass reads the stored
(key, row hash, creation date, sequence) for just the incoming keys and drops unchanged and
stale rows first. A naive conditional merge over mostly-unchanged rows is ~20x slower and
uses ~14x the memory (see DesignDoc.md). The engine's merge still carries the same
conditions, so a concurrent writer cannot make it regress data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig
from lakehouse.engine.base import MergeSpec, TableEngine
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import PHI_COLUMNS, encrypt_silver, prepare_silver, row_hash

__all__ = ["SilverCounts", "merge_silver", "silver_columns", "silver_rows"]

HASH = "_row_hash"
ORDER = ("_creation_date", "_sequence")
_STATE = ("insert", "update", "unchanged", "stale")


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


def silver_rows(valid: DataFrame, client: ClientConfig, keys: KeyRing) -> DataFrame:
    """Standardised valid rows -> silver rows: PHI redacted and deterministic policies
    applied, keyed hash of that content, then encryption (last, because an encrypted value
    differs on every write: the hash sees the plaintext, so equal rows stay unchanged).

    Clients with ``free_text`` columns also get ``_phi_<kind>`` finding counts per row; take
    them out with ``lakehouse.pii.policies.split_phi_counts`` before merging.
    """
    business = silver_columns(client)
    prepared = prepare_silver(valid, client, keys)
    phi = [c for c in PHI_COLUMNS if c in prepared.columns]
    hashed = prepared.select(
        "client_id",
        *business,
        row_hash(business, keys).alias(HASH),
        *ORDER,
        "_source_file",
        "_run_id",
        F.col("_ingested_at").alias("_updated_at"),
        *phi,
    )
    return encrypt_silver(hashed, client, keys)


def _classify(source: pa.Table, target: pa.Table, keys: list[str]) -> pl.Series:
    """Per source row: insert, update, unchanged or stale (older than what is stored)."""
    src = pl.from_arrow(source.select([*keys, HASH, *ORDER]))
    tgt = pl.from_arrow(target.select([*keys, HASH, *ORDER]))
    assert isinstance(src, pl.DataFrame) and isinstance(tgt, pl.DataFrame)
    joined = src.with_row_index("__i").join(tgt, on=keys, how="left", suffix="__t").sort("__i")
    s_date, s_seq = pl.col(ORDER[0]), pl.col(ORDER[1])
    t_date, t_seq = pl.col(ORDER[0] + "__t"), pl.col(ORDER[1] + "__t")
    not_older = (s_date > t_date) | ((s_date == t_date) & (s_seq >= t_seq))
    state = (
        pl.when(pl.col(HASH + "__t").is_null())
        .then(pl.lit("insert"))
        .when(pl.col(HASH) == pl.col(HASH + "__t"))
        .then(pl.lit("unchanged"))
        .when(not_older)
        .then(pl.lit("update"))
        .otherwise(pl.lit("stale"))
    )
    return joined.select(state.alias("state"))["state"]


def merge_silver(
    engine: TableEngine,
    path: Path,
    source: pa.Table,
    client: ClientConfig,
    *,
    file_sha256: str,
    reuse_committed: bool = True,
    retries: int,
    metadata: dict[str, str],
) -> SilverCounts:
    """Merge one file's silver rows; a replay commits nothing and creates no version.

    A file whose merge already committed (the process died before its audit row) gets the
    counts of that commit back, so the audit of a recovered run equals a clean run's
    (``reuse_committed=False``: merge against the current table regardless, for backfills).
    """
    keys = list(client.merge_key)
    if source.num_rows == 0:
        return SilverCounts(0, 0, 0, 0, None)
    app_id = f"lakehouse:silver:{file_sha256}"
    committed = _committed_counts(engine, path, app_id, file_sha256) if reuse_committed else None
    if committed is not None:
        return committed
    if engine.exists(path):
        target = engine.read(
            path,
            columns=[*keys, HASH, *ORDER],
            partition=("client_id", client.client_id),
            key_filter=(keys[0], source.column(keys[0]).to_pylist()),
        )
        states = _classify(source, target, keys)
    else:
        states = pl.Series("state", ["insert"] * source.num_rows)
    counts = {name: int((states == name).sum()) for name in _STATE}
    planned = counts["insert"] + counts["update"]
    changes = source.filter(pa.array(states.is_in(["insert", "update"]).to_list()))
    metadata = {
        **metadata,
        "file_sha256": file_sha256,
        "rows_planned": str(planned),
        "rows_unchanged": str(counts["unchanged"]),
        "rows_stale": str(counts["stale"]),
    }
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
    return _counts(
        result.inserted,
        result.updated,
        planned,
        counts["unchanged"],
        counts["stale"],
        result.version,
    )


def _counts(
    inserted: int, updated: int, planned: int, unchanged: int, stale: int, version: int | None
) -> SilverCounts:
    # Rows the merge's own conditions declined (a concurrent writer got there first) count
    # as unchanged, so inserted + updated + unchanged + stale always equals the input.
    declined = planned - inserted - updated
    return SilverCounts(inserted, updated, unchanged + declined, stale, version)


def _committed_counts(
    engine: TableEngine, path: Path, app_id: str, file_sha256: str
) -> SilverCounts | None:
    """Counts of this file's earlier silver commit, if it has one (read from its metadata)."""
    if engine.transaction_version(path, app_id) is None:
        return None
    for commit in engine.history(path):
        if commit.get("file_sha256") == file_sha256:
            metrics = commit.get("operationMetrics") or {}
            return _counts(
                int(metrics.get("num_target_rows_inserted", 0)),
                int(metrics.get("num_target_rows_updated", 0)),
                int(commit["rows_planned"]),
                int(commit["rows_unchanged"]),
                int(commit["rows_stale"]),
                int(commit["version"]),
            )
    return None
