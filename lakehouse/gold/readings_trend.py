"""``gold/readings_trend``: per client, member token and reading type, where the readings go.

The rule (``ReadingsTrendSpec`` holds the numbers):

1. **Window**: the ``window_days`` UTC days ending at ``as_of``, the date of the group's last
   reading (outliers included). Anchoring at the group's own last reading, not at today,
   makes a row depend on its silver rows only: it changes when they do, never by the clock.
2. **Daily means** of ``value`` (for blood pressure the systolic) over the window's readings
   that are **not outliers** (``is_outlier`` rows are left out of every average and counted
   in ``outliers_excluded``); ``days`` is the number of days with such a mean.
3. ``slope``: the least-squares slope of the daily means against the day (canonical unit
   per day); ``mean_value``: the mean of the daily means; ``first_average`` and
   ``last_average``: the moving averages of the first and last ``smooth_days`` days with
   data; ``residual_cv``: the standard deviation of the daily means around the fitted line
   (n - 2 degrees of freedom) divided by ``|mean_value|``.
4. ``trend``, the first that applies:
   - ``insufficient``: fewer than ``min_days`` days with data;
   - ``volatile``: ``residual_cv`` above ``volatile_cv`` (too scattered for a direction);
   - ``stable``: ``|slope| / |mean_value|`` at most ``stable_slope`` (relative change a day);
   - by the type's ``better`` direction: ``lower``: a falling slope is ``improving`` and a
     rising one ``declining``; ``higher``: the reverse; ``none`` (or a type not listed):
     ``changing``, either way.

A mean of 0 (no real reading type) makes any non-zero slope or scatter count as large.
``member_id`` is silver's HMAC token; nothing else identifying is kept.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from lakehouse.config.gold import ReadingsTrendSpec
from lakehouse.gold.keyed import KeyedTable, frame, utc

__all__ = ["TRENDS", "TREND_KEYS", "TREND_SCHEMA", "gold_table", "trends"]

TREND_KEYS = ("client_id", "member_id", "reading_type")
TRENDS = ("improving", "stable", "declining", "volatile", "changing", "insufficient")

TREND_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("member_id", pa.string()),  # the member token
        ("reading_type", pa.string()),
        ("unit", pa.string()),
        ("window_days", pa.int32()),
        ("window_start", pa.date32()),
        ("as_of", pa.date32()),  # the date of the group's last reading
        ("days", pa.int32()),  # days with a non-outlier reading in the window
        ("readings", pa.int64()),  # non-outlier readings in the window
        ("outliers_excluded", pa.int64()),  # outlier readings in the window, left out
        ("mean_value", pa.float64()),
        ("slope", pa.float64()),  # per day, canonical unit
        ("first_average", pa.float64()),
        ("last_average", pa.float64()),
        ("residual_cv", pa.float64()),
        ("better", pa.string()),  # lower | higher | none
        ("trend", pa.string()),
        ("source_version", pa.int64()),
    ]
)

_COLUMNS = (*TREND_KEYS, "measured_at", "value", "unit", "is_outlier")


def _daily(readings: pl.DataFrame, spec: ReadingsTrendSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per group: the window and its counts; per group and day: the daily mean)."""
    rows = readings.with_columns(
        utc("measured_at", readings).dt.date().alias("day"),
        pl.col("is_outlier").fill_null(False),
    ).sort(*TREND_KEYS, "measured_at")
    windows = rows.group_by(TREND_KEYS, maintain_order=True).agg(
        pl.col("unit").min(), pl.col("day").max().alias("as_of")
    )
    windows = windows.with_columns(
        (pl.col("as_of") - pl.duration(days=spec.window_days - 1)).alias("window_start")
    )
    inside = rows.join(windows.select(*TREND_KEYS, "window_start"), on=TREND_KEYS).filter(
        pl.col("day") >= pl.col("window_start")
    )
    counted = inside.group_by(TREND_KEYS, maintain_order=True).agg(
        (~pl.col("is_outlier") & pl.col("value").is_not_null()).sum().alias("readings"),
        pl.col("is_outlier").sum().alias("outliers_excluded"),
    )
    daily = (
        inside.filter(~pl.col("is_outlier") & pl.col("value").is_not_null())
        .group_by(*TREND_KEYS, "day", maintain_order=True)
        .agg(pl.col("value").mean().alias("y"), pl.first("window_start"))
        .with_columns((pl.col("day") - pl.col("window_start")).dt.total_days().alias("x"))
        .sort(*TREND_KEYS, "day")
    )
    return windows.join(counted, on=TREND_KEYS, how="left"), daily


def _fit(daily: pl.DataFrame, smooth_days: int) -> pl.DataFrame:
    """Per group: days, mean, least-squares slope, moving averages, residual scatter."""
    x, y = pl.col("x").cast(pl.Float64), pl.col("y")
    dx, dy = x - x.mean(), y - y.mean()
    slope = (dx * dy).sum() / (dx * dx).sum()
    residual = dy - slope * dx
    n = pl.len()
    return daily.group_by(TREND_KEYS, maintain_order=True).agg(
        n.cast(pl.Int32).alias("days"),
        y.mean().alias("mean_value"),
        pl.when(n >= 2).then(slope).alias("slope"),
        y.head(smooth_days).mean().alias("first_average"),
        y.tail(smooth_days).mean().alias("last_average"),
        pl.when(n > 2).then(((residual * residual).sum() / (n - 2)).sqrt()).alias("residual_sd"),
    )


def _relative(value: pl.Expr, level: pl.Expr) -> pl.Expr:
    """``|value| / |level|``; a level of 0 makes any non-zero value infinite."""
    return (
        pl.when(level.abs() > 0)
        .then(value.abs() / level.abs())
        .when(value.abs() > 0)
        .then(float("inf"))
        .otherwise(0.0)
    )


def trends(readings: pl.DataFrame, spec: ReadingsTrendSpec, *, source_version: int) -> pl.DataFrame:
    """Trend rows of every group in ``readings`` (silver rows: ``_COLUMNS``), sorted."""
    if readings.is_empty():
        return frame(TREND_SCHEMA.empty_table())
    windows, daily = _daily(readings, spec)
    fitted = windows.join(_fit(daily, spec.smooth_days), on=TREND_KEYS, how="left")
    better = pl.col("reading_type").replace_strict(spec.better, default="none")
    cv = _relative(pl.col("residual_sd").fill_null(0.0), pl.col("mean_value"))
    relative_slope = _relative(pl.col("slope").fill_null(0.0), pl.col("mean_value"))
    up = pl.col("slope") > 0
    trend = (
        pl.when(pl.col("days").fill_null(0) < spec.min_days)
        .then(pl.lit("insufficient"))
        .when(cv > spec.volatile_cv)
        .then(pl.lit("volatile"))
        .when(relative_slope <= spec.stable_slope)
        .then(pl.lit("stable"))
        .when(pl.col("better") == "none")
        .then(pl.lit("changing"))
        .when(up == (pl.col("better") == "higher"))
        .then(pl.lit("improving"))
        .otherwise(pl.lit("declining"))
    )
    return (
        fitted.with_columns(
            better.alias("better"),
            pl.when(pl.col("mean_value").is_not_null()).then(cv).alias("residual_cv"),
            pl.lit(spec.window_days, pl.Int32).alias("window_days"),
            pl.col("days").fill_null(0),
            pl.col("readings").fill_null(0).cast(pl.Int64),
            pl.col("outliers_excluded").fill_null(0).cast(pl.Int64),
            pl.lit(source_version, pl.Int64).alias("source_version"),
        )
        .with_columns(trend.alias("trend"))
        .select(TREND_SCHEMA.names)
        .sort(TREND_KEYS)
    )


def gold_table(spec: ReadingsTrendSpec) -> KeyedTable:
    """The table as the refresh runs it: a change to any reading of a (client, member,
    type) recomputes that group's trend."""
    return KeyedTable(
        name="readings_trend",
        source=spec.source,
        keys=TREND_KEYS,
        schema=TREND_SCHEMA,
        change_columns=TREND_KEYS,
        columns=_COLUMNS,
        group_of=lambda rows: rows,
        compute=lambda rows, version: trends(rows, spec, source_version=version),
    )
