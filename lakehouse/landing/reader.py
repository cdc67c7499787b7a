"""Read one landing CSV into a raw string DataFrame keyed by canonical column names.

Every value stays exactly as read (strings, no trimming); structure problems are kept, not
repaired: a record with the wrong number of fields has ``_corrupt_record`` set.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config.models import ClientConfig
from lakehouse.errors import LandingFileError
from lakehouse.landing.line_endings import LineEndings, count_line_endings, record_terminators
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
    line_separator: str | None  # None: let Spark detect \n / \r\n
    truncated_crlf: bool  # a CRLF file whose last terminator is a bare \r


def _ends_with_bare_cr(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 2))
        tail = handle.read()
    return tail.endswith(b"\r") and not tail.endswith(b"\r\n")


def _record_separator(
    path: Path, client: ClientConfig, endings: LineEndings | None
) -> tuple[str | None, bool]:
    """The separator Spark must split records on (None: its default, ``\n`` or ``\r\n``)
    and whether the file is CRLF with its last terminator truncated to a bare ``\r``.

    Raises:
        LandingFileError: a ``multiLine`` file whose records end in more than one way.
    """
    counted = endings if endings is not None else count_line_endings(path)
    truncated = bool(counted.crlf and counted.cr == 1 and _ends_with_bare_cr(path))
    if truncated:  # "...,last\r<EOF>": a CRLF file whose final LF was lost
        counted = replace(counted, cr=0)
    if len(counted.kinds) > 1 and client.file.multiline:
        # Bare \n inside quoted values of a CRLF file (a spreadsheet cell's line break) is
        # data: only the terminators outside quotes decide.
        counted = record_terminators(path, client.file)
        if truncated:
            counted = replace(counted, cr=max(0, counted.cr - 1))
    kinds = counted.kinds
    if len(kinds) > 1:
        if not client.file.multiline:
            return None, truncated  # Spark's line reader ends records at \n, \r\n and \r
        raise LandingFileError(
            "records end in more than one way ("
            + ", ".join(repr(k).strip("'") for k in kinds)
            + "); a multi-line CSV needs one record terminator",
            reason=HeaderReject.MIXED_LINE_ENDINGS,
            client=client.client_id,
            file=path.name,
        )
    # Consistently CRLF: say so, or Spark turns \r\n inside quoted values into \n.
    return {"\r\n": "\r\n", "\r": "\r"}.get(kinds[0] if kinds else "", None), truncated


def _read_layout(path: Path, client: ClientConfig, endings: LineEndings | None) -> _Layout:
    with path.open("rb") as handle:
        probe = handle.read(_HEADER_PROBE_BYTES)
    header = _parse_header(probe, path, client)
    separator, truncated = _record_separator(path, client, endings)
    return _Layout(header=header, line_separator=separator, truncated_crlf=truncated)


def _parse_header(probe: bytes, path: Path, client: ClientConfig) -> list[str]:
    encoding = client.file.encoding
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # tolerate a byte-order mark before the header
    try:
        text = probe.decode(encoding, errors="strict")
    except UnicodeDecodeError:
        # The probe may end inside a multi-byte character; decode what is complete.
        text = probe.decode(encoding, errors="ignore")
    reader = csv.reader(
        io.StringIO(text, newline=""),  # records may end in \r\n, \n or a bare \r
        delimiter=client.file.delimiter,
        quotechar=client.file.quote,
        doublequote=client.file.escape == client.file.quote,
        escapechar=None if client.file.escape == client.file.quote else client.file.escape,
    )
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
        unknown = len({h for h in header if h not in configured})
        # Unknown headers are counted, never named: they may be a data row (no header line).
        hint = (
            f"; the file has {unknown} header(s) the config does not declare (renamed? "
            f"compare the file's header with clients/{client.client_id}.yaml)"
            if unknown
            else ""
        )
        raise LandingFileError(
            f"header lacks configured column(s): {', '.join(missing)}{hint}",
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
            multiLine=client.file.multiline,
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
    by_header = {h: f"_c{i}" for i, h in enumerate(header)}
    selected = raw.select(
        *[F.col(by_header[c.header]).alias(c.name) for c in client.columns],
        *[F.col(by_header[header]).alias(name) for header, name in extra],
        F.col(CORRUPT_COLUMN),
        F.monotonically_increasing_id().alias("_mid"),
    )
    try:
        small = _small_single_split(spark, path)
        spread, records = _numbered_and_spread(
            selected,
            one_split=small or client.file.multiline,
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
