"""Timestamp standardiser: ISO-8601 / RFC 3339 instants with an explicit UTC offset.

Accepted (surrounding whitespace ignored, ``T``/``Z`` in either case)::

    2026-01-05T10:00:00Z           2026-01-05 10:00:00+02:00
    2026-01-05T10:00:00.5-0500     2026-01-05T10:00:00.123456+05:30

Seconds are required, the fraction is optional (1 to 6 digits: Spark keeps microseconds), and
the offset is required: a local time without one is ambiguous (which zone? which side of a DST
change?), so it is NULL rather than a guess. The result is a ``TimestampType`` instant: the
offset in the text decides it, never the session's or the JVM's time zone (the session zone,
UTC in ``lakehouse.spark.BASE_CONF``, only affects how an instant is displayed or cast to text).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.transform.text import strip

__all__ = ["TIMESTAMP_REGEX", "parse_timestamp"]

# Java regex of the accepted text (after trimming and upper-casing). Groups: date, time with
# its optional fraction, then either "Z" or the offset's sign+hours and minutes.
TIMESTAMP_REGEX = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]"
    r"([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)"
    r"(?:(Z)|([+-][0-9]{2}):?([0-9]{2}))$"
)
# One canonical layout for Spark's parser: "+HHMM" or "Z" ("XX"), the fraction optional.
# An unmatched group is replaced by nothing, so "Z" and "+02:00" both fit.
_CANONICAL = "$1 $2$3$4$5"
_PATTERN = "yyyy-MM-dd HH:mm:ss[.SSSSSS]XX"


def parse_timestamp(column: Column) -> Column:
    """TimestampType instant of an ISO-8601 / RFC 3339 string with an offset (module docstring).

    Blank, offset-less, impossible (2026-02-30, 24:00:00, 23:59:60, offsets beyond +-18:00)
    and any other text is NULL; nothing raises.
    """
    raw = F.upper(strip(column))
    # The shape is checked first (regexp_extract gives "" for any other text, which
    # try_to_timestamp reads as NULL), so the parser only sees, and can only reject, values
    # whose fields are out of range; its strict resolver rejects impossible dates. One
    # evaluation of ``raw``: a CASE WHEN around rlike would upper-case it again.
    shaped = F.regexp_extract(raw, TIMESTAMP_REGEX, 0)
    canonical = F.regexp_replace(shaped, TIMESTAMP_REGEX, _CANONICAL)
    return F.try_to_timestamp(canonical, F.lit(_PATTERN))
