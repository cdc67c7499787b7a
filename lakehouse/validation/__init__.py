"""Row-level validation with Pandera, built from client config; reasons per row."""

from lakehouse.validation.checks import REASONS, raw_copies, validate
from lakehouse.validation.reasons import Code, reason
from lakehouse.validation.schema import RAW_SUFFIX, build_schema

__all__ = ["RAW_SUFFIX", "REASONS", "Code", "build_schema", "raw_copies", "reason", "validate"]
