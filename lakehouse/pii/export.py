"""Plaintext exports of ``lakehouse decrypt``: safe to open in a spreadsheet, private on disk.

- Every text cell a spreadsheet would run as a formula (leading ``=``, ``+``, ``-``, ``@``,
  their full-width forms, or a tab/CR before them) is prefixed with ``'``, which makes it
  text (OWASP "CSV injection"); plain signed numbers stay as they are.
- The output file is created new (``O_EXCL``: an existing file is never reused or
  truncated, so it cannot keep looser permissions), never through a link (``O_NOFOLLOW``),
  mode 0600.
- A reason must say why: a ticket reference (``INC-1234``) or a sentence.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from lakehouse.errors import LakehouseError

__all__ = [
    "MIN_REASON_CHARS",
    "check_reason",
    "create_binary_export",
    "create_export",
    "neutralise_cell",
    "write_csv",
]

_FORMULA_START = re.compile(r"^[\s]*[=+\-@\uff1d\uff0b\uff0d\uff20]")
_PLAIN_NUMBER = re.compile(r"^\s*[+\-]?[0-9]*\.?[0-9]+\s*$")
_TICKET = re.compile(r"^[A-Za-z][A-Za-z0-9]+-[0-9]+$")
MIN_REASON_CHARS = 12


def neutralise_cell(value: object) -> object:
    """``value`` made inert for a spreadsheet (text only; numbers and NULL pass through)."""
    if not isinstance(value, str):
        return value
    if _FORMULA_START.match(value) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    if value[:1] in ("\t", "\r"):
        return "'" + value
    return value


def check_reason(reason: str | None) -> str:
    """The reason, stripped, if it is a ticket reference or at least a short sentence.

    Raises:
        LakehouseError: empty, or neither a ticket id (two or more letters/digits, '-',
            a number) nor text of ``MIN_REASON_CHARS`` characters with two words.
    """
    text = (reason or "").strip()
    words = [w for w in re.split(r"\s+", text) if any(c.isalnum() for c in w)]
    if _TICKET.match(text) or (len(text) >= MIN_REASON_CHARS and len(words) >= 2):
        return text
    raise LakehouseError(
        "--reason must say why the plaintext is needed (it is recorded in audit/pii_events)",
        fix="give a ticket reference such as INC-1234, or a sentence of "
        f"{MIN_REASON_CHARS}+ characters",
    )


def _create_private(path: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise LakehouseError(
            f"output file {path} already exists; an export never writes into an existing file",
            fix="choose a new file name (the export is created with mode 0600)",
        ) from exc
    os.fchmod(fd, 0o600)  # whatever the umask
    return fd


def create_export(path: Path) -> IO[str]:
    """A new, private text file for an export.

    Raises:
        LakehouseError: something (a file or a link) already exists at ``path``.
    """
    return os.fdopen(_create_private(path), "w", encoding="utf-8", newline="")


def create_binary_export(path: Path) -> IO[bytes]:
    """A new, private binary file (Parquet) for an export; refused like ``create_export``."""
    return os.fdopen(_create_private(path), "wb")


def write_csv(
    rows: Iterable[dict[str, object]], names: Sequence[str], handle: IO[str] | None = None
) -> None:
    """CSV with a header, every cell neutralised (stdout when ``handle`` is None)."""
    writer = csv.DictWriter(handle or sys.stdout, fieldnames=list(names))
    writer.writeheader()
    for row in rows:
        writer.writerow({name: neutralise_cell(row.get(name)) for name in names})
