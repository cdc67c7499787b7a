"""Bronze: every raw record as read, with lineage; appended once per file content.

PII columns (every column with a ``pii`` policy or ``free_text``) and the raw text of
malformed records are stored AES-GCM encrypted (``gcm2:<key id>:...``, bound to client,
dataset, column and the row's ``_key_token``: ``lakehouse.pii.domains``), so
bronze is safe at rest and a key holder can still replay it (``reveal_raw``). ``_key_token``
holds the merge key's token, equal to silver's key, so erasure finds a member's rows without
decrypting anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig
from lakehouse.engine.base import TableEngine
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import protect_raw

__all__ = ["LINEAGE_COLUMNS", "Lineage", "append_bronze", "bronze_rows", "with_lineage"]

LINEAGE_COLUMNS = (
    "client_id",
    "_source_file",
    "_file_sha256",
    "_creation_date",
    "_sequence",
    "_record_number",
    "_run_id",
    "_ingested_at",
)


@dataclass(frozen=True)
class Lineage:
    """Where a batch of rows came from; the same values are stamped on every row."""

    client_id: str
    source_file: str
    file_sha256: str
    creation_date: dt.date
    sequence: int
    run_id: str
    ingested_at: dt.datetime


def with_lineage(df: DataFrame, lineage: Lineage) -> DataFrame:
    """Add the lineage columns (``_record_number`` comes from the reader)."""
    return df.select(
        F.lit(lineage.client_id).alias("client_id"),
        *[F.col(c) for c in df.columns],
        F.lit(lineage.source_file).alias("_source_file"),
        F.lit(lineage.file_sha256).alias("_file_sha256"),
        F.lit(lineage.creation_date).cast("date").alias("_creation_date"),
        F.lit(lineage.sequence).cast("int").alias("_sequence"),
        F.lit(lineage.run_id).alias("_run_id"),
        F.lit(lineage.ingested_at).cast("timestamp").alias("_ingested_at"),
    )


def bronze_rows(
    raw: DataFrame, client: ClientConfig, keys: KeyRing, *, corrupt_column: str
) -> DataFrame:
    """Raw rows with lineage -> bronze rows: PII and malformed text encrypted, key token.

    Raises:
        KeyMissingError: no encrypt key in ``keys``.
    """
    return protect_raw(raw, client, keys, corrupt=corrupt_column)


def bronze_app_id(file_sha256: str) -> str:
    return f"lakehouse:bronze:{file_sha256}"


def append_bronze(
    engine: TableEngine, path: Path, df: DataFrame, lineage: Lineage, *, rows: int | None = None
) -> bool:
    """Append a file's raw rows unless this file content is already in bronze.

    The commit carries the app id ``lakehouse:bronze:<sha256>``, and the engine makes a repeat
    of it a no-op. ``rows``: the file's row count, if known (see ``append_frame``). Returns
    True when rows were appended.
    """
    return engine.append_frame(
        path,
        df,
        partition=("client_id", lineage.client_id),
        app_id=bronze_app_id(lineage.file_sha256),
        metadata={"run_id": lineage.run_id, "source_file": lineage.source_file},
        rows=rows,
    )
