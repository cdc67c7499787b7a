"""The embedded engine: delta-rs (``deltalake``) commits Delta tables from Arrow data.

Verified behaviours this relies on (see DesignDoc.md, "Engine decision"):
- app transactions are only markers: delta-rs does not refuse a repeated ``app_id``, so
  ``append`` reads the marker itself before writing;
- ``history()`` does not show a commit's app transactions: the app id also goes into the
  commit's metadata (``app_id``), where ``committed`` finds it;
- a merge whose every row is filtered out by its predicates commits nothing;
- merges on different ``client_id`` partitions commit concurrently when the predicate names
  the partition literal; other conflicts raise ``CommitFailedError`` and are retried.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pa_fs
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from lakehouse.engine.base import CDF_ON, CommitRecord, MergeResult, MergeSpec
from lakehouse.engine.deltars_staging import commit_spark_files, nullable_type, write_staged
from lakehouse.errors import EngineError

if TYPE_CHECKING:  # pyspark is heavy to import; ops commands never need it
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["DeltaRsEngine"]

log = logging.getLogger(__name__)

# Commit metadata key holding the app id of an idempotent write (see the module docstring).
APP_ID_KEY = "app_id"
# A frame whose caller knows it holds at most this many rows (a small landing file's) is
# collected and written by delta-rs: one Spark job instead of a write job whose task, temporary
# folders, renames and (without Hadoop's native library) a `chmod` process per file cost more
# than the rows. The demo's wave, warm: 13.5 s -> 12.6 s (DesignDoc.md, "Performance").
SMALL_FRAME_ROWS = 10_000
# delta-rs' own commitInfo fields; every other string in a history entry is caller metadata.
_COMMIT_INFO_FIELDS = frozenset(
    {
        "timestamp",
        "operation",
        "operationParameters",
        "operationMetrics",
        "readVersion",
        "isolationLevel",
        "isBlindAppend",
        "engineInfo",
        "clientVersion",
        "userMetadata",
        "txnId",
        "inCommitTimestamp",
        "version",
    }
)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DeltaRsEngine:
    """``TableEngine`` backed by delta-rs."""

    name = "delta-rs"

    def _table(self, path: Path) -> DeltaTable | None:
        try:
            return DeltaTable(str(path))
        except TableNotFoundError:
            return None

    def exists(self, path: Path) -> bool:
        return self._table(path) is not None

    def version(self, path: Path) -> int | None:
        table = self._table(path)
        return None if table is None else int(table.version())

    def schema(self, path: Path) -> pa.Schema | None:
        table = self._table(path)
        return None if table is None else pa.schema(table.schema().to_arrow())

    def _has_marker(self, path: Path, app_id: str) -> bool:
        table = self._table(path)
        return table is not None and table.transaction_version(app_id) is not None

    def committed(self, path: Path, app_id: str) -> CommitRecord | None:
        if not self._has_marker(path, app_id):  # the usual case, and no history read
            return None
        records = self.history(path)
        for record in records:  # newest first: a backfill may have merged the file again
            if record.app_id == app_id:
                return record
        return _marker_commit(path, app_id, records)

    def _replayed(self, path: Path, app_id: str | None) -> bool:
        """True when a commit of ``app_id`` is already in the table (the write is a replay)."""
        if app_id is None or not self._has_marker(path, app_id):
            return False
        log.info("append skipped: already committed", extra={"table": str(path), "app_id": app_id})
        return True

    def _commit_properties(
        self, app_id: str | None, metadata: Mapping[str, str] | None
    ) -> CommitProperties:
        custom = dict(metadata or {})
        if app_id:
            custom[APP_ID_KEY] = app_id
        return CommitProperties(
            app_transactions=[Transaction(app_id, 1)] if app_id else None,
            custom_metadata=custom,
        )

    def append(
        self,
        path: Path,
        data: pa.Table,
        *,
        partition_by: Sequence[str] = (),
        app_id: str | None = None,
        configuration: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> bool:
        if self._replayed(path, app_id):
            return False
        path.mkdir(parents=True, exist_ok=True)
        try:
            write_deltalake(
                str(path),
                data,
                mode="append",
                partition_by=list(partition_by) or None,
                schema_mode="merge",
                configuration=dict(configuration) if configuration else None,
                commit_properties=self._commit_properties(app_id, metadata),
            )
        except Exception as exc:  # delta-rs raises several unrelated types; keep the cause
            raise EngineError(f"append to {path} failed: {type(exc).__name__}: {exc}") from exc
        return True

    def append_frame(
        self,
        path: Path,
        df: DataFrame,
        *,
        partition: tuple[str, str] | None = None,
        app_id: str | None = None,
        configuration: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
        rows: int | None = None,
    ) -> bool:
        if self._replayed(path, app_id):
            return False
        partition_by = [partition[0]] if partition else []
        small = rows is not None and rows <= SMALL_FRAME_ROWS
        if small or "://" in str(path):  # object stores: Spark writes only local tables
            table = _appendable(df.toArrow(), path, partition)
            return table.num_rows > 0 and self.append(
                path,
                table,
                partition_by=partition_by,
                app_id=app_id,
                configuration=configuration,
                metadata=metadata,
            )
        path.mkdir(parents=True, exist_ok=True)
        staging = write_staged(df, path, partition)
        rows = commit_spark_files(
            path,
            staging,
            partition_by=partition_by,
            commit_properties=self._commit_properties(app_id, metadata),
            configuration=configuration,
        )
        return rows > 0

    def _ensure_table(self, path: Path, schema: pa.Schema, partition_column: str) -> DeltaTable:
        table = self._table(path)
        if table is not None:
            return table
        path.mkdir(parents=True, exist_ok=True)
        try:
            return DeltaTable.create(
                str(path),
                schema,
                partition_by=[partition_column],
                configuration=CDF_ON,
                mode="ignore",
            )
        except Exception as exc:
            raise EngineError(f"cannot create table {path}: {exc}") from exc

    def merge_scd1(
        self,
        path: Path,
        source: DataFrame,
        spec: MergeSpec,
        *,
        retries: int,
        metadata: Mapping[str, str] | None = None,
    ) -> MergeResult:
        # delta-rs merges Arrow data, so the source is collected on the driver: callers send
        # only the rows that change something (silver's pre-pass), not a whole file.
        return self._merge_arrow(path, source.toArrow(), spec, retries=retries, metadata=metadata)

    def _merge_arrow(
        self,
        path: Path,
        source: pa.Table,
        spec: MergeSpec,
        *,
        retries: int,
        metadata: Mapping[str, str] | None,
    ) -> MergeResult:
        if source.num_rows == 0:
            return MergeResult(inserted=0, updated=0, version=None)
        # Rows of another partition would never match the partition literal and be inserted
        # again on every replay: refuse them.
        in_partition = pc.equal(source.column(spec.partition_column), spec.partition_value)
        if not pc.all(pc.fill_null(in_partition, False)).as_py():
            raise EngineError(
                f"merge into {path}: source rows outside partition "
                f"{spec.partition_column}={spec.partition_value}"
            )
        partition = f"t.{spec.partition_column} = {_quote(spec.partition_value)}"
        on = _match(partition, [spec.partition_column, *spec.key_columns])
        update_when = f"t.{spec.hash_column} <> s.{spec.hash_column} AND {_not_older(spec)}"
        attempt = 0
        while True:
            table = self._ensure_table(path, source.schema, spec.partition_column)
            try:
                metrics = (
                    table.merge(
                        source,
                        on,
                        source_alias="s",
                        target_alias="t",
                        merge_schema=True,
                        commit_properties=self._commit_properties(spec.app_id, metadata),
                    )
                    .when_matched_update_all(predicate=update_when)
                    .when_not_matched_insert_all()
                    .execute()
                )
            except CommitFailedError as exc:
                attempt += 1
                if attempt > retries:
                    raise EngineError(
                        f"merge into {path} still conflicting after {retries} retries",
                        fix="rerun the job; concurrent writers on the same partition conflict",
                    ) from exc
                delay = min(8.0, 0.2 * 2**attempt) * (0.5 + random.random())
                log.warning(
                    "merge commit conflict, retrying",
                    extra={"table": str(path), "attempt": attempt, "delay_s": round(delay, 2)},
                )
                time.sleep(delay)
                continue
            inserted = int(metrics["num_target_rows_inserted"])
            updated = int(metrics["num_target_rows_updated"])
            version = self.version(path) if inserted or updated else None
            return MergeResult(inserted=inserted, updated=updated, version=version)

    def read(
        self,
        path: Path,
        *,
        columns: Sequence[str] | None = None,
        partition: tuple[str, str] | None = None,
        key_filter: tuple[str, Sequence[str]] | None = None,
    ) -> pa.Table:
        table = self._table(path)
        if table is None:
            raise EngineError(f"table {path} does not exist", fix="run the ingest job first")
        dataset = table.to_pyarrow_dataset(
            file_pruning_predicate=[(partition[0], "=", partition[1])] if partition else None,
            filesystem=_filesystem(path),
        )
        expression = None
        if key_filter is not None:
            column, values = key_filter
            # delta-rs writes strings as string_view; pyarrow's statistics pruning then
            # compares string with string_view and fails, so compare as plain strings.
            expression = (
                pc.field(column).cast(pa.string()).isin(pa.array(list(values), pa.string()))
            )
        return dataset.to_table(columns=list(columns) if columns else None, filter=expression)

    def read_frame(
        self,
        spark: SparkSession,
        path: Path,
        *,
        columns: Sequence[str],
        partition: tuple[str, str],
    ) -> DataFrame | None:
        table = self._table(path)
        if table is None:
            return None
        files = table.file_uris(file_pruning_predicate=[(partition[0], "=", partition[1])])
        if not files:
            return None
        # Only the snapshot's files, never a directory listing: unreferenced files (a crashed
        # writer's, or removed by a merge) must not be read.
        return spark.read.parquet(*files).select(*columns)

    def read_cdf(
        self,
        path: Path,
        *,
        starting_version: int,
        ending_version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        table = self._table(path)
        if table is None:
            raise EngineError(f"table {path} does not exist")
        wanted = None
        if columns is not None:
            wanted = [*columns, "_change_type", "_commit_version", "_commit_timestamp"]
        try:
            reader = table.load_cdf(
                starting_version=starting_version, ending_version=ending_version, columns=wanted
            )
            return pa.table(reader.read_all())
        except Exception as exc:  # noqa: BLE001 - the reader raises a bare Exception (C Data)
            # A vacuumed change file or a purged log entry: the range cannot be replayed.
            raise EngineError(
                f"change feed of {path} from version {starting_version} cannot be read "
                f"({type(exc).__name__})",
                fix="recompute from the current snapshot (the change files or log entries "
                "of that range were removed by a full vacuum or a purged history)",
            ) from None

    def replace_partitions(
        self,
        path: Path,
        data: pa.Table,
        *,
        column: str,
        values: Sequence[str],
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        if not values:
            raise EngineError(f"replace of {path} names no {column} value")
        inside = pc.fill_null(pc.is_in(data.column(column), pa.array(list(values))), False)
        if data.num_rows and not pc.all(inside).as_py():
            raise EngineError(f"row outside the replaced {column} values in a write to {path}")
        predicate = f"{column} IN ({', '.join(_quote(v) for v in values)})"
        try:
            write_deltalake(
                str(path),
                _appendable(data, path, None),
                mode="overwrite",
                predicate=predicate,
                partition_by=[column],
                commit_properties=self._commit_properties(None, metadata),
            )
        except (DeltaError, OSError, pa.ArrowException) as exc:
            # delta-rs' validation error previews rows: never pass its text on.
            raise EngineError(
                f"replace of {path} ({column} in {len(values)} value(s)) failed: "
                f"{type(exc).__name__}",
                fix="rerun: the replace is one commit, so nothing was changed",
            ) from None
        version = self.version(path)
        assert version is not None
        return version

    def replace_groups(
        self,
        path: Path,
        data: pa.Table,
        *,
        keys: Sequence[str],
        groups: pa.Table,
        partition_column: str,
        ignore: Sequence[str] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> MergeResult:
        if partition_column not in keys:
            raise EngineError(f"replace of {path}: the partition column is not a key")
        data = _appendable(data, path, None)
        groups = groups.select(list(keys)).cast(pa.schema([data.schema.field(k) for k in keys]))
        _check_keys(path, data, groups, keys)
        removed = groups.join(data.select(list(keys)), list(keys), join_type="left anti")
        properties = self._commit_properties(None, metadata)
        table = self._table(path)
        if table is None:
            if data.num_rows == 0:  # nothing to insert and nothing stored to remove
                return MergeResult(inserted=0, updated=0, version=None)
            return self._first_groups(path, data, partition_column, properties)
        source = pa.concat_tables(
            [
                data.append_column("_gone", pa.repeat(False, data.num_rows)),
                removed.append_column("_gone", pa.repeat(True, removed.num_rows)),
            ],
            promote_options="default",
        )
        values = pc.unique(groups.column(partition_column)).to_pylist()
        if not values:
            return MergeResult(inserted=0, updated=0, version=None)
        # The partition literal prunes the scan to the groups' partitions (as in merge_scd1).
        on = _match(f"t.{partition_column} IN ({', '.join(_quote(str(v)) for v in values)})", keys)
        compared = [c for c in data.column_names if c not in keys and c not in ignore]
        differs = " OR ".join(f"(s.{c} IS DISTINCT FROM t.{c})" for c in compared) or "false"
        try:
            metrics = (
                table.merge(
                    source,
                    on,
                    source_alias="s",
                    target_alias="t",
                    commit_properties=properties,
                )
                .when_matched_delete(predicate="s._gone")
                .when_matched_update(
                    updates={c: f"s.{c}" for c in data.column_names if c not in keys},
                    predicate=f"NOT s._gone AND ({differs})",
                )
                .when_not_matched_insert(
                    updates={c: f"s.{c}" for c in data.column_names}, predicate="NOT s._gone"
                )
                .execute()
            )
        except (DeltaError, OSError, pa.ArrowException) as exc:
            raise EngineError(
                f"replace of {len(groups)} group(s) in {path} failed: {type(exc).__name__}",
                fix="rerun: the replace is one commit, so nothing was changed",
            ) from None
        inserted = int(metrics["num_target_rows_inserted"])
        updated = int(metrics["num_target_rows_updated"])
        deleted = int(metrics["num_target_rows_deleted"])
        changed = inserted or updated or deleted
        version = self.version(path) if changed else None  # an all-equal merge commits nothing
        return MergeResult(inserted=inserted, updated=updated, version=version, deleted=deleted)

    def _first_groups(
        self, path: Path, data: pa.Table, partition_column: str, properties: CommitProperties
    ) -> MergeResult:
        """The first ``replace_groups`` of a table: one commit creates it with ``data``."""
        path.mkdir(parents=True, exist_ok=True)
        try:
            write_deltalake(
                str(path),
                data,
                mode="append",
                partition_by=[partition_column],
                commit_properties=properties,
            )
        except (DeltaError, OSError, pa.ArrowException) as exc:
            raise EngineError(
                f"first write of {path} failed: {type(exc).__name__}",
                fix="rerun: nothing was committed",
            ) from None
        return MergeResult(inserted=data.num_rows, updated=0, version=self.version(path))

    def history(self, path: Path, *, limit: int | None = None) -> list[CommitRecord]:
        table = self._table(path)
        if table is None:
            return []
        return [_record(entry) for entry in table.history(limit)]

    # --- PII operations: erasure and key rotation -------------------------------------------

    def delete(
        self, path: Path, predicate: str, *, metadata: Mapping[str, str] | None = None
    ) -> int:
        table = self._table(path)
        if table is None:
            return 0
        try:
            metrics = table.delete(
                predicate, commit_properties=self._commit_properties(None, metadata)
            )
        except Exception as exc:
            # The predicate may quote the value being erased: never put it in the message.
            raise EngineError(f"delete from {path} failed: {type(exc).__name__}") from exc
        return int(metrics.get("num_deleted_rows") or 0)

    def vacuum_full(self, path: Path) -> list[str]:
        table = self._table(path)
        if table is None:
            return []
        removed = table.vacuum(
            retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True
        )
        return [str(name) for name in removed]

    def purge_history(self, path: Path) -> int:
        table = self._table(path)
        if table is None:
            return 0
        log_dir = path / "_delta_log"
        before = {p.name for p in log_dir.iterdir()}
        retention = table.metadata().configuration.get("delta.logRetentionDuration")
        table.alter.set_table_properties({"delta.logRetentionDuration": "interval 0 seconds"})
        table = DeltaTable(str(path))
        table.create_checkpoint()
        # Commit files are expired by their modification time: make sure "now" has passed.
        time.sleep(1.1)
        table.cleanup_metadata()
        table = DeltaTable(str(path))
        table.alter.set_table_properties(
            {"delta.logRetentionDuration": retention or "interval 30 days"}
        )
        after = {p.name for p in log_dir.iterdir()}
        return len(before - after)

    def rewrite_partition(
        self,
        path: Path,
        data: pa.Table,
        *,
        partition: tuple[str, str],
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        column, value = partition
        try:
            write_deltalake(
                str(path),
                data,
                mode="overwrite",
                predicate=f"{column} = {_quote(value)}",
                partition_by=[column],
                commit_properties=self._commit_properties(None, metadata),
            )
        except Exception as exc:
            raise EngineError(
                f"rewrite of {path} ({column}={value}) failed: {type(exc).__name__}",
                fix="rerun: only values still under an old key are rewritten",
            ) from exc


def _appendable(table: pa.Table, path: Path, partition: tuple[str, str] | None) -> pa.Table:
    """A collected frame as the Spark-written files would commit it: every field nullable
    (Spark marks literal columns NOT NULL; in a Delta schema that becomes a constraint a later
    file could violate), and no row outside ``partition`` (a caller's bug fails the write)."""
    if partition is not None and table.num_rows:
        column, value = partition
        inside = pc.fill_null(pc.equal(table.column(column), value), False)
        if not pc.all(inside).as_py():
            raise EngineError(f"row outside partition {column}={value} in a write to {path}")
    schema = pa.schema([pa.field(f.name, nullable_type(f.type)) for f in table.schema])
    return table.cast(schema)


def _check_keys(path: Path, data: pa.Table, groups: pa.Table, keys: Sequence[str]) -> None:
    """``replace_groups``' preconditions: unique keys, every row of ``data`` in ``groups``."""
    for name, table in (("data", data), ("groups", groups)):
        if table.group_by(list(keys)).aggregate([]).num_rows != table.num_rows:
            raise EngineError(f"replace of groups in {path}: repeated key in the {name}")
    outside = data.select(list(keys)).join(groups, list(keys), join_type="left anti")
    if outside.num_rows:
        # Never show the row: gold keys carry member tokens.
        raise EngineError(f"row outside the replaced groups in a write to {path}")


def _filesystem(path: Path) -> pa_fs.FileSystem | None:
    """pyarrow's own filesystem for local tables.

    Reading through delta-rs' filesystem handler intermittently aborts the process at exit
    ("terminate called without an active exception", delta-io/delta-rs#2184); measured here:
    8 of 30 short CLI runs crashed that way, 0 of 30 with pyarrow's local filesystem.
    """
    if "://" in str(path):
        return None
    return pa_fs.SubTreeFileSystem(str(path.resolve()), pa_fs.LocalFileSystem())


def _record(entry: Mapping[str, Any]) -> CommitRecord:
    """A delta-rs ``history()`` entry as a ``CommitRecord``."""
    metadata = {
        key: value
        for key, value in entry.items()
        if key not in _COMMIT_INFO_FIELDS and isinstance(value, str)
    }
    app_id = metadata.pop(APP_ID_KEY, None)
    operation = entry.get("operation")
    metrics: Mapping[str, Any] = entry.get("operationMetrics") or {}
    parameters: Mapping[str, Any] = entry.get("operationParameters") or {}

    def count(name: str) -> int | None:
        return None if metrics.get(name) is None else int(metrics[name])

    inserted = updated = deleted = None
    if operation == "MERGE":
        inserted = count("num_target_rows_inserted")
        updated = count("num_target_rows_updated")
        deleted = count("num_target_rows_deleted")
    elif operation == "WRITE" and parameters.get("mode") == "Append":
        inserted = count("num_added_rows")  # Spark-staged appends carry no metrics: None
    elif operation == "DELETE":
        deleted = count("num_deleted_rows")
    elif operation == "UPDATE":
        updated = count("num_updated_rows")
    timestamp = entry.get("timestamp")
    return CommitRecord(
        version=int(entry["version"]),
        timestamp=None
        if timestamp is None
        else dt.datetime.fromtimestamp(int(timestamp) / 1000, tz=dt.UTC),
        operation=None if operation is None else str(operation),
        app_id=app_id,
        metadata=metadata,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
    )


def _marker_commit(path: Path, app_id: str, records: Sequence[CommitRecord]) -> CommitRecord | None:
    """The commit that added ``app_id``'s marker, for commits made before the app id also
    went into the commit metadata: the first version whose snapshot holds the marker
    (markers are never removed). None when older versions are gone (``purge_history``)."""
    low, high = 0, max((r.version for r in records), default=0)  # the marker is at ``high``
    try:
        while low < high:
            middle = (low + high) // 2
            if DeltaTable(str(path), version=middle).transaction_version(app_id) is None:
                low = middle + 1
            else:
                high = middle
    except DeltaError:  # that version's log files were removed
        return None
    found = next((r for r in records if r.version == low), None)
    return None if found is None else dataclasses.replace(found, app_id=app_id)


def _match(partition: str, keys: Sequence[str]) -> str:
    """A merge's ON clause: the ``partition`` literal (it prunes the scan and lets merges of
    other partitions commit concurrently), then target key = source key for every key."""
    return " AND ".join([partition, *(f"t.{key} = s.{key}" for key in keys)])


def _not_older(spec: MergeSpec) -> str:
    """SQL for "source order tuple >= target order tuple" (lexicographic)."""
    clauses: list[str] = []
    for i, column in enumerate(spec.order_columns):
        equal_prefix = [f"s.{c} = t.{c}" for c in spec.order_columns[:i]]
        op = ">=" if i == len(spec.order_columns) - 1 else ">"
        clauses.append(" AND ".join([*equal_prefix, f"s.{column} {op} t.{column}"]))
    return "(" + " OR ".join(f"({c})" for c in clauses) + ")"
