"""Read a JSON-lines landing file: one JSON object per line, values kept as raw strings.

Each configured column's ``source`` is a key, or keys joined by ``.`` into nested objects
(``name.first``). Values come out exactly as written: strings as their (unescaped) text,
numbers as their JSON text (``1.50`` stays ``1.50``), ``true``/``false``, ``null`` as NULL;
a key that is missing is NULL too (``required`` then quarantines the row).

A line is *malformed* (``_corrupt_record`` holds its text, every value is NULL, validation
quarantines it as ``_record:malformed``) when it is not a JSON object, repeats a key in any
object, uses NaN/Infinity, or has an object or array where a configured column expects a
value (a record shaped unlike the declaration: guessing which part is the value would be
wrong silently). Blank lines are not records. Keys the config does not declare are not
read; the reader warns with their count, never their names (a key can be data).

A file with no line at all is ``empty_file``; one where no line is a JSON object (a JSON
array or a pretty-printed document, not JSON lines) is rejected as ``unparseable_json``.
"""

from __future__ import annotations

import codecs
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.config.models import ClientConfig
from lakehouse.landing.filenames import RejectReason
from lakehouse.landing.reader import HeaderReject, LandingRead
from lakehouse.landing.records import FileProblem, ParseStats, Record, read_records
from lakehouse.safe_files import open_regular

__all__ = ["JsonReject", "parse_json_lines", "read_landing_jsonl"]

# A longer line rejects the file: one record must fit in a task's memory (values over
# ``max_field_chars`` are still only quarantined, ``too_long``).
MAX_LINE_CHARS = 64 * 1024 * 1024
_MISSING: Any = object()


class JsonReject:
    UNPARSEABLE = "unparseable_json"
    RECORD_TOO_LARGE = "record_too_large"


class _Malformed(ValueError):
    """The line is not a record of the declared shape (never carries the line's text)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Malformed("duplicate key")
    return obj


def _constant(_: str) -> Any:
    raise _Malformed("NaN and Infinity are not JSON")


def _decode(line: str) -> dict[str, Any]:
    try:
        value = json.loads(
            line,
            object_pairs_hook=_pairs,
            parse_int=str,  # the number's own text: 007 is not JSON, 1.50 stays 1.50
            parse_float=str,
            parse_constant=_constant,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise _Malformed("not JSON") from exc
    if not isinstance(value, dict):
        raise _Malformed("not an object")
    return value


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise _Malformed("an object or array where a value is expected")


def _lookup(obj: dict[str, Any], path: tuple[str, ...]) -> str | None:
    current: Any = obj
    for step in path:
        if current is None:
            return None  # "name": null holds no "name.first"
        if not isinstance(current, dict):
            raise _Malformed("a value where an object is expected")
        current = current.get(step, _MISSING)
        if current is _MISSING:
            return None
    return _scalar(current)


def _trie(paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """Configured key paths as nested dicts; a leaf (a value) is None."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for step in path[:-1]:
            node = node.setdefault(step, {})
        node[path[-1]] = None
    return root


def _undeclared(obj: dict[str, Any], trie: dict[str, Any], prefix: str, stats: ParseStats) -> None:
    for key, value in obj.items():
        if key not in trie:
            stats.undeclared(prefix + key)
        elif trie[key] is not None and isinstance(value, dict):
            _undeclared(value, trie[key], f"{prefix}{key}.", stats)


def _lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines without their terminators (``\\n``; a ``\\r`` before it is dropped)."""
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # tolerate a byte-order mark, as the CSV reader does
    raw = os.fdopen(open_regular(path), "rb")  # never through a link
    with io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="\n") as text:
        while line := text.readline(MAX_LINE_CHARS + 1):
            if len(line) > MAX_LINE_CHARS:
                raise FileProblem(
                    JsonReject.RECORD_TOO_LARGE,
                    f"a line is longer than {MAX_LINE_CHARS} characters",
                )
            yield line.removesuffix("\n").removesuffix("\r")


def parse_json_lines(path: Path, client: ClientConfig, stats: ParseStats) -> Iterator[Record]:
    """The records of a JSON-lines file, in order (the executor side of the reader).

    Raises:
        FileProblem: empty, not JSON lines at all, undecodable, or a line too long.
    """
    paths = [tuple(c.header.split(".")) for c in client.columns]
    trie = _trie(paths)
    nulls: tuple[str | None, ...] = (None,) * len(paths)
    lines = objects = 0
    try:
        for line in _lines(path, client.file.encoding):
            if not line.strip():
                continue
            lines += 1
            try:
                obj = _decode(line)
                objects += 1
                values = tuple(_lookup(obj, p) for p in paths)
            except _Malformed:
                yield nulls, line
                continue
            _undeclared(obj, trie, "", stats)
            yield values, None
    except UnicodeDecodeError:
        raise FileProblem(
            RejectReason.BAD_ENCODING, f"not valid {client.file.encoding}"
        ) from None
    if lines == 0:
        raise FileProblem(HeaderReject.EMPTY, "file is empty (no JSON lines)")
    if objects == 0:
        raise FileProblem(
            JsonReject.UNPARSEABLE,
            "no line is a JSON object: JSON lines has one object per line (is it a JSON "
            "array or one pretty-printed document?)",
        )


def read_landing_jsonl(spark: SparkSession, path: Path, client: ClientConfig) -> LandingRead:
    """Parse a JSON-lines landing file into canonical raw string columns (see module doc).

    Raises:
        LandingFileError: ``empty_file``, ``unparseable_json``, ``record_too_large``,
            ``invalid_encoding``.
    """
    return read_records(spark, path, client, parse_json_lines)
