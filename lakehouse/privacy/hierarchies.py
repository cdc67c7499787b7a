"""Generalisation hierarchies: one quasi-identifier's values at each level, as polars Series.

Level 0 is the value as stored (as text); each configured level is coarser than the one
before and nests in the next, so rows equal at one level stay equal at every coarser one
(the k-anonymity search relies on it):

- date: ``2026-03-14`` -> month ``2026-03`` -> year ``2026`` -> an N-year band
  ``2025-2029`` -> ``*``. Values already coarser (a silver birth year ``1970``) start at
  the level they have; a value that is no date (the top-coded ``90+``) stays as it is until
  ``*``.
- zip: ``94110`` -> zip3 ``941`` (``000`` for the HIPAA restricted prefixes) -> ``000``.
- category: value -> its configured group (unmapped values ``*``) -> ``*``.
- number: ``42`` (or a range ``40-49``) -> a range N wide ``40-59`` -> ``*``; a top-coded
  ``90+`` stays as it is until ``*``.
NULL stays NULL below ``*`` (one more class value).
"""

from __future__ import annotations

import polars as pl

from lakehouse.pii.zip3 import restricted_zip3
from lakehouse.privacy.profiles import QuasiIdentifier

__all__ = ["generalise", "ladder"]

_YEAR = r"^(\d{4})"
_MONTH = r"^(\d{4}-\d{2})"
_NUMBER = r"^\s*(-?\d+(?:\.\d+)?)"


def _text(series: pl.Series) -> pl.Series:
    return series.cast(pl.String, strict=False)


def _band(numbers: pl.Expr, width: int) -> pl.Expr:
    low = (numbers / width).floor().cast(pl.Int64) * width
    return pl.concat_str(low.cast(pl.String), pl.lit("-"), (low + width - 1).cast(pl.String))


def _date(text: pl.Expr, level: str) -> pl.Expr:
    if level == "month":
        month = text.str.extract(_MONTH, 1)
        return pl.when(month.is_not_null()).then(month).otherwise(text)
    year = text.str.extract(_YEAR, 1)
    if level == "year":
        return pl.when(year.is_not_null()).then(year).otherwise(text)
    band = _band(year.cast(pl.Int64, strict=False), int(level[:-1]))
    return pl.when(year.is_not_null()).then(band).otherwise(text)


def _zip(text: pl.Expr, level: str) -> pl.Expr:
    if level == "000":
        return pl.when(text.is_null()).then(None).otherwise(pl.lit("000"))
    prefix = text.str.strip_chars().str.slice(0, 3)
    restricted = pl.Series(sorted(restricted_zip3()), dtype=pl.String)
    return pl.when(prefix.is_in(restricted.implode())).then(pl.lit("000")).otherwise(prefix)


def _number(text: pl.Expr, level: str) -> pl.Expr:
    value = text.str.extract(_NUMBER, 1).cast(pl.Float64, strict=False)
    top_coded = text.str.ends_with("+")
    return pl.when(value.is_null() | top_coded).then(text).otherwise(_band(value, int(level)))


def _category(text: pl.Expr, spec: QuasiIdentifier) -> pl.Expr:
    groups = spec.groups or {}
    mapped = text.replace_strict(groups, default="*", return_dtype=pl.String)
    return pl.when(text.is_null()).then(None).otherwise(mapped)


def generalise(series: pl.Series, spec: QuasiIdentifier, level: int) -> pl.Series:
    """``series`` at ``level`` (0: as stored, as text; i: the i-th configured level)."""
    text = _text(series)
    if level == 0:
        return text
    name = spec.effective_levels[level - 1]
    if name == "*":
        return pl.Series(series.name, ["*"] * len(series), dtype=pl.String)
    column = pl.col(series.name)
    if spec.hierarchy == "date":
        expr = _date(column, name)
    elif spec.hierarchy == "zip":
        expr = _zip(column, name)
    elif spec.hierarchy == "number":
        expr = _number(column, name)
    else:
        expr = _category(column, spec)
    return text.to_frame().select(expr.alias(series.name)).to_series()


def ladder(series: pl.Series, spec: QuasiIdentifier) -> list[pl.Series]:
    """Every level of ``series``, level 0 first."""
    return [generalise(series, spec, level) for level in range(len(spec.effective_levels) + 1)]
