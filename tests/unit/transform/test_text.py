"""clean_text, clean_name, clean_email and zip5 on realistic and hostile values."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest
from chispa import assert_column_equality
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from lakehouse.transform import clean_email, clean_name, clean_text, zip5
from lakehouse.transform.text import _WHITESPACE, WHITESPACE_CHARS, squish, strip

NBSP = "\u00a0"

# Values every text standardiser maps to NULL.
BLANKS: list[tuple[str | None, str | None]] = [
    (None, None),
    ("", None),
    ("   ", None),
    ("\t\r\n", None),
    (f"{NBSP} \u2003\u3000", None),  # NBSP, em space, ideographic space
]


def assert_maps(
    spark: SparkSession,
    function: Callable[[Column], Column],
    cases: list[tuple[str | None, str | None]],
) -> None:
    """Apply ``function`` to every raw value in one DataFrame and compare with the expected."""
    df = spark.createDataFrame(cases, "raw string, expected string")
    assert_column_equality(df.withColumn("actual", function(F.col("raw"))), "actual", "expected")


def test_clean_text_casings(spark: SparkSession) -> None:
    raw = f"  gold\t plan{NBSP} premier "
    df = spark.createDataFrame([(raw,)], "raw string").select(
        *(
            clean_text(F.col("raw"), case).alias(case)
            for case in ("upper", "lower", "title", "none")
        )
    )
    assert df.first() == (
        "GOLD PLAN PREMIER",
        "gold plan premier",
        "Gold Plan Premier",
        "gold plan premier",
    )


@pytest.mark.parametrize("case", ["upper", "lower", "title", "none"])
def test_clean_text_blank_is_null(spark: SparkSession, case: str) -> None:
    assert_maps(spark, lambda c: clean_text(c, case), BLANKS)  # type: ignore[arg-type]


def test_clean_text_keeps_codes(spark: SparkSession) -> None:
    cases: list[tuple[str | None, str | None]] = [
        (" ac0000123 ", "AC0000123"),
        ("gx-000042", "GX-000042"),
        ("123", "123"),
        ("silver", "SILVER"),
        ("straße", "STRASSE"),  # Java's full Unicode upper-casing
    ]
    assert_maps(spark, lambda c: clean_text(c, "upper"), cases)


def test_clean_text_rejects_unknown_case() -> None:
    with pytest.raises(ValueError, match="unknown case"):
        clean_text(F.col("x"), "shout")  # type: ignore[arg-type]


def test_clean_name(spark: SparkSession) -> None:
    cases: list[tuple[str | None, str | None]] = [
        ("o'brien-SMITH", "O'Brien-Smith"),
        ("  mary-jane   WATSON ", "Mary-Jane Watson"),
        ("JOHN", "John"),
        ("d’arcy", "D’Arcy"),  # typographic apostrophe
        ("josé ÁLVAREZ", "José Álvarez"),
        (f"ÉLODIE{NBSP}de la CRUZ", "Élodie De La Cruz"),
        ("zoë  o'neill-ÅSTRÖM", "Zoë O'Neill-Åström"),
        ("ñúñez", "Ñúñez"),
        ("łukasz żółć", "Łukasz Żółć"),
        ("МАРИЯ иванова", "Мария Иванова"),
        ("王 小明", "王 小明"),  # no case: unchanged
        ("smith - jones", "Smith - Jones"),  # a spaced hyphen keeps its spaces
        ("jean-'luc", "Jean-'Luc"),
        ("a", "A"),
        ("123", None),  # no letter at all: not a name
        ("--", None),
        ("' -", None),
        *BLANKS,
    ]
    assert_maps(spark, clean_name, cases)


_ADDRESS_254 = "a@" + ".".join(["b" * 63, "c" * 63, "d" * 63, "e" * 56]) + ".com"


def test_clean_email(spark: SparkSession) -> None:
    cases: list[tuple[str | None, str | None]] = [
        (" John.Doe@Example.COM ", "john.doe@example.com"),
        ("first.last+tag@sub.domain.org", "first.last+tag@sub.domain.org"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("USER_1@EXAMPLE.CO.UK\t", "user_1@example.co.uk"),
        ("josé@exämple.de", "josé@exämple.de"),
        ("x@mail.xn--p1ai", "x@mail.xn--p1ai"),
        ("a@my-host.example.com", "a@my-host.example.com"),
        ("john doe@example.com", None),  # inner space
        ("john@exam ple.com", None),
        ("john.doe@example", None),  # no TLD
        ("john.doe@example.c", None),  # one-letter TLD
        ("john@@example.com", None),
        ("@example.com", None),
        ("john@", None),
        ("john..doe@example.com", None),
        (".john@example.com", None),
        ("john.@example.com", None),
        ("john@-example.com", None),
        ("john@example-.com", None),
        ("john@.example.com", None),
        ("john@example..com", None),
        ("john@example.com.", None),
        ("<john@example.com>", None),
        ("john@example.com; jane@example.com", None),
        ("n/a", None),
        ("a" * 65 + "@example.com", None),  # local part over 64
        ("a@" + "b" * 250 + ".com", None),  # address over 254
        ("a@" + "b" * 64 + ".com", None),  # label over 63
        ("a@" + "b" * 63 + ".com", "a@" + "b" * 63 + ".com"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),  # local part of exactly 64
        (_ADDRESS_254, _ADDRESS_254),  # an address of exactly 254
        (_ADDRESS_254[:2] + "x" + _ADDRESS_254[2:], None),  # 255
        ("a@b@example.com", None),  # the local part ends at the first "@"
        *BLANKS,
    ]
    assert_maps(spark, clean_email, cases)


def test_zip5(spark: SparkSession) -> None:
    cases: list[tuple[str | None, str | None]] = [
        ("12345", "12345"),
        ("12345-6789", "12345"),
        ("12345 6789", "12345"),
        ("123456789", "12345"),
        (" 02134 ", "02134"),
        ("2134", "02134"),  # Excel dropped the leading zero
        ("00501", "00501"),
        ("1234", "01234"),
        ("00000", None),
        ("0000", None),
        ("123", None),
        ("123456", None),
        ("1234567", None),
        ("12345678", None),
        ("1234567890", None),
        ("1234-5678", None),
        ("12345-678", None),
        ("12345-", None),
        ("1234A", None),
        ("ABCDE", None),
        ("12 345", None),
        ("１２３４５", None),  # full-width digits are not ASCII digits
        ("12345.0", None),
        ("SW1A 1AA", None),
        *BLANKS,
    ]
    assert_maps(spark, zip5, cases)


def test_zip5_accepts_numeric_column(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(2134, "02134"), (90210, "90210"), (None, None)], "raw int, expected string"
    )
    assert_column_equality(df.withColumn("actual", zip5(F.col("raw"))), "actual", "expected")


def test_whitespace_characters_are_the_regex_class_and_polars_strip_set(
    spark: SparkSession,
) -> None:
    """``btrim``'s characters, the Java class used for inner runs and the set polars'
    ``strip_chars`` removes (validation's "blank") are one set: every BMP code point checked."""
    chars = [chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF]
    df = spark.createDataFrame([(c,) for c in chars], "c string")
    in_class = {row.c for row in df.where(F.col("c").rlike(f"^{_WHITESPACE}$")).collect()}
    stripped = pl.Series(chars).str.strip_chars()
    polars_set = {c for c, rest in zip(chars, stripped, strict=True) if rest == ""}
    assert len(WHITESPACE_CHARS) == len(set(WHITESPACE_CHARS)) == 25
    assert set(WHITESPACE_CHARS) == in_class == polars_set


def test_strip_and_squish_trim_each_whitespace_character(spark: SparkSession) -> None:
    cases = [(f"{c}{c}a{c}b {c}", "a" + c + "b", "a b") for c in WHITESPACE_CHARS]
    df = spark.createDataFrame(cases, "raw string, stripped string, squished string")
    out = df.select(strip(F.col("raw")).alias("s"), squish(F.col("raw")).alias("q"), "*")
    assert_column_equality(out, "s", "stripped")
    assert_column_equality(out, "q", "squished")
