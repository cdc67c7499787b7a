"""``gold/members_summary``: members per client, plan and age band, with small cells suppressed.

Pure functions over polars frames (no Spark, no engine): ``summarise_members`` turns the
silver rows of some clients into their summary rows. Silver holds the birth date in whatever
form each client's PII policy gives it (``pii/deidentify.py``): a year (``1970``), an age band
at the file's date (``40-49``), ``90+``, or an ISO date where the policy keeps it. Every form
is placed into the summary's own bands, at the row's creation date (the date the file said it
was true), so a rerun on another day gives the same rows:

- an ISO date: the completed years at the creation date;
- a year: the age reached in the creation date's year (may be one year above the completed
  age before the birthday: a year alone cannot tell);
- a band ``lo-hi`` or ``N+``: its summary band when it lies inside one, else ``unknown`` (a
  client's 5-year bands fit 10-year ones; 10-year bands do not fit 5-year ones);
- anything else (NULL, a token, a mask): ``unknown``.

Incremental rule (``MembersSummary``): a change row names its client; every cell of a changed
client is recomputed and the client's partition replaced as a whole (a cell's suppression
depends on the client's other cells), in one commit; an equal recomputation commits nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from lakehouse.config.gold import MembersSummarySpec
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError
from lakehouse.gold.keyed import frame
from lakehouse.gold.table import Scope, Written

__all__ = ["SUMMARY_SCHEMA", "UNKNOWN", "MembersSummary", "age_band", "summarise_members"]

UNKNOWN = "unknown"

SUMMARY_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("plan_code", pa.string()),
        ("age_band", pa.string()),
        ("members", pa.int64()),  # NULL when suppressed
        ("suppressed", pa.bool_()),
        ("k", pa.int32()),
        ("source_version", pa.int64()),  # the silver version the cell was computed from
    ]
)


def _label(low: pl.Expr, spec: MembersSummarySpec) -> pl.Expr:
    width, top = spec.band_years, spec.top_age
    high = pl.min_horizontal(low + (width - 1), pl.lit(top - 1))
    return pl.concat_str([low.cast(pl.String), pl.lit("-"), high.cast(pl.String)])


def _band_of_age(age: pl.Expr, spec: MembersSummarySpec) -> pl.Expr:
    low = (age // spec.band_years) * spec.band_years
    return (
        pl.when(age.is_null() | (age < 0))
        .then(pl.lit(UNKNOWN))
        .when(age >= spec.top_age)
        .then(pl.lit(f"{spec.top_age}+"))
        .otherwise(_label(low, spec))
    )


def age_band(birth: pl.Expr, as_of: pl.Expr, spec: MembersSummarySpec) -> pl.Expr:
    """The summary's age band of a silver birth value (see the module docstring)."""
    text = birth.cast(pl.String).str.strip_chars()
    year = as_of.dt.year()
    iso = text.str.to_date("%Y-%m-%d", strict=False)
    completed = (
        year
        - iso.dt.year()
        - ((as_of.dt.month() * 100 + as_of.dt.day()) < (iso.dt.month() * 100 + iso.dt.day())).cast(
            pl.Int32
        )
    )
    from_year = year - text.str.extract(r"^(\d{4})$", 1).cast(pl.Int32, strict=False)
    plus = text.str.extract(r"^(\d{1,3})\+$", 1).cast(pl.Int32, strict=False)
    low = text.str.extract(r"^(\d{1,3})-\d{1,3}$", 1).cast(pl.Int32, strict=False)
    high = text.str.extract(r"^\d{1,3}-(\d{1,3})$", 1).cast(pl.Int32, strict=False)
    width, top = spec.band_years, spec.top_age
    fits = (low // width == high // width) & (high < top) & (low <= high)
    return (
        pl.when(iso.is_not_null())
        .then(_band_of_age(completed, spec))
        .when(from_year.is_not_null())
        .then(_band_of_age(from_year, spec))
        .when(plus.is_not_null())
        .then(pl.when(plus >= top).then(pl.lit(f"{top}+")).otherwise(pl.lit(UNKNOWN)))
        .when(low.is_not_null())
        .then(
            pl.when(low >= top)
            .then(pl.lit(f"{top}+"))
            .when(fits)
            .then(_band_of_age(low, spec))
            .otherwise(pl.lit(UNKNOWN))
        )
        .otherwise(pl.lit(UNKNOWN))
    )


def summarise_members(
    silver: pl.DataFrame, spec: MembersSummarySpec, *, source_version: int
) -> pl.DataFrame:
    """Summary rows of every client in ``silver`` (its current rows: client_id, the plan
    and birth columns, ``_creation_date``), sorted; cells under ``spec.k`` suppressed."""
    if silver.is_empty():
        return pl.from_arrow(SUMMARY_SCHEMA.empty_table())  # type: ignore[return-value]
    plan = pl.col(spec.plan_column) if spec.plan_column in silver.columns else pl.lit(None)
    birth = pl.col(spec.birth_column) if spec.birth_column in silver.columns else pl.lit(None)
    cells = (
        silver.select(
            pl.col("client_id").cast(pl.String),
            plan.cast(pl.String).fill_null(UNKNOWN).alias("plan_code"),
            age_band(birth, pl.col("_creation_date").cast(pl.Date), spec).alias("age_band"),
        )
        .group_by("client_id", "plan_code", "age_band")
        .agg(pl.len().cast(pl.Int64).alias("count"))
    )
    suppressed = pl.col("count") < spec.k
    return (
        cells.select(
            "client_id",
            "plan_code",
            "age_band",
            pl.when(suppressed).then(None).otherwise(pl.col("count")).alias("members"),
            suppressed.alias("suppressed"),
            pl.lit(spec.k, pl.Int32).alias("k"),
            pl.lit(source_version, pl.Int64).alias("source_version"),
        )
        .sort("client_id", "plan_code", "age_band")
        .cast({"members": pl.Int64})
    )


@dataclass(frozen=True)
class MembersSummary:
    """``gold/members_summary`` as the refresh runs it: groups are whole clients."""

    spec: MembersSummarySpec
    name: str = "members_summary"

    @property
    def source(self) -> str:
        return self.spec.source

    def changed(self, engine: TableEngine, silver: Path, start: int, end: int) -> Scope:
        changes = engine.read_cdf(
            silver, starting_version=start, ending_version=end, columns=["client_id"]
        )
        clients = {str(v) for v in changes.column("client_id").to_pylist() if v is not None}
        return Scope(clients=frozenset(clients))

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
        chosen = scope.touched  # groups are whole clients: ``partial`` is always empty
        rows = summarise_members(
            self._silver_rows(engine, silver, chosen), self.spec, source_version=source_version
        )
        if _same_rows(engine, gold, chosen, rows):
            return Written()
        version = engine.replace_partitions(
            gold,
            rows.to_arrow().cast(SUMMARY_SCHEMA),
            column="client_id",
            values=chosen,
            metadata=metadata,
        )
        return Written(rows.height, version)

    def _silver_rows(
        self, engine: TableEngine, silver: Path, clients: Sequence[str]
    ) -> pl.DataFrame:
        spec = self.spec
        columns = ["client_id", spec.plan_column, spec.birth_column, "_creation_date"]
        parts = []
        for client in clients:
            try:
                parts.append(engine.read(silver, columns=columns, partition=("client_id", client)))
            except (KeyError, ValueError, pa.ArrowInvalid) as exc:
                raise LakehouseError(
                    f"silver/{spec.source} has no column for gold.members_summary "
                    f"({type(exc).__name__})",
                    fix="set gold.members_summary.plan_column / birth_column in "
                    f"conf/lakehouse.yaml to columns of silver/{spec.source} (now "
                    f"{spec.plan_column}, {spec.birth_column})",
                ) from None
        if not parts:
            return pl.DataFrame()
        return frame(pa.concat_tables(parts, promote_options="default"))


def _same_rows(engine: TableEngine, gold: Path, clients: Sequence[str], new: pl.DataFrame) -> bool:
    """True when gold already holds exactly ``new`` for ``clients`` (watermark aside)."""
    if not engine.exists(gold):
        return False
    stored = frame(engine.read(gold, key_filter=("client_id", list(clients))))
    keys = [name for name in SUMMARY_SCHEMA.names if name != "source_version"]
    if stored.height != new.height:
        return False
    order = ["client_id", "plan_code", "age_band"]
    left = stored.select(keys).cast({"k": pl.Int32}).sort(order)
    right = new.select(keys).sort(order)
    return left.equals(right)
