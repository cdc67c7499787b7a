"""to_integer and to_number: typed values or NULL, never an ANSI cast error."""

from __future__ import annotations

from chispa import assert_column_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType

from lakehouse.transform import to_integer, to_number

# Values both functions map to NULL: blanks, text, and what Spark's own cast would accept.
NOT_NUMBERS: list[str | None] = [
    None,
    "",
    "   ",
    "\u00a0",
    "abc",
    "12abc",
    "1 234",
    "1,23",  # not thousands grouping
    "1,2345",
    "12,",
    "1.234,5",  # decimal comma
    "$5",
    "5%",
    "--5",
    "+-5",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "0x1F",
    "1_000",
    ".",
    "-",
    "e5",
    "١٢٣",  # Arabic-Indic digits
]


def test_to_integer(spark: SparkSession) -> None:
    cases: list[tuple[str | None, int | None]] = [
        ("42", 42),
        (" -7 ", -7),
        ("+3", 3),
        ("007", 7),
        ("0", 0),
        ("-0", 0),
        ("1,234", 1234),
        ("-1,234,567", -1234567),
        ("12.0", 12),  # spreadsheet float
        ("12.", 12),
        ("12.000", 12),
        ("9223372036854775807", 9223372036854775807),
        ("-9223372036854775808", -9223372036854775808),
        ("9223372036854775808", None),  # overflow: NULL, not an error
        ("99999999999999999999", None),
        ("12.5", None),
        ("12.01", None),
        ("1e3", None),
        ("1.5e3", None),
        *((value, None) for value in NOT_NUMBERS),
    ]
    df = spark.createDataFrame(cases, "raw string, expected bigint")
    result = df.withColumn("actual", to_integer(F.col("raw")))
    assert result.schema["actual"].dataType == LongType()
    assert_column_equality(result, "actual", "expected")


def test_to_number(spark: SparkSession) -> None:
    cases: list[tuple[str | None, float | None]] = [
        ("3.5", 3.5),
        (" -2 ", -2.0),
        ("+0.25", 0.25),
        (".5", 0.5),
        ("-.5", -0.5),
        ("5.", 5.0),
        ("1,234.50", 1234.5),
        ("1,234,567", 1234567.0),
        ("1e-3", 0.001),
        ("2.5E+2", 250.0),
        ("12.0", 12.0),
        ("99999999999999999999", 1e20),
        ("1e308", 1e308),
        ("1e309", None),  # overflows to infinity
        ("1e99999", None),
        *((value, None) for value in NOT_NUMBERS),
    ]
    df = spark.createDataFrame(cases, "raw string, expected double")
    result = df.withColumn("actual", to_number(F.col("raw")))
    assert result.schema["actual"].dataType == DoubleType()
    assert_column_equality(result, "actual", "expected")
