"""Line endings of a landing file: which record terminator Spark must be told to use.

Spark's CSV reader in ``multiLine`` mode ends records at one separator only. A file whose
records end in a mix of ``\\r\\n``, ``\\n`` and ``\\r`` would then be misread: records merged
into one malformed record, or a stray ``\\r`` kept at the end of values. So the whole file's
endings are counted (in the checksum pass, ``EndingCounter``; bytes only, no decoding), and
only when more than one kind occurs are the terminators outside quoted fields told apart
(``record_terminators``): a CRLF file whose quoted values hold bare ``\\n`` (a spreadsheet
cell with a line break) is still a CRLF file.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lakehouse.config.models import FileFormat
from lakehouse.safe_files import open_regular

__all__ = ["EndingCounter", "LineEndings", "count_line_endings", "record_terminators"]

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class LineEndings:
    """How many ``\\r\\n``, bare ``\\n`` and bare ``\\r`` a file (or its records) end with."""

    crlf: int = 0
    lf: int = 0
    cr: int = 0

    @property
    def kinds(self) -> tuple[str, ...]:
        """The separators present, e.g. ``("\\r\\n",)``; empty for a one-line file."""
        found = (("\r\n", self.crlf), ("\n", self.lf), ("\r", self.cr))
        return tuple(sep for sep, count in found if count)


class EndingCounter:
    """Counts line endings over consecutive byte chunks (a ``\\r\\n`` may span two)."""

    def __init__(self) -> None:
        self._crlf = self._lf = self._cr = 0
        self._pending_cr = False  # the previous chunk ended with \r

    def update(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._pending_cr and chunk[:1] == b"\n":
            self._crlf += 1
            self._cr -= 1  # counted as bare at the end of the last chunk
            self._lf -= 1  # counted as bare below
        crlf = chunk.count(b"\r\n")
        self._crlf += crlf
        self._lf += chunk.count(b"\n") - crlf
        self._cr += chunk.count(b"\r") - crlf
        self._pending_cr = chunk[-1:] == b"\r"

    def result(self) -> LineEndings:
        return LineEndings(self._crlf, self._lf, self._cr)


def count_line_endings(path: Path) -> LineEndings:
    """Every line ending in ``path`` (quoted or not); opened without following links."""
    counter = EndingCounter()
    with os.fdopen(open_regular(path), "rb") as handle:
        while chunk := handle.read(_CHUNK):
            counter.update(chunk)
    return counter.result()


def record_terminators(path: Path, fmt: FileFormat) -> LineEndings:
    """The line endings that end records: those outside quoted fields.

    RFC 4180 as Spark reads it: a field is quoted when it starts with the quote character;
    inside, a doubled quote (or, with another escape character, that character) escapes the
    next one; a quote elsewhere is data. Decodes ``fmt.encoding`` in chunks (a file that does
    not decode was rejected by the checksum pass before this is asked).
    """
    quote, escape = fmt.quote, fmt.escape
    outside = re.compile(f"{re.escape(quote)}|{re.escape(fmt.delimiter)}|\r\n|\n|\r")
    inside = re.compile(
        re.escape(quote) if escape == quote else f"{re.escape(escape)}[\\s\\S]|{re.escape(quote)}"
    )
    decoder = codecs.getincrementaldecoder(fmt.encoding)(errors="replace")
    counts = {"\r\n": 0, "\n": 0, "\r": 0}
    in_quotes = False
    field_start = closed_at = 0  # positions in this round's text
    carry = ""
    with os.fdopen(open_regular(path), "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            text = carry + decoder.decode(chunk, final=not chunk)
            # A trailing \r (maybe \r\n) or escape character ends its token next round.
            keep = 1 if chunk and text[-1:] in ("\r", escape) else 0
            body, carry = (text[:-keep], text[-keep:]) if keep else (text, "")
            pos = 0
            while match := (inside if in_quotes else outside).search(body, pos):
                token, start, pos = match.group(), match.start(), match.end()
                if in_quotes:
                    if token == quote:
                        in_quotes, closed_at = False, pos
                elif token == quote:
                    # Opens a quoted field, or re-enters one after a doubled quote.
                    in_quotes = start in (field_start, closed_at)
                elif token == fmt.delimiter:
                    field_start = pos
                else:
                    counts[token] += 1
                    field_start = pos
            field_start -= len(body)
            closed_at -= len(body)
            if not chunk:
                break
    return LineEndings(counts["\r\n"], counts["\n"], counts["\r"])
