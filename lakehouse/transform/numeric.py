"""Numeric standardisers: strings to LongType / DoubleType, NULL instead of an ANSI cast error."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.transform.text import strip

__all__ = ["to_integer", "to_number"]

# Plain digits, or digits grouped by commas in threes as spreadsheets export them ("1,234,567").
_DIGITS = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
# A trailing ".0" is how a spreadsheet writes an integer it stored as a float.
_INTEGER = rf"^[+-]?{_DIGITS}(?:\.0*)?$"
_NUMBER = rf"^[+-]?(?:{_DIGITS}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{{1,4}})?$"
_INFINITY = float("inf")


def to_integer(column: Column) -> Column:
    """LongType from ``"42"``, ``" -7 "``, ``"+3"``, ``"1,234"``, ``"12.0"``; NULL otherwise.

    Fractions (``"12.5"``), exponents, other grouping styles and values outside the 64-bit range
    are NULL.
    """
    raw = strip(column)
    digits = F.regexp_replace(F.regexp_replace(raw, ",", ""), r"\.0*$", "")
    # try_cast, not cast: under ANSI mode cast raises on overflow instead of returning NULL.
    return F.when(raw.rlike(_INTEGER), digits.try_cast("bigint"))


def to_number(column: Column) -> Column:
    """DoubleType from ``"3.5"``, ``"-.5"``, ``"1,234.50"``, ``"1e-3"``; NULL otherwise.

    Spark would also read ``"NaN"``, ``"Infinity"`` and ``"1e999"`` (as infinity); none of them is
    a measurement, so they are NULL, as are currency symbols and decimal commas.
    """
    raw = strip(column)
    number = F.when(raw.rlike(_NUMBER), F.regexp_replace(raw, ",", "").try_cast("double"))
    # nullif evaluates ``number`` once (a CASE WHEN would parse it again for its result).
    return F.nullif(F.nullif(number, F.lit(_INFINITY)), F.lit(-_INFINITY))
