"""Search every file under a directory for given values: the proof step of erasure.

Parquet files (data, ``_change_data``, log checkpoints) are read as columns, because their
pages are compressed and a byte search could miss a value; any other file (Delta log JSON,
CSV in the archive, checkpoints of the landing streams) is searched as bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.safe_files import NotRegularFileError, read_regular, walk_regular

__all__ = ["Finding", "scan_files"]


@dataclass(frozen=True)
class Finding:
    """A file that still holds one of the searched values (which one is not said)."""

    path: Path
    where: str  # column name, or "bytes"


def _files(root: Path) -> Iterator[Path]:
    """Regular files under ``root``; links are not followed (they may point anywhere)."""
    yield from walk_regular(root)


def _leaves(array: pa.ChunkedArray | pa.Array, name: str) -> Iterator[tuple[str, pa.Array]]:
    """Flatten structs, lists and maps to their leaf arrays."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        kind = chunk.type
        if pa.types.is_struct(kind):
            for index in range(kind.num_fields):
                yield from _leaves(chunk.field(index), f"{name}.{kind.field(index).name}")
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            yield from _leaves(chunk.flatten(), name)
        elif pa.types.is_map(kind):
            yield from _leaves(chunk.keys, f"{name}.key")
            yield from _leaves(chunk.items, f"{name}.value")
        else:
            yield name, chunk


def _strings(array: pa.Array) -> pa.Array | None:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    if pa.types.is_string_view(array.type) or pa.types.is_binary(array.type):
        try:
            return array.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    return None


def _parquet_hits(path: Path, values: list[str]) -> Iterator[Finding]:
    table = pq.read_table(path)
    needles = pa.array(values, pa.string())
    for name in table.column_names:
        for leaf, array in _leaves(table.column(name), name):
            strings = _strings(array)
            if strings is None or len(strings) == 0:
                continue
            # Exact values, then values embedded in longer strings (JSON stats, free text).
            found = pc.any(pc.is_in(strings, value_set=needles)).as_py()
            if not found:
                found = any(pc.any(pc.match_substring(strings, value)).as_py() for value in values)
            if found:
                yield Finding(path, leaf)
                break


def scan_files(roots: Iterable[Path], values: Iterable[str]) -> list[Finding]:
    """Files under ``roots`` that contain any of ``values`` (exactly or inside a string).

    Overlapping roots (an archive inside the lake) are scanned once per file.
    """
    needles = sorted({v for v in values if v})
    if not needles:
        return []
    encoded = [v.encode("utf-8") for v in needles]
    # JSON escapes '/' and non-ASCII in some writers: search those spellings too.
    encoded += [json.dumps(v).strip('"').encode("ascii") for v in needles]
    findings: list[Finding] = []
    seen: set[Path] = set()
    for root in roots:
        for path in _files(root):
            if path in seen:
                continue
            seen.add(path)
            if path.suffix == ".parquet":
                try:
                    findings.extend(_parquet_hits(path, needles))
                    continue
                except (pa.ArrowInvalid, OSError):
                    pass  # not readable as Parquet: fall back to bytes
            try:
                data = read_regular(path)
            except NotRegularFileError:
                continue  # replaced by a link since it was listed: never read through it
            if any(needle in data for needle in set(encoded)):
                findings.append(Finding(path, "bytes"))
    return findings
