"""Erasure in raw files: landing files and the archive hold members in plaintext (CSV,
JSON lines, XML).

A record is removed when its merge key field, trimmed and cased like the pipeline's ``code``
standardiser, equals the member's key, or (malformed records) when its raw text contains the
key. Every other byte of the file is kept: records are cut out by their physical line span,
so other members' records stay exactly as delivered.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lakehouse.config.models import ClientConfig
from lakehouse.pii.raw_records import cut_records
from lakehouse.safe_files import (
    NotRegularFileError,
    create_exclusive,
    open_regular,
    read_regular,
    temporary_name,
    walk_regular,
)

__all__ = ["RawFileErasure", "contains_token", "erase_from_raw_files", "raw_files_with"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawFileErasure:
    path: Path
    records_removed: int


def _cased(value: str, case: str) -> str:
    value = value.strip()
    return {"upper": value.upper(), "lower": value.lower(), "title": value.title()}.get(case, value)


def contains_token(text: str, value: str) -> bool:
    """``value`` as a whole token of ``text`` (AC000123 is not inside AC0001234)."""
    pattern = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def _candidates(roots: Iterable[Path]) -> list[Path]:
    """Regular files under ``roots``; links are neither followed nor listed (a link in landing
    could point at any file on the machine, which erasure would otherwise rewrite)."""
    found: list[Path] = []
    for root in roots:
        found += list(walk_regular(root, skip_hidden=True))
    return found


def raw_files_with(roots: Iterable[Path], needles: Sequence[str]) -> list[Path]:
    """Files under ``roots`` whose bytes contain any needle (case-insensitive, UTF-8)."""
    lowered = [n.lower().encode("utf-8") for n in needles if n]
    return [p for p in _candidates(roots) if any(n in read_regular(p).lower() for n in lowered)]


def _split_records(text: str, client: ClientConfig) -> list[tuple[list[str], str]]:
    """(fields, raw text) per record, raw text including its line ending."""
    lines = text.splitlines(keepends=True)
    fmt = client.file
    reader = csv.reader(
        io.StringIO(text),
        delimiter=fmt.delimiter,
        quotechar=fmt.quote,
        doublequote=fmt.escape == fmt.quote,
        escapechar=None if fmt.escape == fmt.quote else fmt.escape,
    )
    records: list[tuple[list[str], str]] = []
    start = 0
    for fields in reader:
        end = reader.line_num
        records.append((fields, "".join(lines[start:end])))
        start = end
    if start < len(lines):  # trailing text the reader did not turn into a record
        records.append(([], "".join(lines[start:])))
    return records


def erase_from_raw_files(
    paths: Iterable[Path],
    client: ClientConfig,
    key_values: Sequence[str],
    *,
    dry_run: bool,
    key_columns: Sequence[str] | None = None,
) -> list[RawFileErasure]:
    """Rewrite each file without the records of the member (atomically, mode kept).

    ``key_columns``: the columns holding ``key_values`` (default: the merge key; a dataset
    that references the member names its column, e.g. readings' member_id)."""
    key_specs = [client.column(name) for name in (key_columns or client.merge_key)]
    wanted = [_cased(v, spec.case) for v, spec in zip(key_values, key_specs, strict=True)]
    results: list[RawFileErasure] = []
    for path in paths:
        try:
            fd = open_regular(path)
        except NotRegularFileError:
            log.warning(
                "not rewritten: not a regular file (links are never followed)",
                extra={"file": path.name},
            )
            continue
        with os.fdopen(fd, "rb") as handle:
            original = handle.read()
            mode = os.fstat(handle.fileno()).st_mode & 0o777
        try:
            text = original.decode(client.file.encoding)
        except (UnicodeDecodeError, LookupError):
            text = original.decode("utf-8", errors="surrogateescape")
        if client.file.format != "csv":  # JSON lines, XML: no header, records by span
            cut = cut_records(text, client, lambda r: all(contains_token(r, w) for w in wanted))
            if cut is None:
                continue
            _replace(path, cut[0], client, mode, dry_run=dry_run)
            results.append(RawFileErasure(path, cut[1]))
            continue
        records = _split_records(text, client)
        if not records:
            continue
        header = [h.strip().lstrip("\ufeff") for h in records[0][0]]
        positions = [header.index(s.header) if s.header in header else -1 for s in key_specs]
        kept = [records[0][1]]
        removed = 0
        for fields, raw in records[1:]:
            by_field = all(
                0 <= pos < len(fields) and _cased(fields[pos], spec.case) == want
                for pos, spec, want in zip(positions, key_specs, wanted, strict=True)
            )
            in_text = all(contains_token(raw, want) for want in wanted)
            if by_field or in_text:
                removed += 1
            else:
                kept.append(raw)
        if not removed:
            continue
        results.append(RawFileErasure(path, removed))
        _replace(path, "".join(kept), client, mode, dry_run=dry_run)
    return results


def _replace(path: Path, text: str, client: ClientConfig, mode: int, *, dry_run: bool) -> None:
    """Write ``text`` over ``path`` atomically (mode kept); nothing in a dry run."""
    if dry_run:
        return
    staging = temporary_name(path, "erasing")
    data = text.encode(client.file.encoding, errors="surrogateescape")
    with os.fdopen(create_exclusive(staging, mode), "wb") as out:
        out.write(data)
        os.fchmod(out.fileno(), mode)
    staging.replace(path)
