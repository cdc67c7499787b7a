"""Machine-readable reason codes: ``<column>:<code>``, e.g. ``birth_date:invalid_date``."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RECORD", "Code", "reason"]

RECORD = "_record"  # pseudo-column for problems of the whole record


class Code(StrEnum):
    NOT_NULL = "not_null"
    INVALID_DATE = "invalid_date"
    INVALID_TIMESTAMP = "invalid_timestamp"
    INVALID_PHONE = "invalid_phone"
    INVALID_EMAIL = "invalid_email"
    INVALID_ZIP = "invalid_zip"
    INVALID_INTEGER = "invalid_integer"
    INVALID_NUMBER = "invalid_number"
    REGEX = "regex"
    ISIN = "isin"
    MIN_LENGTH = "min_length"
    MAX_LENGTH = "max_length"
    MIN = "min"
    MAX = "max"
    MIN_DATE = "min_date"
    FUTURE_DATE = "future_date"
    CONTROL_CHARACTERS = "control_characters"
    TOO_LONG = "too_long"
    FORMULA = "formula"
    MALFORMED = "malformed"
    DUPLICATE_KEY = "duplicate_key_in_file"
    # Measurement datasets (lakehouse.validation.measurements).
    UNKNOWN_UNIT = "unknown_unit"
    OUT_OF_RANGE = "out_of_range"
    UNEXPECTED = "unexpected"
    NOT_BELOW_VALUE = "not_below_value"
    FUTURE_TIMESTAMP = "future_timestamp"
    BEFORE_BIRTH = "before_birth"


def reason(column: str, code: Code) -> str:
    return f"{column}:{code.value}"
