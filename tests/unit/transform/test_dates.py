"""parse_date: pattern chosen by shape, impossible dates NULL; date_pattern_regex."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from chispa import assert_column_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType

from lakehouse.transform import parse_date
from lakehouse.transform.dates import date_pattern_regex

D = dt.date
BLANKS: list[tuple[str | None, dt.date | None]] = [(None, None), ("", None), (" \t", None)]


def assert_dates(
    spark: SparkSession, formats: list[str], cases: list[tuple[str | None, dt.date | None]]
) -> None:
    """Parse every raw value with ``formats`` in one DataFrame and compare with the expected."""
    df = spark.createDataFrame(cases, "raw string, expected date")
    result = df.withColumn("actual", parse_date(F.col("raw"), formats))
    assert result.schema["actual"].dataType == DateType()
    assert_column_equality(result, "actual", "expected")


def test_iso_and_us_formats(spark: SparkSession) -> None:
    cases: list[tuple[str | None, dt.date | None]] = [
        ("1985-07-04", D(1985, 7, 4)),
        ("07/04/1985", D(1985, 7, 4)),
        ("  1985-07-04 ", D(1985, 7, 4)),
        ("\u00a012/31/1999\u00a0", D(1999, 12, 31)),
        ("2020-02-29", D(2020, 2, 29)),  # leap year
        ("02/29/2000", D(2000, 2, 29)),  # divisible by 400: leap
        ("2019-02-29", None),  # not a leap year
        ("02/29/1900", None),  # divisible by 100 only: not leap
        ("2020-02-30", None),
        ("2020-04-31", None),
        ("2020-13-01", None),
        ("2020-00-10", None),
        ("2020-01-00", None),
        ("13/01/2020", None),  # US pattern: month 13
        ("1985-7-4", None),  # MM and dd need two digits
        ("7/4/1985", None),
        ("1985/07/04", None),
        ("19850704", None),  # not among the formats
        ("04.07.1985", None),
        ("1985-07-04T00:00:00", None),
        ("1985-07-04 12:00", None),
        ("85-07-04", None),
        ("11985-07-04", None),
        ("yesterday", None),
        ("1985-07-04x", None),
        *BLANKS,
    ]
    assert_dates(spark, ["yyyy-MM-dd", "MM/dd/yyyy"], cases)


def test_european_and_compact_formats(spark: SparkSession) -> None:
    cases: list[tuple[str | None, dt.date | None]] = [
        ("04.07.1985", D(1985, 7, 4)),
        ("19850704", D(1985, 7, 4)),
        ("29.02.2024", D(2024, 2, 29)),
        ("29.02.2023", None),
        ("20230229", None),
        ("31.04.2020", None),
        ("4.7.1985", None),
        ("1985-07-04", None),
        ("1985070", None),
        ("198507041", None),
        *BLANKS,
    ]
    assert_dates(spark, ["dd.MM.yyyy", "yyyyMMdd"], cases)


def test_single_letter_fields_take_one_or_two_digits(spark: SparkSession) -> None:
    cases: list[tuple[str | None, dt.date | None]] = [
        ("7/4/1985", D(1985, 7, 4)),
        ("07/04/1985", D(1985, 7, 4)),
        ("12/31/1999", D(1999, 12, 31)),
        ("2/29/2021", None),
        ("123/4/1985", None),
    ]
    assert_dates(spark, ["M/d/yyyy"], cases)


def test_ambiguous_value_takes_first_pattern_that_parses(spark: SparkSession) -> None:
    cases: list[tuple[str | None, dt.date | None]] = [
        ("01/02/2020", D(2020, 1, 2)),  # both fit: the first pattern wins
        ("25/12/2020", D(2020, 12, 25)),  # only the second parses
        ("13/13/2020", None),
    ]
    assert_dates(spark, ["MM/dd/yyyy", "dd/MM/yyyy"], cases)


def test_month_names_and_quoted_literals(spark: SparkSession) -> None:
    cases: list[tuple[str | None, dt.date | None]] = [
        ("04 Jul 1985", D(1985, 7, 4)),
        ("04 JUL 1985", D(1985, 7, 4)),
        ("04 July 1985", D(1985, 7, 4)),
        ("04 Jux 1985", None),
        ("1985-07-04T", D(1985, 7, 4)),
    ]
    assert_dates(spark, ["dd MMM yyyy", "dd MMMM yyyy", "yyyy-MM-dd'T'"], cases)


@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        ("yyyy-MM-dd", r"^[0-9]{4}\-[0-9]{2}\-[0-9]{2}$"),
        ("MM/dd/yyyy", r"^[0-9]{2}\/[0-9]{2}\/[0-9]{4}$"),
        ("dd.MM.yyyy", r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$"),
        ("yyyyMMdd", r"^[0-9]{4}[0-9]{2}[0-9]{2}$"),
        ("M/d/yyyy", r"^[0-9]{1,2}\/[0-9]{1,2}\/[0-9]{4}$"),
        ("yyyy'T'MM''dd", r"^[0-9]{4}T[0-9]{2}\'[0-9]{2}$"),
        ("'day' d 'of' MMMM yyyy", r"^day\ [0-9]{1,2}\ of\ \p{L}{3,9}\ [0-9]{4}$"),
    ],
)
def test_date_pattern_regex(pattern: str, regex: str) -> None:
    assert date_pattern_regex(pattern) == regex


def test_date_pattern_regex_matches_like_python() -> None:
    # Java and Python agree on these constructs, so Python can check the shapes.
    regex = re.compile(date_pattern_regex("MM/dd/yyyy"))
    assert regex.match("07/04/1985")
    assert not regex.match("7/4/1985")
    assert not regex.match("07-04-1985")


@pytest.mark.parametrize(
    "pattern",
    ["yy-MM-dd", "yyyy-MM-dd HH:mm", "yyyy-DDD", "EEE, dd MMM yyyy", "yyyy-MM-dd[ HH]", "'", "--"],
)
def test_unsupported_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="date pattern"):
        date_pattern_regex(pattern)


@pytest.mark.parametrize("formats", [[], (), "yyyy-MM-dd"])
def test_formats_must_be_a_non_empty_sequence(spark: SparkSession, formats: list[str]) -> None:
    # ``spark``: building F.col needs an active session, whichever test ran first.
    with pytest.raises(ValueError, match="non-empty"):
        parse_date(F.col("x"), formats)
