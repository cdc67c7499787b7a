"""Phone standardiser: E.164 through a Spark-native NANP fast path, else ``phonenumbers``.

``phonenumbers`` costs ~46 s per 1M values in Python; the fast path handles the common North
American shapes in the JVM and agrees with ``phonenumbers.is_valid_number`` because it uses the
same metadata. Only values the fast path cannot settle reach the Python UDF.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import pandas as pd  # type: ignore[import-untyped]
import phonenumbers
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.pandas.functions import pandas_udf
from pyspark.sql.types import StringType

from lakehouse.transform.text import strip

__all__ = ["phone_e164"]

# Regions whose numbers the NANP fast path may read without a country code.
_FAST_PATH_REGIONS = frozenset({"US", "CA"})
_NANP_COUNTRY_CODE = 1
_NUMBER_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
# " x123", "ext. 123", "extension 123", "#123": an extension is not part of the E.164 number.
_EXTENSION = r"(?i)[\s,;]*(?:x|#|ext|extn|extension)[\s.:#]*[0-9]{1,7}$"
# Digits with the usual punctuation only; letters (vanity numbers) and other text go to the UDF.
_NANP_SHAPE = r"^(?:\+[\s]*)?[0-9(][0-9\s().\-/]*$"
_NANP_DIGITS = r"^(?:\+1|1)?([0-9]{10})$"


@functools.cache
def _nanp_valid_regex(region: str) -> str:
    """Java regex of the 10-digit NANP numbers ``phonenumbers`` considers valid."""
    # is_valid_number(+1 ...) is true when the national number matches a number type of any
    # NANP region (US, CA, the Caribbean, the territories). libphonenumber writes these patterns
    # for Java's regex engine in the first place. Java tries alternatives left to right, so the
    # client's own region goes first and most values match on the first alternative.
    regions = sorted(
        phonenumbers.COUNTRY_CODE_TO_REGION_CODE[_NANP_COUNTRY_CODE],
        key=lambda code: (code != region, code not in _FAST_PATH_REGIONS, code),
    )
    patterns: dict[str, None] = {}  # ordered and without duplicates (US mobile == fixed line)
    for code in regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(code)
        for number_type in _NUMBER_TYPES:
            description = getattr(metadata, number_type, None)
            pattern = getattr(description, "national_number_pattern", None)
            if pattern:
                patterns[pattern] = None
    return "^(?:" + "|".join(f"(?:{pattern})" for pattern in patterns) + ")$"


def _e164_udf(region: str) -> Callable[[Column, Column], Column]:
    """Vectorised UDF of (settled, raw): ``settled`` where the fast path gave one, else ``raw``
    parsed with ``region``, E.164 if valid, else NULL."""

    # Defined inside the factory so cloudpickle ships it by value: executors need phonenumbers,
    # not the lakehouse package on their path.
    def e164(settled: pd.Series, raw: pd.Series) -> pd.Series:
        def one(value: object) -> str | None:
            if not isinstance(value, str):
                return None
            try:
                number = phonenumbers.parse(value, region)
            except phonenumbers.NumberParseException:
                return None
            if not phonenumbers.is_valid_number(number):
                return None
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

        result = settled.astype(object)
        pending = settled.isna() & raw.notna()
        if pending.any():
            result[pending] = raw[pending].map(one)
        return result

    # pyspark's stubs only type the deprecated functionType= form, not type-hinted UDFs.
    udf = pandas_udf(e164, StringType())  # type: ignore[call-overload]
    return cast("Callable[[Column, Column], Column]", udf)


def phone_e164(column: Column, region: str) -> Column:
    """E.164 string (``+12125550123``) or NULL if blank or not a valid phone number.

    ``region`` (ISO 3166, e.g. ``US``) is where numbers without a ``+`` country code are dialled
    from. For US and CA, 10-digit numbers and 11-digit numbers starting with 1, in any usual
    punctuation and with an optional extension (dropped), are converted in Spark; everything
    else (``+44 20 7946 0958``, ``011 44 ...``, vanity numbers, other regions) is parsed by
    ``phonenumbers``. Validity is ``phonenumbers.is_valid_number`` in both paths: a number with
    an unassigned area code such as ``(555) 555-5555`` is NULL.

    Raises:
        ValueError: ``region`` is not a region ``phonenumbers`` knows.
    """
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r}; expected an ISO 3166 code like 'US'")
    raw = strip(column)
    if region not in _FAST_PATH_REGIONS:
        return _e164_udf(region)(F.lit(None).cast(StringType()), raw)
    # Each step is evaluated once per row: a step's "no" is "" (regexp_extract of an anchored
    # pattern gives the whole value or ""), not a CASE WHEN that would repeat its operand.
    number = F.regexp_extract(F.regexp_replace(raw, _EXTENSION, ""), _NANP_SHAPE, 0)
    # With "+" the digits must start with country code 1; without it a leading 1 is the trunk
    # prefix and optional. No match gives "", which the validity regex rejects.
    national = F.regexp_extract(F.regexp_replace(number, "[^0-9+]", ""), _NANP_DIGITS, 1)
    valid = F.regexp_extract(national, _nanp_valid_regex(region), 0)
    fast = F.nullif(F.concat(F.lit("+1"), valid), F.lit("+1"))
    # The UDF sees every row (Spark would run it on every row whatever CASE WHEN surrounds
    # it) and parses only those the fast path left NULL.
    return _e164_udf(region)(fast, raw)
