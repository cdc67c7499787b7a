"""``mask`` and ``generalise`` as Spark expressions (no Python worker, no key needed).

- mask: keep the first/last N characters and put a fixed run of ``masked_chars`` mask
  characters between them, so the mask does not reveal the value's length (a name's length
  with a birth year and zip3 singled out every demo member); a value too short to hide
  anything is masked entirely. ``keep_length: true`` restores one mask character per hidden
  character.
- generalise a date: its year (a string), or an age band at the file's creation date
  (``40-49``); either way every age from ``top_age`` on (default 90) is one ``90+`` value,
  as HIPAA Safe Harbor requires (the birth year of a 95-year-old is never shown).
- generalise a zip: its first three digits, or ``000`` for the prefixes HIPAA lists as
  20,000 people or fewer (``data/zip3_restricted.txt``, with its source).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.config.models import ColumnSpec, GeneraliseOptions, MaskOptions
from lakehouse.pii.zip3 import RESTRICTED_ZIP3_FILE, restricted_zip3

__all__ = ["RESTRICTED_ZIP3_FILE", "generalise_column", "mask_column", "restricted_zip3"]


def mask_column(value: Column, options: MaskOptions) -> Column:
    """Masked string; NULL stays NULL."""
    text = value.cast("string")
    length = F.char_length(text)
    kept = options.keep_first + options.keep_last
    head = F.substring(text, 1, options.keep_first) if options.keep_first else F.lit("")
    tail = (
        F.substring(text, -options.keep_last, options.keep_last) if options.keep_last else F.lit("")
    )
    if options.keep_length:
        middle = F.repeat(F.lit(options.char), length - kept)
        full = F.repeat(F.lit(options.char), length)
    else:
        middle = F.lit(options.char * options.masked_chars)
        full = F.lit(options.char * (kept + options.masked_chars))
    return F.when(text.isNull(), F.lit(None).cast("string")).otherwise(
        F.when(length <= kept, full).otherwise(F.concat(head, middle, tail))
    )


def generalise_column(value: Column, spec: ColumnSpec, *, as_of: Column) -> Column:
    """Generalised value of a standardised date or zip column (see module docstring).

    ``as_of`` is the date ages are computed at (the file's creation date), so a row's band
    depends only on the file it came from.
    """
    options = spec.generalise or GeneraliseOptions()
    to = spec.generalisation
    width, top = options.band_years, options.top_age
    age = F.floor(F.months_between(as_of, value.cast("date")) / 12).cast("int")
    if to == "year":
        # A string like every other generalisation: clients sharing a dataset may pick
        # different ones for the same column ("1970" and "50-59" in one silver column).
        year = F.year(value.cast("date")).cast("string")
        return F.when(age >= top, F.lit(f"{top}+")).otherwise(year)
    if to == "age_band":
        low = F.floor(age / width).cast("int") * width
        high = low + (width - 1)
        band = F.when(age >= top, F.lit(f"{top}+")).otherwise(
            F.concat(low.cast("string"), F.lit("-"), F.least(high, F.lit(top - 1)).cast("string"))
        )
        return F.when(value.isNull() | (age < 0), F.lit(None).cast("string")).otherwise(band)
    if to == "zip3":
        prefix = F.substring(value.cast("string"), 1, 3)
        restricted = sorted(restricted_zip3())
        return F.when(value.isNull(), F.lit(None).cast("string")).otherwise(
            F.when(prefix.isin(restricted), F.lit("000")).otherwise(prefix)
        )
    raise ValueError(f"column '{spec.name}' cannot be generalised ({spec.type})")
