"""Text standardisers: whitespace, casing, names, e-mail addresses and US ZIP codes.

Every function takes the raw string column and returns the standardised column, or NULL when the
raw value is blank or not valid for its type; none of them raises on data.
"""

from __future__ import annotations

from typing import Literal

from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = ["WHITESPACE_CHARS", "clean_email", "clean_name", "clean_text", "squish", "strip", "zip5"]

TextCase = Literal["upper", "lower", "title", "none"]

# Unicode White_Space (Java's `\s` alone is ASCII only): adds NBSP from Excel/HTML, thin spaces,
# line/paragraph separators and NEL. It is the set polars' str.strip_chars() removes, so
# validation's "blank raw value" and "NULL after standardising" agree. The same set twice: a
# Java regex class (for inner runs) and the characters themselves, for Spark's ``btrim``, which
# trims without a regex (a third of the time of ``^ws+|ws+$`` per value).
_WHITESPACE = r"[\s\p{Z}\x{0085}]"
WHITESPACE_CHARS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)

# Names are capitalised after these as well as after a space: O'Brien, Smith-Jones, D’Arcy.
_NAME_BREAKS = "-'\u2019"

# Shape only (local@domain.tld); deliverability is not knowable here. Labels are bounded so a
# hostile value cannot make the Java regex backtrack for long.
_EMAIL_ATOM = r"[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?"
_EMAIL_TLD = r"(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})"  # letters, or an IDN in punycode
_EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit
_EMAIL_LOCAL_MAX_LENGTH = 64
_EMAIL_BOUNDED = (
    rf"^(?=.{{1,{_EMAIL_MAX_LENGTH}}}$)(?=[^@]{{1,{_EMAIL_LOCAL_MAX_LENGTH}}}@)"
    rf"{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*@(?:{_EMAIL_LABEL}\.)+{_EMAIL_TLD}$"
)

_ZIP5_OR_ZIP9 = r"^[0-9]{5}(?:[- ]?[0-9]{4})?$"
# A 4-digit ZIP lost its leading zero in a spreadsheet (New England, NJ, PR: 02134 -> 2134).
_ZIP_LOST_ZERO = r"^[0-9]{4}$"
_ZIP_PLACEHOLDER = "00000"  # never assigned; files use it for "unknown"


def strip(column: Column) -> Column:
    """Cast to string and trim Unicode whitespace at both ends; NULL if nothing is left."""
    # nullif, not when(trimmed != "", trimmed): Spark rewrites nullif's operand into a lower
    # projection evaluated once per row; a CASE WHEN would trim twice.
    return F.nullif(F.btrim(column.cast("string"), F.lit(WHITESPACE_CHARS)), F.lit(""))


def squish(column: Column) -> Column:
    """Like ``strip``, and collapse each inner run of whitespace to one space."""
    # After the collapse every whitespace run is one ASCII space, which F.trim removes.
    collapsed = F.trim(F.regexp_replace(column.cast("string"), f"{_WHITESPACE}+", " "))
    return F.nullif(collapsed, F.lit(""))


def clean_text(column: Column, case: TextCase) -> Column:
    """Trim, collapse whitespace and apply ``case``; NULL if blank.

    ``title`` capitalises the first letter after each space and lower-cases the rest (Spark's
    ``initcap``); use ``clean_name`` for person names, which also breaks on ``-`` and ``'``.

    Raises:
        ValueError: ``case`` is not one of upper, lower, title, none.
    """
    text = squish(column)
    if case == "upper":
        return F.upper(text)
    if case == "lower":
        return F.lower(text)
    if case == "title":
        return F.initcap(text)
    if case == "none":
        return text
    raise ValueError(f"unknown case {case!r}; expected upper, lower, title or none")


def clean_name(column: Column) -> Column:
    """Person name: trimmed, whitespace collapsed, title-cased after space, ``-`` and ``'``.

    ``"  o'brien-SMITH "`` becomes ``"O'Brien-Smith"``. NULL if blank or if the value holds no
    letter at all (``"123"``, ``"--"``), which is not a name in any script.
    """
    name = squish(column)
    # initcap only breaks words on a space, so put a space after each break character,
    # title-case, then remove exactly the spaces that were added. Literal replacements, not
    # regexes: the break characters are fixed, and "c " is the only text "c" turns into.
    spaced = name
    for char in _NAME_BREAKS:
        spaced = F.replace(spaced, F.lit(char), F.lit(char + " "))
    titled = F.initcap(spaced)
    for char in _NAME_BREAKS:
        titled = F.replace(titled, F.lit(char + " "), F.lit(char))
    return F.when(name.rlike(r"\p{L}"), titled)


def clean_email(column: Column) -> Column:
    """E-mail address trimmed and lower-cased; NULL if blank or not shaped local@domain.tld."""
    # One regex evaluation, its lengths first: the look-aheads bound the whole address and
    # the local part (up to its first "@") before the shape is tried, so over-long values
    # never reach the atoms. regexp_extract gives "" for no match, which nullif makes NULL
    # (a CASE WHEN around rlike would lower-case and trim the value again for its result).
    return F.nullif(F.regexp_extract(F.lower(strip(column)), _EMAIL_BOUNDED, 0), F.lit(""))


def zip5(column: Column) -> Column:
    """Five-digit US ZIP from ``12345``, ``12345-6789``, ``12345 6789``, ``123456789``, ``2134``.

    A 4-digit value gets its leading zero back. Anything else, and the placeholder ``00000``,
    is NULL.
    """
    raw = strip(column)
    zip_code = F.when(raw.rlike(_ZIP5_OR_ZIP9), F.substring(raw, 1, 5)).when(
        raw.rlike(_ZIP_LOST_ZERO), F.lpad(raw, 5, "0")
    )
    return F.nullif(zip_code, F.lit(_ZIP_PLACEHOLDER))
