"""``gold/readings_hourly``: device readings per client, member token, reading type and hour.

One row per (client_id, member_id, reading_type, hour), where ``hour`` is ``measured_at``
truncated to the UTC hour (silver holds UTC instants: offsets were converted at ingest). Every
reading counts (outliers too: ``outliers`` says how many of ``readings`` were flagged);
``mean_diastolic`` is the mean of the non-NULL diastolic values (blood pressure only, else
NULL). ``member_id`` is silver's HMAC token; no device id or other column of silver is kept.

Incremental rule: a change row (insert, update pre-/post-image, delete) touches the hour of
its ``measured_at``; only those groups are recomputed, from silver's current rows, and
replaced in one commit (``keyed.py``).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from lakehouse.config.gold import ReadingsHourlySpec
from lakehouse.gold.keyed import KeyedTable, frame, utc

__all__ = ["HOURLY_KEYS", "HOURLY_SCHEMA", "gold_table", "hourly", "with_hour"]

HOURLY_KEYS = ("client_id", "member_id", "reading_type", "hour")

HOURLY_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("member_id", pa.string()),  # the member token
        ("reading_type", pa.string()),
        ("hour", pa.timestamp("us", tz="UTC")),
        ("unit", pa.string()),  # the type's canonical unit
        ("readings", pa.int64()),
        ("min_value", pa.float64()),
        ("max_value", pa.float64()),
        ("mean_value", pa.float64()),
        ("mean_diastolic", pa.float64()),
        ("outliers", pa.int64()),
        ("source_version", pa.int64()),  # the silver version the row was last changed at
    ]
)

_CHANGE_COLUMNS = ("client_id", "member_id", "reading_type", "measured_at")
_COLUMNS = (*_CHANGE_COLUMNS, "value", "diastolic", "unit", "is_outlier")


def with_hour(readings: pl.DataFrame) -> pl.DataFrame:
    """``readings`` with ``hour``: ``measured_at`` truncated to its UTC hour."""
    return readings.with_columns(utc("measured_at", readings).dt.truncate("1h").alias("hour"))


def hourly(readings: pl.DataFrame, *, source_version: int) -> pl.DataFrame:
    """Hourly rows of every group in ``readings`` (silver rows: ``_COLUMNS``), sorted."""
    if readings.is_empty():
        return frame(HOURLY_SCHEMA.empty_table())
    # A fixed row order makes the float sums, and so a recomputation, repeat to the bit.
    ordered = with_hour(readings).sort("client_id", "member_id", "reading_type", "measured_at")
    return (
        ordered.group_by(HOURLY_KEYS, maintain_order=True)
        .agg(
            pl.col("unit").min(),
            pl.len().cast(pl.Int64).alias("readings"),
            pl.col("value").min().alias("min_value"),
            pl.col("value").max().alias("max_value"),
            pl.col("value").mean().alias("mean_value"),
            pl.col("diastolic").mean().alias("mean_diastolic"),
            pl.col("is_outlier").fill_null(False).sum().cast(pl.Int64).alias("outliers"),
        )
        .with_columns(pl.lit(source_version, pl.Int64).alias("source_version"))
        .cast({"min_value": pl.Float64, "max_value": pl.Float64, "mean_diastolic": pl.Float64})
        .select(HOURLY_SCHEMA.names)
        .sort(HOURLY_KEYS)
    )


def gold_table(spec: ReadingsHourlySpec) -> KeyedTable:
    """The table as the refresh runs it."""
    return KeyedTable(
        name="readings_hourly",
        source=spec.source,
        keys=HOURLY_KEYS,
        schema=HOURLY_SCHEMA,
        change_columns=_CHANGE_COLUMNS,
        columns=_COLUMNS,
        group_of=with_hour,
        compute=lambda rows, version: hourly(rows, source_version=version),
    )
