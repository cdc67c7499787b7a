"""Build a Pandera (polars backend) schema from a client's column declarations.

The frame it validates holds, per configured column, the standardised value under the
column's name and the raw string under ``<name>__raw``, plus ``_creation_date``. Checks:
- ``not_null``: a required column whose raw value is blank;
- ``invalid_<type>``: raw value present but the standardiser could not parse it;
- the declared value checks (regex, isin, lengths, min/max, min_date, not_in_future) on the
  standardised value (a timestamp's dates: its UTC date); a NULL passes them (its absence is
  ``not_null``'s business).
- on the raw value of every column: no control characters, at most ``file.max_field_chars``.
Every check is named by its ``Code`` so failure cases map straight to reason codes.
"""

from __future__ import annotations

from collections.abc import Callable

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from lakehouse.config.models import ClientConfig, ColumnSpec
from lakehouse.validation.reasons import Code

__all__ = ["CREATION_DATE", "RAW_SUFFIX", "build_schema"]

RAW_SUFFIX = "__raw"
CREATION_DATE = "_creation_date"

_PARSE_CODES: dict[str, Code] = {
    "date": Code.INVALID_DATE,
    "timestamp": Code.INVALID_TIMESTAMP,
    "phone": Code.INVALID_PHONE,
    "email": Code.INVALID_EMAIL,
    "zip": Code.INVALID_ZIP,
    "integer": Code.INVALID_INTEGER,
    "number": Code.INVALID_NUMBER,
}

Predicate = Callable[[pl.Expr, pl.Expr], pl.Expr]  # (standardised, raw) -> passes


def _blank(raw: pl.Expr) -> pl.Expr:
    return raw.is_null() | (raw.str.strip_chars() == "")


def _check(spec: ColumnSpec, code: Code, predicate: Predicate) -> pa.Check:
    std = pl.col(spec.name)
    raw = pl.col(spec.name + RAW_SUFFIX)

    def run(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(predicate(std, raw).fill_null(True).alias(data.key))

    return pa.Check(run, name=code.value, error=code.value)


def _value_checks(spec: ColumnSpec) -> list[pa.Check]:
    c = spec.checks
    checks: list[pa.Check] = []

    def when_present(test: Callable[[pl.Expr], pl.Expr]) -> Predicate:
        return lambda std, _raw: std.is_null() | test(std)

    if c.regex is not None:
        pattern = f"^(?:{c.regex})$"
        checks.append(_check(spec, Code.REGEX, when_present(lambda s: s.str.contains(pattern))))
    if c.isin is not None:
        allowed = list(c.isin)
        checks.append(_check(spec, Code.ISIN, when_present(lambda s: s.is_in(allowed))))
    if c.min_length is not None:
        n = c.min_length
        checks.append(_check(spec, Code.MIN_LENGTH, when_present(lambda s: s.str.len_chars() >= n)))
    if c.max_length is not None:
        m = c.max_length
        checks.append(_check(spec, Code.MAX_LENGTH, when_present(lambda s: s.str.len_chars() <= m)))
    if c.min is not None:
        low = c.min
        checks.append(_check(spec, Code.MIN, when_present(lambda s: s >= low)))
    if c.max is not None:
        high = c.max
        checks.append(_check(spec, Code.MAX, when_present(lambda s: s <= high)))
    # A timestamp column's date checks compare its UTC calendar date (an instant is not a day).
    day: Callable[[pl.Expr], pl.Expr] = (
        (lambda s: s.dt.date()) if spec.type == "timestamp" else (lambda s: s)
    )
    if c.min_date is not None:
        earliest = c.min_date
        checks.append(
            _check(spec, Code.MIN_DATE, when_present(lambda s: day(s) >= pl.lit(earliest)))
        )
    if c.not_in_future:
        created = pl.col(CREATION_DATE)
        checks.append(_check(spec, Code.FUTURE_DATE, when_present(lambda s: day(s) <= created)))
    return checks


# C0 controls other than tab, LF and CR (which quoted CSV fields may legitimately hold), and
# DEL. A NUL or an escape sequence in a name or key is corruption or an attack, not data.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


# What a spreadsheet runs as a formula: a leading "=", "+", "-", "@" (also their full-width
# forms, which some spreadsheets accept) unless the whole value is a plain signed number
# ("-2+3+cmd|..." is a formula, "-12.5" is not). Leading whitespace is skipped, as
# spreadsheets do. (Rust regex has no look-ahead: two patterns.)
_FORMULA_START = r"^\s*[=+\-@\x{FF1D}\x{FF0B}\x{FF0D}\x{FF20}]"
_PLAIN_NUMBER = r"^\s*[+\-]?[0-9]*\.?[0-9]+\s*$"
# Types whose raw text reaches silver or an export as text. Phones ("+1 212 ..."), numbers
# ("-5"), dates and zips are parsed: a formula never standardises to a valid value.
_TEXT_TYPES = ("name", "string", "code", "email")


def _formula(raw: pl.Expr) -> pl.Expr:
    return raw.str.contains(_FORMULA_START) & ~raw.str.contains(_PLAIN_NUMBER)


def _column_checks(spec: ColumnSpec, max_chars: int) -> list[pa.Check]:
    checks: list[pa.Check] = [
        _check(spec, Code.CONTROL_CHARACTERS, lambda _std, raw: ~raw.str.contains(_CONTROL)),
        _check(spec, Code.TOO_LONG, lambda _std, raw: raw.str.len_chars() <= max_chars),
    ]
    if spec.type in _TEXT_TYPES:
        # A spreadsheet would run "=...", "+...", "@..." or "-..." as a formula; no name, code,
        # e-mail or free text starts that way, and quarantining beats re-emitting it.
        checks.append(_check(spec, Code.FORMULA, lambda _std, raw: ~_formula(raw)))
    if spec.required:
        checks.append(_check(spec, Code.NOT_NULL, lambda _std, raw: ~_blank(raw)))
    parse_code = _PARSE_CODES.get(spec.type)
    if parse_code is not None:
        checks.append(_check(spec, parse_code, lambda std, raw: std.is_not_null() | _blank(raw)))
    return checks + _value_checks(spec)


def build_schema(client: ClientConfig) -> pa.DataFrameSchema:
    """The client's row-level schema; extra columns (lineage, raw copies) are allowed."""
    return pa.DataFrameSchema(
        {
            spec.name: pa.Column(
                None, nullable=True, checks=_column_checks(spec, client.file.max_field_chars)
            )
            for spec in client.columns
        },
        name=client.client_id,
        strict=False,
    )
