"""Invalid records planted in demo files: one known reason each, so the quarantine is testable.

``plant_invalid`` turns a few valid rows of a file into rows the pipeline must quarantine.
Each planted row breaks exactly one rule and keeps every other value valid, so the expected
quarantine count is exact; the kinds rotate across files so every file sees different ones.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lakehouse.demo.members import ClientLayout, format_date

__all__ = ["INVALID_KINDS", "Row", "plant_invalid", "rotation"]

# Rotation order. "duplicate_key" costs two rows: both records of the pair are quarantined.
INVALID_KINDS = (
    "missing_key",
    "bad_date",
    "bad_phone",
    "missing_name",
    "bad_email",
    "future_date",
    "bad_key",
    "too_many_fields",
    "bad_choice",
    "old_date",
    "duplicate_key",
    "too_few_fields",
)
_BAD_DATES = ("31/31/2020", "not a date", "99/99/9999", "unknown")
_BAD_PHONES = ("12345", "call me", "n/a - see notes", "000")
_BAD_CHOICES = ("PLATINUM", "DIAMOND", "UNKNOWN")


@dataclass
class Row:
    """One data record of a demo file, before it becomes CSV text."""

    member_id: str  # the member it describes, even when the written key is broken
    values: dict[str, str]  # column name -> text
    valid: bool = True
    raw: str | None = None  # a malformed line, written verbatim instead of ``values``
    invalid_kind: str | None = field(default=None, compare=False)


def plant_invalid(
    rows: list[Row],
    layout: ClientLayout,
    *,
    count: int,
    created: dt.date,
    kinds: Iterator[str],
    variant: Callable[[Row], dict[str, str]],
    rng: random.Random,
) -> None:
    """Make ``count`` rows of ``rows`` invalid in place, taking kinds from ``kinds`` in turn.

    ``created`` is the file's creation date: future birth dates are relative to it.
    ``variant`` gives the values of another valid version of a row's member, used for the
    second record of a duplicate-key pair. Kinds the client's columns cannot express (no phone
    column, say) are skipped.
    """
    delimiter, quote = layout.config.file.delimiter, layout.config.file.quote
    # Malformed lines are written by hand, so they need rows the writer would not quote.
    plain = [
        i
        for i, row in enumerate(rows)
        if not any(delimiter in v or quote in v or "\n" in v for v in row.values.values())
    ]
    victims = iter(rng.sample(range(len(rows)), len(rows)))
    plain_victims = iter(rng.sample(plain, len(plain)))
    used: set[int] = set()
    pairs: list[Row] = []
    planted = 0
    tried = 0
    while planted < count and tried < 4 * len(INVALID_KINDS):
        kind = next(kinds)
        tried += 1
        need = 2 if kind == "duplicate_key" else 1
        if planted + need > count:
            continue
        pool = plain_victims if kind in ("too_many_fields", "too_few_fields") else victims
        index = next((i for i in pool if i not in used), None)
        if index is None:
            continue
        row = rows[index]
        if kind == "duplicate_key":
            pairs.append(Row(row.member_id, variant(row), valid=False, invalid_kind=kind))
            row.valid, row.invalid_kind = False, kind
        elif not _break(row, kind, layout, created, rng):
            continue
        used.add(index)
        planted += need
        tried = 0
    # The second record of each pair goes somewhere after the first, as re-sent rows do.
    for twin in pairs:
        first = next(i for i, row in enumerate(rows) if row.member_id == twin.member_id)
        rows.insert(rng.randint(first + 1, len(rows)), twin)


def _break(row: Row, kind: str, layout: ClientLayout, created: dt.date, rng: random.Random) -> bool:
    """Give ``row`` exactly one problem of ``kind``; False if this client cannot have it."""
    config = layout.config
    date = layout.column_for("birth_date")
    changes: dict[str, Callable[[], tuple[str, str] | None]] = {
        "missing_key": lambda: (layout.key.name, ""),
        "bad_key": lambda: (layout.key.name, row.member_id[:-2]),  # too few digits
        "missing_name": lambda: _set_required(layout, "last_name", ""),
        "bad_date": lambda: (date.name, rng.choice(_BAD_DATES)) if date else None,
        "future_date": lambda: _future_date(layout, created, rng),
        "old_date": lambda: _old_date(layout, rng),
        "bad_phone": lambda: _set(layout, "phone", rng.choice(_BAD_PHONES)),
        "bad_email": lambda: _set(layout, "email", _no_at(row, layout)),
        "bad_choice": lambda: _set(layout, "choice", rng.choice(_BAD_CHOICES)),
    }
    if kind in changes:
        change = changes[kind]()
        if change is None:
            return False
        row.values[change[0]] = change[1]
    elif kind == "too_many_fields":
        # An unquoted delimiter inside a name: every later value shifts one column right,
        # so the record is broken however a reader treats the extra field.
        names = [c.name for c in config.columns if layout.roles.get(c.name) == "last_name"]
        if not names:
            return False
        fields = [
            f"{row.values[c.name]}{config.file.delimiter} Jr" if c.name == names[0]
            else row.values[c.name]
            for c in config.columns
        ]  # fmt: skip
        row.raw = config.file.delimiter.join(fields)
    elif kind == "too_few_fields":
        # Cut from the last required column on, so a required value is missing as well.
        last_required = max(i for i, c in enumerate(config.columns) if c.required)
        if last_required == 0:
            return False
        fields = [row.values[c.name] for c in config.columns[:last_required]]
        row.raw = config.file.delimiter.join(fields)
    else:
        raise ValueError(f"unknown invalid kind {kind!r}")
    row.valid, row.invalid_kind = False, kind
    return True


def _no_at(row: Row, layout: ClientLayout) -> str:
    """An e-mail address spelled out without '@', as people type it to dodge spam bots."""
    # Free-text notes may quote an address too: only the member's e-mail column counts.
    notes = {name for name, role in layout.roles.items() if role == "notes"}
    email = next((v.strip() for n, v in row.values.items() if "@" in v and n not in notes), "")
    return email.replace("@", " at ") if email else f"{row.member_id.lower()}.example.com"


def _set(layout: ClientLayout, role: str, value: str) -> tuple[str, str] | None:
    column = next((n for n, r in layout.roles.items() if r == role), None)
    return (column, value) if column is not None else None


def _set_required(layout: ClientLayout, role: str, value: str) -> tuple[str, str] | None:
    for name, found in layout.roles.items():
        if found == role and layout.config.column(name).required:
            return name, value
    return None


def _future_date(
    layout: ClientLayout, created: dt.date, rng: random.Random
) -> tuple[str, str] | None:
    column = layout.column_for("birth_date")
    if column is None or not column.checks.not_in_future:
        return None
    # Over a year ahead: still in the future for a copy of the file dated a few weeks later.
    value = created + dt.timedelta(days=rng.randint(400, 1500))
    return column.name, format_date(value, rng.choice(column.formats))


def _old_date(layout: ClientLayout, rng: random.Random) -> tuple[str, str] | None:
    column = layout.column_for("birth_date")
    if column is None or column.checks.min_date is None:
        return None
    value = column.checks.min_date - dt.timedelta(days=rng.randint(1, 40 * 365))
    return column.name, format_date(value, rng.choice(column.formats))


def rotation(start: int) -> Iterator[str]:
    """Endless ``INVALID_KINDS``, starting at ``start`` (so small files differ)."""
    index = start
    while True:
        yield INVALID_KINDS[index % len(INVALID_KINDS)]
        index += 1
