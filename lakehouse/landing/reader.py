"""Read one landing CSV into a raw string DataFrame keyed by canonical column names.

Every value stays exactly as read (strings, no trimming); structure problems are kept, not
repaired: a record with the wrong number of fields has ``_corrupt_record`` set.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import reduce
from operator import or_
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config.models import ClientConfig
from lakehouse.errors import LandingFileError
from lakehouse.landing.header_hint import csv_reader, unknown_headers_hint
from lakehouse.landing.line_endings import (
    DROP,
    MAX_RUNS,
    LineEndings,
    Run,
    count_line_endings,
    scan_records,
)
from lakehouse.spark import FILE_CACHE

__all__ = ["CORRUPT_COLUMN", "RECORD_COLUMN", "HeaderReject", "LandingRead", "read_landing_csv"]

CORRUPT_COLUMN = "_corrupt_record"
RECORD_COLUMN = "_record_number"
_HEADER_PROBE_BYTES = 1024 * 1024
_BYTES_PER_PARTITION = 64 * 1024 * 1024
# Files up to this size are read in one task and not spread (fixed cost per file first).
_SMALL_FILE_BYTES = 2 * 1024 * 1024
_PARTITION_BITS = 33
_MAX_COLUMNS = 100_000  # monotonically_increasing_id = partition index << 33 | row in partition


class HeaderReject:
    EMPTY = "empty_file"
    UNREADABLE = "unreadable_header"
    MISSING_COLUMNS = "missing_columns"
    DUPLICATE_HEADER = "duplicate_header"
    UNPARSEABLE = "unparseable_csv"
    MIXED_LINE_ENDINGS = "mixed_line_endings"


@dataclass(frozen=True)
class LandingRead:
    """A parsed landing file (persisted: call ``release()`` when done)."""

    frame: DataFrame
    ignored_headers: tuple[str, ...]
    persisted: DataFrame
    rows: int  # records in the file (the read counted them)

    def release(self) -> None:
        self.persisted.unpersist()


@dataclass(frozen=True)
class _Layout:
    header: list[str]
    line_separator: str | None  # None: let Spark detect \n / \r\n (or any, line-based)
    truncated_crlf: bool  # a CRLF file whose last terminator is a bare \r
    multiline: bool = True  # False: read line-based (also a mixed file without quoted breaks)
    repairs: tuple[Run, ...] = ()  # a mixed file split on \n: stray \r and blank lines


def _ends_with_bare_cr(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 2))
        tail = handle.read()
    return tail.endswith(b"\r") and not tail.endswith(b"\r\n")


def _mixed(
    path: Path, client: ClientConfig, kinds: tuple[str, ...], detail: str
) -> LandingFileError:
    return LandingFileError(
        "records end in more than one way ("
        + ", ".join(repr(k).strip("'") for k in kinds)
        + f") {detail}",
        reason=HeaderReject.MIXED_LINE_ENDINGS,
        client=client.client_id,
        file=path.name,
    )


def _record_layout(
    path: Path, client: ClientConfig, endings: LineEndings | None, header: list[str]
) -> _Layout:
    """How Spark must split ``path`` into records, and what it must repair after.

    One record terminator: ``lineSep`` set to it (``None``, Spark's default, for ``\n``).
    Several, outside quotes, in a ``multiLine`` file: without line breaks inside quoted
    values a line-based read is exact (Hadoop's line reader ends lines at all three); with
    them, ``\r\n`` and ``\n`` records are split on ``\n`` and the ``\r`` a ``\r\n``
    record leaves in its unquoted last field is removed where the scan saw one (``repairs``).

    Raises:
        LandingFileError: ``mixed_line_endings``: bare ``\r`` record ends mixed with others
            in a file whose quoted values hold line breaks (no separator splits it), or a
            file that switches endings more than ``MAX_RUNS`` times (see DesignDoc).
    """
    counted = endings if endings is not None else count_line_endings(path)
    truncated = bool(counted.crlf and counted.cr == 1 and _ends_with_bare_cr(path))
    if truncated:  # "...,last\r<EOF>": a CRLF file whose final LF was lost
        counted = replace(counted, cr=0)
    if len(counted.kinds) <= 1 or not client.file.multiline:
        return _Layout(
            header, _SEPARATORS.get(_only(counted.kinds)), truncated, client.file.multiline
        )
    # Bare \n inside quoted values of a CRLF file (a spreadsheet cell's line break) is
    # data: only the terminators outside quotes decide.
    scan = scan_records(path, client.file, columns=len(header))
    counted = scan.terminators
    if truncated:
        counted = replace(counted, cr=max(0, counted.cr - 1))
    kinds = counted.kinds
    if len(kinds) <= 1:
        return _Layout(header, _SEPARATORS.get(_only(kinds)), truncated)
    if not scan.quoted_breaks:
        return _Layout(header, None, truncated, multiline=False)
    if "\r" in kinds:
        raise _mixed(
            path,
            client,
            kinds,
            "and quoted values hold line breaks: bare \\r record ends cannot be told from "
            "them by any one separator; re-export the file with one line ending",
        )
    if scan.runs is None:
        raise _mixed(
            path,
            client,
            kinds,
            f"switching between them more than {MAX_RUNS} times in a file whose quoted values "
            "hold line breaks; re-export the file with one line ending",
        )
    # The scan counted the final bare \r as a record end and plans its repair itself.
    return _Layout(header, "\n", truncated_crlf=False, repairs=scan.runs)


# Consistently CRLF: say so, or Spark turns \r\n inside quoted values into \n.
_SEPARATORS = {"\r\n": "\r\n", "\r": "\r"}


def _only(kinds: tuple[str, ...]) -> str:
    return kinds[0] if len(kinds) == 1 else ""


def _read_layout(path: Path, client: ClientConfig, endings: LineEndings | None) -> _Layout:
    with path.open("rb") as handle:
        probe = handle.read(_HEADER_PROBE_BYTES)
    header = _parse_header(probe, path, client)
    return _record_layout(path, client, endings, header)


def _parse_header(probe: bytes, path: Path, client: ClientConfig) -> list[str]:
    reader = csv_reader(probe, client.file)
    try:
        return next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        raise LandingFileError(
            f"header cannot be parsed ({exc})",
            reason=HeaderReject.UNREADABLE,
            client=client.client_id,
            file=path.name,
        ) from exc


def check_header(
    path: Path, client: ClientConfig, *, endings: LineEndings | None = None
) -> tuple[_Layout, tuple[str, ...]]:
    """Return the file's layout and the headers it has that the client config does not use.

    ``endings``: the file's line endings, if the checksum pass counted them (else they are
    counted here).

    Raises:
        LandingFileError: empty file, duplicate header names, configured columns missing, or
            a multi-line file whose records end in more than one way.
    """
    layout = _read_layout(path, client, endings)
    header = [h.strip() for h in layout.header]
    if not header or header == [""]:
        raise LandingFileError(
            "file is empty (no header)",
            reason=HeaderReject.EMPTY,
            client=client.client_id,
            file=path.name,
        )
    # Missing columns first: in a file without a header the first *data* row is read as the
    # header, and only configured names may appear in messages (the audit, the log).
    configured = {c.header for c in client.columns}
    missing = [c.header for c in client.columns if c.header not in header]
    if missing:
        raise LandingFileError(
            f"header lacks configured column(s): {', '.join(missing)}"
            + unknown_headers_hint(
                path, client, header, configured, probe_bytes=_HEADER_PROBE_BYTES
            ),
            reason=HeaderReject.MISSING_COLUMNS,
            client=client.client_id,
            file=path.name,
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        named = [h for h in dupes if h in configured]
        raise LandingFileError(
            f"duplicate header name(s): {', '.join(named) or f'{len(dupes)} unconfigured'}",
            reason=HeaderReject.DUPLICATE_HEADER,
            client=client.client_id,
            file=path.name,
        )
    return layout, tuple(h for h in header if h not in configured)


def read_landing_csv(
    spark: SparkSession,
    path: Path,
    client: ClientConfig,
    *,
    endings: LineEndings | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> LandingRead:
    """Parse ``path`` with the client's CSV options into canonical raw string columns.

    Output columns: one per configured column (canonical name, raw string), then
    ``_corrupt_record`` (the raw text of a structurally malformed record, else NULL) and
    ``_record_number`` (1-based ordinal of the data record in the file, stable across runs).
    Headers the config does not declare are not read into the lake (they may hold PII that
    nobody has classified), unless named in ``extra`` as (header, column) pairs: then they
    follow the configured columns under those names (schema evolution's ``rescue``).
    """
    layout, ignored = check_header(path, client, endings=endings)
    header = [h.strip() for h in layout.header]
    positional = [f"_c{i}" for i in range(len(header))]
    schema = T.StructType(
        [T.StructField(name, T.StringType()) for name in positional]
        + [T.StructField(CORRUPT_COLUMN, T.StringType())]
    )
    raw = (
        spark.read.schema(schema)
        .options(
            header=True,
            enforceSchema=True,  # columns are positional; the header was checked above
            sep=client.file.delimiter,
            quote=client.file.quote,
            escape=client.file.escape,
            encoding=client.file.encoding,
            multiLine=layout.multiline,
            mode="PERMISSIVE",
            # Above this many fields in one record the parser gives up on the whole file.
            maxColumns=_MAX_COLUMNS,
            # A quoted "" stays an empty string (as written); an unquoted empty field is NULL.
            nullValue="\u0000",
            columnNameOfCorruptRecord=CORRUPT_COLUMN,
            **({"lineSep": layout.line_separator} if layout.line_separator else {}),
        )
        .csv(str(path.resolve()))
    )
    raw = raw.withColumn("_mid", F.monotonically_increasing_id())
    if layout.repairs:
        raw = _repaired(raw, layout.repairs, positional)
    by_header = {h: f"_c{i}" for i, h in enumerate(header)}
    selected = raw.select(
        *[F.col(by_header[c.header]).alias(c.name) for c in client.columns],
        *[F.col(by_header[header]).alias(name) for header, name in extra],
        F.col(CORRUPT_COLUMN),
        F.col("_mid"),
    )
    try:
        small = _small_single_split(spark, path)
        spread, records = _numbered_and_spread(
            selected,
            one_split=small or layout.multiline,
            partitions=None if small else _partitions(spark, path),
        )
    except Exception as exc:
        if "TextParsingException" not in str(exc):
            raise
        # Beyond the parser's limits (e.g. > maxColumns fields in a record): not retryable.
        raise LandingFileError(
            "the CSV parser cannot read this file (a record exceeds its limits)",
            reason=HeaderReject.UNPARSEABLE,
            client=client.client_id,
            file=path.name,
        ) from None
    frame = spread
    if layout.truncated_crlf and records:
        # "...,last\r<EOF>": the final CRLF lost its LF; the \r is a terminator, not data.
        by_source = {c.header: c.name for c in client.columns}
        last = by_source.get(header[-1])  # the file's last column, if it is read at all
        if last is not None:
            frame = frame.withColumn(
                last,
                F.when(
                    F.col(RECORD_COLUMN) == records, F.regexp_replace(last, "\r$", "")
                ).otherwise(F.col(last)),
            )
    return LandingRead(frame=frame, ignored_headers=ignored, persisted=spread, rows=records)


def _repaired(raw: DataFrame, runs: tuple[Run, ...], positional: list[str]) -> DataFrame:
    """Apply the scan's repairs to a ``multiLine`` read split on ``\\n`` (one split, so
    ``_mid`` is the record's position): drop blank ``\\r\\n`` lines, remove the ``\\r`` a
    ``\\r\\n`` record left at the end of its unquoted last field (an unquoted field that
    was empty is NULL, as anywhere else) and number the records that remain densely."""
    position = F.col("_mid")

    def within(selected: list[Run]) -> Column:
        return reduce(or_, [position.between(r.first, r.last) for r in selected], F.lit(False))

    repairs = {}
    for index, name in enumerate(positional):
        strip = [r for r in runs if r.action == index]
        if strip:
            value = F.col(name)
            repairs[name] = F.when(
                within(strip) & value.endswith("\r"),
                F.when(F.length(value) == 1, F.lit(None)).otherwise(
                    value.substr(F.lit(1), F.length(value) - 1)
                ),
            ).otherwise(value)
    repaired = raw.withColumns(repairs) if repairs else raw
    dropped = [r for r in runs if r.action == DROP]
    if not dropped:
        return repaired
    shift = reduce(
        lambda acc, r: F.when(position.between(r.first, r.last), F.lit(r.dropped_before)).otherwise(
            acc
        ),
        [r for r in runs if r.dropped_before],
        F.lit(0),
    )
    return repaired.filter(~within(dropped)).withColumn("_mid", position - shift)


def _small_single_split(spark: SparkSession, path: Path) -> bool:
    """A small file that Spark reads as one split (one task): no larger than
    ``_SMALL_FILE_BYTES``, ``spark.sql.files.openCostInBytes`` and ``maxPartitionBytes``
    (below both, Spark's file source never splits a file)."""
    conf = spark._jsparkSession.sessionState().conf()  # exact byte values, defaults included
    limit = min(int(conf.filesOpenCostInBytes()), int(conf.filesMaxPartitionBytes()))
    return path.stat().st_size <= min(limit, _SMALL_FILE_BYTES)


def _numbered_and_spread(
    selected: DataFrame, *, one_split: bool, partitions: int | None
) -> tuple[DataFrame, int]:
    """Record numbers, then the rows spread over ``partitions`` (None: left in place) and
    persisted; the record count.

    A read of one split (a ``multiLine`` read: a quoted field may hold a newline; or a small
    file) numbers its records by position: one task, one core. A multiline file's rows go
    straight to the shuffle that spreads them (the shuffle spills; no single 10M-row cache
    block); a small file stays in its one partition, where a shuffle would cost more than it
    spreads (one Spark job in all). Line-based reads of larger files come in several splits
    and number their records from per-split counts first.
    """
    parsed = None
    if one_split:
        in_split = F.col("_mid").bitwiseAND(F.lit((1 << _PARTITION_BITS) - 1))
        numbered = selected.withColumn(RECORD_COLUMN, in_split + F.lit(1)).drop("_mid")
    else:
        parsed = selected.persist(FILE_CACHE)
        numbered, _ = _with_record_numbers(parsed)
    spread = (numbered if partitions is None else numbered.repartition(partitions)).persist(
        FILE_CACHE
    )
    try:
        # Materialised here, before the split copy is dropped; the count is the records'.
        return spread, spread.count()
    except Exception:
        spread.unpersist()
        raise
    finally:
        if parsed is not None:
            parsed.unpersist()


def _partitions(spark: SparkSession, path: Path) -> int:
    """A multiple of the cores, about 64 MB of landing file per partition."""
    cores = spark.sparkContext.defaultParallelism
    return cores * max(1, -(-path.stat().st_size // (cores * _BYTES_PER_PARTITION)))


def _with_record_numbers(frame: DataFrame) -> tuple[DataFrame, int]:
    """Replace the monotonically increasing id by a dense 1-based record ordinal.

    Spark reads a file's splits in order and rows within a split in order, so
    (partition index, row in partition) is the file order; a small per-partition count
    turns it into ordinals without collecting the data.
    """
    partition = F.shiftright(F.col("_mid"), _PARTITION_BITS)
    counts = sorted(
        (int(row["p"]), int(row["n"]))
        for row in frame.groupBy(partition.alias("p")).agg(F.count("*").alias("n")).collect()
    )
    offsets: list[tuple[int, int]] = []
    running = 0
    for index, count in counts:
        offsets.append((index, running))
        running += count
    if not offsets:
        return frame.drop("_mid").withColumn(RECORD_COLUMN, F.lit(None).cast("long")), 0
    offset_map = F.create_map(*[F.lit(x) for pair in offsets for x in pair])
    in_partition = F.col("_mid").bitwiseAND(F.lit((1 << _PARTITION_BITS) - 1))
    number = F.element_at(offset_map, partition) + in_partition + F.lit(1)
    return frame.withColumn(RECORD_COLUMN, number.cast("long")).drop("_mid"), running
