"""Dispatch from a column's declared type to its standardiser, for one column or a DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.config.models import ColumnSpec
from lakehouse.memo import Memo, built_once
from lakehouse.transform.dates import parse_date
from lakehouse.transform.numeric import to_integer, to_number
from lakehouse.transform.phones import phone_e164
from lakehouse.transform.text import clean_email, clean_name, clean_text, zip5
from lakehouse.transform.timestamps import parse_timestamp

__all__ = ["standardise", "standardise_column"]


def standardise_column(column: Column, spec: ColumnSpec, region: str) -> Column:
    """Standardised value of the raw string ``column`` for ``spec.type``; NULL if blank/invalid.

    ``region`` is the client's phone region, used by phone columns only.
    """
    match spec.type:
        case "string" | "code":
            return clean_text(column, spec.case)
        case "name":
            return clean_name(column)
        case "integer":
            return to_integer(column)
        case "number":
            return to_number(column)
        case "date":
            return parse_date(column, spec.formats)
        case "timestamp":
            return parse_timestamp(column)
        case "phone":
            return phone_e164(column, region)
        case "email":
            return clean_email(column)
        case "zip":
            return zip5(column)
        case _:
            assert_never(spec.type)


def standardise(
    df: DataFrame, columns: Sequence[ColumnSpec], region: str, *, memo: Memo | None = None
) -> DataFrame:
    """Replace each ``spec.name`` column of ``df`` by its standardised value, in place.

    Column order, row count and columns without a spec are unchanged. ``memo``: where the
    expressions are kept for the next frame with the same specs (``Job.plans``).

    Raises:
        ValueError: a spec names a column ``df`` does not have, or two specs share a name.
    """
    names = [spec.name for spec in columns]
    missing = [name for name in names if name not in df.columns]
    if missing:
        raise ValueError(f"columns to standardise are missing from the DataFrame: {missing}")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"columns specified more than once: {duplicated}")
    # One projection for all columns; withColumns keeps each replaced column where it was.
    replaced = built_once(
        memo,
        ("standardise", tuple(columns), region),
        lambda: {spec.name: standardise_column(F.col(spec.name), spec, region) for spec in columns},
    )
    return df.withColumns(replaced)
