"""``hourly``: UTC hour buckets, statistics per (client, member token, type, hour)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from lakehouse.gold.readings_hourly import HOURLY_KEYS, HOURLY_SCHEMA, hourly, with_hour

PLUS2 = dt.timezone(dt.timedelta(hours=2))
MINUS5 = dt.timezone(dt.timedelta(hours=-5))


def _readings(*rows: tuple[str, str, dt.datetime, float, float | None, bool]) -> pl.DataFrame:
    """Silver rows of client ``c``: (member token, type, measured_at, value, diastolic,
    is_outlier), with offsets converted to UTC as the ingest stores them."""
    units = {"heart_rate": "bpm", "blood_pressure": "mmHg", "glucose": "mg/dL"}
    return pl.DataFrame(
        {
            "client_id": ["c"] * len(rows),
            "member_id": [r[0] for r in rows],
            "reading_type": [r[1] for r in rows],
            "measured_at": [r[2].astimezone(dt.UTC) for r in rows],
            "value": [r[3] for r in rows],
            "diastolic": [r[4] for r in rows],
            "unit": [units[r[1]] for r in rows],
            "is_outlier": [r[5] for r in rows],
        },
        schema_overrides={
            "measured_at": pl.Datetime("us", "UTC"),
            "diastolic": pl.Float64,
        },
    )


def test_offsets_fall_into_their_utc_hour() -> None:
    rows = _readings(
        ("m1", "heart_rate", dt.datetime(2026, 1, 15, 10, 59, 59, tzinfo=PLUS2), 60.0, None, False),
        ("m1", "heart_rate", dt.datetime(2026, 1, 15, 8, 0, tzinfo=dt.UTC), 70.0, None, False),
        ("m1", "heart_rate", dt.datetime(2026, 1, 15, 4, 30, tzinfo=MINUS5), 80.0, None, False),
    )
    hours = with_hour(rows).get_column("hour").to_list()
    assert hours == [dt.datetime(2026, 1, 15, h, tzinfo=dt.UTC) for h in (8, 8, 9)]
    out = hourly(rows, source_version=3)
    assert out.select("hour", "readings", "min_value", "max_value", "mean_value").rows() == [
        (dt.datetime(2026, 1, 15, 8, tzinfo=dt.UTC), 2, 60.0, 70.0, 65.0),
        (dt.datetime(2026, 1, 15, 9, tzinfo=dt.UTC), 1, 80.0, 80.0, 80.0),
    ]
    assert out.get_column("source_version").to_list() == [3, 3]


def test_a_naive_timestamp_is_taken_as_utc() -> None:
    rows = _readings(
        ("m1", "glucose", dt.datetime(2026, 1, 15, 23, 40, tzinfo=dt.UTC), 99.0, None, False)
    ).with_columns(pl.col("measured_at").dt.replace_time_zone(None))
    assert with_hour(rows).get_column("hour").to_list() == [
        dt.datetime(2026, 1, 15, 23, tzinfo=dt.UTC)
    ]


def test_diastolic_mean_outliers_and_groups() -> None:
    at = dt.datetime(2026, 1, 15, 7, 5, tzinfo=dt.UTC)
    rows = _readings(
        ("m1", "blood_pressure", at, 120.0, 80.0, False),
        ("m1", "blood_pressure", at + dt.timedelta(minutes=10), 140.0, 90.0, True),
        ("m1", "blood_pressure", at + dt.timedelta(minutes=20), 130.0, None, False),
        ("m1", "heart_rate", at, 61.0, None, False),
        ("m2", "blood_pressure", at, 110.0, 70.0, False),
    )
    out = hourly(rows, source_version=1)
    by_key = {r["member_id"] + "/" + r["reading_type"]: r for r in out.to_dicts()}
    assert set(by_key) == {"m1/blood_pressure", "m1/heart_rate", "m2/blood_pressure"}
    bp = by_key["m1/blood_pressure"]
    # Outliers stay in the hour's statistics and are counted; NULL diastolics are skipped.
    assert (bp["readings"], bp["outliers"], bp["min_value"], bp["max_value"]) == (3, 1, 120, 140)
    assert bp["mean_value"] == pytest.approx(130.0)
    assert bp["mean_diastolic"] == pytest.approx(85.0)
    assert bp["unit"] == "mmHg"
    assert by_key["m1/heart_rate"]["mean_diastolic"] is None
    assert by_key["m1/heart_rate"]["outliers"] == 0


def test_output_has_the_schema_and_only_the_token() -> None:
    rows = _readings(
        ("tok", "glucose", dt.datetime(2026, 1, 15, 1, tzinfo=dt.UTC), 100.0, None, False)
    ).with_columns(pl.lit("device-token").alias("device_id"))
    out = hourly(rows, source_version=1)
    assert out.columns == HOURLY_SCHEMA.names
    assert out.to_arrow().cast(HOURLY_SCHEMA).schema == HOURLY_SCHEMA
    assert "device_id" not in out.columns
    assert out.select(HOURLY_KEYS).is_unique().all()
    assert hourly(rows.clear(), source_version=1).columns == HOURLY_SCHEMA.names


def test_row_order_does_not_change_a_recomputation() -> None:
    at = dt.datetime(2026, 1, 15, 7, tzinfo=dt.UTC)
    values = [0.1, 0.2, 0.3, 1e9, 0.7]
    rows = _readings(
        *(
            ("m", "glucose", at + dt.timedelta(minutes=i), v, None, False)
            for i, v in enumerate(values)
        )
    )
    first = hourly(rows, source_version=1)
    assert hourly(rows.reverse(), source_version=1).equals(first)
