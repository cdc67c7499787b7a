"""phone_e164: NANP fast path, phonenumbers fallback, and agreement between the two."""

from __future__ import annotations

import phonenumbers
import pytest
from chispa import assert_column_equality
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.transform import phone_e164

NYC = "+12125550123"

US_CASES: list[tuple[str | None, str | None]] = [
    # North American shapes: fast path
    ("(212) 555-0123", NYC),
    ("212-555-0123", NYC),
    ("212.555.0123", NYC),
    ("212 555 0123", NYC),
    ("2125550123", NYC),
    ("212/555-0123", NYC),
    ("1-212-555-0123", NYC),
    ("1 (212) 555-0123", NYC),
    ("12125550123", NYC),
    ("+1 212 555 0123", NYC),
    ("+1-212-555-0123", NYC),
    ("+1 (212) 555-0123", NYC),
    ("+12125550123", NYC),
    ("  (212) 555-0123\t", NYC),
    ("\u00a0212-555-0123\u00a0", NYC),
    ("212-555-0123 x123", NYC),  # extensions are dropped
    ("212-555-0123x9", NYC),
    ("212-555-0123 ext. 45", NYC),
    ("212-555-0123 EXT 45", NYC),
    ("212.555.0123 extension 7", NYC),
    ("(212) 555-0123 #99", NYC),
    ("(416) 555-0142", "+14165550142"),  # Canada
    ("800-555-0199", "+18005550199"),  # toll free
    ("876-234-5678", "+18762345678"),  # Jamaica, also +1
    ("787-234-5678", "+17872345678"),  # Puerto Rico
    ("+1 (684) 622-1234", "+16846221234"),  # American Samoa
    # everything else: phonenumbers
    ("+44 20 7946 0958", "+442079460958"),
    ("+44 (0)20 7946 0958", "+442079460958"),
    ("011 44 20 7946 0958", "+442079460958"),  # US international prefix
    ("+49 30 901820", "+4930901820"),
    ("+33 1 42 68 53 00", "+33142685300"),
    ("+91 98765 43210", "+919876543210"),
    ("+61 2 9374 4000", "+61293744000"),
    ("+52 55 1234 5678", "+525512345678"),
    ("1-800-FLOWERS", "+18003569377"),  # vanity number
    # invalid
    ("(555) 555-5555", None),  # 555 is not an area code
    ("123-456-7890", None),  # area codes do not start with 1
    ("212-055-0123", None),  # exchanges do not start with 0
    ("212-155-0123", None),
    ("911", None),
    ("555-0123", None),  # 7 digits: no area code
    ("212-555-012", None),
    ("2125550123456", None),
    ("1 212 555 0123 1", None),
    ("+2125550123", None),  # +212 is Morocco, and too short for it
    ("+1 555 555 5555", None),
    ("+44 20 7946", None),
    ("+1", None),
    ("+", None),
    ("0", None),
    ("0000000000", None),
    ("1111111111", None),
    ("abc", None),
    ("n/a", None),
    ("call me", None),
    ("212-555-0123 / 212-555-0124", None),
    (None, None),
    ("", None),
    ("   ", None),
    ("\u00a0\t", None),
]


def assert_phones(
    spark: SparkSession, region: str, cases: list[tuple[str | None, str | None]]
) -> None:
    """Standardise every raw value for ``region`` in one DataFrame; compare with the expected."""
    df = spark.createDataFrame(cases, "raw string, expected string")
    result = df.withColumn("actual", phone_e164(F.col("raw"), region))
    assert_column_equality(result, "actual", "expected")


def test_us_region(spark: SparkSession) -> None:
    assert_phones(spark, "US", US_CASES)


def test_canada_reads_all_north_american_numbers(spark: SparkSession) -> None:
    assert_phones(spark, "CA", US_CASES)


def test_lower_case_region(spark: SparkSession) -> None:
    assert_phones(spark, "us", [("(212) 555-0123", NYC), ("+44 20 7946 0958", "+442079460958")])


def test_other_region_uses_phonenumbers_only(spark: SparkSession) -> None:
    cases: list[tuple[str | None, str | None]] = [
        ("020 7946 0958", "+442079460958"),
        ("(020) 7946-0958", "+442079460958"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 212 555 0123", NYC),
        ("00 1 212 555 0123", NYC),  # UK international prefix
        ("(212) 555-0123", None),  # a national US number means nothing in the UK
        ("07700 900123", None),  # Ofcom drama range: not assignable
        ("abc", None),
        ("", None),
        (None, None),
    ]
    assert_phones(spark, "GB", cases)


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown phone region"):
        phone_e164(F.col("phone"), "XX")


def _formats(area: str, exchange: str, line: str) -> list[str]:
    """Five ways people write the same North American number."""
    return [
        f"({area}) {exchange}-{line}",
        f"{area}-{exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"+1 {area} {exchange} {line}",
        f"1{area}{exchange}{line}",
    ]


NANP_NUMBERS = st.tuples(
    st.integers(200, 999).map(str),
    st.integers(200, 999).map(str),
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
)


@settings(max_examples=8, deadline=None)
@given(st.lists(NANP_NUMBERS, min_size=1, max_size=40))
def test_formats_agree_with_phonenumbers(
    spark: SparkSession, numbers: list[tuple[str, str, str]]
) -> None:
    # Any 10-digit number in any of five formats: one E.164 value (or NULL), and exactly what
    # phonenumbers itself says, so the Spark fast path and the library never disagree.
    rows: list[tuple[str | None, str | None]] = []
    for area, exchange, line in numbers:
        parsed = phonenumbers.parse(f"{area}{exchange}{line}", "US")
        expected = (
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_valid_number(parsed)
            else None
        )
        rows.extend((raw, expected) for raw in _formats(area, exchange, line))
    assert_phones(spark, "US", rows)
