"""parse_timestamp: ISO-8601 / RFC 3339 with a required offset -> a UTC instant, else NULL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from chispa import assert_column_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampType

from lakehouse.transform import parse_timestamp

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
Case = tuple[str | None, dt.datetime | None]


def _micros(instant: dt.datetime | None) -> int | None:
    """Microseconds since the epoch: compared as numbers, so no zone renders them."""
    return None if instant is None else (instant - _EPOCH) // dt.timedelta(microseconds=1)


def assert_instants(spark: SparkSession, cases: list[Case]) -> None:
    df = spark.createDataFrame([(raw, _micros(want)) for raw, want in cases], "raw string, e long")
    parsed = df.withColumn("ts", parse_timestamp(F.col("raw")))
    assert parsed.schema["ts"].dataType == TimestampType()
    assert_column_equality(parsed.withColumn("actual", F.unix_micros("ts")), "actual", "e")


def at(*parts: int, offset_minutes: int = 0) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes)))


def test_offsets_and_z(spark: SparkSession) -> None:
    assert_instants(
        spark,
        [
            ("2026-01-05T10:00:00Z", at(2026, 1, 5, 10)),
            ("2026-01-05t10:00:00z", at(2026, 1, 5, 10)),
            ("2026-01-05T10:00:00+00:00", at(2026, 1, 5, 10)),
            ("2026-01-05T10:00:00-00:00", at(2026, 1, 5, 10)),
            ("2026-01-05T12:00:00+02:00", at(2026, 1, 5, 10)),
            ("2026-01-05T05:00:00-0500", at(2026, 1, 5, 10)),
            ("2026-01-05T15:30:00+0530", at(2026, 1, 5, 10)),
            ("2026-01-05 10:00:00+01:00", at(2026, 1, 5, 9)),  # space separator
            ("  2026-01-05T10:00:00Z\u00a0", at(2026, 1, 5, 10)),  # surrounding whitespace
            ("2026-01-01T00:30:00+01:00", at(2025, 12, 31, 23, 30)),  # the UTC date differs
            ("2026-01-05T10:00:00+14:00", at(2026, 1, 5, 10, offset_minutes=14 * 60)),
        ],
    )


def test_fractional_seconds_up_to_microseconds(spark: SparkSession) -> None:
    assert_instants(
        spark,
        [
            ("2026-01-05T10:00:00.5Z", at(2026, 1, 5, 10, 0, 0, 500_000)),
            ("2026-01-05T10:00:00.05Z", at(2026, 1, 5, 10, 0, 0, 50_000)),
            ("2026-01-05T10:00:00.123Z", at(2026, 1, 5, 10, 0, 0, 123_000)),
            ("2026-01-05T10:00:00.123456+01:00", at(2026, 1, 5, 9, 0, 0, 123_456)),
            ("2026-01-05T10:00:00.000001-0100", at(2026, 1, 5, 11, 0, 0, 1)),
            ("2026-01-05T10:00:00.1234567Z", None),  # nanoseconds: Spark keeps micros only
            ("2026-01-05T10:00:00.Z", None),
        ],
    )


def test_no_offset_is_null(spark: SparkSession) -> None:
    # A local time without an offset names no instant: never read in some default zone.
    assert_instants(
        spark,
        [
            ("2026-01-05T10:00:00", None),
            ("2026-01-05 10:00:00", None),
            ("2026-01-05T10:00:00.5", None),
            ("2026-01-05", None),
            ("2026-01-05T10:00:00 UTC", None),
            ("2026-01-05T10:00:00 Europe/Berlin", None),
            ("2026-01-05T10:00:00+02", None),  # hours-only offsets: not RFC 3339
        ],
    )


def test_impossible_and_garbage_are_null(spark: SparkSession) -> None:
    assert_instants(
        spark,
        [
            ("2026-02-30T10:00:00Z", None),
            ("2025-02-29T10:00:00Z", None),  # not a leap year
            ("2024-02-29T10:00:00Z", at(2024, 2, 29, 10)),  # leap year
            ("2026-13-01T10:00:00Z", None),
            ("2026-01-00T10:00:00Z", None),
            ("2026-01-05T24:00:00Z", None),
            ("2026-01-05T10:60:00Z", None),
            ("2026-01-05T23:59:60Z", None),  # leap seconds: not representable
            ("2026-01-05T10:00:00+19:00", None),  # beyond +-18:00
            ("2026-01-05T10:00:00+02:60", None),
            ("2026-01-05T10:00Z", None),  # seconds are required
            ("2026-1-5T10:00:00Z", None),
            ("20260105T100000Z", None),  # basic format
            ("1767607200", None),  # epoch seconds
            ("yesterday", None),
            ("2026-01-05T10:00:00Zjunk", None),
            ("2026-01-05X10:00:00Z", None),
            (None, None),
            ("", None),
            (" \t", None),
        ],
    )


@pytest.fixture()
def berlin_session(spark: SparkSession) -> Iterator[SparkSession]:
    """The shared session with another zone for one test, restored after it."""
    key = "spark.sql.session.timeZone"
    before = spark.conf.get(key)
    spark.conf.set(key, "Europe/Berlin")
    try:
        yield spark
    finally:
        spark.conf.set(key, before or "UTC")


def test_instants_do_not_depend_on_the_session_zone_or_dst(
    berlin_session: SparkSession,
) -> None:
    # Either side of Berlin's DST change (2026-03-29 01:00 UTC) and the local hour that does
    # not exist there: the offset in the text decides the instant, not the session's zone.
    assert_instants(
        berlin_session,
        [
            ("2026-03-29T00:30:00Z", at(2026, 3, 29, 0, 30)),
            ("2026-03-29T02:30:00+00:00", at(2026, 3, 29, 2, 30)),
            ("2026-03-29T02:30:00+01:00", at(2026, 3, 29, 1, 30)),  # Berlin never shows 02:30
            ("2026-10-25T02:30:00+02:00", at(2026, 10, 25, 0, 30)),  # the ambiguous hour, both
            ("2026-10-25T02:30:00+01:00", at(2026, 10, 25, 1, 30)),
            ("2026-07-01T12:00:00-07:00", at(2026, 7, 1, 19)),
            ("2026-07-01T12:00:00", None),
        ],
    )
