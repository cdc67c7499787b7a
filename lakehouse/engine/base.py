"""The table operations every stage needs, behind one small interface.

Stages never import ``deltalake`` or ``delta.tables`` directly: they call a ``TableEngine``.
The embedded default is delta-rs (``DeltaRsEngine``); a delta-spark engine for clusters
implements the same protocol. The protocol speaks in neutral types: Spark frames or Arrow
tables in, ``MergeResult`` and ``CommitRecord`` out; idempotency by app id is the engine's
job, so no stage reads transaction markers itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

if TYPE_CHECKING:  # pyspark is heavy to import; ops commands never need it
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["CommitRecord", "MergeResult", "MergeSpec", "TableEngine"]


# Silver tables keep a change feed: analysts read inserts and updates per version.
CDF_ON = {"delta.enableChangeDataFeed": "true"}


@dataclass(frozen=True)
class MergeSpec:
    """An SCD type 1 merge: match on keys within one partition; update only when newer."""

    partition_column: str
    partition_value: str
    key_columns: Sequence[str]
    hash_column: str
    # Lexicographic "not older than" test: (creation_date, sequence) of the source must be
    # >= the stored one, so a late or backfilled file never overwrites newer data.
    order_columns: Sequence[str]
    app_id: str | None = None


@dataclass(frozen=True)
class MergeResult:
    inserted: int
    updated: int
    version: int | None  # None when nothing was committed
    deleted: int = 0  # rows removed (``replace_groups``; an SCD1 merge deletes none)

    @property
    def committed(self) -> bool:
        return self.version is not None


@dataclass(frozen=True)
class CommitRecord:
    """One commit of a table, as every engine reports it (``history``, ``committed``).

    Row counts are None when the engine recorded none for the commit (delta-rs keeps no
    metrics for Spark-staged appends, nor row counts for overwrites).
    """

    version: int
    timestamp: dt.datetime | None  # UTC
    operation: str | None  # Delta's name: WRITE, MERGE, DELETE, CREATE TABLE, ...
    app_id: str | None = None  # the idempotent write's id, when it had one
    # What the caller passed as ``metadata=`` (run_id, source_file, ...), nothing of the
    # engine's own bookkeeping.
    metadata: Mapping[str, str] = field(default_factory=dict)
    inserted: int | None = None
    updated: int | None = None
    deleted: int | None = None


class TableEngine(Protocol):
    """Delta table operations used by the pipeline. Paths are local directories or URIs."""

    name: str

    def exists(self, path: Path) -> bool: ...

    def version(self, path: Path) -> int | None: ...

    def schema(self, path: Path) -> pa.Schema | None:
        """The table's current schema as Arrow types (None: no table)."""
        ...

    def committed(self, path: Path, app_id: str) -> CommitRecord | None:
        """The newest commit written with ``app_id`` (an append or a merge), or None.

        None also when the commit's record is gone (``purge_history`` removed it): the app id
        itself survives, and an append with it stays a no-op.
        """
        ...

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
        """Append ``data``; with ``app_id``, an append of an id already in the table is a
        no-op (nothing written, no version). The commit records ``app_id`` and ``metadata``.

        Returns True when a commit was made.
        """
        ...

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
        """Append a Spark frame without collecting it on the driver (executors write the
        files; one commit adds them). Nothing is committed when ``df`` has no rows.

        ``partition=(column, value)``: every row of ``df`` has ``column == value`` (one
        client's file), and the table is partitioned by ``column``. A row with another value
        fails the write instead of being filed under the wrong partition.

        ``rows``: how many rows ``df`` holds, when the caller already knows (a file's row
        count). An engine may collect a frame that small and write it itself, where a Spark
        write job would cost more than the rows; the table and the commit are the same.

        ``app_id`` as in ``append``: a repeat commits nothing. Returns True when a commit was
        made.
        """
        ...

    def merge_scd1(
        self,
        path: Path,
        source: DataFrame,
        spec: MergeSpec,
        *,
        retries: int,
        metadata: Mapping[str, str] | None = None,
    ) -> MergeResult:
        """SCD type 1 merge of ``source`` (rows of ``spec``'s partition only) into ``path``,
        creating the table (partitioned, change feed on) if needed.

        Inserts new keys; updates a key only when its hash differs and the source's order
        tuple is not older. A replay of the same source matches nothing and commits nothing.
        ``spec.app_id`` is recorded with the commit but does not make a merge a no-op (a
        backfill merges a file again on purpose). Conflicting commits are retried
        ``retries`` times.

        Raises:
            EngineError: source rows outside the partition, or still conflicting.
        """
        ...

    def read(
        self,
        path: Path,
        *,
        columns: Sequence[str] | None = None,
        partition: tuple[str, str] | None = None,
        key_filter: tuple[str, Sequence[str]] | None = None,
    ) -> pa.Table: ...

    def read_frame(
        self,
        spark: SparkSession,
        path: Path,
        *,
        columns: Sequence[str],
        partition: tuple[str, str],
    ) -> DataFrame | None:
        """``columns`` of one partition's current rows as a Spark frame (None: no rows)."""
        ...

    def read_cdf(
        self,
        path: Path,
        *,
        starting_version: int,
        ending_version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Change rows of versions ``starting_version``..``ending_version`` (inclusive) with
        ``_change_type``, ``_commit_version`` and ``_commit_timestamp``; ``columns``: only
        these data columns (the change columns always come).

        Raises:
            EngineError: no table, or the range's change files or log entries are gone
                (a full vacuum or a purged history): the caller recomputes from a snapshot.
        """
        ...

    def history(self, path: Path, *, limit: int | None = None) -> list[CommitRecord]:
        """Commits of the table, newest first (``limit``: the newest N); [] for no table."""
        ...

    def replace_partitions(
        self,
        path: Path,
        data: pa.Table,
        *,
        column: str,
        values: Sequence[str],
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Replace every row whose ``column`` is one of ``values`` by ``data`` in one commit
        (creating the table, partitioned by ``column``, when absent); ``data`` may be empty
        (the partitions are emptied). Every row of ``data`` must have its ``column`` among
        ``values``. Returns the new version.

        Raises:
            EngineError: a row outside ``values``, or the commit failed.
        """
        ...

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
        """Make the rows keyed by ``groups`` (one row per key tuple, columns ``keys``) equal
        to ``data`` in one commit: a key of ``data`` not in the table is inserted, one in both
        is updated when a column other than the keys and ``ignore`` differs (NULL-safe), a key
        of ``groups`` without a row in ``data`` is deleted; rows of other keys are not
        changed. Nothing to change commits nothing (``version`` None). Creates the table
        (partitioned by ``partition_column``, no change feed) when absent.

        Every row of ``data`` must have its key in ``groups``, and keys are unique in both.

        Raises:
            EngineError: a row outside ``groups``, a repeated key, or the commit failed.
        """
        ...

    # --- PII operations: erasure and key rotation -------------------------------------------

    def delete(
        self, path: Path, predicate: str, *, metadata: Mapping[str, str] | None = None
    ) -> int:
        """Delete the rows matching a SQL ``predicate``; returns the number deleted."""
        ...

    def vacuum_full(self, path: Path) -> list[str]:
        """Remove every file the current version does not reference, ``_change_data``
        included (retention 0): older versions and their change feed become unreadable."""
        ...

    def purge_history(self, path: Path) -> int:
        """Checkpoint, then delete every older commit file of the log (their statistics and
        predicates may quote removed values); app transaction markers survive. Returns the
        number of log files removed."""
        ...

    def rewrite_partition(
        self,
        path: Path,
        data: pa.Table,
        *,
        partition: tuple[str, str],
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Replace every row of one partition by ``data`` in one commit."""
        ...
