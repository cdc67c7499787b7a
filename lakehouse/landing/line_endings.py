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

__all__ = [
    "DROP",
    "MAX_RUNS",
    "STRIP_NONE",
    "EndingCounter",
    "LineEndings",
    "RecordScan",
    "Run",
    "count_line_endings",
    "record_terminators",
    "scan_records",
]

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
    return scan_records(path, fmt, columns=0).terminators


@dataclass(frozen=True)
class Run:
    """Consecutive data records (0-based, as Spark numbers them when it splits on ``\\n``)
    that need the same repair."""

    first: int
    last: int
    action: int  # STRIP_NONE, DROP, or the 0-based index of the field whose last \r to strip
    dropped_before: int  # DROP records before ``first`` (record numbers shift down by it)


STRIP_NONE = -1
DROP = -2
_UNDECIDED = -3


@dataclass(frozen=True)
class RecordScan:
    """What one pass over the file found: record terminators outside quotes, line breaks
    inside quoted values, and the repairs a read split on ``\\n`` needs (``runs``; None when
    they would exceed ``MAX_RUNS``)."""

    terminators: LineEndings
    quoted_breaks: int
    runs: tuple[Run, ...] | None


MAX_RUNS = 64


class _Runs:
    """Run-length encoding of per-record repairs; a record that any repair leaves intact
    joins the run before it, so a file with one switch of endings has one or two runs."""

    def __init__(self) -> None:
        self.runs: list[list[int]] = []  # [first, last, action]
        self.forbidden: set[int] = set()  # fields the undecided last run must not strip
        self.overflow = False

    def add(self, record: int, must: int | None, hazards: frozenset[int]) -> None:
        """``must``: the repair this record needs (None: any that spares ``hazards``)."""
        if self.overflow:
            return
        current = self.runs[-1] if self.runs else None
        if current is not None and self._fits(current[2], must, hazards):
            current[1] = record
            if current[2] == _UNDECIDED:
                if must is not None:
                    current[2], self.forbidden = must, set()
                else:
                    self.forbidden |= hazards
            return
        if len(self.runs) == MAX_RUNS:
            self.overflow = True
            return
        self.runs.append([record, record, _UNDECIDED if must is None else must])
        self.forbidden = set(hazards) if must is None else set()

    def _fits(self, action: int, must: int | None, hazards: frozenset[int]) -> bool:
        if DROP in (action, must):
            return action == must
        if must is None:
            return action < 0 or action not in hazards
        return action == must or (action == _UNDECIDED and must not in self.forbidden)

    def result(self) -> tuple[Run, ...] | None:
        if self.overflow:
            return None
        out, dropped = [], 0
        for first, last, action in self.runs:
            out.append(Run(first, last, STRIP_NONE if action == _UNDECIDED else action, dropped))
            if action == DROP:
                dropped += last - first + 1
        return tuple(out)


def scan_records(path: Path, fmt: FileFormat, *, columns: int) -> RecordScan:
    """Tell record terminators from line breaks in quoted values, and plan the repairs of a
    read split on ``\\n`` (``columns``: the header's field count).

    Split on ``\\n``, a record that ended ``\\r\\n`` keeps the ``\\r`` at the end of its last
    field when that field is unquoted (Spark drops it after a closing quote), and a blank
    ``\\r\\n`` line becomes a record of its own; a quoted value ending in ``\\r`` is data and
    must be left alone. The header (the first record) needs no repair and is not numbered.
    """
    quote, escape = fmt.quote, fmt.escape
    outside = re.compile(f"{re.escape(quote)}|{re.escape(fmt.delimiter)}|\r\n|\n|\r")
    inside = re.compile(
        re.escape(quote) if escape == quote else f"{re.escape(escape)}[\\s\\S]|{re.escape(quote)}"
    )
    breaks = re.compile("\r\n|\n|\r")
    decoder = codecs.getincrementaldecoder(fmt.encoding)(errors="replace")
    counts = {"\r\n": 0, "\n": 0, "\r": 0}
    quoted_breaks = 0
    runs = _Runs()
    in_quotes = False
    field_start = closed_at = record_start = 0  # positions in this round's text
    field, quoted, hazards = 0, False, set[int]()  # the current record's state
    record = -1  # the header
    before = ""  # the character before this round's text
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
                token, start, end = match.group(), match.start(), match.end()
                if in_quotes:
                    quoted_breaks += len(breaks.findall(body, pos, start))
                    if token == quote:
                        in_quotes, closed_at = False, end
                        if (body[start - 1] if start else before) == "\r":
                            hazards.add(field)  # a quoted value ending in \r: data
                    elif "\r" in token[1:] or "\n" in token[1:]:
                        quoted_breaks += 1
                elif token == quote:
                    # Opens a quoted field, or re-enters one after a doubled quote.
                    in_quotes = start in (field_start, closed_at)
                    quoted = quoted or start == field_start
                elif token == fmt.delimiter:
                    field_start = end
                    field, quoted = field + 1, False
                else:
                    counts[token] += 1
                    if record >= 0:
                        if start == record_start and not field:
                            if token != "\n":  # Spark skips empty lines, not a lone \r
                                runs.add(record, DROP, frozenset())
                                record += 1
                        else:
                            strip = token != "\n" and not quoted and field < columns
                            runs.add(record, field if strip else None, frozenset(hazards))
                            record += 1
                    else:
                        record = 0
                    field_start = record_start = end
                    field, quoted, hazards = 0, False, set()
                pos = end
            if in_quotes:
                quoted_breaks += len(breaks.findall(body, pos))
            before = body[-1:] or before
            field_start -= len(body)
            closed_at -= len(body)
            record_start -= len(body)
            if not chunk:
                break
    if record >= 0 and record_start < 0:
        runs.add(record, None, frozenset(hazards))  # a last record without a terminator
    return RecordScan(
        LineEndings(counts["\r\n"], counts["\n"], counts["\r"]), quoted_breaks, runs.result()
    )
