"""delta-rs only: Spark writes the Parquet files, delta-rs commits them (no driver collect).

Private to ``DeltaRsEngine.append_frame``; a delta-spark engine has Spark commit its own
files and needs none of this.

``DataFrame.toArrow()`` gathers every row on the driver, so a file's memory cost grew with
its size (and the driver copy cost ~30% of an ingest). Here executors write Parquet into a
staging folder inside the table, the files move into their partition folders, and one Delta
commit adds them (``AddAction`` with row counts and column statistics). Until that commit
the files are invisible to every reader; a crash leaves only unreferenced files, which
``vacuum`` removes.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from lakehouse.errors import EngineError

if TYPE_CHECKING:  # pyspark is heavy to import; ops commands never need it
    from pyspark.sql import DataFrame

__all__ = ["STAGING_DIR", "commit_spark_files", "nullable_type", "write_staged"]

STAGING_DIR = "_staging"  # "_" prefix: ignored by Delta readers and by vacuum
_STATS_MAX_CHARS = 64  # longer strings get no min/max (a truncated max would be wrong)


def write_staged(df: DataFrame, table: Path, partition: tuple[str, str] | None) -> Path:
    """Write ``df`` as Parquet under ``<table>/_staging/<uuid>``; returns that folder.

    With ``partition=(column, value)`` the files go to ``<uuid>/<column>=<value>/`` without
    ``column``, as a partitioned write would lay them out. ``partitionBy`` is not used: it
    sorts each task's rows by the partition column first, and that sort held a whole task's
    rows (a 5.5M-row file ran out of execution memory there) to order a column with one value.
    A row whose ``column`` is not ``value`` (a caller's bug) fails the write.
    """
    from pyspark.sql import functions as F  # here: the module must import without pyspark

    staging = table / STAGING_DIR / uuid.uuid4().hex
    target = staging
    if partition is not None:
        column, value = partition
        # Folded away by the optimizer when ``column`` is a literal (it usually is).
        inside = F.when(F.col(column) == F.lit(value), F.lit(True)).otherwise(
            F.raise_error(F.lit(f"row outside partition {column}={value} in a write to {table}"))
        )
        df = df.where(inside).drop(column)
        target = staging / f"{quote(column, safe='')}={quote(value, safe='')}"
    try:
        df.write.mode("errorifexists").option("compression", "snappy").parquet(str(target))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _partition_values(relative: Path) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for part in relative.parts[:-1]:
        name, _, value = part.partition("=")
        values[unquote(name)] = None if value == "__HIVE_DEFAULT_PARTITION__" else unquote(value)
    return values


def _stat(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return None  # timestamps: skipped (time zone spelling varies by writer)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return None
    if isinstance(value, str) and len(value) > _STATS_MAX_CHARS:
        return None
    return value


def _stats(path: Path) -> tuple[int, str]:
    """(row count, Delta stats JSON) from the Parquet footer; no data pages are read."""
    meta = pq.read_metadata(path)
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for index in range(meta.num_columns):
        column = meta.schema.column(index)
        if "." in column.path:  # nested (lists): no stats
            continue
        lows, highs, missing, complete = [], [], 0, True
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(index).statistics
            if stats is None or not stats.has_null_count:
                complete = False
                break
            missing += stats.null_count
            if stats.has_min_max:
                lows.append(stats.min)
                highs.append(stats.max)
        if not complete:
            continue
        nulls[column.name] = missing
        low = _stat(min(lows)) if lows else None
        high = _stat(max(highs)) if highs else None
        if low is not None and high is not None:
            mins[column.name], maxs[column.name] = low, high
    stats = {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}
    return meta.num_rows, json.dumps(stats)


def nullable_type(kind: pa.DataType) -> pa.DataType:
    """``kind`` with every nested field (list item, struct field) nullable."""
    if pa.types.is_list(kind):
        return pa.list_(nullable_type(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, nullable_type(f.type)) for f in kind])
    return kind


def _delta_schema(files: list[Path], partition_by: Sequence[str]) -> pa.Schema:
    """The staged files' schema plus partition columns, every field nullable.

    Spark marks literal columns NOT NULL; in a Delta schema that would become a constraint
    that a later file (or an added column's old rows) could violate.
    """
    schema = pq.read_schema(files[0])
    fields = [pa.field(f.name, nullable_type(f.type)) for f in schema]
    fields += [pa.field(name, pa.string()) for name in partition_by if name not in schema.names]
    return pa.schema(fields)


def commit_spark_files(
    table: Path,
    staging: Path,
    *,
    partition_by: Sequence[str],
    commit_properties: CommitProperties,
    configuration: Mapping[str, str] | None = None,
) -> int:
    """Move the staged Parquet files into ``table`` and commit them; returns rows added.

    Commits nothing (and returns 0) when Spark wrote no rows. New columns are added to the
    table schema first (schema evolution, as ``write_deltalake(schema_mode="merge")``).

    Raises:
        EngineError: the staged schema conflicts with the table's, or the commit failed.
    """
    try:
        # An unpartitioned Spark write leaves one empty file when there are no rows.
        staged = [(f, *_stats(f)) for f in sorted(staging.rglob("*.parquet"))]
        staged = [(file, count, stats) for file, count, stats in staged if count]
        if not staged:
            return 0
        schema = _delta_schema([file for file, _, _ in staged], partition_by)
        actions, rows = [], 0
        for file, count, stats in staged:
            relative = file.relative_to(staging)
            target = table / relative.parent / f"{staging.name}-{relative.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            file.rename(target)
            rows += count
            actions.append(
                AddAction(
                    path=str(target.relative_to(table)),
                    size=target.stat().st_size,
                    partition_values=_partition_values(relative),
                    modification_time=int(target.stat().st_mtime * 1000),
                    data_change=True,
                    stats=stats,
                )
            )
        _commit(table, schema, actions, partition_by, commit_properties, configuration)
        return rows
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(
    table: Path,
    schema: pa.Schema,
    actions: list[AddAction],
    partition_by: Sequence[str],
    commit_properties: CommitProperties,
    configuration: Mapping[str, str] | None,
) -> None:
    try:
        existing = DeltaTable(str(table))
    except TableNotFoundError:
        existing = None
    try:
        if existing is None:
            create_table_with_add_actions(
                str(table),
                DeltaSchema.from_arrow(schema),
                actions,
                mode="append",
                partition_by=list(partition_by) or None,
                configuration=dict(configuration) if configuration else None,
                commit_properties=commit_properties,
            )
            return
        current = existing.schema().to_arrow()
        names = set(current.names)
        added = [field for field in schema if field.name not in names]
        if added:
            existing.alter.add_columns(list(DeltaSchema.from_arrow(pa.schema(added)).fields))
            existing = DeltaTable(str(table))
        existing.create_write_transaction(
            list[AddAction | RemoveAction](actions),
            mode="append",
            schema=existing.schema(),
            partition_by=list(partition_by) or None,
            commit_properties=commit_properties,
        )
    except Exception as exc:  # delta-rs raises several unrelated types; keep the cause
        raise EngineError(
            f"commit of {len(actions)} file(s) to {table} failed: {type(exc).__name__}: {exc}"
        ) from exc
