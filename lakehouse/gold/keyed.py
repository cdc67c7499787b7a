"""Gold tables replaced group by group: one row per key, only the touched keys recomputed.

A ``KeyedTable`` names its key, the silver columns it reads, how a silver (or change feed)
row maps to its group (``group_of``: adds derived key columns, such as the hour) and its pure
computation. Then, shared by every such table:

- **changed**: the distinct groups of silver's change rows in a version range (inserts,
  update pre- and post-images, deletes: a reading moved to another hour touches both);
- **write**: silver's current rows of those groups only (each client's partition, filtered
  to the touched member tokens, then to the groups), recomputed, and replaced in gold with
  ``TableEngine.replace_groups`` in one commit; a group without rows left is deleted, a
  group equal to what gold holds is not rewritten (and keeps its ``source_version``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError
from lakehouse.gold.table import Scope, Written

__all__ = ["KeyedTable", "frame", "utc"]


def frame(table: pa.Table) -> pl.DataFrame:
    """An Arrow table as a polars frame (a typed ``pl.from_arrow``)."""
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result


def utc(column: str, df: pl.DataFrame) -> pl.Expr:
    """``column`` of ``df`` as a UTC timestamp (a naive one is taken to be UTC already)."""
    dtype = df.schema[column]
    expr = pl.col(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return expr.dt.replace_time_zone("UTC")
    return expr.dt.convert_time_zone("UTC")


@dataclass(frozen=True)
class KeyedTable:
    """A gold table keyed by ``keys`` (``client_id`` first: its partition column)."""

    name: str
    source: str
    keys: tuple[str, ...]
    schema: pa.Schema
    # Silver columns the change feed must give to name a row's group, and those the
    # computation reads.
    change_columns: tuple[str, ...]
    columns: tuple[str, ...]
    group_of: Callable[[pl.DataFrame], pl.DataFrame]
    compute: Callable[[pl.DataFrame, int], pl.DataFrame]

    def _groups(self, rows: pl.DataFrame) -> pl.DataFrame:
        keyed = self.group_of(rows).select(self.keys).drop_nulls()
        return keyed.unique(maintain_order=True)

    def changed(self, engine: TableEngine, silver: Path, start: int, end: int) -> Scope:
        changes = engine.read_cdf(
            silver, starting_version=start, ending_version=end, columns=list(self.change_columns)
        )
        return Scope(groups=self._groups(frame(changes.select(list(self.change_columns)))))

    def _silver_rows(self, engine: TableEngine, silver: Path, scope: Scope) -> pl.DataFrame:
        partial = scope.partial
        members: dict[str, list[str]] = {}
        if partial is not None:
            for (client,), part in partial.group_by("client_id", maintain_order=True):
                members[str(client)] = part.get_column("member_id").unique().sort().to_list()
        parts = []
        for client in scope.touched:
            wanted = None if client in scope.clients else ("member_id", members[client])
            try:
                parts.append(
                    engine.read(
                        silver,
                        columns=list(self.columns),
                        partition=("client_id", client),
                        key_filter=wanted,
                    )
                )
            except (KeyError, ValueError, pa.ArrowInvalid) as exc:
                raise LakehouseError(
                    f"silver/{self.source} lacks a column gold.{self.name} reads "
                    f"({type(exc).__name__})",
                    fix=f"silver/{self.source} must have {', '.join(self.columns)} "
                    "(README, 'Gold tables')",
                ) from None
        rows = frame(pa.concat_tables(parts, promote_options="default"))
        if partial is None:
            return rows
        # Whole clients keep every row; the others only their touched groups.
        keyed = self.group_of(rows)
        whole = keyed.filter(pl.col("client_id").is_in(sorted(scope.clients)))
        single = keyed.join(partial, on=list(self.keys), how="semi", nulls_equal=False)
        return pl.concat([whole, single]).select(rows.columns)

    def _stored_groups(
        self, engine: TableEngine, gold: Path, clients: Sequence[str]
    ) -> pl.DataFrame:
        if not clients or not engine.exists(gold):
            return pl.DataFrame(schema=self._key_schema())
        stored = engine.read(gold, columns=list(self.keys), key_filter=("client_id", clients))
        return frame(stored.cast(pa.schema([self.schema.field(k) for k in self.keys])))

    def _key_schema(self) -> pl.Schema:
        empty = frame(pa.schema([self.schema.field(k) for k in self.keys]).empty_table())
        return empty.schema

    def write(
        self,
        engine: TableEngine,
        silver: Path,
        gold: Path,
        scope: Scope,
        *,
        source_version: int,
        metadata: Mapping[str, str],
    ) -> Written:
        if not scope.touched:
            return Written()
        rows = self.compute(self._silver_rows(engine, silver, scope), source_version)
        data = rows.select(self.schema.names).to_arrow().cast(self.schema)
        # The groups replaced: the touched ones, and every group gold or silver holds of a
        # whole client (so a group whose rows all left silver is deleted too).
        whole = sorted(scope.clients)
        replaced = [self._stored_groups(engine, gold, whole), frame(data.select(list(self.keys)))]
        if scope.partial is not None:
            replaced.append(scope.partial.select(self.keys))
        groups = pl.concat([g.cast(self._key_schema()) for g in replaced]).unique()
        result = engine.replace_groups(
            gold,
            data,
            keys=self.keys,
            groups=groups.to_arrow(),
            partition_column="client_id",
            ignore=("source_version",),
            metadata=metadata,
        )
        return Written(result.inserted + result.updated, result.version)
